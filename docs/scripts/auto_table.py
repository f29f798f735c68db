"""What ``--recipe auto`` chooses for a few dataset sizes (hornet_ref/train/auto.py's rules).

python docs/scripts/auto_table.py
"""

from __future__ import annotations

from hornet_ref.train.auto import DataStats, ema_horizon, tier
from hornet_ref.train.config import TrainConfig, resolve

SIZES = (
    (1_500, 10, "1.5k (the digits folder)"),
    (10_000, 10, "10k"),
    (12_000, 10, "12k (the built-in data)"),
    (30_000, 10, "30k"),
    (50_000, 100, "50k (CIFAR-100)"),
    (100_000, 100, "100k"),
    (1_281_167, 1000, "1.28M (ImageNet-1K)"),
)


def main() -> None:
    print(
        "| training images | tier | batch, lr | epochs (updates) | warm-up | augmentation |"
        " EMA decay (horizon) |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, classes, label in SIZES:
        c = resolve(TrainConfig(data="/folder"), DataStats(n, classes, 32))
        updates = c.epochs * (n // c.batch_size)
        lr = f"{c.lr:g} at {c.lr_batch}" + (" (linear)" if c.lr_batch != c.batch_size else "")
        crop = f"crops >= {c.crop_scale:.0%}"
        if c.mixup or c.cutmix or c.rand_augment or c.random_erasing:
            augment = (
                f"{crop}, RandAugment {c.rand_augment}, mixup {c.mixup:g}, cutmix {c.cutmix:g},"
                f" erasing {c.random_erasing:g}"
            )
        else:
            augment = f"{crop} and flip only"
        print(
            f"| {label} | {tier(n)} | {c.batch_size}, {lr} | {c.epochs} ({updates:,}) | "
            f"{c.warmup_epochs:g} epochs | {augment} | {c.ema_decay:.4f} "
            f"({ema_horizon(c.ema_decay):,.0f}) |"
        )


if __name__ == "__main__":
    main()
