"""What is being learned: the task objects the loop calls, and the classification task.

The loop in :mod:`hornet_ref.train.engine` names no task. It takes a
:class:`TaskSpec` by name from :mod:`hornet_ref.train.tasks` (``--task``) and asks it,
before the run, for the default input side, the data's statistics (what ``--recipe
auto`` reads), the datasets, the model (fresh, or with published weights) and how a
``--finetune`` file loads; ``hornet-ref evaluate`` asks it to score a checkpoint.

During the run the loop calls the :class:`Task` the spec builds:

- ``batch(inputs, targets)``: a loader batch made ready for the model (on the
  device, and mixed, for classification);
- ``loss(output, target)``: the training loss of the model's output;
- ``evaluate(model, loader)``: validation metrics, a dict of floats; the
  epoch's metrics row stores each as ``val_<name>`` (and ``val_<name>_ema``).

and ``summary(row)`` for the epoch's printed line. :class:`ClassifyTask` and
:class:`Classification` are image classification; another task is another pair of
classes with these methods, added to the registry in :mod:`hornet_ref.train.tasks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..checkpoint import CheckpointError, load_pretrained, read_state_dict
from ..datasets.folders import Datasets
from ..factory import create_model
from ..hornet import model_config
from .auto import DataStats
from .config import DEFAULT_MODEL, TrainConfig, model_overrides
from .data import build_datasets, data_stats, default_workers
from .distributed import all_reduce_sum, pick_device
from .precision import amp_dtype, autocast
from .recipe import build_mixing

__all__ = ["Classification", "ClassifyTask", "Evaluation", "Task", "TaskSpec", "evaluate"]


class Task(Protocol):
    """What the training loop needs to know about the task being learned."""

    def batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]: ...

    def loss(self, output: Tensor, target: Tensor) -> Tensor: ...

    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]: ...

    def summary(self, row: dict[str, Any]) -> str: ...


@dataclass
class Evaluation:
    """What ``hornet-ref evaluate`` asks of a checkpoint (see
    :func:`~hornet_ref.train.evaluate.evaluate_checkpoint`)."""

    checkpoint: str | Path
    state: dict[str, Any]  # the file's contents
    run: dict[str, Any] | None  # the run's config, when the file is a run's checkpoint.pt
    model: str  # the variant
    data: str
    ema: bool
    img_size: int | None
    batch_size: int
    device: str
    workers: int | None
    val_samples: int | None
    data_cache: str


class TaskSpec(Protocol):
    """What a task is before the run starts: its data, its model and its weights."""

    #: The state_dict entry whose rows are the classes (checked against the data on resume).
    head_key: str

    def img_size(self, config: TrainConfig) -> int: ...

    def prepare(self, config: TrainConfig) -> tuple[TrainConfig, str]:
        """``config`` with what the task reads from the data or the model filled in, and
        a line for the recipe line saying what it chose (``""``: nothing)."""
        ...

    def stats(self, config: TrainConfig) -> DataStats: ...

    def datasets(self, config: TrainConfig, img_size: int) -> Datasets: ...

    def build_model(
        self, config: TrainConfig, num_classes: int, *, pretrained: bool
    ) -> nn.Module: ...

    def load_finetune(self, net: nn.Module, path: str, num_classes: int) -> str | None: ...

    def task(
        self,
        config: TrainConfig,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
    ) -> Task: ...

    def evaluate_checkpoint(self, request: Evaluation) -> dict[str, float]: ...


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> dict[str, float]:
    """Mean cross-entropy ``loss`` and ``acc1`` / ``acc5`` (percent) over ``loader``.

    Under torchrun each process passes its own shard and the sums are combined,
    so every process returns the figures of the whole set. Top-5 becomes top-k
    for fewer than 5 classes.
    """
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top-1, top-5, images
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for images, labels in loader:
        images = images.to(device, non_blocking=True, memory_format=fmt)  # (B, 3, H, W)
        labels = labels.to(device, non_blocking=True)  # (B,)
        with autocast(device, dtype):
            logits = model(images)  # (B, K)
        logits = logits.float()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices  # (B, 5)
        hits = top == labels[:, None]  # (B, 5)
        sums += torch.stack(
            [
                F.cross_entropy(logits, labels, reduction="sum").double(),
                hits[:, 0].sum().double(),
                hits.any(dim=1).sum().double(),
                torch.tensor(len(labels), dtype=torch.float64, device=device),
            ]
        )
    all_reduce_sum(sums)
    loss, top1, top5, n = sums.tolist()
    if n == 0:
        raise ValueError("the validation loader gave no images")
    return {"loss": loss / n, "acc1": 100 * top1 / n, "acc5": 100 * top5 / n, "images": int(n)}


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


class ClassifyTask:
    """Image classification (``--task classify``): a HorNet with a linear head on the
    built-in shapes, CIFAR or an ImageFolder (see :mod:`hornet_ref.train.data`)."""

    head_key = "head.weight"

    def img_size(self, config: TrainConfig) -> int:
        """``--img-size``, else the variant's own input side (a folder's run under
        ``--recipe auto`` has both filled in from its images by then)."""
        return config.img_size or model_config(config.model or DEFAULT_MODEL).img_size

    def prepare(self, config: TrainConfig) -> tuple[TrainConfig, str]:
        """Nothing to read ahead: the classes come with the datasets."""
        return config, ""

    def stats(self, config: TrainConfig) -> DataStats:
        """Images, classes and input side, as ``--recipe auto`` reads them."""
        return data_stats(config, self.img_size(config))

    def datasets(self, config: TrainConfig, img_size: int) -> Datasets:
        """Train and val datasets of ``config.data`` at ``img_size``."""
        return build_datasets(config, img_size)

    def build_model(self, config: TrainConfig, num_classes: int, *, pretrained: bool) -> nn.Module:
        """The run's HorNet with a ``num_classes`` head (the published weights when
        ``pretrained``)."""
        return create_model(
            config.model,
            pretrained=pretrained,
            num_classes=num_classes,
            drop_path_rate=config.drop_path,
            **model_overrides(config),
        )

    def load_finetune(self, net: nn.Module, path: str, num_classes: int) -> str | None:
        """Load a ``--finetune`` file into ``net`` (a fresh head if its classes differ);
        returns the line to print."""
        weights = read_state_dict(path)
        head = weights.get("head.weight")
        fresh_head = head is not None and head.shape[0] != num_classes
        load_pretrained(net, weights, skip_head=fresh_head)
        return f"fine-tuning from {path}" + (
            f"; new {num_classes}-class head" if fresh_head else ""
        )

    def task(
        self,
        config: TrainConfig,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
    ) -> Classification:
        """The :class:`Classification` the loop calls."""
        return Classification(
            config, num_classes, device=device, dtype=dtype, memory_format=memory_format
        )

    def evaluate_checkpoint(self, request: Evaluation) -> dict[str, float]:
        """Loss, top-1 and top-5 (percent) and ``images`` of the checkpoint's network
        (any published layout) on the val split of ``request.data``."""
        state, run, name, data = request.state, request.run, request.model, request.data
        weights = read_state_dict(state, use_ema=request.ema)
        head = weights.get("head.weight")
        size = request.img_size or (run["img_size"] if run and run.get("img_size") else None)
        size = size or model_config(name).img_size

        config = TrainConfig(
            data=data, data_cache=request.data_cache, val_samples=request.val_samples
        )
        datasets = build_datasets(config, size)
        if head is not None and head.shape[0] != datasets.num_classes:
            raise CheckpointError(
                f"{request.checkpoint} classifies {head.shape[0]} classes but {data} has "
                f"{datasets.num_classes}; evaluate it on data with the same classes"
            )
        dev = pick_device(request.device)
        # A run trained with --orders rebuilds at those orders.
        overrides = model_overrides(TrainConfig.from_dict(run)) if run else {}
        net = create_model(name, num_classes=datasets.num_classes, **overrides)
        load_pretrained(net, weights)
        channels_last = dev.type == "cuda"
        net.to(dev, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        loader = DataLoader(
            datasets.val,
            batch_size=request.batch_size,
            num_workers=request.workers
            if request.workers is not None
            else default_workers(datasets.kind, dev),
            pin_memory=dev.type == "cuda",
        )
        dtype = amp_dtype("auto", dev)
        return evaluate(net, loader, device=dev, dtype=dtype, channels_last=channels_last)
