"""How the order study's same/different setting was chosen: one-seed pilots of PSVRT.

    python benchmarks/psvrt_pilot.py                 # every row below, one seed each
    python benchmarks/psvrt_pilot.py --rows cnn-max  # rows whose name contains "cnn-max"

The issue asks for a same/different setting that is neither trivial nor hopeless for the
order-1 network. Each row trains one network on make_same_different(side, item, train)
with the study's recipe (hornet_ref.study.train_cell, no shift) and prints val top-1.
The HorNet rows use the study network; the two CNN rows are a plain reference, four
3x3 conv + ReLU layers ending in global max pooling or global average pooling, trained
by the same loop.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from torch import nn

from hornet_ref.hornet import HorNet
from hornet_ref.study import STUDY_MODEL, VARIANTS, Recipe, make_same_different, train_cell
from hornet_ref.study import run as study_run

ORDER = {v.name: v for v in VARIANTS}
STUDY_BUILD = study_run.build_variant  # the study network, before any row replaces it

# (name, side, item, train, updates, network)
ROWS = [
    ("hornet-o1 32/4 6k", 32, 4, 6_000, 400, "order 1"),
    ("hornet-o3 32/4 6k", 32, 4, 6_000, 400, "order 3"),
    ("hornet-o1 32/3 6k", 32, 3, 6_000, 800, "order 1"),
    ("hornet-o1 32/2 6k", 32, 2, 6_000, 800, "order 1"),
    ("hornet-o1 16/2 6k", 16, 2, 6_000, 800, "order 1"),
    ("hornet-o1 16/3 6k", 16, 3, 6_000, 800, "order 1"),
    ("hornet-o3 16/3 6k", 16, 3, 6_000, 800, "order 3"),
    ("hornet-o1 16/2 50k", 16, 2, 50_000, 1_500, "order 1"),
    ("hornet-o3 16/2 50k", 16, 2, 50_000, 1_500, "order 3"),
    ("hornet-o1 16/1 20k", 16, 1, 20_000, 3_000, "order 1"),
    ("hornet-o1 16/3 20k", 16, 3, 20_000, 3_000, "order 1"),
    ("hornet-o1 16/4 20k", 16, 4, 20_000, 1_000, "order 1"),
    ("hornet-o3-layerscale1 16/2 20k", 16, 2, 20_000, 1_000, "layer scale 1"),
    ("hornet-o3-lr5e-4 16/2 20k", 16, 2, 20_000, 1_000, "lr 5e-4"),
    ("hornet-o3-stem1 16/2 20k", 16, 2, 20_000, 1_000, "stem 1"),
    ("hornet-o3-maxhead 16/2 20k", 16, 2, 20_000, 1_000, "max head"),
    ("cnn-max 16/2 20k", 16, 2, 20_000, 1_000, "cnn-max"),
    ("cnn-avg 16/2 20k", 16, 2, 20_000, 1_000, "cnn-avg"),
]


def _cnn(pool: str, num_classes: int) -> nn.Module:
    down = nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)
    final = nn.AdaptiveMaxPool2d(1) if pool == "max" else nn.AdaptiveAvgPool2d(1)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        down,
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        down,
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        final,
        nn.Flatten(),
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def _builder(network: str):
    """A replacement for the study's build_variant that makes ``network``."""
    if network.startswith("cnn-"):
        return lambda variant, n: _cnn(network.removeprefix("cnn-"), n)
    if network in ("layer scale 1", "stem 1"):
        change = {"layer scale 1": {"layer_scale_init_value": 1.0}, "stem 1": {"stem_patch": 1}}
        config = dataclasses.replace(STUDY_MODEL, **change[network])
        return lambda variant, n: HorNet(config, orders=variant.orders, num_classes=n)
    if network == "max head":
        return lambda variant, n: _MaxHead(STUDY_BUILD(variant, n))
    return STUDY_BUILD


class _MaxHead(nn.Module):
    """A HorNet whose head reads the max over positions of its last map, not the mean."""

    def __init__(self, model: HorNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.model.forward_features(x)  # (B, C, h, w)
        return self.model.head(self.model.norm(features.amax(dim=(-2, -1))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="", help="run only rows whose name contains this")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, side, item, train, updates, network in ROWS:
        if args.rows not in name:
            continue
        data = make_same_different(train=train, val=1_000, side=side, item=item)
        variant = ORDER.get(network, ORDER["order 3"])
        study_run.build_variant = _builder(network)
        try:
            lr = 5e-4 if network == "lr 5e-4" else Recipe.lr
            recipe = Recipe(updates=updates, lr=lr)
            _, row = train_cell(data, variant, args.seed, recipe, shift=0)
        finally:
            study_run.build_variant = STUDY_BUILD
        print(
            f"{name:<32} side {side:>2}, item {item}, {train:>6,} train, {updates:>5} updates: "
            f"val {row['acc']:5.1f}%, train {row['train_acc']:5.1f}%, {row['seconds']:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
