"""Training HorNet: the paper's recipe, one device to many, never losing work.

``hornet-ref train`` on the command line, :func:`fit` from Python::

    from hornet_ref.train import TrainConfig, fit
    result = fit(TrainConfig(epochs=4, out="runs/quick"))
    result.history[-1]["val_acc1"]

Which file holds what:

- config.py: TrainConfig, the recipes (shapes, cifar, imagenet), the CLI flags
- shapes.py: the built-in dataset (coloured shapes on textured backgrounds)
- data.py: datasets, transforms and loaders (built-in, CIFAR, ImageFolder)
- recipe.py: AdamW groups, warm-up + cosine, layer-wise lr decay, mixup/cutmix, EMA
- precision.py: autocast dtype choice
- distributed.py: torchrun processes, DDP backend, collectives
- checkpointing.py: atomic, weights_only checkpoints and RNG states
- engine.py: the loop (fit)
- evaluate.py: top-1 / top-5 of a model or a checkpoint
- history.py: metrics.jsonl and curves.png
- commands.py: ``hornet-ref train`` and ``hornet-ref evaluate``
"""

from .config import RECIPES, ConfigError, TrainConfig
from .data import DataError
from .engine import NonFiniteLossError, TrainResult, fit
from .evaluate import evaluate, evaluate_checkpoint
from .shapes import SHAPE_CLASSES, make_shapes

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
