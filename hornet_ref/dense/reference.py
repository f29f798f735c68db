"""The trained reference segmenter shipped with the package: masks that have learned the shapes.

The default segmentation run, ``hornet-ref train --task segment`` with no flags
(``hornet_mini_7x7`` with the gnConv UPerNet head on the built-in scenes), so that
notebook 5 and the docs can show a segmenter that has learned something without
training one first. Re-make it with::

    python docs/scripts/make_reference_segmenter.py

Two files in ``hornet_ref/data/``: ``reference_mini_scenes.pt``, a bare state_dict read
with ``weights_only=True``, and ``reference_mini_scenes.json`` beside it (model, head,
decoder width, classes, epochs, updates, validation mIoU, the command, the SHA-256 of
the weights file)::

    from hornet_ref.dense.reference import load_reference_segmenter, reference_scenes

    net, info = load_reference_segmenter()  # in eval mode, on the CPU
    images, masks = reference_scenes(64)  # its own validation scenes, normalised
    print(info["summary"], (net(images).argmax(1) == masks).float().mean())
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..reference import load_verified, reference_info
from .models import Segmenter, create_segmenter

__all__ = [
    "REFERENCE_SEGMENTER",
    "SEGMENTER_REBUILD",
    "load_reference_segmenter",
    "reference_scenes",
]

REFERENCE_SEGMENTER = Path(__file__).resolve().parents[1] / "data" / "reference_mini_scenes.pt"
"""The weights file; its description is the ``.json`` file of the same name beside it."""
SEGMENTER_REBUILD = "python docs/scripts/make_reference_segmenter.py"
"""The command that re-makes both files, run from the repository's root."""


def load_reference_segmenter(
    path: str | PathLike | None = None,
) -> tuple[Segmenter, dict[str, Any]]:
    """The trained reference segmenter, in eval mode on the CPU, and its description.

    The weights are read with ``torch.load(weights_only=True)``, checked against the
    SHA-256 the description records, then loaded strictly (every key and shape).

    Args:
        path: the weights file (default: :data:`REFERENCE_SEGMENTER`).

    Raises FileNotFoundError for a missing file and CheckpointError for a corrupt or
    mismatched one, in one line naming the file and the command that rebuilds it.
    """
    rebuild = {"name": "segmenter", "rebuild": SEGMENTER_REBUILD}
    return load_verified(Path(path or REFERENCE_SEGMENTER), _build_segmenter, **rebuild)


def _build_segmenter(info: dict[str, Any], state: dict[str, Tensor]) -> Segmenter:
    net = create_segmenter(
        info["model"], len(info["classes"]), head=info["head"], channels=info["channels"]
    )
    net.load_state_dict(state)
    return net


def reference_scenes(
    n: int | None = None, info: dict[str, Any] | None = None
) -> tuple[Tensor, Tensor]:
    """The reference segmenter's own validation scenes, as it saw them, and their masks.

    Generated from the seed its description records (the run's val split, never
    trained on) and normalised with its mean and std.

    Returns ``(images, masks)``: (N, 3, S, S) float32 and (N, S, S) int64 (0 background).
    """
    from ..datasets.scenes import make_scenes

    info = info or reference_info(REFERENCE_SEGMENTER)
    val = info["val"]
    scenes = make_scenes(val["samples"], info["img_size"], val["seed"], classes=info["classes"][1:])
    images, masks = scenes.images[:n], scenes.semantic[:n]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (info["mean"], info["std"]))
    return (images.float() / 255 - mean) / std, masks
