"""What is being learned: the one place the loop's task-specific parts live.

The loop in :mod:`hornet_ref.train.engine` knows nothing of classes or labels.
It asks a :class:`Task` three things:

- ``batch(inputs, targets)``: a loader batch made ready for the model (on the
  device, and mixed, for classification);
- ``loss(output, target)``: the training loss of the model's output;
- ``evaluate(model, loader)``: validation metrics, a dict of floats; the
  epoch's metrics row stores each as ``val_<name>`` (and ``val_<name>_ema``).

and ``summary(row)`` for the epoch's printed line. :class:`Classification` is
the image-classification task; another task (segmentation, say) is another
class with these four methods, chosen in ``engine.build_task``.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from .config import TrainConfig
from .evaluate import evaluate
from .recipe import build_mixing

__all__ = ["Classification", "Task"]


class Task(Protocol):
    """What the training loop needs to know about the task being learned."""

    def batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]: ...

    def loss(self, output: Tensor, target: Tensor) -> Tensor: ...

    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]: ...

    def summary(self, row: dict[str, Any]) -> str: ...


class Classification:
    """Image classification: label-smoothed cross-entropy on (mixed) soft labels,
    validated by loss, top-1 and top-5 accuracy.

    Args:
        config: the resolved run config (label smoothing, mixup, cutmix).
        num_classes: classes K of the data.
        device: where batches go.
        dtype: the autocast dtype of validation.
        memory_format: of the image batches (``torch.channels_last`` or contiguous).
    """

    def __init__(
        self,
        config: TrainConfig,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
    ) -> None:
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.mixing = build_mixing(config, num_classes)
        self.device, self.dtype, self.memory_format = device, dtype, memory_format

    def batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, 3, H, W) and labels (B,) on the device; mixed, labels become (B, K)."""
        images = inputs.to(self.device, non_blocking=True, memory_format=self.memory_format)
        labels = targets.to(self.device, non_blocking=True)
        if self.mixing is not None:
            images, labels = self.mixing(images, labels)  # labels: (B, K) soft
        return images, labels

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy of logits (B, K) against labels (B,) or soft labels (B, K)."""
        return self.criterion(output, target)

    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]:
        """``loss``, ``acc1`` and ``acc5`` (percent) over the whole validation set."""
        channels_last = self.memory_format == torch.channels_last
        result = evaluate(
            model, loader, device=self.device, dtype=self.dtype, channels_last=channels_last
        )
        return {name: result[name] for name in ("loss", "acc1", "acc5")}

    def summary(self, row: dict[str, Any]) -> str:
        """The epoch's validation figures, as printed after each epoch."""
        text = (
            f"val loss {row['val_loss']:.4f}  top-1 {row['val_acc1']:.2f}%  "
            f"top-5 {row['val_acc5']:.2f}%"
        )
        if "val_acc1_ema" in row:
            text += f"  EMA top-1 {row['val_acc1_ema']:.2f}%"
        return text
