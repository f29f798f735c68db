"""Training on your own small folder of real images: HorNet with ``--recipe auto`` beside ResNet-18.

    python benchmarks/own_data.py                         # every folder below; ResNet-18 too
    python benchmarks/own_data.py --seeds 0 1 2           # three runs of each (both networks)
    python benchmarks/own_data.py --folders patches       # one folder
    python benchmarks/own_data.py --epochs 15             # 15 epochs for both
    python benchmarks/own_data.py --builtin               # also the built-in shapes data
    python benchmarks/own_data.py --docs                  # also the figure for the Training guide
    python benchmarks/own_data.py --folders photos128 --peer-model hornet_nano_s4_7x7
                                   # a HorNet in ResNet-18's loop: the recipe's worth
    python benchmarks/own_data.py --folders others128 --peer-only 128 --epochs 59 --seeds 1
                                   # ResNet-18 alone (one JSON line a run, appended to --json)

The folders are assembled offline, in the ImageFolder layout
``ROOT/{train,val}/<class>/<n>.png`` that ``--data`` reads
(``pip install "hornet-ref[benchmarks]"`` for scikit-learn and scikit-image):

- **digits**: scikit-learn's handwritten digits (1,797 scanned 8x8 grey images, 10
  classes), upsampled to 32x32 (bilinear), stored as RGB PNGs, split stratified and
  seeded into 1,500 ``train/`` and 297 ``val/`` images;
- **patches**: 32-px patches of ten scikit-image photographs
  (:data:`hornet_ref.study.data.PHOTOGRAPHS`, each resized to a shorter side of 160 px),
  the class being the photograph, in colour where scikit-image ships colour (so grey
  and RGB files sit side by side): 160 a class for training from the left 65% of each
  photograph and 50 for validation from the rest, so no validation pixel was seen in
  training (1,600 and 500 images);
- **photos128**: the same ten photographs, resized to a shorter side of 400 px and cut
  into crops of 128 to 320 px resized to
  112-160 px a side, not square: 80 a class for training from the left 60% of each
  photograph, 30 for validation from the rest (800 and 300 images), the "photographs
  of about 128 px" a user brings;
- **others128** (only with ``--folders others128``): photos128's crops of ten other
  real photographs (:data:`OTHER_PHOTOGRAPHS`: cells, a clock, galaxies, the moon, a page,
  a retina, text, a temple, a flower, Grace Hopper), a second 128-px folder on which a
  change to the network is checked before it is kept;
- **photos48** (only with ``--folders photos48``): photos128's crops, each resized by
  area to a shorter side of 48 px, a folder of small photographs that ``auto`` trains
  at 64 px (the side from which it takes the paper's 8% crops);
- **patches20k** (only with ``--folders patches20k``): the patches at the medium tier's
  size, 2,000 a class for training (20,000) and 100 for validation, from the same
  regions of the same photographs, so many crops overlap.

HorNet runs as a user would: ``hornet-ref train --data ROOT`` (plus ``--epochs`` if
asked), in a subprocess, so it measures the command line and the auto recipe.
The peer is torchvision's ResNet-18 unchanged (its 7x7 stride-2 stem and max-pool),
trained with plain AdamW (lr 1e-3, weight decay 0.05, batch 64), a cosine schedule
over the same number of epochs as HorNet's run, and random crop (padding 1/8 of the
side) with no flip, at the side HorNet's run chose (the median of the images' shorter
sides, in the recipe line), on the same folder. Both report validation top-1 after
every epoch (HorNet with ``--eval-every 1``, its one flag besides ``--data``: without
it, a folder of short epochs is validated every few) and the cumulative training
seconds (validation not counted), and the wall time of the whole run. The last table
gives, per folder, the mean, sd and range of both networks' final top-1 over the seeds,
and the training seconds after which HorNet first reached ResNet-18's final top-1 in
each seed.
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
#: Keys of the results that are not folders.
_NOT_FOLDERS = ("machine", "peer")
DOCS_FIGURE = Path(__file__).resolve().parent.parent / "docs" / "assets" / "own-data.png"


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


#: Ten more real photographs that ship with the benchmark's libraries, none of them one of
#: :data:`hornet_ref.study.data.PHOTOGRAPHS`: ``library:name`` (scikit-image's ``data``
#: functions, scikit-learn's sample images, matplotlib's sample data).
OTHER_PHOTOGRAPHS = (
    "skimage:cell", "skimage:clock", "skimage:hubble_deep_field", "skimage:moon",
    "skimage:page", "skimage:retina", "skimage:text", "sklearn:china.jpg",
    "sklearn:flower.jpg", "matplotlib:grace_hopper.jpg",
)  # fmt: skip


def _photograph(name: str, short_side: int):
    """A photograph as a PIL image (RGB or grey, as shipped), its shorter side resized by
    area to ``short_side``: a scikit-image ``data`` name, or ``library:name`` as in
    :data:`OTHER_PHOTOGRAPHS`."""
    from PIL import Image

    library, _, key = name.rpartition(":")
    if library == "sklearn":
        from sklearn.datasets import load_sample_image

        photo = Image.fromarray(load_sample_image(key))
    elif library == "matplotlib":
        from matplotlib import cbook

        with cbook.get_sample_data(key) as file:
            photo = Image.open(file).convert("RGB")
    else:
        from skimage import data

        photo = Image.fromarray(getattr(data, key)())
    return _shorter_side_to(photo, short_side)


def _shorter_side_to(image, side: int):
    """``image`` (PIL) resized by area so that its shorter side is ``side`` px, aspect kept."""
    from PIL import Image

    k = side / min(image.size)
    return image.resize((round(image.width * k), round(image.height * k)), Image.BOX)


def _write_crops(
    root: Path, *, short_side: int, split_share: float, counts: dict[str, int],
    sides: tuple[int, int], out_sides: tuple[int, int] | None, seed: int,
    photographs: tuple[str, ...] | None = None,
) -> None:  # fmt: skip
    """Crops of each photograph (default: the study's ten) into ``root/<split>/<name>/``:
    train crops lie wholly in the left ``split_share`` of its columns, val crops in the rest.

    A crop's width and height are drawn from ``sides``; with ``out_sides`` it is then
    resized by area so that its shorter side is drawn from ``out_sides`` (aspect kept).
    """
    import numpy as np

    from hornet_ref.study.data import PHOTOGRAPHS

    rng = np.random.default_rng(seed)
    for name in photographs or PHOTOGRAPHS:
        photo = _photograph(name, short_side)
        split_at = int(photo.width * split_share)
        regions = {"train": (0, split_at), "val": (split_at, photo.width)}
        for split, n in counts.items():
            a, b = regions[split]
            folder = root / split / name.rpartition(":")[2].split(".")[0]
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                w = int(rng.integers(sides[0], min(sides[1], b - a) + 1))
                h = int(rng.integers(sides[0], sides[1] + 1))
                left = int(rng.integers(a, b - w + 1))
                top = int(rng.integers(0, photo.height - h + 1))
                crop = photo.crop((left, top, left + w, top + h))
                if out_sides:
                    crop = _shorter_side_to(crop, int(rng.integers(out_sides[0], out_sides[1] + 1)))
                crop.save(folder / f"{i:04d}.png")


def make_patches_folder(
    root: str | os.PathLike, *, train: int = 160, val: int = 50, seed: int = 0
) -> Path:
    """Write 32-px patches of the ten study photographs (``train`` and ``val`` a class)
    under ``root``; an existing, complete folder is reused."""
    root = Path(root)
    done = root / ".complete"
    if not done.exists():
        _write_crops(
            root, short_side=160, split_share=0.65, counts={"train": train, "val": val},
            sides=(32, 32), out_sides=None, seed=seed,
        )  # fmt: skip
        done.touch()
    return root


def make_photos_folder(
    root: str | os.PathLike, *, train: int = 80, val: int = 30, seed: int = 0,
    photographs: tuple[str, ...] | None = None,
) -> Path:  # fmt: skip
    """Write crops of the ten study photographs (or ``photographs``), 112-160 px a side,
    under ``root`` (``train`` and ``val`` a class); an existing, complete folder is reused."""
    root = Path(root)
    done = root / ".complete"
    if not done.exists():
        _write_crops(
            root, short_side=400, split_share=0.6, counts={"train": train, "val": val},
            sides=(128, 320), out_sides=(112, 160), seed=seed, photographs=photographs,
        )  # fmt: skip
        done.touch()
    return root


def make_others_folder(
    root: str | os.PathLike, *, train: int = 80, val: int = 30, seed: int = 0
) -> Path:
    """photos128's second folder: the same crops, of :data:`OTHER_PHOTOGRAPHS`."""
    return make_photos_folder(root, train=train, val=val, seed=seed,
                              photographs=OTHER_PHOTOGRAPHS)  # fmt: skip


def make_photos48_folder(
    root: str | os.PathLike, *, train: int = 80, val: int = 30, seed: int = 0, side: int = 48
) -> Path:
    """photos128's crops, each resized by area to a shorter side of ``side`` px (aspect
    kept): a folder of small photographs, which ``auto`` trains at 64 px."""
    from PIL import Image

    root = Path(root)
    done = root / ".complete"
    if not done.exists():
        with tempfile.TemporaryDirectory() as scratch:
            source = make_photos_folder(Path(scratch) / "photos128", train=train, val=val,
                                        seed=seed)  # fmt: skip
            for file in sorted(source.glob("*/*/*.png")):  # split/class/n.png
                out = root / file.relative_to(source)
                out.parent.mkdir(parents=True, exist_ok=True)
                _shorter_side_to(Image.open(file), side).save(out)
        done.touch()
    return root


def make_medium_folder(
    root: str | os.PathLike, *, train: int = 2_000, val: int = 100, seed: int = 0
) -> Path:
    """The patches at the medium tier's size: 2,000 a class, 20,000 training images in
    all (the tier's lower edge), and 100 a class for validation; crops of the same ten
    photographs as :func:`make_patches_folder`, so many overlap."""
    return make_patches_folder(root, train=train, val=val, seed=seed)


FOLDERS = {
    "digits": make_digits_folder,
    "patches": make_patches_folder,
    "photos128": make_photos_folder,
    "others128": make_others_folder,
    "photos48": make_photos48_folder,
    "patches20k": make_medium_folder,
}
"""Each benchmark folder's name and the function that writes it."""
#: Run when ``--folders`` is not given: patches20k (about 80 minutes) only on request.
DEFAULT_FOLDERS = ["digits", "patches", "photos128"]


def _hornet(data: str, epochs: int | None, out: Path, seed: int) -> dict:
    """``hornet-ref train --data DATA`` (``--epochs``, ``--seed``): per-epoch top-1 and
    cumulative training seconds, and the wall time of the whole command."""
    command = [sys.executable, "-m", "hornet_ref.cli", "train", "--data", data, "--out", str(out)]
    # --eval-every 1: top-1 after every epoch, as the peer's (auto validates a folder
    # of short epochs every few).
    command += ["--no-progress", "--seed", str(seed), "--eval-every", "1"] + (
        ["--epochs", str(epochs)] if epochs else []
    )
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((out / "config.json").read_text())
    top1, seconds, total = [], [], 0.0
    for row in rows:
        total += row["seconds"]
        if "val_acc1" in row:  # a validated epoch (all of them, with --eval-every 1)
            top1.append(row["val_acc1"])
            seconds.append(total)
    ema = rows[-1].get("val_acc1_ema")
    return dict(
        top1=top1, seconds=seconds, epochs=len(rows), wall=wall, ema=ema,
        reason=config["recipe_reason"], model=config["model"], img_size=config["img_size"],
    )  # fmt: skip


def _resnet18(num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 as it is (7x7 stride-2 stem and max-pool), fresh weights."""
    import torchvision

    return torchvision.models.resnet18(num_classes=num_classes)


def _peer(data: str, epochs: int, side: int, *, seed: int = 0, model: str = "resnet18") -> dict:
    """ResNet-18 (or ``model``, a hornet_ref variant, in the same loop), plain AdamW +
    cosine, on the folder at ``side`` px: per-epoch top-1 and cumulative training
    seconds, and the wall time of the whole run."""
    from torchvision import datasets
    from torchvision.transforms import v2

    from hornet_ref.train.data import eval_transform

    began = time.perf_counter()
    torch.manual_seed(seed)
    norm = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    norm.append(v2.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
    size = [v2.Resize(side, antialias=True)]  # shorter side to `side`, as HorNet's run
    train_tf = v2.Compose([*size, v2.RandomCrop(side, padding=side // 8), *norm])
    train = datasets.ImageFolder(f"{data}/train", transform=train_tf)
    val = datasets.ImageFolder(f"{data}/val", transform=eval_transform("folder", side))
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True, drop_last=True)
    val_loader = torch.utils.data.DataLoader(val, batch_size=256)
    if model == "resnet18":
        net = _resnet18(len(train.classes))
    else:  # a HorNet in the peer's loop: what the recipe, not the network, is worth
        from hornet_ref import create_model

        net = create_model(model, num_classes=len(train.classes))
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader))
    top1, seconds, trained = [], [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        net.train()
        for images, labels in loader:
            loss = nn.functional.cross_entropy(net(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        trained += time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            right = sum(int((net(x).argmax(1) == y).sum()) for x, y in val_loader)
        top1.append(100 * right / len(val))
        seconds.append(trained)
    return dict(top1=top1, seconds=seconds, wall=time.perf_counter() - began)


def time_to(run: dict, target: float) -> float | None:
    """Training seconds until ``run``'s top-1 first reaches ``target`` (None: never)."""
    for acc, sec in zip(run["top1"], run["seconds"]):
        if acc >= target:
            return sec
    return None


def _table(name: str, hornet: dict, peer: dict | None, label: str = "ResNet-18") -> None:
    print(f"\n{name}: validation top-1 (%) and training seconds by epoch")
    print(f"| epoch | HorNet (auto) | s | {label} (AdamW + cosine) | s |")
    print("|---:|---:|---:|---:|---:|")
    theirs = peer or {"top1": [], "seconds": []}
    for e in range(max(len(hornet["top1"]), len(theirs["top1"]))):
        cells = []
        for run in (hornet, theirs):
            ok = e < len(run["top1"])
            cells += [
                f"{run['top1'][e]:.2f}" if ok else "",
                f"{run['seconds'][e]:.0f}" if ok else "",
            ]
        print(f"| {e + 1} | " + " | ".join(cells) + " |")
    line = f"wall time: HorNet {hornet['wall']:.0f} s"
    if peer:
        line += f", {label} {peer['wall']:.0f} s"
        reach = time_to(hornet, peer["top1"][-1])
        after = f"{reach:.0f} s of training" if reach is not None else "never"
        line += (
            f"; HorNet reaches {label}'s final {peer['top1'][-1]:.2f}% after {after} "
            f"({label}: {peer['seconds'][-1]:.0f} s)"
        )
    print(line)


def summary(results: dict) -> str:
    """A Markdown table: per folder, each network's final top-1 (mean ± sd, min-max over
    the seeds), its training seconds, and when HorNet first reached the peer's final."""
    from statistics import mean, stdev

    peer_name = results.get("peer", "ResNet-18")

    def spread(values: list[float]) -> str:
        sd = f" ± {stdev(values):.2f}" if len(values) > 1 else ""
        extent = f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""
        return f"{mean(values):.2f}{sd}{extent}"

    lines = [
        "| folder | seeds | HorNet (auto): model, side | HorNet top-1 | HorNet s | "
        f"{peer_name} top-1 | {peer_name} s | HorNet reaches {peer_name}'s final top-1 after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        if name in _NOT_FOLDERS:
            continue
        runs = row["runs"]
        first = runs[0]["hornet"]
        hornet = [r["hornet"]["top1"][-1] for r in runs]
        seconds = [r["hornet"]["seconds"][-1] for r in runs]
        paired = [r for r in runs if r["peer"]]  # runs ResNet-18 trained beside
        seeds = str(len(runs)) + (
            f" ({peer_name}: {len(paired)})" if len(paired) != len(runs) else ""
        )
        cells = [name, seeds, f"{first['model']}, {first['img_size']} px"]
        cells += [spread(hornet), f"{mean(seconds):.0f}"]
        if paired:
            peer = [r["peer"]["top1"][-1] for r in paired]
            peer_s = [r["peer"]["seconds"][-1] for r in paired]
            reach = [time_to(r["hornet"], r["peer"]["top1"][-1]) for r in paired]
            reached = [f"{t:.0f} s" if t is not None else "never" for t in reach]
            cells += [spread(peer), f"{mean(peer_s):.0f}", ", ".join(reached)]
        else:
            cells += ["", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict):
    """Top-1 against training seconds, one panel a folder, both networks."""
    import matplotlib.pyplot as plt

    names = [n for n in results if n not in _NOT_FOLDERS]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        runs = results[name]["runs"]
        first = runs[0]["hornet"]
        for i, run in enumerate(runs):  # the first seed labelled, the others fainter
            faint = dict(alpha=0.35, label=None) if i else {}
            label = f"HorNet ({first['model'].removeprefix('hornet_')}, auto)"
            ax.plot(run["hornet"]["seconds"], run["hornet"]["top1"], ".-", color="C0",
                    **({"label": label} | faint))  # fmt: skip
            if run["peer"]:
                ax.plot(run["peer"]["seconds"], run["peer"]["top1"], ".-", color="C1",
                        **({"label": results.get("peer", "ResNet-18")} | faint))  # fmt: skip
        seeds = f", {len(runs)} seeds" if len(runs) > 1 else ""
        ax.set(title=f"{name} ({first['img_size']} px{seeds})", xlabel="training seconds")
        lowest = min(min(r["hornet"]["top1"]) for r in runs)
        ax.set_ylim(max(0, lowest - 5), 100.5)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)  # each panel: its folder's HorNet variant
    axes[0][0].set_ylabel("validation top-1 (%)")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="where the folders go")
    parser.add_argument("--folders", nargs="+", choices=list(FOLDERS), default=DEFAULT_FOLDERS)
    parser.add_argument("--epochs", type=int, default=None, help="as hornet-ref train --epochs")
    parser.add_argument("--builtin", action="store_true", help="also train on the built-in data")
    parser.add_argument("--no-peer", action="store_true", help="skip ResNet-18")
    parser.add_argument(
        "--peer-model", default="resnet18",
        help="a hornet_ref variant to train in ResNet-18's loop instead (the recipe's worth)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-only", type=int, default=None, metavar="SIDE",
        help="train only the peer, at SIDE px, for --epochs (the epochs and side auto chose)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run of each a seed")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--figure", type=Path, default=None, help="top-1 against time (PNG)")
    parser.add_argument("--docs", action="store_true", help=f"the figure to {DOCS_FIGURE}")
    args = parser.parse_args()
    if args.peer_only and not args.epochs:
        parser.error("--peer-only SIDE expects --epochs N too (those auto chose for HorNet)")
    if args.threads:
        torch.set_num_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="own_data-"))
    base = args.root or scratch
    results: dict = {
        "machine": f"{os.uname().machine}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    }
    label = "ResNet-18" if args.peer_model == "resnet18" else args.peer_model
    if label != "ResNet-18":
        results["peer"] = label
    print(f"uptime: {os.getloadavg()} (load average, 1/5/15 min); {results['machine']}")
    jobs = [(name, str(FOLDERS[name](base / name))) for name in args.folders]
    jobs += [("builtin", "builtin")] if args.builtin else []
    for seed in args.seeds:
        for name, data in jobs:
            if args.peer_only:  # the peer alone, at the epochs and side given
                peer = _peer(data, args.epochs, args.peer_only, seed=seed, model=args.peer_model)
                line = dict(folder=name, seed=seed, side=args.peer_only, peer=peer)
                print(json.dumps(line), flush=True)
                if args.json:
                    with args.json.open("a") as f:
                        f.write(json.dumps(line) + "\n")
                continue
            hornet = _hornet(data, args.epochs, scratch / f"run-{name}-{seed}", seed)
            print(hornet["reason"])
            peer = None
            if not args.no_peer and name != "builtin":
                peer = _peer(data, hornet["epochs"], hornet["img_size"], seed=seed,
                             model=args.peer_model)  # fmt: skip
            _table(f"{name}, seed {seed}", hornet, peer, label)
            results.setdefault(name, {"runs": []})["runs"].append(
                dict(seed=seed, hornet=hornet, peer=peer)
            )
            if args.json:  # after every run, so a stopped benchmark keeps what it measured
                args.json.write_text(json.dumps(results, indent=2))
            print(f"uptime: {os.getloadavg()} (load average, 1/5/15 min)")
    if args.peer_only:
        return
    print("\n" + summary(results))
    figure = DOCS_FIGURE if args.docs else args.figure
    if figure:
        from hornet_ref.plotting import save_figure

        save_figure(plot(results), figure)
        print(f"figure: {figure}")


if __name__ == "__main__":
    main()
