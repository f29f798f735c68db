"""Analysis tools: what gnConv computes, made visible and measurable.

- interactions.py: per-order interaction maps of one GnConv at a query position
  (:func:`interaction_maps`) and the size of each p_k and gate (:func:`interaction_energy`)
- order.py: the measured polynomial degree of a module (:func:`measure_order`) and
  Harsanyi dividends over pixel players (:func:`harsanyi_dividends`)
- erf.py: effective receptive fields (:func:`effective_receptive_field`,
  :func:`stage_erfs`) and RepLKNet's :func:`high_contribution_area_ratio`
- mixers.py: spatial mixers to compare gnConv with (a ConvNeXt depthwise block,
  self-attention)
- compare.py: one analysis over several modules (orders 1..5, 7x7 vs GF, gnConv vs the
  baselines, random-init vs trained weights)
- images.py: real photographs without a download, normalised for ImageNet models

The model modules know nothing of this package; it only reads them (through
``GnConv(..., return_interactions=True)`` and :class:`~hornet_ref.InteractionRecorder`).

Names load lazily, each with its own module on first use, so ``import
hornet_ref.analysis`` imports no torch. The ``hornet-ref erf`` and ``interactions``
commands that drive it are in ``hornet_ref/cli/analysis.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

if TYPE_CHECKING:  # what IDEs and the API docs see; at run time __getattr__ imports on use
    from .compare import (
        compare_erfs,
        compare_interaction_maps,
        compare_orders,
        gnconvs_by_order,
        mixers_by_kind,
        random_vs_trained,
    )
    from .erf import (
        AreaRatio,
        area_ratios,
        effective_receptive_field,
        high_contribution_area_ratio,
        stage_erfs,
    )
    from .images import IMAGENET_MEAN, IMAGENET_STD, noise_images, sample_images, sample_photos
    from .interactions import (
        InteractionEnergy,
        InteractionMaps,
        interaction_energy,
        interaction_maps,
    )
    from .mixers import SelfAttentionMixer, convnext_block
    from .order import HarsanyiDividends, OrderMeasurement, harsanyi_dividends, measure_order

# Which submodule defines each public name: each module's __all__ again, so that a name
# finds its module without importing them all (tests/test_imports.py checks they agree).
_SOURCES = {
    "compare": (
        "compare_erfs",
        "compare_interaction_maps",
        "compare_orders",
        "gnconvs_by_order",
        "mixers_by_kind",
        "random_vs_trained",
    ),
    "erf": (
        "AreaRatio",
        "area_ratios",
        "effective_receptive_field",
        "high_contribution_area_ratio",
        "stage_erfs",
    ),
    "images": ("IMAGENET_MEAN", "IMAGENET_STD", "noise_images", "sample_images", "sample_photos"),
    "interactions": (
        "InteractionEnergy",
        "InteractionMaps",
        "interaction_energy",
        "interaction_maps",
    ),
    "mixers": ("SelfAttentionMixer", "convnext_block"),
    "order": ("HarsanyiDividends", "OrderMeasurement", "harsanyi_dividends", "measure_order"),
}

# A literal list, so that static tools (griffe, IDEs) read it.
__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AreaRatio",
    "HarsanyiDividends",
    "InteractionEnergy",
    "InteractionMaps",
    "OrderMeasurement",
    "SelfAttentionMixer",
    "area_ratios",
    "compare_erfs",
    "compare_interaction_maps",
    "compare_orders",
    "convnext_block",
    "effective_receptive_field",
    "gnconvs_by_order",
    "harsanyi_dividends",
    "high_contribution_area_ratio",
    "interaction_energy",
    "interaction_maps",
    "measure_order",
    "mixers_by_kind",
    "noise_images",
    "random_vs_trained",
    "sample_images",
    "sample_photos",
    "stage_erfs",
]

__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
