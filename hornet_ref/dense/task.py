"""Semantic segmentation as a task of the training loop (``hornet-ref train --task segment``).

The loop (:mod:`hornet_ref.train.engine`) is the classifier's: the same optimiser,
schedule, atomic checkpoints, resume and Ctrl-C handling. This module supplies what
differs: the data (built-in scenes or an ADE20K-layout folder), the model (a
:func:`~hornet_ref.dense.create_segmenter` on the run's HorNet), the loss (per-pixel
cross-entropy, 255 ignored) and the validation metrics (mIoU and pixel accuracy, as
percentages, beside the loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .data import IGNORE_INDEX, SceneSegmentation, SegmentationFolder
from .metrics import SegmentationMetrics
from .models import HEADS, Segmenter, create_segmenter

__all__ = [
    "SCENE_SIZE",
    "Segmentation",
    "build_segmenter",
    "evaluate_segmenter",
    "segmentation_datasets",
]

#: Side of the built-in scenes, and the number of train / val scenes.
SCENE_SIZE = 64
_BUILTIN_SCENES = (2_000, 400)
#: Shape classes of the built-in segmentation scenes (with background: 5 classes).
SCENE_CLASSES = ("disk", "square", "triangle", "plus")


def segmentation_datasets(
    data: str,
    *,
    seed: int = 0,
    train_samples: int | None = None,
    val_samples: int | None = None,
    num_classes: int | None = None,
    reduce_zero_label: bool = True,
) -> tuple[Dataset, Dataset, list[str]]:
    """(train, val, class names) for ``data``: ``"builtin"`` scenes or a folder root.

    Built-in: 2,000 train and 400 val scenes of :data:`SCENE_SIZE` px (seeds ``seed``
    and ``seed + 1``; fewer with ``train_samples`` / ``val_samples``), background plus
    :data:`SCENE_CLASSES`. A folder in ADE20K's layout needs ``num_classes``
    (150 for ADE20K itself, with ``reduce_zero_label``).
    """
    if data == "builtin":
        n_train = train_samples or _BUILTIN_SCENES[0]
        n_val = val_samples or _BUILTIN_SCENES[1]
        train = SceneSegmentation(n_train, SCENE_SIZE, seed, train=True, classes=SCENE_CLASSES)
        val = SceneSegmentation(n_val, SCENE_SIZE, seed + 1, classes=SCENE_CLASSES)
        return train, val, train.classes
    if not Path(data).expanduser().is_dir():
        raise ValueError(
            f"--data for --task segment is 'builtin' or a folder in ADE20K's layout "
            f"(images/training, annotations/training, ...); {data!r} is neither"
        )
    if num_classes is None:
        raise ValueError("a segmentation folder needs --num-classes (150 for ADE20K)")
    root = Path(data).expanduser()
    kwargs = {"num_classes": num_classes, "reduce_zero_label": reduce_zero_label}
    train = SegmentationFolder(root, "training", **kwargs)
    val = SegmentationFolder(root, "validation", **kwargs)
    return train, val, [str(k) for k in range(num_classes)]


def build_segmenter(model: str, num_classes: int, head: str = "gnuper", **kwargs: Any) -> Segmenter:
    """The run's segmenter: ``head`` (one of :data:`~hornet_ref.dense.HEADS`) on HorNet
    ``model``; ``kwargs`` go to :func:`~hornet_ref.dense.create_segmenter`."""
    if head not in HEADS:
        raise ValueError(f"--head must be one of {', '.join(HEADS)}; got {head!r}")
    return create_segmenter(model, num_classes, head=head, **kwargs)


@torch.no_grad()
def evaluate_segmenter(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Mean per-pixel ``loss``, ``miou`` and ``pixel_acc`` (percent) over ``loader``.

    Under torchrun the confusion matrices and loss sums of all processes are added,
    so every process returns the whole set's figures.
    """
    model.eval()
    metrics = SegmentationMetrics(num_classes)
    loss_sum = torch.zeros((), dtype=torch.float64)
    pixels = 0
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)  # (B, 3, H, W), (B, H, W)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = model(images)  # (B, K, H, W)
        logits = logits.float()
        loss_sum += (
            F.cross_entropy(logits, masks, ignore_index=IGNORE_INDEX, reduction="sum")
            .double()
            .cpu()
        )
        pixels += int((masks != IGNORE_INDEX).sum())
        metrics.update(logits, masks)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        packed = torch.cat([metrics.matrix.flatten().double(), loss_sum.view(1)])
        packed = packed.to(device)
        torch.distributed.all_reduce(packed)
        packed = packed.cpu()
        metrics.matrix = packed[:-1].round().long().view(num_classes, num_classes)
        loss_sum = packed[-1]
        pixels = int(metrics.matrix.sum())
    if pixels == 0:
        raise ValueError("the validation loader gave no labelled pixels")
    scores = metrics.compute()
    return {
        "loss": float(loss_sum) / pixels,
        "miou": 100 * scores["miou"],
        "pixel_acc": 100 * scores["pixel_acc"],
    }


class Segmentation:
    """Semantic segmentation: per-pixel cross-entropy (255 ignored), validated by loss,
    mIoU and pixel accuracy (percent).

    Args:
        num_classes: classes K of the label maps.
        device: where batches go.
        dtype: the autocast dtype of validation.
        memory_format: of the image batches.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        self.num_classes = num_classes
        self.device, self.dtype, self.memory_format = device, dtype, memory_format

    def batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, 3, H, W) and label maps (B, H, W) int64 on the device."""
        images = inputs.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return images, targets.to(self.device, non_blocking=True)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy of logits (B, K, H, W) against label maps (B, H, W)."""
        return F.cross_entropy(output, target, ignore_index=IGNORE_INDEX)

    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]:
        """``loss``, ``miou`` and ``pixel_acc`` (percent) over the validation set."""
        return evaluate_segmenter(
            model, loader, self.num_classes, device=self.device, dtype=self.dtype
        )

    def summary(self, row: dict[str, Any]) -> str:
        """The epoch's validation figures, as printed after each epoch."""
        text = (
            f"val loss {row['val_loss']:.4f}  mIoU {row['val_miou']:.2f}%  "
            f"pixel acc {row['val_pixel_acc']:.2f}%"
        )
        if "val_miou_ema" in row:
            text += f"  EMA mIoU {row['val_miou_ema']:.2f}%"
        return text
