"""The paper's training recipe, as small builders around torch and torchvision parts.

Rao et al. 2022 train HorNet as ConvNeXt was trained (facts in
shared/spec/HORNET.md, "Training recipe"): AdamW with weight decay on weights
only, a learning rate scaled with the total batch, linear warm-up then cosine,
drop path, label smoothing, mixup/cutmix, RandAugment and random erasing, an EMA
of the weights (its decay warming up over the first updates), gradient clipping;
layer-wise lr decay when fine-tuning.

Which parameters get no weight decay: every parameter with one dimension, that
is the LayerNorm weights and biases, all conv and linear biases, and the
layer-scale vectors ``gamma1``/``gamma2``. The Global-Local Filter's
``complex_weight`` (C, h, w, 2) is a learned filter like a conv kernel and is
decayed, as the authors' optimiser does (it decays every tensor of 2+ dims).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel
from torchvision.transforms import v2

from .config import TrainConfig

__all__ = [
    "WarmupCosine",
    "build_ema",
    "build_mixing",
    "build_optimizer",
    "build_scheduler",
    "ema_decay_at",
    "param_groups",
    "scaled_lr",
]


def scaled_lr(config: TrainConfig, world_size: int) -> float:
    """Peak lr for the run's total batch: ``lr * batch * accum * world / lr_batch``."""
    total = config.batch_size * config.accum_steps * world_size
    return config.lr * total / config.lr_batch


def param_groups(model: nn.Module, *, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
    """AdamW parameter groups: decay or not, and (with ``layer_decay < 1``) an
    ``lr_scale`` of ``layer_decay ** (last_id - layer_id)`` per depth, the depth
    coming from the model's own ``layer_id(param_name)`` (see HorNet.layer_id)."""
    if layer_decay < 1 and not hasattr(model, "layer_id"):
        raise ValueError(f"layer decay needs a model with a layer_id method, not {type(model)}")
    layer_of = model.layer_id if layer_decay < 1 else (lambda name: 0)
    last = layer_of("head.weight")
    groups: dict[tuple[bool, int], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = param.ndim > 1
        depth = layer_of(name)
        group = groups.setdefault(
            (decay, depth),
            {
                "params": [],
                "weight_decay": weight_decay if decay else 0.0,
                "lr_scale": layer_decay ** (last - depth),
            },
        )
        group["params"].append(param)
    return list(groups.values())


def build_optimizer(model: nn.Module, config: TrainConfig, lr: float) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; each group's lr is ``lr * lr_scale``."""
    groups = param_groups(model, weight_decay=config.weight_decay, layer_decay=config.layer_decay)
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
    return torch.optim.AdamW(groups, lr=lr)


class WarmupCosine:
    """The lr factor at update ``t``: linear from 0 to 1 over ``warmup`` updates, then
    cosine from 1 down to ``floor`` at update ``total``.

    A plain object (its attributes are numbers), so a LambdaLR using it saves and
    loads with ``torch.load(weights_only=True)``.
    """

    def __init__(self, warmup: int, total: int, floor: float) -> None:
        self.warmup, self.total, self.floor = warmup, max(total, 1), floor

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return (t + 1) / self.warmup
        progress = min((t - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, lr: float, updates_per_epoch: int
) -> LambdaLR:
    """Per-update warm-up then cosine to ``min_lr`` (stepped after every update)."""
    schedule = WarmupCosine(
        warmup=round(config.warmup_epochs * updates_per_epoch),
        total=config.epochs * updates_per_epoch,
        floor=min(config.min_lr / lr, 1.0) if lr > 0 else 0.0,
    )
    return LambdaLR(optimizer, schedule)


def build_mixing(config: TrainConfig, num_classes: int) -> v2.Transform | None:
    """Batch-level mixup and/or cutmix (one of the two per batch), or None when off.

    Returns a transform mapping ``(images (B, C, H, W), labels (B,))`` to
    ``(mixed images, soft labels (B, num_classes))``.
    """
    mixers = []
    if config.mixup > 0:
        mixers.append(v2.MixUp(alpha=config.mixup, num_classes=num_classes))
    if config.cutmix > 0:
        mixers.append(v2.CutMix(alpha=config.cutmix, num_classes=num_classes))
    if not mixers:
        return None
    return mixers[0] if len(mixers) == 1 else v2.RandomChoice(mixers)


def ema_decay_at(decay: float, t: int) -> float:
    """The EMA's decay at its ``t``-th average: ``min(decay, (1 + t) / (10 + t))``.

    Early on the average follows the weights closely (0.18 at t = 1, 0.5 at t = 8),
    so it is not stuck near the random initial weights on a run shorter than the
    horizon ``1 / (1 - decay)``; after about ``10 / (1 - decay)`` updates the warm-up
    no longer matters.
    """
    return min(decay, (1 + t) / (10 + t))


def _warming_ema(decay: float):
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], t: torch.Tensor):
        # AveragedModel calls this once per dtype; integer buffers (BatchNorm's
        # num_batches_tracked) cannot be averaged, so they follow the model.
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        # a' = d_t a + (1 - d_t) w, for every tensor at once
        torch._foreach_lerp_(averaged, current, 1 - ema_decay_at(decay, int(t)))

    return update


def build_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights and buffers, or None (decay 0).

    The decay warms up (:func:`ema_decay_at`). Call ``ema.update_parameters(model)``
    after each update; ``ema.module`` is the averaged network and ``ema.n_averaged``
    counts the updates seen.
    """
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=_warming_ema(decay), use_buffers=True)
