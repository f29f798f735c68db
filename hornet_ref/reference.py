"""The trained reference network shipped with the package, for figures that need trained weights.

A ``hornet_nano_7x7`` trained by the default run, ``hornet-ref train`` with no flags (the
built-in shapes, :mod:`hornet_ref.datasets.shapes`), so that anyone can show trained next to
random weights offline, and anyone can re-make it::

    python docs/scripts/make_reference.py

Two files in ``hornet_ref/data/``: ``reference_nano_shapes.pt``, a bare state_dict read with
``weights_only=True``, and ``reference_nano_shapes.json`` beside it, which says what the
weights are (model, task, data, epochs, updates, validation top-1, the command, the torch
version, the SHA-256 of the weights file)::

    from hornet_ref.reference import load_reference, reference_images

    model, info = load_reference()  # in eval mode, on the CPU
    images, labels = reference_images(256)  # its own validation images, normalised
    print(info["summary"], (model(images).argmax(1) == labels).float().mean())
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointError, load_pretrained, read_checkpoint
from .factory import create_model
from .hornet import HorNet

__all__ = [
    "REBUILD_COMMAND",
    "REFERENCE_WEIGHTS",
    "load_reference",
    "load_verified",
    "reference_images",
    "reference_info",
]

REFERENCE_WEIGHTS = Path(__file__).resolve().parent / "data" / "reference_nano_shapes.pt"
"""The weights file; its description is the ``.json`` file of the same name beside it."""
REBUILD_COMMAND = "python docs/scripts/make_reference.py"
"""The command that re-makes both files, run from the repository's root."""


def _info_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def _broken(path: Path, what: str, name: str = "network", rebuild: str = REBUILD_COMMAND) -> str:
    return f"{path}: {what}; rebuild the reference {name} with `{rebuild}`"


def reference_info(path: str | PathLike | None = None) -> dict[str, Any]:
    """What the reference weights are: the JSON file beside them, as a dict.

    Keys include ``model``, ``task``, ``data``, ``classes``, ``img_size``, ``mean`` /
    ``std`` (the normalisation), ``val`` (``samples`` and ``seed`` of its validation
    images), ``epochs``, ``updates``, ``weights`` ("ema" or "final"), ``val_acc1``
    (percent), ``command``, ``torch``, ``sha256`` and ``summary`` (one line for a
    figure's title).

    Args:
        path: the weights file (default: :data:`REFERENCE_WEIGHTS`); its ``.json`` is read.

    Raises FileNotFoundError or CheckpointError, in one line naming the file and the
    command that rebuilds it.
    """
    return _describe(_info_path(Path(path or REFERENCE_WEIGHTS)))


def _describe(info_path: Path, **rebuild: str) -> dict[str, Any]:
    """The JSON description at ``info_path``; ``rebuild`` (name=, rebuild=) is what
    the error line tells the user to run."""
    if not info_path.is_file():
        raise FileNotFoundError(_broken(info_path, "no such file", **rebuild))
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(_broken(info_path, f"not JSON ({error})", **rebuild)) from None
    if not isinstance(info, dict) or not {"model", "sha256", "classes"} <= set(info):
        raise CheckpointError(_broken(info_path, "not a reference description", **rebuild))
    return info


def load_verified(
    weights: Path, build: Callable[[dict[str, Any], dict[str, Tensor]], nn.Module], **rebuild: str
) -> tuple[nn.Module, dict[str, Any]]:
    """What both shipped references load through: the description beside ``weights``,
    the SHA-256 it records, then ``build(info, state)`` (the weights as float32).

    ``rebuild`` (``name=``, ``rebuild=``) names the reference and the command that
    re-makes it, for the one-line errors: FileNotFoundError for a missing file,
    CheckpointError for a corrupt one or one that does not fit the model.
    """
    info = _describe(_info_path(weights), **rebuild)
    if not weights.is_file():
        raise FileNotFoundError(_broken(weights, "no such file", **rebuild))
    if hashlib.sha256(weights.read_bytes()).hexdigest() != info["sha256"]:
        what = "its SHA-256 differs from the one in its .json"
        raise CheckpointError(_broken(weights, what, **rebuild))
    try:
        state = read_checkpoint(weights)
        net = build(info, {k: v.float() for k, v in state.items()})
    except (CheckpointError, AttributeError, RuntimeError, KeyError) as error:
        # unreadable, not a state_dict, or keys and shapes another model's
        first_line = str(error).splitlines()[0]
        what = first_line.removeprefix(f"{weights} ")
        raise CheckpointError(_broken(weights, what, **rebuild)) from None
    return net.eval(), info


def load_reference(path: str | PathLike | None = None) -> tuple[HorNet, dict[str, Any]]:
    """The trained reference network, in eval mode on the CPU, and :func:`reference_info`.

    The weights are read with ``torch.load(weights_only=True)`` and checked against the
    SHA-256 their description records, then loaded strictly (every key and shape).

    Args:
        path: the weights file (default: :data:`REFERENCE_WEIGHTS`).

    Raises FileNotFoundError for a missing file and CheckpointError for a corrupt or
    mismatched one, in one line naming the file and the command that rebuilds it.
    """
    return load_verified(Path(path or REFERENCE_WEIGHTS), _build_classifier)


def _build_classifier(info: dict[str, Any], state: dict[str, Tensor]) -> HorNet:
    model = create_model(info["model"], num_classes=len(info["classes"]))
    load_pretrained(model, state)
    return model


def reference_images(
    n: int | None = None, info: dict[str, Any] | None = None
) -> tuple[Tensor, Tensor]:
    """The reference network's own validation images, as it saw them, and their labels.

    The built-in shapes are generated from the seed its description records (the run's
    val split, never trained on) and normalised with its mean and std.

    Args:
        n: the first ``n`` images (default: the whole split the run validated on).
        info: a :func:`reference_info` dict (default: the shipped one's).

    Returns ``(images, labels)``: (N, 3, S, S) float32 and (N,) int64.
    """
    from .datasets.shapes import make_shapes

    info = info or reference_info()
    total = info["val"]["samples"]
    images, labels = make_shapes(total, seed=info["val"]["seed"])  # (N, 3, 32, 32) uint8
    images, labels = images[:n], labels[:n]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (info["mean"], info["std"]))
    return (images.float() / 255 - mean) / std, labels
