r"""Interaction maps: where in its input each order $p_k$ of a gnConv looks.

For one GnConv and a query position $u$, the map of order $k$ gives, at every input
position $v$, how strongly the input there moves $p_k$ at $u$:

$$
M_k(v) = \frac{1}{B} \sum_{b=1}^{B}
\Big\| \frac{\partial\, p_k[b, :, u]}{\partial\, x[b, :, v]} \Big\|_F
$$

the Frobenius norm of the (d_k x C) Jacobian block, averaged over the batch. $p_0$ is
a 1x1 projection, so $M_0$ is a single pixel; every later $p_k$ multiplies in one
more gate of the mixer $f$, which adds order but not reach: with a 7x7 depthwise
mixer $M_k$ stays 7x7 for every $k \ge 1$, with the Global-Local Filter it covers
the whole map (Rao et al. 2022, Section 3.1).

Many Jacobian rows come from one forward and backward pass: the input batch is
copied once per row, and since samples do not interact (eval mode), the gradient
reaching copy r is row r. Only chunks of rows are looped over, never pixels. For
wide layers, ``probes`` estimates the norm from random sign vectors (Hutchinson's
trick) instead of one row per channel. The $p_k$ themselves come from the core's
instrumentation (``GnConv(..., return_interactions=True)``, and
:class:`~hornet_ref.InteractionRecorder` with ``detach=False`` for ``wrt="image"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from ..gnconv import GnConv
from ..hornet import HorNet
from ..recorder import InteractionRecorder, gnconv_name
from ._common import _check_images, _eval_mode

__all__ = ["InteractionEnergy", "InteractionMaps", "interaction_energy", "interaction_maps"]


@dataclass
class InteractionMaps:
    """Per-order influence maps of one GnConv at one query position.

    Attributes:
        maps: (n + 1, H, W); ``maps[k]`` is $M_k$, the influence of each input
            position on $p_k$ at the query. (H, W) is the size of the input the
            gradients were taken against (the GnConv's own input, or the image).
        query: (i, j), the query position in the GnConv's own (h, w) map.
        stride: input pixels per GnConv map pixel (1 when the maps are over the
            GnConv's own input; e.g. 4 for stage 0 of a HorNet against the image).
        name: the GnConv's module name ("" for a lone GnConv).
    """

    maps: Tensor
    query: tuple[int, int]
    stride: int = 1
    name: str = ""

    @property
    def order(self) -> int:
        """The GnConv's order n (there are n + 1 maps, for p_0 .. p_n)."""
        return self.maps.shape[0] - 1

    def reach(self, rel: float = 0.0) -> list[tuple[int, int]]:
        """Per order, the (height, width) of the box around the positions that matter.

        A position matters when its value exceeds ``rel`` times the map's maximum
        (``rel=0``: any non-zero influence). Returns ``[(h_0, w_0), ..., (h_n, w_n)]``;
        (0, 0) for an all-zero map.
        """
        boxes = []
        for m in self.maps:
            rows, cols = torch.nonzero(m > rel * m.max(), as_tuple=True)
            if rows.numel() == 0:
                boxes.append((0, 0))
            else:
                boxes.append((int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1))
        return boxes


@dataclass
class InteractionEnergy:
    """Root-mean-square size of what one GnConv computed, over a batch.

    Attributes:
        p: (n + 1,); ``p[k]`` is the RMS of $p_k$ over batch, channels and positions.
        gates: (n,); ``gates[k]`` is the RMS of the gate $g_k$.
    """

    p: Tensor
    gates: Tensor


def _find_gnconv(model: nn.Module, module: str | tuple[int, int] | None) -> tuple[str, GnConv]:
    """The (name, GnConv) that ``module`` names inside ``model``."""
    found = {name: m for name, m in model.named_modules() if isinstance(m, GnConv)}
    if not found:
        raise ValueError(f"{type(model).__name__} contains no GnConv")
    if module is None:
        if len(found) > 1:
            raise ValueError(
                f"{type(model).__name__} has {len(found)} GnConvs; pass module=(stage, block) "
                f"or a name such as {next(iter(found))!r}"
            )
        return next(iter(found.items()))
    name = gnconv_name(*module) if isinstance(module, tuple) else module
    if name not in found:
        valid = list(found)
        raise ValueError(
            f"no GnConv {name!r} in {type(model).__name__}; valid: {valid[:6]}"
            + (f" ... ({len(valid)} in all)" if len(valid) > 6 else "")
        )
    return name, found[name]


@contextmanager
def _capture_input(gnconv: GnConv, captured: dict[str, Tensor]) -> Iterator[None]:
    """Keep the (detached) input of each call of ``gnconv`` in ``captured["x"]``."""

    def hook(module: nn.Module, args: tuple) -> None:
        captured["x"] = args[0].detach()

    handle = gnconv.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _forward_to(model: nn.Module, stage_block: tuple[int, int] | None, x: Tensor) -> None:
    """Run ``model`` on x far enough for the GnConv at ``stage_block`` to have run."""
    if isinstance(model, HorNet) and stage_block is not None:
        model.forward_intermediates(x, [stage_block[0]], intermediates_only=True, stop_early=True)
    else:
        model(x)


def _cotangent_rows(
    widths: list[int], probes: int | None, generator: torch.Generator
) -> list[tuple[int, Tensor, float]]:
    """(order k, row of d_k weights, weight of its squared gradient) for every backward row.

    Exact: the one-hot rows, whose squared gradients sum to the squared Frobenius
    norm. With ``probes``: random +-1 rows (Hutchinson), each weighted 1 / probes,
    an unbiased estimate of the same; used where a width exceeds ``probes``.
    """
    rows = []
    for k, d in enumerate(widths):
        if probes is None or probes >= d:
            rows += [(k, e, 1.0) for e in torch.eye(d)]
        else:
            signs = torch.randint(0, 2, (probes, d), generator=generator) * 2.0 - 1.0
            rows += [(k, e, 1.0 / probes) for e in signs]
    return rows


def _order_maps(
    run: Callable[[Tensor], list[Tensor]],
    source: Tensor,
    query: tuple[int, int],
    rows: list[tuple[int, Tensor, float]],
    max_elements: int,
) -> Tensor:
    """Per order, the batch mean of the Frobenius norm of d p_k[:, :, query] / d source.

    ``run`` maps a batch shaped like ``source`` (B, C, H, W) to [p_0, ..., p_n]. The
    rows of the Jacobian come from copies of the batch, one copy per row, in a
    single forward and backward pass per chunk: the samples are independent, so
    the gradient reaching copy r is row r's. Returns (n + 1, H, W).
    """
    batch = source.shape[0]
    orders = 1 + max(k for k, _, _ in rows)
    squares = torch.zeros(orders, batch, *source.shape[2:], dtype=torch.float64)  # (n+1, B, H, W)
    per_chunk = max(1, max_elements // source.numel())
    i, j = query
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        copies = source.detach().repeat(len(chunk), 1, 1, 1).requires_grad_(True)  # (R*B, C, H, W)
        ps = run(copies)
        score = copies.new_zeros(())
        for k in sorted({k for k, _, _ in chunk}):
            mine = [r for r, (order, _, _) in enumerate(chunk) if order == k]
            at_query = rearrange(ps[k][:, :, i, j], "(r b) d -> r b d", b=batch)[mine]
            cotangents = torch.stack([chunk[r][1] for r in mine]).to(at_query)  # (r_k, d_k)
            score = score + torch.einsum("rbd,rd->", at_query, cotangents)
        (grads,) = torch.autograd.grad(score, copies)
        grads = rearrange(grads.double(), "(r b) c h w -> r b c h w", b=batch).pow(2).sum(dim=2)
        orders_of_rows = torch.tensor([k for k, _, _ in chunk])
        row_weights = torch.tensor([w for _, _, w in chunk], dtype=torch.float64)
        squares.index_add_(0, orders_of_rows, row_weights[:, None, None, None] * grads.cpu())
    return squares.sqrt().mean(dim=1).float()  # (n + 1, H, W)


def interaction_maps(
    model: nn.Module,
    x: Tensor,
    *,
    module: str | tuple[int, int] | None = None,
    query: tuple[int, int] | None = None,
    wrt: str = "input",
    probes: int | None = None,
    seed: int = 0,
    max_elements: int = 2**24,
) -> InteractionMaps:
    """Per-order interaction maps of one GnConv at a query position.

    Args:
        model: a lone :class:`~hornet_ref.GnConv`, a :class:`~hornet_ref.HorNet`, or
            any module containing GnConvs whose samples are independent in eval mode.
        x: the model's input, (B, C, H, W).
        module: which GnConv: ``(stage, block)`` or a module name such as
            ``"stages.2.0.gnconv"``; may be omitted when there is only one.
        query: (i, j) in the GnConv's (h, w) map; default its centre (h // 2, w // 2).
        wrt: ``"input"``: gradients against the GnConv's own input, so the maps
            show its reach on its own map; ``"image"``: against ``x``, so they show
            the reach through everything before it as well (costlier: each Jacobian
            row runs the network up to the GnConv's stage).
        probes: None for the exact Jacobian norm (one backward row per channel of
            each p_k); an int P estimates it from P random sign vectors per order
            wherever d_k > P (Hutchinson): much cheaper for wide layers, same support.
        seed: seeds the random probes.
        max_elements: memory bound, in input elements, of one forward/backward pass.

    Returns:
        :class:`InteractionMaps` with ``maps`` of shape (n + 1, H', W'): (h, w) for
        ``wrt="input"``, (H, W) for ``wrt="image"``.
    """
    if wrt not in ("input", "image"):
        raise ValueError(f"wrt must be 'input' or 'image', got {wrt!r}")
    if probes is not None and probes < 1:
        raise ValueError(f"probes must be None (exact) or >= 1, got {probes}")
    _check_images(model, x)
    name, gnconv = _find_gnconv(model, module)
    captured: dict[str, Tensor] = {}
    with _eval_mode(model):
        with torch.no_grad(), _capture_input(gnconv, captured):
            stage_block = InteractionRecorder(model, include=[name]).stage_block(name)
            _forward_to(model, stage_block, x)

        if wrt == "input":
            source = captured["x"]  # (B, C, h, w): the GnConv's own input

            def run(inputs: Tensor) -> list[Tensor]:
                return gnconv(inputs, return_interactions=True)[1].p

        else:
            source = x.detach()

            def run(inputs: Tensor) -> list[Tensor]:
                with InteractionRecorder(model, detach=False, include=[name]) as rec:
                    _forward_to(model, stage_block, inputs)
                return rec[name].p

        h, w = captured["x"].shape[-2:]
        i, j = (h // 2, w // 2) if query is None else query
        if not (0 <= i < h and 0 <= j < w):
            raise ValueError(f"query {query} lies outside the GnConv's {h}x{w} map")
        widths = [gnconv.dims[0], *gnconv.dims]  # d of p_0, p_1 .. p_n
        rows = _cotangent_rows(widths, probes, torch.Generator().manual_seed(seed))
        maps = _order_maps(run, source, (i, j), rows, max_elements)
    stride = source.shape[-1] // w
    return InteractionMaps(maps=maps, query=(i, j), stride=stride, name=name)


def interaction_energy(model: nn.Module, x: Tensor) -> dict[str, InteractionEnergy]:
    """The RMS size of every $p_k$ and gate $g_k$ of every GnConv in ``model`` on ``x``.

    Args:
        model: any module containing GnConvs (a lone GnConv, a HorNet, ...).
        x: its input, (B, C, H, W).

    Returns:
        ``{module name: InteractionEnergy}`` in forward order ("" for a lone GnConv);
        each holds ``p`` of shape (n + 1,) and ``gates`` of shape (n,).
    """
    _check_images(model, x)
    with torch.no_grad(), _eval_mode(model), InteractionRecorder(model) as rec:
        model(x)
    return {
        name: InteractionEnergy(
            p=torch.stack([t.float().pow(2).mean().sqrt() for t in rec[name].p]),
            gates=torch.stack([t.float().pow(2).mean().sqrt() for t in rec[name].gates]),
        )
        for name in rec
    }
