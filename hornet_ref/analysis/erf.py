r"""Effective receptive fields: which input pixels the centre of a feature map depends on.

Two established recipes, both computed as gradients of the centre unit of an output
map $y$ of shape (B, C, h, w) with respect to the input images $x$:

- ``"luo"`` (Luo et al., "Understanding the Effective Receptive Field in Deep
  Convolutional Neural Networks", NeurIPS 2016): random inputs; the map is the
  absolute gradient of $\sum_c y[:, c, h/2, w/2]$, averaged over images and input
  channels.
- ``"replknet"`` (Ding et al., "Scaling Up Your Kernels to 31x31", CVPR 2022): real
  images; the score is $\sum_c \mathrm{ReLU}(y[:, c, h/2, w/2])$, the map is the
  positive part of its input gradient summed over channels and images, then
  $\log_{10}(1 + \cdot)$ and divided by its maximum.

The *high-contribution area ratio* (also from RepLKNet) summarises a map: the area of
the smallest centred square holding a fraction $t$ of the total, over the image area.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..hornet import HorNet
from ._common import _check_images, _check_stage, _eval_mode

__all__ = [
    "AreaRatio",
    "area_ratios",
    "effective_receptive_field",
    "high_contribution_area_ratio",
    "stage_erfs",
]

RECIPES = ("replknet", "luo")
"""The ERF recipes: RepLKNet's (real images) and Luo et al.'s (random inputs)."""

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)
"""The fractions t at which RepLKNet reports the high-contribution area ratio."""


def _stage_maps(
    model: nn.Module | Callable[[Tensor], Tensor], stages: Sequence[int] | None
) -> Callable[[Tensor], list[Tensor]]:
    """A function from images to the list of output maps whose ERFs are wanted."""
    if isinstance(model, HorNet):
        wanted = [3] if stages is None else [_check_stage(s) for s in stages]
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"stages must be distinct, got {list(wanted)}")
        order = sorted(wanted)

        def forward(x: Tensor) -> list[Tensor]:
            maps = model.forward_intermediates(x, order, intermediates_only=True, stop_early=True)
            return [maps[order.index(s)] for s in wanted]

        return forward
    if stages is not None:
        raise ValueError(
            f"stages only apply to a HorNet; got a {type(model).__name__} with stages {stages}"
        )
    return lambda x: [model(x)]


def _accumulate(
    forward: Callable[[Tensor], list[Tensor]],
    images: Tensor,
    recipe: str,
    batch_size: int,
    progress: bool,
) -> Tensor:
    """Sum over images of each output map's centre-unit gradient map: (S, H, W), float64."""
    totals: Tensor | None = None
    with tqdm(total=len(images), desc=f"ERF ({recipe})", unit="img", disable=not progress) as bar:
        for chunk in images.split(batch_size):
            x = chunk.detach().clone().requires_grad_(True)  # (b, C, H, W)
            outputs = forward(x)
            for s, y in enumerate(outputs):
                if y.ndim != 4:
                    raise ValueError(
                        f"the ERF needs output maps (B, C, h, w), got shape {tuple(y.shape)}"
                    )
                centre = y[:, :, y.shape[2] // 2, y.shape[3] // 2]  # (b, C)
                score = centre.sum() if recipe == "luo" else F.relu(centre).sum()
                (grad,) = torch.autograd.grad(
                    score, x, retain_graph=s < len(outputs) - 1, allow_unused=True
                )
                if grad is None:  # the output does not depend on the input at all
                    grad = torch.zeros_like(x)
                grad = grad.abs() if recipe == "luo" else F.relu(grad)
                contribution = grad.sum(dim=(0, 1)).double().cpu()  # (H, W)
                if totals is None:
                    totals = torch.zeros(len(outputs), *contribution.shape, dtype=torch.float64)
                totals[s] += contribution
            bar.update(len(chunk))
    assert totals is not None
    return totals


def stage_erfs(
    model: nn.Module | Callable[[Tensor], Tensor],
    images: Tensor,
    *,
    stages: Sequence[int] | None = None,
    recipe: str = "replknet",
    batch_size: int = 4,
    progress: bool = False,
) -> Tensor:
    """Effective receptive fields of several HorNet stages from one forward pass per batch.

    Args:
        model: a :class:`~hornet_ref.HorNet`, or any module / callable mapping
            (N, C, H, W) to a map (N, C', h, w) (then ``stages`` must be None).
        images: (N, C, H, W); real, normalised photographs for ``"replknet"``
            (see :func:`~hornet_ref.analysis.sample_images`), random ones for
            ``"luo"`` (:func:`~hornet_ref.analysis.noise_images`).
        stages: HorNet stage indices 0..3 whose output maps to explain (default:
            the last, 3); the forward pass stops after the last one needed.
        recipe: ``"replknet"`` or ``"luo"`` (see the module docstring).
        batch_size: images per forward/backward pass.
        progress: show a tqdm progress bar.

    Returns:
        (S, H, W) float64, one map per requested stage (S = 1 for a non-HorNet).
        ``"replknet"`` maps lie in [0, 1] with maximum 1 (all zero if the gradient is);
        ``"luo"`` maps are mean absolute gradients.
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_images(model, images)
    forward = _stage_maps(model, stages)
    with _eval_mode(model):
        totals = _accumulate(forward, images, recipe, batch_size, progress)
    if recipe == "luo":
        return totals / (len(images) * images.shape[1])
    totals = torch.log10(1 + totals)
    peak = totals.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, totals / peak.clamp_min(1e-300), totals)


def effective_receptive_field(
    model: nn.Module | Callable[[Tensor], Tensor],
    images: Tensor,
    *,
    stage: int | None = None,
    recipe: str = "replknet",
    batch_size: int = 4,
    progress: bool = False,
) -> Tensor:
    """The effective receptive field of the centre unit of a model's output map.

    Args:
        model: a :class:`~hornet_ref.HorNet` (its map after ``stage``), a GnConv or
            any module / callable mapping (N, C, H, W) to (N, C', h, w).
        images: (N, C, H, W); see :func:`stage_erfs` for which images each recipe wants.
        stage: for a HorNet, the stage 0..3 whose output to explain (default 3, the
            last); the forward pass stops there. Must be None for other models.
        recipe: ``"replknet"`` (default) or ``"luo"``.
        batch_size: images per forward/backward pass.
        progress: show a tqdm progress bar.

    Returns:
        (H, W) float64 map over the input pixels.
    """
    stages = None if stage is None else [stage]
    return stage_erfs(
        model, images, stages=stages, recipe=recipe, batch_size=batch_size, progress=progress
    )[0]


@dataclass(frozen=True)
class AreaRatio:
    """The high-contribution area ratio of a map at one threshold.

    Attributes:
        ratio: side**2 / (H * W), or 1.0 when the threshold was not reached.
        side: side of the smallest centred square holding the fraction, or None.
        threshold: the fraction t asked for.
        reached: False when no centred square inside the map holds fraction t.
    """

    ratio: float
    side: int | None
    threshold: float
    reached: bool

    def __float__(self) -> float:
        return self.ratio


def high_contribution_area_ratio(erf: Tensor, t: float) -> AreaRatio:
    """Area of the smallest centred square holding fraction ``t`` of the map, over its area.

    The squares have odd sides 1, 3, 5, ... around (H // 2, W // 2) and stay inside
    the map (so on an even-sized map the largest leaves out one row and column).
    When none holds fraction t (t > 1, an all-zero map, mass on the edge of an
    even-sized map), the ratio is 1.0, ``reached`` is False and a warning says so.

    Args:
        erf: (H, W) non-negative map.
        t: the fraction of the total, >= 0 (RepLKNet uses 0.2, 0.3, 0.5, 0.99).

    Returns:
        :class:`AreaRatio` (``float(result)`` gives the ratio).
    """
    if not isinstance(erf, Tensor) or erf.ndim != 2:
        shape = tuple(erf.shape) if isinstance(erf, Tensor) else type(erf).__name__
        raise ValueError(f"expected an (H, W) map, got {shape}")
    erf = erf.detach().double().cpu()
    if not torch.isfinite(erf).all() or (erf < 0).any():
        raise ValueError("the map must be finite and non-negative (an ERF, not raw gradients)")
    if not t >= 0:  # also rejects NaN
        raise ValueError(f"the threshold t must be >= 0, got {t}")

    height, width = erf.shape
    ci, cj = height // 2, width // 2
    largest = min(ci, cj, height - 1 - ci, width - 1 - cj)  # radius of the largest square
    # Chebyshev distance from the centre: the square of radius r holds ring <= r.
    rows = (torch.arange(height) - ci).abs()
    cols = (torch.arange(width) - cj).abs()
    ring = torch.maximum(rows[:, None], cols[None, :])  # (H, W)
    inside = ring <= largest
    held = torch.bincount(ring[inside], weights=erf[inside], minlength=largest + 1).cumsum(0)
    total = erf.sum().item()

    enough = held >= t * total * (1 - 1e-12) if total > 0 else torch.zeros_like(held, dtype=bool)
    if not enough.any():
        warnings.warn(
            f"no centred square inside the {height}x{width} map holds fraction {t} of it "
            f"(the largest holds {held[-1].item() / total if total > 0 else 0:.4f}); "
            "reporting area ratio 1.0",
            RuntimeWarning,
            stacklevel=2,
        )
        return AreaRatio(ratio=1.0, side=None, threshold=t, reached=False)
    radius = int(torch.nonzero(enough)[0])
    side = 2 * radius + 1
    return AreaRatio(ratio=side**2 / (height * width), side=side, threshold=t, reached=True)


def area_ratios(erf: Tensor, thresholds: Sequence[float] = THRESHOLDS) -> dict[float, AreaRatio]:
    """:func:`high_contribution_area_ratio` of an (H, W) map at each threshold.

    Returns:
        ``{t: AreaRatio}`` in the order of ``thresholds``.
    """
    return {t: high_contribution_area_ratio(erf, t) for t in thresholds}
