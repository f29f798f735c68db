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

import hashlib
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..checkpoint import CheckpointError, read_checkpoint
from ..reference import reference_info
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


def _broken(path: Path, what: str) -> str:
    return f"{path}: {what}; rebuild the reference segmenter with `{SEGMENTER_REBUILD}`"


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
    weights = Path(path or REFERENCE_SEGMENTER)
    try:
        info = reference_info(weights)
    except (FileNotFoundError, CheckpointError) as error:
        what = str(error).split(": ", 1)[-1].split("; rebuild")[0]
        raise type(error)(_broken(weights.with_suffix(".json"), what)) from None
    if not weights.is_file():
        raise FileNotFoundError(_broken(weights, "no such file"))
    if hashlib.sha256(weights.read_bytes()).hexdigest() != info["sha256"]:
        raise CheckpointError(_broken(weights, "its SHA-256 differs from the one in its .json"))
    try:
        state = read_checkpoint(weights)
        net = create_segmenter(
            info["model"], len(info["classes"]), head=info["head"], channels=info["channels"]
        )
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (CheckpointError, AttributeError, RuntimeError, KeyError) as error:
        first_line = str(error).splitlines()[0]
        raise CheckpointError(_broken(weights, first_line.removeprefix(f"{weights} "))) from None
    return net.eval(), info


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
