"""The order study's three tasks, made offline as tensors in memory.

Each maker returns a :class:`TaskData`: grey images (N, 1, side, side) in float32 and
labels (N,) in int64, for a train and a val split. The same seed gives the same bytes.

- :func:`make_digits`: scikit-learn's 1,797 handwritten digits (scanned 8x8), upsampled.
- :func:`make_photo_patches`: which of ten scikit-image photographs a patch comes from;
  train patches from the left part of each photograph, val patches from the right part,
  so no val pixel was seen in training.
- :func:`make_same_different`: PSVRT's same/different problem (Kim, Ricci & Serre,
  2018): two random binary k x k items at random places; are they identical? The
  answer lies in a comparison between distant positions, which no local filter sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "PHOTOGRAPHS",
    "TaskData",
    "make_digits",
    "make_photo_patches",
    "make_same_different",
]

PHOTOGRAPHS = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "immunohistochemistry",
    "rocket",
)
"""The scikit-image photographs (stored in its wheel) whose patches make the ten classes."""


@dataclass(frozen=True)
class TaskData:
    """One task's images and labels.

    Attributes:
        train_x, val_x: images (N, 1, side, side), float32.
        train_y, val_y: labels (N,), int64 in [0, num_classes).
        num_classes: number of classes.
        classes: a name per class.
    """

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def make_digits(*, side: int = 32, train: int = 1_500, seed: int = 0) -> TaskData:
    """scikit-learn's handwritten digits at ``side`` px; ``train`` images, the rest val.

    The split is a seeded permutation, the same for every model of the study. Pixels
    are scaled to [0, 1] (the scans hold 0..16) and upsampled bilinearly from 8x8.
    """
    from sklearn.datasets import load_digits

    _positive(side=side, train=train)
    digits = load_digits()
    if train >= len(digits.target):
        raise ValueError(
            f"train must leave val images: at most {len(digits.target) - 1}, got {train}"
        )
    images = torch.from_numpy(digits.images).float()[:, None] / 16.0  # (1797, 1, 8, 8)
    images = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)
    labels = torch.from_numpy(digits.target).long()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    tr, va = order[:train], order[train:]
    classes = tuple(str(d) for d in range(10))
    return TaskData(images[tr], labels[tr], images[va], labels[va], classes)


def _grey_photograph(name: str, short_side: int) -> Tensor:
    """A scikit-image photograph as (H, W) grey in [0, 1], its short side resized."""
    from skimage import color, data

    image = torch.from_numpy(getattr(data, name)().astype("float32"))
    image = image / 255.0
    if image.ndim == 3:  # (H, W, 3) RGB -> grey with the ITU-R 601 weights skimage uses
        image = torch.from_numpy(color.rgb2gray(image.numpy()).astype("float32"))
    h, w = image.shape
    scale = short_side / min(h, w)
    size = (round(h * scale), round(w * scale))
    return F.interpolate(image[None, None], size=size, mode="area")[0, 0]


def _crops(image: Tensor, n: int, side: int, cols: tuple[int, int], g: torch.Generator) -> Tensor:
    """``n`` random side x side crops of (H, W) ``image`` lying wholly in columns [a, b)."""
    h, _ = image.shape
    a, b = cols
    top = torch.randint(0, h - side + 1, (n,), generator=g)
    left = torch.randint(a, b - side + 1, (n,), generator=g)
    return torch.stack([image[t : t + side, x : x + side] for t, x in zip(top, left)])


def make_photo_patches(
    *,
    side: int = 32,
    train_per_class: int = 200,
    val_per_class: int = 50,
    short_side: int = 160,
    train_share: float = 0.65,
    seed: int = 0,
) -> TaskData:
    """Grey ``side``-px patches of the ten :data:`PHOTOGRAPHS`; the class is the photograph.

    Each photograph is resized to a short side of ``short_side`` px; train patches lie
    wholly in its left ``train_share`` of columns, val patches wholly in the rest, so the
    two splits share no pixel.
    """
    _positive(side=side, train_per_class=train_per_class, val_per_class=val_per_class)
    if not 0 < train_share < 1:
        raise ValueError(f"train_share must be in (0, 1), got {train_share}")
    g = torch.Generator().manual_seed(seed)
    xs = {"train": [], "val": []}
    ys = {"train": [], "val": []}
    for label, name in enumerate(PHOTOGRAPHS):
        photo = _grey_photograph(name, short_side)  # (H, W)
        split = int(photo.shape[1] * train_share)
        if split < side or photo.shape[1] - split < side:
            raise ValueError(f"{name}: {tuple(photo.shape)} too small for {side}-px patches")
        regions = {
            "train": (0, split, train_per_class),
            "val": (split, photo.shape[1], val_per_class),
        }
        for part, (a, b, n) in regions.items():
            xs[part].append(_crops(photo, n, side, (a, b), g))
            ys[part].append(torch.full((n,), label))
    train_x, val_x = (torch.cat(xs[p])[:, None].contiguous() for p in ("train", "val"))
    train_y, val_y = (torch.cat(ys[p]) for p in ("train", "val"))
    return TaskData(train_x, train_y, val_x, val_y, PHOTOGRAPHS)


def _same_different(n: int, side: int, item: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` PSVRT images (n, 1, side, side) and labels (n,): 1 same, 0 different."""
    labels = torch.arange(n) % 2  # balanced, then shuffled below
    labels = labels[torch.randperm(n, generator=g)]
    # Item pixels are -1 or +1 on a blank (0) canvas, so every item pixel is visible.
    first = torch.randint(0, 2, (n, item, item), generator=g) * 2.0 - 1.0
    second = torch.randint(0, 2, (n, item, item), generator=g) * 2.0 - 1.0
    # "Different" items differ in at least one pixel: flip one where a draw matched.
    equal = (first == second).flatten(1).all(1)
    flip = torch.randint(0, item * item, (n,), generator=g)
    second.view(n, -1)[equal, flip[equal]] *= -1
    second = torch.where(labels[:, None, None] == 1, first, second)

    # Top-left corners of two non-overlapping boxes: redraw the second until clear.
    span = side - item + 1
    a = torch.randint(0, span, (n, 2), generator=g)
    b = torch.randint(0, span, (n, 2), generator=g)
    clash = ((a - b).abs() < item).all(1)
    while clash.any():
        b[clash] = torch.randint(0, span, (int(clash.sum()), 2), generator=g)
        clash = ((a - b).abs() < item).all(1)

    images = torch.zeros(n, 1, side, side)
    for i in range(n):
        (ay, ax), (by, bx) = a[i].tolist(), b[i].tolist()
        images[i, 0, ay : ay + item, ax : ax + item] = first[i]
        images[i, 0, by : by + item, bx : bx + item] = second[i]
    return images, labels.long()


def make_same_different(
    *, train: int = 4_000, val: int = 1_000, side: int = 32, item: int = 4, seed: int = 0
) -> TaskData:
    """PSVRT same/different: two random binary ``item`` x ``item`` patterns at random,
    non-overlapping places on a ``side`` x ``side`` canvas; label 1 when identical.

    Classes are balanced; a "different" pair differs in at least one pixel. Train and
    val come from one seeded stream, so the same seed gives the same bytes.
    """
    _positive(train=train, val=val, side=side, item=item)
    if 2 * item > side:
        raise ValueError(f"two {item}-px items need a canvas of at least {2 * item} px, got {side}")
    g = torch.Generator().manual_seed(seed)
    train_x, train_y = _same_different(train, side, item, g)
    val_x, val_y = _same_different(val, side, item, g)
    return TaskData(train_x, train_y, val_x, val_y, ("different", "same"))
