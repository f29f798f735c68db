r"""The interaction order of a module, measured rather than asserted.

gnConv of order $n$ is a polynomial of degree $n + 1$ in its input (Rao et al. 2022,
Section 3.1). Two views check it on any module:

**Finite differences along random lines.** Restricted to a line $x + t v$, a
polynomial of degree $D$ is a polynomial of degree at most $D$ in $t$, so its
$m$-th forward difference with step $h$,

$$
\Delta_h^m f(x) = \sum_{j=0}^{m} (-1)^{m-j} \binom{m}{j} f(x + j h v),
$$

vanishes for every $m > D$, while $\Delta_h^D f / h^D$ is the same ($D!$ times the
leading coefficient along $v$) at every base point and step. We compute them in
float64 and compare each with the rounding level of its own terms,
$\sum_j \binom{m}{j} |f(x + j h v)|$. The measured degree is the smallest $D$ after
which every difference up to ``max_order + 1`` is at rounding level and whose
$D$-th difference is constant. A module with a LayerNorm, a softmax or a GELU is not
a polynomial: the answer is ``None`` with a "not a polynomial" verdict, never a small
wrong degree.

**Harsanyi dividends** (Harsanyi 1963; used for DNN interactions by Ren et al.
2021). Pixels are players; a coalition $S$ keeps its pixels and sets the other
players to a baseline, giving $v(S)$ for one output. The dividend

$$
I(S) = \sum_{T \subseteq S} (-1)^{|S| - |T|} v(T)
$$

is the part of the output owed to exactly the players in $S$ together. A polynomial
of degree $D$ is a sum of products of at most $D$ input values, so $I(S) = 0$
whenever $|S| > D$: for gnConv of order $n$, above $n + 1$ players.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

__all__ = ["HarsanyiDividends", "OrderMeasurement", "harsanyi_dividends", "measure_order"]


@dataclass
class OrderMeasurement:
    """The measured polynomial degree of a module, with the evidence.

    Attributes:
        degree: the measured degree D, or None when no polynomial of degree up to
            ``max_order`` fits.
        verdict: a sentence saying which, e.g. "polynomial of degree 4".
        differences: (max_order + 1,) float64; ``differences[m - 1]`` is the largest
            norm of the m-th finite difference over all probes.
        relative: (max_order + 1,) float64; the same, each divided by the rounding
            scale of its terms, largest over probes: ~1e-16 means "vanished".
        rtol: the threshold on ``relative`` below which a difference counts as zero.
    """

    degree: int | None
    verdict: str
    differences: Tensor
    relative: Tensor
    rtol: float

    @property
    def is_polynomial(self) -> bool:
        """Whether a polynomial of degree up to ``max_order`` fits."""
        return self.degree is not None

    @property
    def max_order(self) -> int:
        """The largest degree the measurement could recognise."""
        return self.relative.numel() - 1


def _in_float64(fn: Callable[[Tensor], Tensor] | nn.Module) -> Callable[[Tensor], Tensor]:
    """A float64 copy of a module (in eval mode), or the callable unchanged."""
    if isinstance(fn, nn.Module):
        return copy.deepcopy(fn).double().eval()
    return fn


def _difference_matrix(points: int, m: int) -> Tensor:
    """(points - m, points) float64: row j computes Delta^m at base point j of ``points``."""
    rows = torch.zeros(points - m, points, dtype=torch.float64)
    for j in range(points - m):
        for i in range(m + 1):
            rows[j, j + i] = (-1) ** (m - i) * math.comb(m, i)
    return rows


def _leading_deviation(lines: list[tuple[int, float, Tensor]], degree: int) -> float:
    """How much Delta^D f / h^D varies along each probed direction.

    ``lines`` holds (direction, h, values of shape (points, N)). For a polynomial of
    degree D, Delta^D f / h^D is D! times its leading coefficient along the direction,
    the same at every base point and step size. Returns the largest deviation from
    the direction's first value, beyond rounding, relative to that value's size.
    """
    eps = torch.finfo(torch.float64).eps
    first: dict[int, Tensor] = {}
    worst = 0.0
    for direction, h, values in lines:
        coeffs = _difference_matrix(values.shape[0], degree)
        leading = (coeffs @ values) / h**degree  # (base points, N)
        rounding = (coeffs.abs() @ values.abs()).norm(dim=1) / h**degree  # (base points,)
        ref = first.setdefault(direction, leading[0])
        excess = (leading - ref).norm(dim=1) - 1e3 * eps * rounding  # beyond rounding
        worst = max(worst, (excess.max() / ref.norm().clamp_min(1e-300)).item())
    return max(worst, 0.0)


def measure_order(
    fn: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor,
    *,
    max_order: int = 8,
    directions: int = 2,
    steps: Sequence[float] = (0.5, 1.5),
    rtol: float = 1e-12,
    seed: int = 0,
) -> OrderMeasurement:
    """Measure the polynomial degree of ``fn`` around ``x`` by finite differences.

    Two conditions make the degree D: every difference of order D + 1 .. max_order + 1
    is at rounding level (below ``rtol`` of its terms), and the D-th difference over
    h^D (D! times the leading coefficient) is the same at every base point and step
    size (to ``rtol`` of itself, beyond rounding). A function that is nearly, but
    not, a polynomial (a HorBlock whose layer-scale is 1e-6) fails the second even
    where the first is fooled.

    Args:
        fn: a module (copied and run in float64, in eval mode) or a callable that
            computes in float64. It must treat the samples of a batch independently:
            the probe points are evaluated as one batch.
        x: a base point, (B, ...); any shape ``fn`` accepts.
        max_order: the largest degree to recognise; differences up to order
            ``max_order + 1`` are computed.
        directions: how many random directions v to probe (each scaled to the RMS
            of x, or to 1 when x is zero).
        steps: step sizes h, in units of that scale; large steps expose
            non-polynomial functions that look polynomial on a short segment.
        rtol: a difference counts as zero when it is below ``rtol`` times the
            rounding scale of its terms (float64 rounding is about 1e-16).
        seed: seeds the random directions.

    Returns:
        :class:`OrderMeasurement` with the degree (or None) and the evidence: the
        size of each difference, (max_order + 1,) float64.
    """
    if max_order < 0 or directions < 1 or not steps:
        raise ValueError(
            f"need max_order >= 0, directions >= 1 and some steps; got {max_order}, "
            f"{directions}, {list(steps)}"
        )
    f64 = _in_float64(fn)
    x = x.detach().to(torch.float64)
    top = max_order + 1
    # Row m - 1: the signed binomials of Delta^m at base point 0, over top + 1 points.
    coeffs = torch.stack([_difference_matrix(top + 1, m)[0] for m in range(1, top + 1)])
    generator = torch.Generator().manual_seed(seed)
    scale = x.pow(2).mean().sqrt().item() or 1.0
    offsets = torch.arange(top + 1, dtype=torch.float64).reshape(-1, *[1] * x.ndim)

    differences = torch.zeros(top, dtype=torch.float64)
    relative = torch.zeros(top, dtype=torch.float64)
    lines: list[tuple[int, float, Tensor]] = []
    with torch.no_grad():
        for direction in range(directions):
            v = torch.randn(x.shape, generator=generator, dtype=torch.float64)
            v = v * (scale / v.pow(2).mean().sqrt())
            for h in steps:
                points = rearrange(x + offsets * h * v, "j b ... -> (j b) ...")  # one batch
                values = f64(points)
                if values.dtype != torch.float64:
                    raise TypeError(
                        f"fn returned {values.dtype}; measure_order needs float64 arithmetic. "
                        "Pass the module itself (it is copied to float64) or call .double()."
                    )
                values = rearrange(values, "(j b) ... -> j (b ...)", j=top + 1)  # (top+1, N)
                lines.append((direction, h, values))
                size = (coeffs @ values).norm(dim=1)  # (top,): |Delta^m f| for m = 1 .. top
                floor = (coeffs.abs() @ values.abs()).norm(dim=1)  # size of the summed terms
                ratio = torch.where(floor > 0, size / floor.clamp_min(1e-300), 0.0)
                differences = torch.maximum(differences, size)
                relative = torch.maximum(relative, ratio)

    vanished = [bool((relative[d:] <= rtol).all()) for d in range(top)]
    degree = vanished.index(True) if any(vanished) else None
    if degree is None:
        verdict = (
            f"not a polynomial (of degree <= {max_order}): the differences of order "
            f"{top} are still {relative[-1].item():.1e} of their terms"
        )
    elif (deviation := _leading_deviation(lines, degree)) > rtol:
        verdict = (
            f"not a polynomial: differences above order {degree} are tiny, but the "
            f"{degree}-th derivative along a line varies by {deviation:.1e} of itself"
        )
        degree = None
    else:
        verdict = f"polynomial of degree {degree}"
    return OrderMeasurement(degree, verdict, differences, relative, rtol)


@dataclass
class HarsanyiDividends:
    """Harsanyi dividends of one output over a set of pixel players.

    Attributes:
        players: the m pixel positions (i, j), in order.
        dividends: (2**m,) float64; ``dividends[mask]`` is I(S) for the coalition S
            whose players are the set bits of ``mask`` (bit p for ``players[p]``).
        by_size: (m + 1,) float64; ``by_size[s]`` is the largest |I(S)| over
            coalitions of s players.
    """

    players: list[tuple[int, int]]
    dividends: Tensor
    by_size: Tensor

    @property
    def largest_coalition(self) -> int:
        """The size of the largest coalition with a dividend above rounding level.

        Rounding level: 1e-12 of the largest dividend (float64 rounds at ~1e-16).
        """
        tol = 1e-12 * self.by_size.max().item()
        sizes = [s for s, v in enumerate(self.by_size.tolist()) if v > tol]
        return max(sizes, default=0)


def harsanyi_dividends(
    fn: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor,
    players: Sequence[tuple[int, int]],
    *,
    index: tuple[int, ...] | None = None,
    baseline: float = 0.0,
) -> HarsanyiDividends:
    """Exact Harsanyi dividends of one output of ``fn`` over pixel players.

    All 2**m coalitions are evaluated in one float64 batch (so m <= 16, and small), then
    the dividends follow from a Moebius transform along each player's axis.

    Args:
        fn: a module (copied to float64, eval mode) or a float64 callable taking
            (N, C, H, W).
        x: one input, (C, H, W) or (1, C, H, W).
        players: m distinct pixel positions (i, j); a pixel is present with all its
            channels, absent when set to ``baseline``. Other pixels keep their values.
        index: which output to explain, an index into one sample's output; default
            channel 0 at the centre pixel for a (C, H, W) output, else element 0.
        baseline: the value of an absent pixel.

    Returns:
        :class:`HarsanyiDividends` with ``dividends`` (2**m,) and ``by_size`` (m + 1,).
    """
    x = x.detach().to(torch.float64)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"harsanyi_dividends takes one input (C, H, W), got {tuple(x.shape)}")
    players = [(int(i), int(j)) for i, j in players]
    m = len(players)
    if not 1 <= m <= 16 or len(set(players)) != m:
        raise ValueError(f"need 1 to 16 distinct players, got {players}")
    _, height, width = x.shape
    if any(not (0 <= i < height and 0 <= j < width) for i, j in players):
        raise ValueError(f"players {players} must lie inside the {height}x{width} input")

    # masks[s, p] = 1 when player p is in coalition s (bit p of s).
    subsets = torch.arange(2**m)
    masks = ((subsets[:, None] >> torch.arange(m)) & 1).to(torch.float64)  # (2**m, m)
    rows, cols = torch.tensor(players).T
    keep = torch.ones(2**m, height, width, dtype=torch.float64)
    keep[:, rows, cols] = masks
    coalitions = baseline + rearrange(keep, "s h w -> s 1 h w") * (x - baseline)  # (2**m, C, H, W)

    f64 = _in_float64(fn)
    with torch.no_grad():
        out = f64(coalitions)
    if out.dtype != torch.float64:
        raise TypeError(f"fn returned {out.dtype}; pass the module itself or a float64 callable")
    if index is None:
        index = (
            (0, out.shape[2] // 2, out.shape[3] // 2) if out.ndim == 4 else (0,) * (out.ndim - 1)
        )
    value = out[(slice(None), *index)]  # (2**m,) v(S)

    # Moebius transform: along each player's axis, "with p" minus "without p".
    dividends = value.reshape((2,) * m)  # axis m-1-p holds bit p
    for axis in range(m):
        without, with_ = dividends.unbind(axis)
        dividends = torch.stack([without, with_ - without], dim=axis)
    dividends = dividends.reshape(-1)
    sizes = masks.sum(dim=1).long()
    by_size = torch.zeros(m + 1, dtype=torch.float64).scatter_reduce(
        0, sizes, dividends.abs(), reduce="amax"
    )
    return HarsanyiDividends(players=players, dividends=dividends, by_size=by_size)
