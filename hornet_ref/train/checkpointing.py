"""Run checkpoints that are never half-written and load with ``weights_only=True``.

A checkpoint is one dict of tensors and plain containers (dicts, lists, str,
int, float, bool, None):

    format       "hornet-ref-train/1"
    config       TrainConfig.to_dict() of the run
    model, ema   state_dicts (ema: None when off)
    optimizer, scheduler, scaler   their state_dicts
    epoch        the epoch in progress (0-based); equals config epochs when done
    batch        batches of that epoch already trained (0 at an epoch boundary)
    partial      running sums of the epoch in progress (loss_sum, images, seconds)
    history      one metrics dict per finished epoch
    rng          torch (CPU and CUDA), Python and NumPy generator states
    recipe_reason  why the recipe chose its values, from the run's start
    resumed      one {epoch, batch, time} per --resume (both also in config.json;
                 checkpoints written before them lack them)

It is written by the project's one atomic writer (:mod:`hornet_ref.files`): a
temporary file in the same folder, flushed to disk, then renamed over the old
one, so a crash or Ctrl-C at any moment leaves either the old checkpoint or the
new one; a temporary left by a killed process is removed at the next save.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from ..checkpoint import CheckpointError, read_checkpoint, save_atomic

__all__ = ["FORMAT", "capture_rng", "load_checkpoint", "restore_rng", "save_atomic"]

FORMAT = "hornet-ref-train/1"


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A run checkpoint from ``path``, read with ``weights_only=True`` onto the CPU.

    Raises FileNotFoundError, or CheckpointError when the file is not a
    hornet-ref training checkpoint.
    """
    state = read_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a hornet-ref training checkpoint (expected a dict with "
            f"format={FORMAT!r}); for bare weights use --finetune or load_pretrained"
        )
    return state


def capture_rng() -> dict[str, Any]:
    """Every random generator training draws from, as tensors and plain values."""
    python = random.getstate()
    numpy = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [python[0], list(python[1]), python[2]],
        "numpy": [numpy[0], torch.from_numpy(numpy[1].astype(np.int64)), *numpy[2:]],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, values, gauss = state["python"]
    random.setstate((version, tuple(values), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
