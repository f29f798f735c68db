"""Probes of HorNet's gap to ResNet-18 on small folders: one change to the network, auto's recipe.

    python benchmarks/small_probes.py --change depth --seeds 0 1 2        # twice the blocks
    python benchmarks/small_probes.py --change batch-norm --seeds 0 1     # BatchNorm2d for LN
    python benchmarks/small_probes.py --change conv-stem                  # overlapping stem
    python benchmarks/small_probes.py --change none --seeds 2             # the variant as it is
    python benchmarks/small_probes.py --change dense-conv                 # dense 3x3 for 7x7 dw
    python benchmarks/small_probes.py --change order-1 --seeds 0 1 2      # gnConv order 1 only
    python benchmarks/small_probes.py --change layer-scale-1 --seeds 0 1  # gamma starts at 1
    python benchmarks/small_probes.py --folder patches --model hornet_nano_7x7 --change none \
        --rand-augment 5 --mixup 0.2 --crop-scale 0.08 --drop-path 0.1   # recipe values given
    python benchmarks/small_probes.py --folder patches --model hornet_nano_7x7 --change depth

Each run trains ``--model`` (default ``hornet_nano_s4_7x7``, what ``auto`` picks for the
128-px photographs) on one of ``benchmarks/own_data.py``'s folders (default photos128)
through ``hornet_ref.train.fit``, as ``hornet-ref train --data ROOT --model MODEL --seed S``
trains it: the recipe is ``auto``'s, unchanged but for the recipe flags of ``hornet-ref
train`` given after the probe's own (``--rand-augment 5``). Only the network the run builds
is changed, as ``--change`` says:

- ``depth``: every stage's blocks doubled (nano's 1, 1, 3, 1 become 2, 2, 6, 2);
- ``batch-norm``: each channels-first LayerNorm (after the stem, before each downsampler,
  each block's ``norm1``) replaced by a ``BatchNorm2d``; ``norm2`` and the head's norm kept;
- ``conv-stem``: the patchify stem replaced by two overlapping 3x3 stride-2 convolutions
  (3 -> C/2 -> C channels, a LayerNorm after each, a GELU between; stride 4 in all);
- ``dense-conv``: each gnConv's depthwise 7x7 convolution f, over its S channels, replaced
  by a dense 3x3 convolution S -> S (ResNet's kind of spatial mixing; the gates stay);
- ``layer-scale-1``: every block's layer-scale vectors gamma1, gamma2 start at 1, not the
  paper's 1e-6, so each block's gnConv and MLP count from the first update;
- ``order-1`` to ``order-5``: every stage's gnConv of that order n (nano's orders are the
  paper's 2, 3, 4, 5 by stage);
- ``none``: no change (the baseline, trained in the same process as the probes).

One JSON line a run is printed and appended to ``--json``: the final top-1 and the EMA's,
the best epoch's, every epoch's top-1, the training seconds and the parameters. The
published variants are never changed: the change is made to the network the probe builds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from hornet_ref.gnconv import GnConv, LayerNorm2d
from hornet_ref.hornet import model_config

ORDERS = tuple(f"order-{n}" for n in range(1, 6))  # gnConv's order n, 1 to 5
CHANGES = ("none", "depth", "batch-norm", "conv-stem", "dense-conv", "layer-scale-1", *ORDERS)


def _batch_norm(net: nn.Module) -> None:
    for parent in list(net.modules()):
        for key, child in list(parent.named_children()):
            if isinstance(child, LayerNorm2d):
                setattr(parent, key, nn.BatchNorm2d(child.normalized_shape[0]))


def _conv_stem(net: nn.Module) -> None:
    dim = net.downsample_layers[0][0].out_channels
    in_chans = net.downsample_layers[0][0].in_channels
    if net.config.stem_patch != 4:
        raise ValueError(f"--change conv-stem replaces a 4x4 stem; {net.config.stem_patch}x"
                         f"{net.config.stem_patch} given")  # fmt: skip
    net.downsample_layers[0] = nn.Sequential(  # (B, 3, H, W) -> (B, C, H/4, W/4), as before
        nn.Conv2d(in_chans, dim // 2, 3, stride=2, padding=1),
        LayerNorm2d(dim // 2, eps=1e-6),
        nn.GELU(),
        nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1),
        LayerNorm2d(dim, eps=1e-6),
    )


def _dense_conv(net: nn.Module) -> None:
    for block in net.modules():
        if isinstance(block, GnConv):
            channels = sum(block.dims)  # S = d_0 + ... + d_{n-1}
            block.dwconv = nn.Conv2d(channels, channels, 3, padding=1)  # (B, S, H, W), dense


def changed(create, change: str):
    """``create`` (hornet_ref's create_model) with ``change`` made to what it builds."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}; expected one of {', '.join(CHANGES)}")

    def create_changed(name: str, **kwargs) -> nn.Module:
        if change == "depth":
            kwargs["depths"] = tuple(2 * d for d in model_config(name).depths)
        elif change.startswith("order-"):
            kwargs["orders"] = int(change.removeprefix("order-"))  # the same n in every stage
        elif change == "layer-scale-1":
            kwargs["layer_scale_init_value"] = 1.0
        net = create(name, **kwargs)
        if change == "batch-norm":
            _batch_norm(net)
        elif change == "conv-stem":
            _conv_stem(net)
        elif change == "dense-conv":
            _dense_conv(net)
        return net

    return create_changed


@contextlib.contextmanager
def probing(change: str):
    """While inside, the classification task builds its network with ``change`` made."""
    from hornet_ref.train import task

    original = task.create_model
    task.create_model = changed(original, change)
    try:
        yield
    finally:
        task.create_model = original


def recipe_values(argv: list[str]) -> dict:
    """``hornet-ref train``'s recipe flags in ``argv`` (``--mixup 0.2``), typed as the CLI
    types them (``add_arguments``); anything else raises one ValueError naming it."""
    from hornet_ref.train.config import add_arguments

    recipe = argparse.ArgumentParser(prog="small_probes.py", exit_on_error=False)
    add_arguments(recipe)
    try:
        given, unknown = recipe.parse_known_args(argv)
    except argparse.ArgumentError as error:
        raise ValueError(str(error)) from None
    values = vars(given)
    fixed = sorted(values.keys() & {"data", "model", "seed", "out"})
    if unknown or fixed:
        named = " ".join(unknown) or ", ".join(f"--{k}" for k in fixed)
        raise ValueError(f"expected recipe flags of hornet-ref train (--mixup 0.2, --lr 1e-3); "
                         f"the probe sets or does not know {named}")  # fmt: skip
    return values


def probe(data: str, model: str, change: str, seed: int, epochs: int | None,
          values: dict | None = None) -> dict:  # fmt: skip
    """One run of ``model`` with ``change`` (and recipe ``values``) on ``data``; its results."""
    from hornet_ref.train import TrainConfig, fit

    with tempfile.TemporaryDirectory() as out, probing(change):
        start = time.perf_counter()
        given = {"epochs": epochs} | (values or {})
        config = TrainConfig(data=data, model=model, seed=seed, out=str(Path(out) / "run"),
                             progress=False, workers=0, eval_every=1, **given)  # fmt: skip
        result = fit(config)
        seconds = time.perf_counter() - start
    history = result.history
    return dict(
        data=data, change=change, model=model, seed=seed, img_size=result.config.img_size,
        given=values or {}, epochs=len(history),
        top1=history[-1]["val_acc1"], ema=history[-1].get("val_acc1_ema"),
        best=max(h["val_acc1"] for h in history), curve=[h["val_acc1"] for h in history],
        seconds=seconds, params_M=sum(p.numel() for p in result.model.parameters()) / 1e6,
    )  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from own_data import FOLDERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--change", choices=CHANGES, required=True)
    parser.add_argument("--folder", choices=list(FOLDERS), default="photos128")
    parser.add_argument("--model", default="hornet_nano_s4_7x7", help="the variant probed")
    parser.add_argument("--root", type=Path, default=None, help="where the folder goes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=None, help="as hornet-ref train --epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="append each run's line here")
    parser.epilog = "Other flags are hornet-ref train's recipe flags (--mixup 0.2, --lr 1e-3)."
    args, rest = parser.parse_known_args()
    try:
        values = recipe_values(rest)
    except ValueError as error:
        parser.error(str(error))
    if args.threads:
        torch.set_num_threads(args.threads)
    root = args.root or Path(tempfile.mkdtemp(prefix="small_probes-"))
    data = str(FOLDERS[args.folder](root / args.folder))
    for seed in args.seeds:
        line = json.dumps(probe(data, args.model, args.change, seed, args.epochs, values))
        print(line, flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
