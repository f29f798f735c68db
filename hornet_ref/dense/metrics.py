r"""Semantic-segmentation metrics from a confusion matrix: mIoU and pixel accuracy.

With $C_{ij}$ the number of pixels of true class $i$ predicted as $j$ (pixels
labelled 255 left out),

$$
\mathrm{IoU}_k = \frac{C_{kk}}{\sum_j C_{kj} + \sum_i C_{ik} - C_{kk}}, \qquad
\mathrm{mIoU} = \frac{1}{|K'|} \sum_{k \in K'} \mathrm{IoU}_k, \qquad
\mathrm{aAcc} = \frac{\sum_k C_{kk}}{\sum_{ij} C_{ij}}
$$

where $K'$ holds the classes that occur in the labels or the predictions (a class
absent from both has no IoU, as in mmseg's and torchmetrics' convention of a NaN
left out of the mean).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..datasets.scenes import IGNORE_INDEX

__all__ = ["SegmentationMetrics", "confusion_matrix"]


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, *, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """(K, K) int64 counts: row = true class, column = predicted class.

    ``pred`` and ``target`` are class maps of the same shape (e.g. (B, H, W)); target
    pixels equal to ``ignore_index`` are left out. A target label outside 0..K-1 (not
    ``ignore_index``) raises ValueError.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    keep = target != ignore_index
    pred, target = pred[keep].long(), target[keep].long()
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(
            f"target labels must lie in 0..{num_classes - 1} or be {ignore_index}; "
            f"got {int(target.min())}..{int(target.max())}"
        )
    flat = target * num_classes + pred.clamp(0, num_classes - 1)
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


class SegmentationMetrics:
    """Accumulates a confusion matrix over batches; :meth:`compute` gives the scores.

    ``update(logits_or_classes, target)`` takes logits (B, K, H, W) or a class map
    (B, H, W) and a target (B, H, W) with 255 for ignored pixels.
    """

    def __init__(self, num_classes: int, *, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add one batch."""
        if pred.ndim == target.ndim + 1:
            pred = pred.argmax(dim=1)  # (B, K, H, W) logits -> (B, H, W) classes
        matrix = confusion_matrix(
            pred.detach().cpu(), target.cpu(), self.num_classes, ignore_index=self.ignore_index
        )
        self.matrix += matrix

    def iou(self) -> Tensor:
        """(K,) float64 IoU per class, NaN for a class absent from labels and predictions."""
        m = self.matrix.double()
        inter = m.diag()
        union = m.sum(0) + m.sum(1) - inter
        return torch.where(union > 0, inter / union.clamp_min(1), torch.nan)

    def compute(self) -> dict[str, float]:
        """``{"miou": ..., "pixel_acc": ...}`` as fractions in [0, 1] (NaN with no pixels)."""
        total = self.matrix.sum().item()
        iou = self.iou()
        present = ~iou.isnan()
        miou = iou[present].mean().item() if present.any() else float("nan")
        acc = self.matrix.diag().sum().item() / total if total else float("nan")
        return {"miou": miou, "pixel_acc": acc}
