"""Mixed precision: which autocast dtype a run uses, and the autocast region itself.

On CUDA, ``auto`` means bfloat16 where the GPU supports it (no gradient scaler
needed) and float16 with a GradScaler otherwise; on CPU it means float32. The
Global-Local Filter's FFT runs in float32 inside any of these regions (see
hornet_ref/gnconv.py).
"""

from __future__ import annotations

import contextlib

import torch

from .config import ConfigError

__all__ = ["amp_dtype", "autocast"]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for ``precision`` ('auto', 'fp32', 'bf16', 'fp16') on ``device``."""
    if precision == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision not in _DTYPES:
        raise ConfigError(
            f"--precision must be one of auto, {', '.join(_DTYPES)}; got {precision!r}"
        )
    return _DTYPES[precision]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Mixed precision at ``dtype`` on ``device`` (nothing for float32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
