"""Small helpers shared by the analysis modules (not public API)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import Tensor, nn

from ..hornet import HorNet


@contextlib.contextmanager
def _eval_mode(model: object) -> Iterator[None]:
    """Put a module (or a bound method's module) in eval mode for the duration, then
    restore each submodule's flag.

    Dropout, drop-path and train-mode normalisation would make the maps random and
    couple the images of a batch; the analyses want the deterministic network.
    """
    model = getattr(model, "__self__", model)  # a bound method such as segmenter.features
    if not isinstance(model, nn.Module):
        yield
        return
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


def _check_images(model: object, images: Tensor) -> None:
    """Raise ValueError unless ``images`` is a float (N, C, H, W) batch the model can take."""
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"expected an image batch of shape (N, C, H, W), got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"expected floating-point images, got dtype {images.dtype}")
    channels = None
    if isinstance(model, HorNet):
        channels = model.config.in_chans
    elif isinstance(getattr(model, "in_dim", None), int):  # a GnConv reads in_dim channels
        channels = model.in_dim
    elif isinstance(getattr(model, "dim", None), int):
        channels = model.dim
    if channels is not None and images.shape[1] != channels:
        raise ValueError(
            f"{type(model).__name__} takes {channels}-channel input (N, {channels}, H, W); "
            f"got an image batch of shape {tuple(images.shape)}"
        )


def _check_stage(stage: int) -> int:
    """A HorNet stage index, validated: 0..3."""
    if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= 3:
        raise ValueError(f"HorNet has stages 0..3 (0 is the first); got stage {stage!r}")
    return stage
