"""Training HorNet: the paper's recipe, one device to many, never losing work.

``hornet-ref train`` on the command line, :func:`fit` from Python::

    from hornet_ref.train import TrainConfig, fit
    result = fit(TrainConfig(epochs=4, out="runs/quick"))
    result.history[-1]["val_acc1"]

Which file holds what:

- config.py: TrainConfig, the recipes (shapes, cifar, imagenet), the CLI flags
- data.py: datasets, transforms and loaders (built-in, CIFAR, ImageFolder); the built-in
  shapes themselves are in the data layer, :mod:`hornet_ref.datasets.shapes`
- recipe.py: AdamW groups, warm-up + cosine, layer-wise lr decay, mixup/cutmix, EMA
- precision.py: autocast dtype choice
- distributed.py: torchrun processes, DDP backend, collectives
- task.py: what is learned (TaskSpec, Task) and the classification task
- tasks.py: the tasks by name (``--task``): the one place a new task plugs in
- segment.py: semantic segmentation as a task (data, segmenter, loss, mIoU)
- checkpointing.py: atomic, weights_only checkpoints and RNG states
- safeguards.py: never losing work: stop request, position, resuming, loss checks
- engine.py: the build steps and the loop (fit)
- evaluate.py: the scores of a checkpoint, by its task
- history.py: metrics.jsonl and curves.png

The names below load on first use (PEP 562), so importing this package, or its
torch-free config module (which ``hornet-ref train --help`` reads), does not load torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..datasets.shapes import SHAPE_CLASSES, make_shapes
    from .config import RECIPES, ConfigError, TrainConfig
    from .data import DataError
    from .engine import NonFiniteLossError, TrainResult, fit
    from .evaluate import evaluate, evaluate_checkpoint

__all__ = [
    "RECIPES",
    "SHAPE_CLASSES",
    "ConfigError",
    "DataError",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "evaluate_checkpoint",
    "fit",
    "make_shapes",
]

_HOME = {
    "RECIPES": ".config",
    "ConfigError": ".config",
    "TrainConfig": ".config",
    "DataError": ".data",
    "NonFiniteLossError": ".engine",
    "TrainResult": ".engine",
    "fit": ".engine",
    "evaluate": ".evaluate",
    "evaluate_checkpoint": ".evaluate",
    "SHAPE_CLASSES": "..datasets.shapes",
    "make_shapes": "..datasets.shapes",
}


class _Package(types.ModuleType):
    """Keeps ``evaluate`` the function when its submodule of the same name loads (the
    import system would bind the submodule over it)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "evaluate" and isinstance(value, types.ModuleType):
            value = value.evaluate
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
