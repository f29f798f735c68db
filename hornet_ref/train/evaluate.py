"""The scores of a checkpoint: :func:`evaluate_checkpoint`, behind ``hornet-ref evaluate``.

A run's ``checkpoint.pt`` names its task; the task scores it (see
:mod:`hornet_ref.train.tasks`). :func:`evaluate`, the classifier's loss, top-1 and top-5
on a loader, lives with the classification task and is imported here too.
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import CheckpointError, read_checkpoint
from .checkpointing import FORMAT
from .config import ConfigError, TrainConfig
from .task import Evaluation, evaluate
from .tasks import get_task

__all__ = ["evaluate", "evaluate_checkpoint"]


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str,
    *,
    model: str | None = None,
    ema: bool = False,
    img_size: int | None = None,
    batch_size: int = 256,
    device: str = "auto",
    workers: int | None = None,
    val_samples: int | None = None,
    data_cache: str = TrainConfig.data_cache,
) -> dict[str, float]:
    """Validation loss, top-1 and top-5 of a checkpoint on ``data``'s val split; for a
    run of another task, that task's metrics (see its
    ``TaskSpec.evaluate_checkpoint`` in ``hornet_ref.train.task``).

    ``checkpoint`` is a run's ``checkpoint.pt`` (model name and image size come
    from it; ``ema=True`` picks its EMA weights) or bare weights such as the
    authors' files (then ``model`` names the variant). Raises CheckpointError when
    the checkpoint's classes differ from the data's.
    """
    state = read_checkpoint(checkpoint)
    if not isinstance(state, dict):
        raise CheckpointError(f"{checkpoint} holds a {type(state).__name__}, expected weights")
    run = state.get("config") if state.get("format") == FORMAT else None
    name = model or (run["model"] if run else None)
    if name is None:
        raise ConfigError(f"{checkpoint} holds bare weights: pass --model to name the variant")
    if ema and run is not None and state.get("ema") is None:
        raise CheckpointError(f"{checkpoint} has no EMA weights (trained with --ema-decay 0?)")
    request = Evaluation(
        checkpoint,
        state,
        run,
        name,
        data,
        ema,
        img_size,
        batch_size,
        device,
        workers,
        val_samples,
        data_cache,
    )
    return get_task(run.get("task", "classify") if run else "classify").evaluate_checkpoint(request)
