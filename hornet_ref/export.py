"""Export a HorNet for deployment: torch.export programs and ONNX files for onnxruntime.

- :func:`export_program`: a strict ``torch.export`` graph with a dynamic batch axis;
  the spatial size is dynamic too for models without a Global-Local Filter (GF), while
  a GF model is exported for one input size (its filter is resized to the size of the
  map's spectrum, and the spectrum's size is fixed by the input's).
- :func:`export_onnx`: an ONNX file (opset 20, dynamic batch axis, fixed input size)
  written through torch.onnx's dynamo exporter, with the preprocessing and class names
  in its ``metadata_props``; :func:`verify_onnx` runs it in onnxruntime against PyTorch.

The Global-Local Filter's Fourier half goes to ONNX in one of two ways (``dft=``):
``"matmul"`` (the default) exports the transforms as products with fixed cosine and
sine matrices (``GlobalLocalFilter.dft = "matmul"``), which every runtime has and
onnxruntime runs faster than its DFT kernel; ``"onnx"`` exports
``torch.fft.rfft2`` / ``irfft2`` as ONNX ``DFT`` nodes, which onnxruntime also runs
correctly. docs/export.md gives the measurements.

Needs the ``export`` extra (``pip install "hornet-ref[export]"``: onnx, onnxscript,
onnxruntime) for ONNX; :func:`export_program` needs only torch.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .constants import IMAGENET_MEAN, IMAGENET_STD
from .gnconv import GlobalLocalFilter

__all__ = [
    "DEFAULT_OPSET",
    "ExportDependencyError",
    "export_onnx",
    "export_program",
    "onnx_metadata",
    "save_program",
    "verify_onnx",
]

log = logging.getLogger(__name__)

#: The ONNX opset of :func:`export_onnx`: 20, the first with DFT-20 (the axis an input).
DEFAULT_OPSET = 20

_DFT_CHOICES = ("onnx", "matmul")


class ExportDependencyError(ImportError):
    """onnx, onnxscript or onnxruntime is missing: the message names the extra to install."""


def _require(module: str) -> Any:
    """Import ``module`` of the export extra, or raise ExportDependencyError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ExportDependencyError(
            f"{module} is not installed; ONNX export needs the export extra: "
            f'pip install "hornet-ref[export]"'
        ) from e


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run the block with ``model`` in eval mode, restoring its train/eval flags after."""
    modes = {m: m.training for m in model.modules()}
    if model.training:
        log.warning(
            "model is in training mode: exporting it in eval mode (dropout and drop "
            "path off); its mode is restored afterwards"
        )
    model.eval()
    try:
        yield
    finally:
        for m, training in modes.items():
            m.training = training


@contextlib.contextmanager
def _spectral_path(model: nn.Module, dft: str) -> Iterator[None]:
    """Set every GlobalLocalFilter's ``dft`` ("fft" or "matmul") for the block."""
    filters = [m for m in model.modules() if isinstance(m, GlobalLocalFilter)]
    saved = [m.dft for m in filters]
    for m in filters:
        m.dft = dft
    try:
        yield
    finally:
        for m, old in zip(filters, saved):
            m.dft = old


def _has_global_filter(model: nn.Module) -> bool:
    return any(isinstance(m, GlobalLocalFilter) for m in model.modules())


def _input_shape(
    model: nn.Module, input_size: int | tuple[int, int] | None
) -> tuple[int, int, int]:
    """(C, H, W) of the model's input: ``input_size`` or the model's own image size."""
    config = getattr(model, "config", None)
    if input_size is None:
        if config is None:
            raise ValueError("input_size is needed for a model without a HorNet config")
        input_size = config.img_size
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    in_chans = config.in_chans if config is not None else 3
    stride = config.stem_patch * 8 if config is not None else 1
    if h < 1 or w < 1 or h % stride or w % stride:
        raise ValueError(
            f"input size {(h, w)} must be positive and divisible by the model's stride {stride}"
        )
    return in_chans, h, w


def export_program(
    model: nn.Module,
    *,
    input_size: int | tuple[int, int] | None = None,
    dynamic_batch: bool = True,
    dynamic_size: bool | None = None,
    dft: str = "fft",
    strict: bool = True,
) -> torch.export.ExportedProgram:
    """A strict ``torch.export`` program of ``model`` (in eval mode) on (B, C, H, W) images.

    Args:
        model: a :class:`~hornet_ref.HorNet` (or a module taking (B, C, H, W); then
            ``input_size`` is required). A model in training mode is exported in eval
            mode (logged) and left in training mode.
        input_size: the example input's side or (H, W); default the model's
            ``config.img_size``. With a fixed size, the only size the program accepts.
        dynamic_batch: the batch axis is dynamic (1 to 1024); else fixed at 2.
        dynamic_size: H and W dynamic (multiples of the model's stride, up to 2048).
            Default: True without a Global-Local Filter, False with one. A GF model
            cannot be exported with a dynamic size (ValueError): its filter is resized
            to the spectrum of the map, so the graph is built for one size.
        dft: "fft" (torch.fft ops in the graph) or "matmul" (the DFT as matrix
            products, see :class:`~hornet_ref.gnconv.GlobalLocalFilter`).
        strict: trace with TorchDynamo (``strict=True``, the default: every Python
            construct is checked) or with torch's non-strict tracer (the same ATen graph
            here, about 4x faster to build; what :func:`export_onnx` uses).

    Returns the ExportedProgram; ``program.module()(x)`` equals ``model(x)``.
    """
    if dft not in ("fft", "matmul"):
        raise ValueError(f"dft must be 'fft' or 'matmul', got {dft!r}")
    has_gf = _has_global_filter(model)
    if dynamic_size is None:
        dynamic_size = not has_gf
    if dynamic_size and has_gf:
        raise ValueError(
            "a model with a Global-Local Filter exports for one input size (its filter is "
            "resized to the size of each map's spectrum): pass dynamic_size=False and "
            "export once per input_size"
        )
    in_chans, h, w = _input_shape(model, input_size)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    # Batch 2, not 1: torch.export treats a size-1 axis as a constant.
    example = torch.randn(2, in_chans, h, w, device=device)

    dims: dict[int, Any] = {}
    if dynamic_batch:
        dims[0] = torch.export.Dim("batch", min=1, max=1024)
    if dynamic_size:
        config = getattr(model, "config", None)
        stride = config.stem_patch * 8 if config is not None else 1
        dims[2] = stride * torch.export.Dim("h_blocks", min=1, max=2048 // stride)
        dims[3] = stride * torch.export.Dim("w_blocks", min=1, max=2048 // stride)
    with _eval_mode(model), _spectral_path(model, dft), torch.no_grad():
        return torch.export.export(
            model, (example,), dynamic_shapes=({**dims} or None,), strict=strict
        )


def _pretrained_cfg(model: nn.Module) -> Mapping[str, Any]:
    cfg = getattr(model, "pretrained_cfg", None)
    return cfg if isinstance(cfg, Mapping) else {}


def _imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1K class names from torchvision's weights metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def onnx_metadata(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    *,
    class_names: Sequence[str] | None = None,
    dft: str = "matmul",
) -> dict[str, str]:
    """The ``metadata_props`` :func:`export_onnx` writes: strings, lists as JSON.

    Keys: ``model_name``; ``input_name`` ("images") and ``input_shape``
    ("[batch, C, H, W]"); ``output_name`` ("logits"); the preprocessing ``mean``,
    ``std`` (of 0-1 RGB pixels), ``input_size`` ([C, H, W]), ``crop_pct``,
    ``interpolation`` and where they came from (``preprocessing_source``: the model's
    ``pretrained_cfg`` or "imagenet-defaults"); ``gf_dft`` (how a Global-Local Filter
    was exported, "none" without one); ``class_names`` (a JSON list) when given or when
    the model's ``pretrained_cfg`` says its 1000-class head holds ImageNet-1K weights.
    """
    cfg = _pretrained_cfg(model)
    config = getattr(model, "config", None)
    c, h, w = input_shape
    side = config.img_size if config is not None else h
    crop_pct = cfg.get("crop_pct", 1.0 if side >= 384 else 0.875)
    num_classes = getattr(model, "num_classes", None)
    if class_names is None and cfg.get("label_set") == "imagenet-1k" and num_classes == 1000:
        class_names = _imagenet_class_names()
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} classes")
    name = cfg.get("architecture") or getattr(model, "name", None) or type(model).__name__
    meta = {
        "model_name": str(name),
        "input_name": "images",
        "input_shape": json.dumps(["batch", c, h, w]),
        "output_name": "logits",
        "mean": json.dumps(list(cfg.get("mean", IMAGENET_MEAN))),
        "std": json.dumps(list(cfg.get("std", IMAGENET_STD))),
        "input_size": json.dumps([c, h, w]),
        "crop_pct": str(crop_pct),
        "interpolation": str(cfg.get("interpolation", "bicubic")),
        "preprocessing_source": "pretrained_cfg" if cfg else "imagenet-defaults",
        "gf_dft": dft if _has_global_filter(model) else "none",
    }
    if class_names is not None:
        meta["class_names"] = json.dumps(list(class_names))
    return meta


def _check_target(path: Path) -> None:
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {path}: the folder {path.parent} does not exist (create it first)"
        )
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name")


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed to ``path`` when the block succeeds and
    removed when it fails: ``path`` is never left half-written."""
    _check_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the file private
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_program(program: torch.export.ExportedProgram, path: str | os.PathLike) -> Path:
    """``torch.export.save`` to ``path`` atomically (its folder must exist); returns the
    path. ``torch.export.load(path).module()`` runs it again."""
    path = Path(path)
    with _atomic_target(path) as tmp:
        torch.export.save(program, tmp)
    return path


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    input_size: int | tuple[int, int] | None = None,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    dft: str = "matmul",
    class_names: Sequence[str] | None = None,
) -> Path:
    """Write ``model`` (in eval mode) as an ONNX file for images (B, C, H, W) -> logits.

    Args:
        model: a :class:`~hornet_ref.HorNet` (a model in training mode is exported in
            eval mode, logged, and left in training mode).
        path: the .onnx file; its folder must exist. Written atomically (a temporary
            file in the same folder, then renamed), so a failed export leaves nothing.
        input_size: the side or (H, W) the file takes; default ``config.img_size``.
        dynamic_batch: the batch axis is dynamic ("batch"); else fixed at 2.
        opset: the ONNX opset (default ``DEFAULT_OPSET``, 20; DFT needs 17+).
        dft: how a Global-Local Filter's FFTs are exported: "matmul" (products with
            cosine and sine matrices; no DFT operator needed, and faster in
            onnxruntime) or "onnx" (ONNX DFT nodes).
        class_names: names of the head's classes for the metadata (default: ImageNet's
            1000 when the model's ``pretrained_cfg`` says it holds ImageNet-1K weights).

    Returns the path written. Raises ExportDependencyError when onnx, onnxscript or
    onnxruntime is missing, FileNotFoundError when the folder does not exist.
    """
    if dft not in _DFT_CHOICES:
        raise ValueError(f"dft must be one of {_DFT_CHOICES}, got {dft!r}")
    path = Path(path)
    _check_target(path)
    onnx = _require("onnx")
    _require("onnxscript")
    shape = _input_shape(model, input_size)
    metadata = onnx_metadata(model, shape, class_names=class_names, dft=dft)
    program = export_program(
        model,
        input_size=shape[1:],
        dynamic_batch=dynamic_batch,
        dynamic_size=False,
        dft="matmul" if dft == "matmul" else "fft",
        strict=False,
    )
    onnx_program = torch.onnx.export(
        program,
        input_names=["images"],
        output_names=["logits"],
        opset_version=opset,
        dynamo=True,
        optimize=True,
        verbose=False,
    )
    proto = onnx_program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    with _atomic_target(path) as tmp:
        onnx.save_model(proto, tmp)
    log.info("wrote %s (opset %d, GF path %s)", path, opset, metadata["gf_dft"])
    return path


def verify_onnx(
    model: nn.Module, path: str | os.PathLike, x: Tensor | None = None, *, batch: int = 2
) -> float:
    """Run the ONNX file in onnxruntime (CPU) and return the largest relative error of
    its outputs against ``model``'s (eval mode) on ``x`` (default: ``batch`` random
    images of the file's input size): max |onnx - torch| / max |torch|."""
    ort = _require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    if x is None:
        meta = session.get_modelmeta().custom_metadata_map
        c, h, w = json.loads(meta["input_size"])
        x = torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(0))
    with _eval_mode(model), torch.no_grad():
        expected = model(x.to(next(model.parameters()).device)).float().cpu()
    (got,) = session.run(None, {inp.name: x.float().cpu().numpy()})
    got = torch.from_numpy(got)
    return ((got - expected).abs().max() / expected.abs().max()).item()
