"""The same analysis over several modules, for side-by-side figures.

Builders make the modules worth comparing (gnConv of orders 1..5; gnConv with a 7x7
or a Global-Local Filter mixer next to a ConvNeXt block and self-attention of the same
width; a HorNet at random initialisation and with trained weights); ``compare_*``
run one analysis over a ``{label: module}`` dict and return ``{label: result}``,
ready for the plots of ``hornet_ref.plotting``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from os import PathLike
from typing import Any

import torch
from torch import Tensor, nn

from ..checkpoint import load_pretrained
from ..factory import create_model
from ..gnconv import GlobalLocalFilter, GnConv
from .erf import effective_receptive_field, stage_erfs
from .interactions import InteractionMaps, interaction_maps
from .mixers import SelfAttentionMixer, convnext_block
from .order import OrderMeasurement, measure_order

__all__ = [
    "compare_erfs",
    "compare_interaction_maps",
    "compare_orders",
    "gnconvs_by_order",
    "mixers_by_kind",
    "random_vs_trained",
]

Analysable = nn.Module | Callable[[Tensor], Tensor]


def gnconvs_by_order(
    dim: int = 32, orders: Iterable[int] = range(1, 6), *, kernel_size: int = 7, seed: int = 0
) -> dict[str, GnConv]:
    """GnConvs of each order with the same width: ``{"order n": GnConv(dim, order=n)}``.

    ``dim`` must be divisible by ``2 ** (max(orders) - 1)`` (16 for order 5).
    """
    torch.manual_seed(seed)
    return {f"order {n}": GnConv(dim, order=n, kernel_size=kernel_size) for n in orders}


def mixers_by_kind(
    dim: int = 32, size: int = 16, *, order: int = 3, num_heads: int = 4, seed: int = 0
) -> dict[str, nn.Module]:
    """Spatial mixers of width ``dim`` for (B, dim, size, size) inputs.

    Returns:
        ``{"gnConv 7x7": ..., "gnConv GF": ..., "ConvNeXt block": ...,
        "self-attention": ...}``; the GF filter is sized for a ``size`` x ``size``
        map, so it is used without resizing.
    """
    torch.manual_seed(seed)
    global_local = partial(GlobalLocalFilter, h=size, w=size // 2 + 1)
    return {
        "gnConv 7x7": GnConv(dim, order=order),
        "gnConv GF": GnConv(dim, order=order, mixer=global_local),
        "ConvNeXt block": convnext_block(dim),
        "self-attention": SelfAttentionMixer(dim, num_heads),
    }


def compare_erfs(
    models: Mapping[str, Analysable], images: Tensor, **erf_options: Any
) -> dict[str, Tensor]:
    """:func:`~hornet_ref.analysis.effective_receptive_field` of each model on ``images``.

    Args:
        models: ``{label: model}``.
        images: (N, C, H, W), shared by all models.
        **erf_options: passed on (``recipe``, ``stage``, ``batch_size``, ...).

    Returns:
        ``{label: (H, W) map}``.
    """
    return {
        label: effective_receptive_field(m, images, **erf_options) for label, m in models.items()
    }


def compare_orders(
    models: Mapping[str, Analysable], x: Tensor, **order_options: Any
) -> dict[str, OrderMeasurement]:
    """:func:`~hornet_ref.analysis.measure_order` of each model around ``x``.

    Returns:
        ``{label: OrderMeasurement}``.
    """
    return {label: measure_order(m, x, **order_options) for label, m in models.items()}


def compare_interaction_maps(
    models: Mapping[str, nn.Module], x: Tensor, **map_options: Any
) -> dict[str, InteractionMaps]:
    """:func:`~hornet_ref.analysis.interaction_maps` of each model (each holding a GnConv).

    Returns:
        ``{label: InteractionMaps}``; maps of shape (n + 1, H', W') each.
    """
    return {label: interaction_maps(m, x, **map_options) for label, m in models.items()}


def random_vs_trained(
    name: str,
    images: Tensor,
    *,
    checkpoint: str | PathLike | Mapping[str, Tensor] | None = None,
    stages: Sequence[int] | None = (0, 1, 2, 3),
    seed: int = 0,
    **erf_options: Any,
) -> dict[str, Tensor]:
    """ERFs of a HorNet variant at random initialisation and with trained weights.

    Args:
        name: a variant name for :func:`~hornet_ref.create_model`.
        images: (N, 3, H, W).
        checkpoint: its weights (a path or a state_dict); None: the variant's
            published weights (``create_model(name, pretrained=True)``, downloaded once).
            Raises CheckpointError if they do not fit the variant.
        stages: the stages whose ERFs to compute.
        seed: seeds the random initialisation.
        **erf_options: passed on to :func:`~hornet_ref.analysis.stage_erfs`.

    Returns:
        ``{"random init": (S, H, W), "trained": (S, H, W)}``.
    """
    torch.manual_seed(seed)
    untrained = create_model(name)
    if checkpoint is None:
        trained = create_model(name, pretrained=True)
    else:
        trained = load_pretrained(create_model(name), checkpoint)
    return {
        "random init": stage_erfs(untrained, images, stages=stages, **erf_options),
        "trained": stage_erfs(trained, images, stages=stages, **erf_options),
    }
