"""Top-1 / top-5 accuracy and loss of a model on a validation loader, or of a checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..checkpoint import (
    CheckpointError,
    load_pretrained,
    read_checkpoint,
    read_state_dict,
    strip_prefix,
)
from ..factory import create_model
from ..hornet import model_config
from .checkpointing import FORMAT
from .config import ConfigError, TrainConfig, model_overrides
from .data import build_datasets, default_workers
from .distributed import all_reduce_sum, pick_device
from .precision import amp_dtype, autocast

__all__ = ["evaluate", "evaluate_checkpoint"]


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
    ``--task segment`` run's checkpoint, its loss, ``miou`` and ``pixel_acc`` instead.

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
    if run is not None and run.get("task") == "segment":
        from ..dense.task import evaluate_segmentation_run

        # A segmenter's own keys ("backbone.", "head."): no published layout to convert.
        weights = strip_prefix(state["ema"] if ema else state["model"])
        weights.pop("n_averaged", None)

        return evaluate_segmentation_run(
            TrainConfig.from_dict(run | {"data": data}),
            weights,
            img_size=img_size,
            batch_size=batch_size,
            device=pick_device(device),
            workers=workers,
            val_samples=val_samples,
        )
    weights = read_state_dict(state, use_ema=ema)
    head = weights.get("head.weight")
    size = img_size or (run["img_size"] if run and run.get("img_size") else None)
    size = size or model_config(name).img_size

    config = TrainConfig(data=data, data_cache=data_cache, val_samples=val_samples)
    datasets = build_datasets(config, size)
    if head is not None and head.shape[0] != datasets.num_classes:
        raise CheckpointError(
            f"{checkpoint} classifies {head.shape[0]} classes but {data} has "
            f"{datasets.num_classes}; evaluate it on data with the same classes"
        )
    dev = pick_device(device)
    # A run trained with --orders rebuilds at those orders.
    overrides = model_overrides(TrainConfig.from_dict(run)) if run else {}
    net = create_model(name, num_classes=datasets.num_classes, **overrides)
    load_pretrained(net, weights)
    channels_last = dev.type == "cuda"
    net.to(dev, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    loader = DataLoader(
        datasets.val,
        batch_size=batch_size,
        num_workers=default_workers(datasets.kind, dev) if workers is None else workers,
        pin_memory=dev.type == "cuda",
    )
    dtype = amp_dtype("auto", dev)
    return evaluate(net, loader, device=dev, dtype=dtype, channels_last=channels_last)
