"""Reading HorNet weights in every published layout, and loading them all-or-nothing.

The one place checkpoints are read (training's resume and ``evaluate`` call it too).
Files are read with ``torch.load(weights_only=True)``: tensors and plain containers,
never pickled code; the one class allowed besides is ``argparse.Namespace``, the
``args`` entry of the authors' training checkpoints. Layouts (shared/spec/HORNET.md,
"Published weights"):

- the authors' (and ours): a bare state_dict, ``{"model": ...}``, or a full training
  checkpoint (``model``, ``model_ema``, ``optimizer``, ``epoch``, ``scaler``, ``args``);
- mmpretrain's: bare or ``{"state_dict": ..., "meta": ...}``, with its key names
  (``backbone.`` prefix, ``head.fc``, ``norm3``, ``projs``, ``gamma1.weight``), renamed
  to ours on reading;
- hornet-ref's training checkpoints (``model`` and ``ema``).

Nothing is loaded unless every key matches; the error names what is missing,
unexpected or mis-shaped, and the variant the file fits when it fits another one.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Mapping
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .files import write_atomic
from .gnconv import resize_complex_weight

__all__ = [
    "CheckpointError",
    "convert_checkpoint",
    "gnconv_orders",
    "load_pretrained",
    "read_checkpoint",
    "read_state_dict",
    "save_atomic",
    "strip_prefix",
    "variants_that_fit",
]

StateDictSource = str | PathLike | Mapping[str, Any]

# Where each layout keeps its weights, first match wins.
_WEIGHTS_KEYS = ("model", "state_dict", "module")
_EMA_KEYS = ("model_ema", "ema", "state_dict_ema")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


def read_checkpoint(path: str | PathLike) -> Any:
    """The object a checkpoint file holds, read onto the CPU with ``weights_only=True``.

    Raises FileNotFoundError for a missing path and CheckpointError, in one line, for
    a file that is not a tensor-only PyTorch checkpoint: "truncated or corrupt" for an
    empty, cut-off or damaged one, "a foreign file" or "pickled code" otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling, zip, EOF and I/O errors all mean "not readable"
        unreadable = f"{path} is not a readable PyTorch checkpoint"
        if isinstance(e, pickle.UnpicklingError):
            # torch's own text goes on to suggest weights_only=False: not advice to repeat
            detail = "a foreign or corrupt file, or one holding pickled code (weights_only=True)"
            raise CheckpointError(f"{unreadable}: {detail}") from e
        if _looks_like_torch_save(path):  # torch's file, cut off or damaged
            raise CheckpointError(
                f"{unreadable}, truncated or corrupt: re-download or re-save it "
                f"({_first_sentence(e)})"
            ) from e
        raise CheckpointError(f"{unreadable}: a foreign file, not one torch.save wrote") from e


def _looks_like_torch_save(path: Path) -> bool:
    """Empty, or starting as torch.save's files do: a zip archive, or a legacy pickle."""
    with open(path, "rb") as file:
        head = file.read(4)
    return not head or head.startswith((b"PK\x03\x04", b"\x80"))


def _first_sentence(error: Exception) -> str:
    """The error's type and the first sentence of its text, whole (torch's zip errors
    go on for several sentences of advice that does not apply)."""
    text = " ".join(str(error).split()).split(". ")[0].rstrip(".")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def strip_prefix(state: Mapping[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """``state`` with ``prefix`` removed when every key has it (DistributedDataParallel's
    and torch.optim.swa_utils.AveragedModel's ``module.``)."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items()}
    return dict(state)


def run_weights(checkpoint: Mapping[str, Any], *, ema: bool = False) -> dict[str, Any]:
    """A training checkpoint's ``model`` (or ``ema``) weights under the module's own key
    names: AveragedModel's ``n_averaged`` counter dropped, then the ``module.`` prefix.
    No published layout is converted (a segmenter's or detector's keys are its own)."""
    state = dict(checkpoint["ema"] if ema else checkpoint["model"])
    state.pop("n_averaged", None)  # the one key without "module."
    return strip_prefix(state)


def load_exactly(model: nn.Module, state: Mapping[str, Tensor], what: str) -> nn.Module:
    """``model.load_state_dict(state)``, strict; when the keys or shapes differ, one
    CheckpointError that names a few of each kind ("the weights do not fit ``what``: ...")
    instead of torch's list of every key, and nothing is loaded."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshaped = [
        f"{k} (weights {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in sorted(set(own) & set(state))
        if state[k].shape != own[k].shape
    ]
    parts = [
        f"{name}: {_describe(keys, limit=3)}"
        for name, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("mis-shaped", misshaped),
        )  # fmt: skip
        if keys
    ]
    if parts:
        raise CheckpointError(f"the weights do not fit {what}; " + "; ".join(parts))
    model.load_state_dict(state)
    return model


def _from_mmpretrain(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """mmpretrain's key names back to the authors' (the inverse of its converter)."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("backbone.")
        if key.startswith("head.fc."):
            key = "head." + key.removeprefix("head.fc.")
        elif key.startswith("norm3."):
            key = "norm." + key.removeprefix("norm3.")
        key = key.replace(".gnconv.projs.", ".gnconv.pws.")
        for gamma in ("gamma1", "gamma2"):
            if key.endswith(f".{gamma}.weight"):
                key = key.removesuffix(".weight")
        out[key] = value
    return out


def _is_mmpretrain(state: Mapping[str, Any]) -> bool:
    return any(k.startswith(("backbone.", "head.fc.")) for k in state)


def _unwrap(obj: Any, where: str, use_ema: bool) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where} holds a {type(obj).__name__}, expected a state_dict")
    keys = _EMA_KEYS if use_ema else _WEIGHTS_KEYS
    for key in keys:
        if isinstance(obj.get(key), Mapping):
            return obj[key]
    if use_ema:
        raise CheckpointError(
            f"{where} has no EMA weights (looked for {', '.join(keys)}; it holds "
            f"{', '.join(map(str, list(obj)[:8]))}); load it without use_ema / --ema"
        )
    return obj


def read_state_dict(source: StateDictSource, *, use_ema: bool = False) -> dict[str, Tensor]:
    """The state_dict in a file (or mapping), in our key names, whatever its layout.

    Accepts every layout in this module's docstring. A ``module.`` prefix is removed;
    mmpretrain's names are renamed; an AveragedModel's ``n_averaged`` counter is dropped.

    Args:
        source: a path, or a mapping (a state_dict or a whole checkpoint).
        use_ema: return a training checkpoint's EMA weights (``model_ema`` of the
            authors', ``ema`` of ours) instead of its ``model``.

    Raises FileNotFoundError for a missing path and CheckpointError for anything that
    is not a tensor-only checkpoint (or has no EMA weights when asked for them).
    """
    if isinstance(source, Mapping):
        obj, where = source, "the given mapping"
    else:
        obj, where = read_checkpoint(source), str(source)
    state = dict(_unwrap(obj, where, use_ema))
    state.pop("n_averaged", None)  # AveragedModel's counter, the one key without "module."
    state = strip_prefix(state)
    not_tensors = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if not_tensors or not state:
        raise CheckpointError(
            f"{where} is not a state_dict: "
            + (f"entries {not_tensors[:5]} are not tensors" if state else "it is empty")
            + " (expected a bare state_dict, {'model': ...}, {'state_dict': ...} or a "
            "training checkpoint)"
        )
    return _from_mmpretrain(state) if _is_mmpretrain(state) else state


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def _signature(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Keys and shapes that identify a variant: no head, GF filters without their size."""
    out = {}
    for key, shape in shapes.items():
        if key.startswith("head."):
            continue
        out[key] = (shape[0], shape[3]) if key.endswith("complex_weight") else tuple(shape)
    return out


@lru_cache(maxsize=1)
def _variant_signatures() -> dict[str, dict[str, tuple[int, ...]]]:
    from .hornet import HorNet, list_models, model_config

    signatures = {}
    for name in list_models():
        with torch.device("meta"):  # shapes only: no memory, even for the Large models
            model = HorNet(model_config(name))
        signatures[name] = _signature({k: tuple(v.shape) for k, v in model.state_dict().items()})
    return signatures


def variants_that_fit(state: Mapping[str, Tensor]) -> list[str]:
    """The named variants (see :func:`~hornet_ref.list_models`) whose keys and shapes a
    state_dict has, ignoring the head and the GF filters' stored size."""
    wanted = _signature({k: tuple(v.shape) for k, v in state.items()})
    return [name for name, sig in _variant_signatures().items() if sig == wanted]


def gnconv_orders(state: Mapping[str, Tensor]) -> tuple[int, ...] | None:
    """Each stage's gnConv order, read from the weights: an order-n gnConv keeps n - 1
    ``pws`` projections, so stage s has 1 + the ``pws`` count of its first block. None
    for weights without a gnConv in every stage (not a HorNet, or one without gates)."""
    orders = []
    for stage in range(4):
        block = f"stages.{stage}.0.gnconv."
        if block + "proj_in.weight" not in state:
            return None
        pws = {
            k.removeprefix(block + "pws.").split(".")[0]
            for k in state
            if k.startswith(block + "pws.")
        }
        orders.append(1 + len(pws))
    return tuple(orders)


def _orders_advice(state: Mapping[str, Tensor], own: Mapping[str, Tensor]) -> str | None:
    theirs, mine = gnconv_orders(state), gnconv_orders(own)
    if theirs is None or mine is None or theirs == mine:
        return None
    flag = str(theirs[0]) if len(set(theirs)) == 1 else ",".join(map(str, theirs))
    return (
        f"the checkpoint's gnConv orders by stage are {theirs}, the model's {mine}: pass "
        f"orders={theirs} to create_model (--orders {flag} to train)"
    )


def _head_advice(state: Mapping[str, Tensor], own: Mapping[str, Tensor]) -> str | None:
    theirs, mine = state.get("head.weight"), own.get("head.weight")
    if theirs is None or mine is None or theirs.shape[0] == mine.shape[0]:
        return None
    n = theirs.shape[0]
    kind = " (an ImageNet-22K head)" if n > 1000 else ""
    return (
        f"the checkpoint's head has {n} classes{kind}, the model's {mine.shape[0]}: pass "
        f"num_classes={n} to create_model to keep it, or skip_head=True for a fresh head"
        + ("; hornet-ref predict --imagenet-1k reads its 1000 ImageNet-1K rows" if kind else "")
    )


def load_pretrained(
    model: nn.Module,
    source: StateDictSource,
    *,
    skip_head: bool = False,
    use_ema: bool = False,
) -> nn.Module:
    """Load weights into ``model`` strictly, resizing GF filters of another size.

    Args:
        model: a :class:`~hornet_ref.HorNet` (or any module with the same key names,
            a lone :class:`~hornet_ref.GnConv` included).
        source: a path to a ``.pth``/``.pt`` file in any layout :func:`read_state_dict`
            reads, or a state_dict.
        skip_head: leave ``head.*`` as it is in the model (for fine-tuning on a
            different number of classes) instead of loading it.
        use_ema: load a training checkpoint's EMA weights.

    Returns the model. Raises CheckpointError, naming the missing, unexpected and
    mis-shaped keys (and the variant the file fits, if another), when the checkpoint
    does not fit; the model is then untouched. A Global-Local Filter's
    ``complex_weight`` of shape (C, h', w', 2) is resized to the model's (C, h, w, 2)
    (bilinear, align_corners=True), as when the authors fine-tune at 384.
    """
    state = read_state_dict(source, use_ema=use_ema)
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
        body = missing or unexpected or any(not m.startswith("head.") for m in misshaped)
        fits = variants_that_fit(state) if body else []
        if fits:
            lines.append(f"the checkpoint fits {' or '.join(fits)}: create that model instead")
        head = _head_advice(state, own)
        if head:
            lines.append(head)
        orders = _orders_advice(state, own)
        if orders:
            lines.append(orders)
        if missing:
            lines.append(f"missing from checkpoint: {_describe(missing)}")
        if unexpected:
            lines.append(f"unexpected in checkpoint: {_describe(unexpected)}")
        if misshaped:
            lines.append(f"mis-shaped: {_describe(misshaped)}")
        stem = state.get("downsample_layers.0.0.weight")
        if stem is not None and stem.ndim == 4:
            lines.append(f"(the checkpoint's stem width is {stem.shape[0]}; a different variant?)")
        if head is None and not fits and any(k.startswith("head.") for k in misshaped):
            lines.append("pass skip_head=True to keep the model's own head")
        raise CheckpointError("\n  ".join(lines))

    model.load_state_dict(state, strict=not skip_head)
    return model


def save_atomic(obj: Any, path: str | PathLike, *, text: str | None = None) -> None:
    """Write ``obj`` with ``torch.save`` (or ``text`` as UTF-8) to ``path`` atomically
    (see ``hornet_ref.files.write_atomic``)."""
    if text is None:
        write_atomic(path, lambda file: torch.save(obj, file))
    else:
        write_atomic(path, lambda file: file.write(text.encode()))


def convert_checkpoint(
    source: StateDictSource, out: str | PathLike, *, use_ema: bool = False
) -> dict[str, Tensor]:
    """Write the weights of any layout as a bare state_dict with our key names.

    The file is written atomically and loads with ``torch.load(weights_only=True)``
    into the variant (``create_model(name, pretrained=True,
    pretrained_cfg_overlay={"file": out})``). Returns the state_dict written.
    """
    state = read_state_dict(source, use_ema=use_ema)
    save_atomic({k: v.contiguous() for k, v in state.items()}, out)
    return state
