"""Loading the authors' (and our own) HorNet weights, safely and all-or-nothing.

The authors' files hold either a bare state_dict or ``{"model": state_dict}`` with
the key names our modules already use, so no renaming table is needed. Files are
read with ``torch.load(weights_only=True)``: tensors and plain containers only,
never pickled code. Nothing is loaded unless every key matches; the error names
what is missing, unexpected or mis-shaped.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import torch
from torch import Tensor, nn

from .gnconv import resize_complex_weight

__all__ = ["CheckpointError", "load_pretrained", "read_state_dict"]

StateDictSource = str | PathLike | Mapping[str, Tensor]


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


def read_state_dict(source: StateDictSource) -> dict[str, Tensor]:
    """The state_dict in a file (or mapping): bare, ``{"model": ...}`` or ``{"state_dict": ...}``.

    A ``module.`` prefix (from DistributedDataParallel) is removed. Raises
    FileNotFoundError for a missing path and CheckpointError for anything that is
    not a tensor-only PyTorch checkpoint.
    """
    if isinstance(source, Mapping):
        obj, where = source, "the given mapping"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint file at {path}")
        where = str(path)
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(
                f"could not read {path} as a PyTorch checkpoint of tensors "
                f"(loaded with weights_only=True): {type(e).__name__}: {str(e)[:300]}"
            ) from e
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where} holds a {type(obj).__name__}, expected a state_dict")
    for wrapper in ("model", "state_dict"):
        if isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    not_tensors = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{where} is not a state_dict: entries {not_tensors[:5]} are not tensors "
            "(expected a bare state_dict or {'model': state_dict})"
        )
    prefix = "module."
    if obj and all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix) :]: v for k, v in obj.items()}
    return dict(obj)


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_pretrained(
    model: nn.Module,
    source: StateDictSource,
    *,
    skip_head: bool = False,
) -> nn.Module:
    """Load weights into ``model`` strictly, resizing GF filters of another size.

    Args:
        model: a :class:`~hornet_ref.HorNet` (or any module with the same key names,
            a lone :class:`~hornet_ref.GnConv` included).
        source: a path to a ``.pth``/``.pt`` file, or a state_dict.
        skip_head: leave ``head.*`` as it is in the model (for fine-tuning on a
            different number of classes) instead of loading it.

    Returns the model. Raises CheckpointError, naming the missing, unexpected and
    mis-shaped keys, when the checkpoint does not fit; the model is then untouched.
    A Global-Local Filter's ``complex_weight`` of shape (C, h', w', 2) is resized to
    the model's (C, h, w, 2) (bilinear, align_corners=True), as when the authors
    fine-tune at 384.
    """
    state = read_state_dict(source)
    own = model.state_dict()
    if skip_head:
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
        own = {k: v for k, v in own.items() if not k.startswith("head.")}

    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshaped = []
    for key in sorted(set(own) & set(state)):
        mine, theirs = own[key].shape, state[key].shape
        if mine == theirs:
            continue
        same_channels = len(theirs) == 4 and (theirs[0], theirs[3]) == (mine[0], mine[3])
        if key.endswith("complex_weight") and same_channels:
            state[key] = resize_complex_weight(state[key].float(), (mine[1], mine[2]))
            continue
        misshaped.append(f"{key} (checkpoint {tuple(theirs)}, model {tuple(mine)})")

    if missing or unexpected or misshaped:
        lines = ["checkpoint does not fit the model; nothing was loaded."]
        if missing:
            lines.append(f"missing from checkpoint: {_describe(missing)}")
        if unexpected:
            lines.append(f"unexpected in checkpoint: {_describe(unexpected)}")
        if misshaped:
            lines.append(f"mis-shaped: {_describe(misshaped)}")
        stem = state.get("downsample_layers.0.0.weight")
        if stem is not None and stem.ndim == 4:
            lines.append(f"(the checkpoint's stem width is {stem.shape[0]}; a different variant?)")
        if any(k.startswith("head.") for k in misshaped):
            lines.append("pass skip_head=True to keep the model's own head")
        raise CheckpointError("\n  ".join(lines))

    model.load_state_dict(state, strict=not skip_head)
    return model
