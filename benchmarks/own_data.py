"""Training on your own small folder of real images: HorNet with ``--recipe auto`` beside ResNet-18.

    python benchmarks/own_data.py                  # digits folder, no flag but --data; ResNet-18
    python benchmarks/own_data.py --epochs 15      # the same, 15 epochs for both
    python benchmarks/own_data.py --builtin        # also the built-in shapes data

The folder is assembled offline from scikit-learn's handwritten digits (1,797
scanned 8x8 grey images, 10 classes; ``pip install "hornet-ref[benchmarks]"``):
each image is upsampled to 32x32 (bilinear), stored as an RGB PNG, and split
stratified and seeded into 1,500 ``train/`` and 297 ``val/`` images, in the
ImageFolder layout ``ROOT/{train,val}/<digit>/<n>.png`` that ``--data`` reads.

HorNet runs as a user would: ``hornet-ref train --data ROOT`` (plus ``--epochs`` if
asked), in a subprocess, so it measures the command line and the auto recipe.
The peer is torchvision's ResNet-18 unchanged (its 7x7 stride-2 stem and max-pool
bring 32 px to 8x8, the digits' own resolution, at 1/16 of the compute of the
CIFAR-style 3x3 stem), trained with plain AdamW (lr 1e-3, weight decay 0.05, batch
64), a cosine schedule over the same number of epochs, random crop (padding 4) and
no flip, on the same folder. Both report validation
top-1 after every epoch, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

_DIGITS_TRAIN = 1_500


def make_digits_folder(root: str | os.PathLike, *, size: int = 32, seed: int = 0) -> Path:
    """Write scikit-learn's digits as an ImageFolder root (train/ and val/) under ``root``.

    Returns ``root``. The split is stratified by class and seeded; an existing,
    complete folder is reused.
    """
    import torchvision
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    root = Path(root)
    done = root / ".complete"
    if done.exists():
        return root
    digits = load_digits()
    images = torch.from_numpy(digits.images).float()[:, None] / 16.0  # (N, 1, 8, 8) in [0, 1]
    images = nn.functional.interpolate(images, size=(size, size), mode="bilinear")
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1)
    index = list(range(len(images)))
    train, val = train_test_split(
        index, train_size=_DIGITS_TRAIN, stratify=digits.target, random_state=seed
    )
    for split, chosen in (("train", train), ("val", val)):
        for i in chosen:
            folder = root / split / str(int(digits.target[i]))
            folder.mkdir(parents=True, exist_ok=True)
            torchvision.io.write_png(images[i].contiguous(), str(folder / f"{i:04d}.png"))
    done.touch()
    return root


def _hornet(data: str, epochs: int | None, out: Path) -> tuple[list[float], float, str]:
    """``hornet-ref train --data DATA`` (and ``--epochs``): per-epoch top-1, wall time, recipe."""
    command = [sys.executable, "-m", "hornet_ref.cli", "train", "--data", data, "--out", str(out)]
    command += ["--no-progress"] + (["--epochs", str(epochs)] if epochs else [])
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    seconds = time.perf_counter() - start
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    reason = json.loads((out / "config.json").read_text())["recipe_reason"]
    return [row["val_acc1"] for row in rows], seconds, reason


def _resnet18(num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 as it is (7x7 stride-2 stem and max-pool), fresh weights."""
    import torchvision

    return torchvision.models.resnet18(num_classes=num_classes)


def _peer(data: str, epochs: int, *, seed: int = 0) -> tuple[list[float], float]:
    """ResNet-18, plain AdamW + cosine, on the folder: per-epoch top-1 and wall time."""
    from torchvision import datasets
    from torchvision.transforms import v2

    from hornet_ref.train.data import eval_transform

    torch.manual_seed(seed)
    norm = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    norm.append(v2.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
    train_tf = v2.Compose([v2.RandomCrop(32, padding=4), *norm])
    train = datasets.ImageFolder(f"{data}/train", transform=train_tf)
    val = datasets.ImageFolder(f"{data}/val", transform=eval_transform("folder", 32))
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True, drop_last=True)
    val_loader = torch.utils.data.DataLoader(val, batch_size=256)
    net = _resnet18(len(train.classes))
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader))
    accuracies, start = [], time.perf_counter()
    for _ in range(epochs):
        net.train()
        for images, labels in loader:
            loss = nn.functional.cross_entropy(net(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        net.eval()
        with torch.no_grad():
            right = sum(int((net(x).argmax(1) == y).sum()) for x, y in val_loader)
        accuracies.append(100 * right / len(val))
    return accuracies, time.perf_counter() - start


def _table(name: str, hornet: list[float], peer: list[float]) -> None:
    print(f"\n{name}: validation top-1 (%) by epoch")
    print("| epoch | HorNet (auto) | ResNet-18 (AdamW + cosine) |\n|---:|---:|---:|")
    for e in range(max(len(hornet), len(peer))):
        h = f"{hornet[e]:.2f}" if e < len(hornet) else ""
        r = f"{peer[e]:.2f}" if e < len(peer) else ""
        print(f"| {e + 1} | {h} | {r} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="where the digits folder goes")
    parser.add_argument("--epochs", type=int, default=None, help="as hornet-ref train --epochs")
    parser.add_argument("--builtin", action="store_true", help="also train on the built-in data")
    parser.add_argument("--no-peer", action="store_true", help="skip ResNet-18")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="own_data-"))
    root = make_digits_folder(args.root or scratch / "digits")
    print(f"uptime: {os.getloadavg()} (load average, 1/5/15 min)")
    results = {}
    datasets = [("digits", str(root))] + ([("builtin", "builtin")] if args.builtin else [])
    for name, data in datasets:
        hornet, seconds, reason = _hornet(data, args.epochs, scratch / f"run-{name}")
        print(reason)
        peer, peer_seconds = [], 0.0
        if not args.no_peer and name == "digits":
            peer, peer_seconds = _peer(data, len(hornet))
        _table(name, hornet, peer)
        print(f"wall time: HorNet {seconds:.0f} s, ResNet-18 {peer_seconds:.0f} s")
        results[name] = dict(
            hornet=hornet, hornet_seconds=seconds, reason=reason, peer=peer,
            peer_seconds=peer_seconds,
        )  # fmt: skip
    print(f"uptime: {os.getloadavg()} (load average, 1/5/15 min)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
