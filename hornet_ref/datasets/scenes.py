"""Dense data: built-in scenes of shapes, and segmentation folders in ADE20K's layout.

Built-in scenes reuse the built-in classification data's drawing
(:mod:`hornet_ref.datasets.shapes`): the same textured backgrounds and shapes, now
several per image (1 to ``max_shapes``), larger images, each shape painted over the
ones before it. Every scene comes with a per-pixel class map (0 = background,
``k + 1`` = shape class ``k``), and the visible part of each shape as an instance
mask with its box. The same ``(n, size, seed)`` gives the same bytes.

A segmentation folder is laid out as ADE20K's release (ADEChallengeData2016)::

    ROOT/images/training/*.jpg       ROOT/annotations/training/*.png
    ROOT/images/validation/*.jpg     ROOT/annotations/validation/*.png

with one PNG label map per image (same stem, same size), holding one class index
per pixel; 255 is ignored. ADE20K's label 0 means "other / unlabelled" and its 150
classes are 1..150: with ``reduce_zero_label=True`` (the default, as mmseg's ADE20K
configs) 0 becomes 255 (ignored) and k becomes k - 1, giving classes 0..149. For
your own data where 0 is a real class (background), pass ``reduce_zero_label=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2
from tqdm.auto import tqdm

from ..constants import IMAGENET_MEAN, IMAGENET_STD
from .folders import DataError
from .shapes import SHAPE_CLASSES, shape_mask, textured_background, uniform

__all__ = [
    "IGNORE_INDEX",
    "SCENE_MEAN",
    "SCENE_PHOTOGRAPHS",
    "SCENE_STD",
    "SceneDetection",
    "SceneSegmentation",
    "Scenes",
    "SegmentationFolder",
    "label_values",
    "make_digit_scenes",
    "make_scenes",
]

#: The label of pixels that no loss or metric counts.
IGNORE_INDEX = 255
#: Normalisation of the built-in scenes (that of the built-in shapes).
SCENE_MEAN, SCENE_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
_MIN_VISIBLE = 4  # pixels a shape must keep visible to count as an instance
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_LARGE_FOLDER = 2_000  # label maps beyond this get a progress bar
SCENE_PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "brick")
"""The scikit-image photographs (stored in its wheel) behind :func:`make_digit_scenes`."""
_DIGITS_TRAIN = 1_500  # scikit-learn's first 1,500 digits paint train scenes, the rest val
_PHOTO_TRAIN_SHARE = 0.7  # train backgrounds come from a photograph's left 70% of columns


@dataclass
class Scenes:
    """Built-in scenes with their dense labels.

    Attributes:
        images: (N, 3, S, S) uint8.
        semantic: (N, S, S) int64; 0 is background, ``k + 1`` the shape class
            ``classes[k]``.
        instances: (N, S, S) int64; 0 is background, ``j + 1`` the j-th shape painted.
        labels: (N, max_shapes) int64; the class (1-based, as in ``semantic``) of each
            painted shape, 0 where an image has fewer shapes.
        classes: the shape names; class ``k + 1`` is ``classes[k]``.
    """

    images: Tensor
    semantic: Tensor
    instances: Tensor
    labels: Tensor
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """Classes of the per-pixel maps, background included."""
        return len(self.classes) + 1

    def targets(self, index: int) -> dict[str, Tensor]:
        """Instance targets of one scene, in torchvision's detection format.

        ``boxes`` (M, 4) float32 XYXY pixels around each visible shape, ``labels`` (M,)
        int64 in 1..len(classes), ``masks`` (M, S, S) uint8; M = 0 for a scene whose
        shapes are all hidden (an all-background target).
        """
        ids = self.instances[index]  # (S, S)
        keep = [
            j
            for j in range(self.labels.shape[1])
            if self.labels[index, j] > 0 and int((ids == j + 1).sum()) >= _MIN_VISIBLE
        ]
        masks = torch.stack([ids == j + 1 for j in keep]) if keep else ids.new_zeros(0, *ids.shape)
        masks = masks.to(torch.uint8)
        boxes = masks_to_boxes(masks) if keep else torch.zeros(0, 4)
        # masks_to_boxes gives the last covered pixel index; +1 makes it the pixel's far edge.
        boxes[:, 2:] += 1
        return {"boxes": boxes, "labels": self.labels[index, keep], "masks": masks}


def make_scenes(
    n: int,
    size: int = 64,
    seed: int = 0,
    *,
    max_shapes: int = 3,
    classes: Sequence[str] | None = None,
) -> Scenes:
    """``n`` built-in scenes of ``size`` x ``size`` pixels, the same for the same seed.

    Each scene holds 1 to ``max_shapes`` shapes (radius ``size / 10`` to ``size / 5``)
    of classes drawn from ``classes`` (default: all ten of
    :data:`~hornet_ref.datasets.shapes.SHAPE_CLASSES`), painted in turn over a textured
    background with a little pixel noise.
    """
    if n < 1 or size < 16 or max_shapes < 1:
        raise ValueError(
            f"need n >= 1, size >= 16 and max_shapes >= 1; got {n}, {size}, {max_shapes}"
        )
    names = tuple(SHAPE_CLASSES if classes is None else classes)
    unknown = sorted(set(names) - set(SHAPE_CLASSES))
    if unknown or not names:
        raise ValueError(f"unknown shape classes {unknown}; valid: {', '.join(SHAPE_CLASSES)}")
    shape_ids = torch.tensor([SHAPE_CLASSES.index(c) for c in names])
    g = torch.Generator().manual_seed(seed)

    image, first_colour = textured_background(n, size, g)  # (N, 3, S, S) in [0, 1], (N, 3, 1, 1)
    semantic = torch.zeros(n, size, size, dtype=torch.int64)
    instances = torch.zeros(n, size, size, dtype=torch.int64)
    count = torch.randint(1, max_shapes + 1, (n,), generator=g)
    labels = torch.zeros(n, max_shapes, dtype=torch.int64)
    for j in range(max_shapes):
        present = count > j  # (N,)
        pick = torch.randint(0, len(names), (n,), generator=g)
        radius = uniform(g, n, low=size / 10, high=size / 5)
        cx = uniform(g, n) * (size - 2 * radius) + radius
        cy = uniform(g, n) * (size - 2 * radius) + radius
        # Later shapes vary the first one's colour, which the background leans away from.
        shift = uniform(g, n, 3, low=-0.35, high=0.35)[:, :, None, None]
        colour = first_colour if j == 0 else (first_colour + shift).clamp(0, 1)
        soft = shape_mask(shape_ids[pick], radius, cx, cy, size) * present[:, None, None]
        image = colour * soft[:, None] + image * (1 - soft[:, None])  # paint over: (N, 3, S, S)
        hard = soft > 0.5  # (N, S, S)
        semantic[hard] = (pick + 1)[:, None, None].expand_as(hard)[hard]
        instances[hard] = j + 1
        labels[:, j] = torch.where(present, pick + 1, 0)
    image = image + 0.04 * torch.randn(image.shape, generator=g)
    images = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    return Scenes(images, semantic, instances, labels, names)


def _colour_photograph(name: str, short_side: int) -> Tensor:
    """A scikit-image photograph as (3, H, W) float32 in [0, 1], its short side resized."""
    from skimage import data

    array = getattr(data, name)()
    image = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0
    image = image[None].expand(3, -1, -1) if image.ndim == 2 else image.permute(2, 0, 1)[:3]
    scale = short_side / min(image.shape[1:])
    size = (round(image.shape[1] * scale), round(image.shape[2] * scale))
    return F.interpolate(image[None], size=size, mode="area")[0]


def make_digit_scenes(
    n: int, size: int = 64, seed: int = 0, *, split: str = "train", max_digits: int = 3
) -> Scenes:
    """``n`` scenes of real images: scikit-learn's handwritten digits pasted onto crops
    of scikit-image's photographs, with the same labels as :func:`make_scenes`.

    Each scene is a ``size``-px crop of one of :data:`SCENE_PHOTOGRAPHS` (short side
    resized to ``4 * size``) with 1 to ``max_digits`` digits painted over it in turn,
    each scaled to 30-50% of the side, in a colour far from the photograph under it.
    The digit's ink (its 8x8 scan upsampled, above half intensity) is its mask; class
    ``k + 1`` is the digit ``k``. ``split="train"`` draws on the first 1,500 digits and
    the photographs' left 70%, ``"val"`` on the other 297 digits and the right 30%, so
    the two splits share no digit scan and no background pixel. Needs scikit-learn and
    scikit-image (``pip install scikit-learn scikit-image``).
    """
    if n < 1 or size < 16 or max_digits < 1 or split not in ("train", "val"):
        raise ValueError(
            f"need n >= 1, size >= 16, max_digits >= 1 and split 'train' or 'val'; "
            f"got {n}, {size}, {max_digits}, {split!r}"
        )
    from sklearn.datasets import load_digits

    scans = torch.from_numpy(load_digits().images).float() / 16.0  # (1797, 8, 8) in [0, 1]
    targets = torch.from_numpy(load_digits().target).long()
    part = slice(0, _DIGITS_TRAIN) if split == "train" else slice(_DIGITS_TRAIN, None)
    scans, targets = scans[part], targets[part]
    photos = []
    for name in SCENE_PHOTOGRAPHS:
        photo = _colour_photograph(name, 4 * size)  # (3, H, W)
        cut = int(photo.shape[2] * _PHOTO_TRAIN_SHARE)
        photos.append(photo[:, :, :cut] if split == "train" else photo[:, :, cut:])
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 3, size, size)
    semantic = torch.zeros(n, size, size, dtype=torch.int64)
    instances = torch.zeros(n, size, size, dtype=torch.int64)
    labels = torch.zeros(n, max_digits, dtype=torch.int64)
    count = torch.randint(1, max_digits + 1, (n,), generator=g)
    for i in range(n):
        photo = photos[int(torch.randint(len(photos), (1,), generator=g))]
        top = int(torch.randint(photo.shape[1] - size + 1, (1,), generator=g))
        left = int(torch.randint(photo.shape[2] - size + 1, (1,), generator=g))
        image = photo[:, top : top + size, left : left + size].clone()  # (3, S, S)
        for j in range(int(count[i])):
            k = int(torch.randint(len(scans), (1,), generator=g))
            side = int(uniform(g, 1, low=0.3 * size, high=0.5 * size))
            ink = F.interpolate(scans[k][None, None], size=(side, side), mode="bilinear")[0, 0]
            y, x = (int(torch.randint(size - side + 1, (1,), generator=g)) for _ in range(2))
            under = image[:, y : y + side, x : x + side]  # (3, side, side)
            # Each channel 0.45-0.6 away from the photograph's mean there: always visible.
            mean = under.mean((1, 2))  # (3,)
            step = uniform(g, 3, low=0.45, high=0.6)
            colour = torch.where(mean < 0.5, mean + step, mean - step).clamp(0, 1)
            alpha = ink.clamp(0, 1)[None]  # (1, side, side)
            painted = colour[:, None, None] * alpha + under * (1 - alpha)  # (3, side, side)
            image[:, y : y + side, x : x + side] = painted
            hard = torch.zeros(size, size, dtype=torch.bool)
            hard[y : y + side, x : x + side] = ink > 0.5
            semantic[i][hard] = int(targets[k]) + 1
            instances[i][hard] = j + 1
            labels[i, j] = int(targets[k]) + 1
        images[i] = image
    images_u8 = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    return Scenes(images_u8, semantic, instances, labels, tuple(str(d) for d in range(10)))


def _to_float(image: Tensor) -> Tensor:
    return v2.functional.to_dtype(image, torch.float32, scale=True)


class SceneSegmentation(Dataset):
    """Built-in scenes for semantic segmentation: items ``(image, mask)``.

    ``image`` is (3, S, S) float32, normalised with :data:`SCENE_MEAN` /
    :data:`SCENE_STD`; ``mask`` is (S, S) int64 in 0..num_classes-1 (0 background).
    ``train=True`` adds a random horizontal flip, applied to both.
    """

    def __init__(
        self,
        n: int,
        size: int = 64,
        seed: int = 0,
        *,
        train: bool = False,
        max_shapes: int = 3,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.scenes = make_scenes(n, size, seed, max_shapes=max_shapes, classes=classes)
        steps: list[v2.Transform] = [v2.RandomHorizontalFlip()] if train else []
        self.transform = v2.Compose([*steps, v2.Normalize(SCENE_MEAN, SCENE_STD)])
        self.classes = ["background", *self.scenes.classes]
        self.num_classes = len(self.classes)

    def __len__(self) -> int:
        return len(self.scenes.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image = tv_tensors.Image(_to_float(self.scenes.images[index]))
        mask = tv_tensors.Mask(self.scenes.semantic[index])
        image, mask = self.transform(image, mask)
        return image.as_subclass(Tensor), mask.as_subclass(Tensor)


class SceneDetection(Dataset):
    """Built-in scenes for detection and instance segmentation: items ``(image, target)``.

    ``image`` is (3, S, S) float32 in [0, 1] (torchvision's detectors normalise it
    themselves); ``target`` is :meth:`Scenes.targets` with ``boxes`` as
    ``tv_tensors.BoundingBoxes`` (XYXY) and ``masks`` as ``tv_tensors.Mask``, so
    torchvision's v2 transforms move them with the image.
    """

    def __init__(
        self,
        n: int,
        size: int = 64,
        seed: int = 0,
        *,
        max_shapes: int = 3,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.scenes = make_scenes(n, size, seed, max_shapes=max_shapes, classes=classes)
        self.classes = ["background", *self.scenes.classes]
        self.num_classes = len(self.classes)

    def __len__(self) -> int:
        return len(self.scenes.images)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        target = self.scenes.targets(index)
        size = tuple(self.scenes.images.shape[-2:])
        target["boxes"] = tv_tensors.BoundingBoxes(target["boxes"], format="XYXY", canvas_size=size)
        target["masks"] = tv_tensors.Mask(target["masks"])
        return _to_float(self.scenes.images[index]), target


class SegmentationFolder(Dataset):
    """A segmentation dataset in ADE20K's folder layout: items ``(image, mask)``.

    Args:
        root: the folder holding ``images/`` and ``annotations/`` (see the module
            docstring for the layout).
        split: ``"training"`` or ``"validation"``.
        num_classes: classes K after ``reduce_zero_label``; every label must be
            < K or 255.
        reduce_zero_label: True (default, ADE20K's convention): 0 -> 255 (ignored),
            k -> k - 1. False: labels are used as stored.
        transform: a torchvision v2 transform called as ``transform(image, mask)`` on
            a ``tv_tensors.Image`` (uint8) and ``tv_tensors.Mask``; default: convert to
            float and normalise with the ImageNet mean and std.

    Items are ``(image (3, H, W) float32, mask (H, W) int64)``. Images and label maps
    that do not pair up (by stem), or a label map of another size than its image (both
    read from the file headers when the folder is opened), raise DataError naming the
    files; so does a label outside 0..K-1 that is not 255, when its item is read.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "training",
        *,
        num_classes: int,
        reduce_zero_label: bool = True,
        transform: v2.Transform | None = None,
    ) -> None:
        if split not in ("training", "validation"):
            raise ValueError(f"split must be 'training' or 'validation', got {split!r}")
        self.root = Path(root)
        image_dir = self.root / "images" / split
        self.label_dir = self.root / "annotations" / split
        for folder in (image_dir, self.label_dir):
            if not folder.is_dir():
                raise ValueError(
                    f"{folder} is not a folder; a segmentation root holds images/{split}/ "
                    f"and annotations/{split}/ (ADE20K's layout)"
                )
        self.images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not self.images:
            raise DataError(f"no .jpg/.png images in {image_dir}")
        _check_pairs(self.images, self.label_dir, split)
        self.num_classes = num_classes
        self.reduce_zero_label = reduce_zero_label
        self.transform = transform or v2.Compose(
            [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        )

    def _label_path(self, image: Path) -> Path:
        return self.label_dir / f"{image.stem}.png"

    def files(self) -> list[Path]:
        """Every file an epoch reads: each image, then its label map."""
        return [path for image in self.images for path in (image, self._label_path(image))]

    def __len__(self) -> int:
        return len(self.images)

    def read(self, index: int) -> tuple[Tensor, Tensor]:
        """The stored image (3, H, W) uint8 and its label map (H, W) int64, after
        ``reduce_zero_label`` and the checks, before any transform."""
        path, label_path = self.images[index], self._label_path(self.images[index])
        with Image.open(path) as im:
            image = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)
        with Image.open(label_path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise ValueError(
                    f"{label_path}: a label map must be a single-channel PNG (mode L or P), "
                    f"got mode {im.mode}"
                )
            raw = torch.from_numpy(np.array(im).astype(np.int64))
        if raw.shape != image.shape[1:]:
            raise DataError(
                f"{label_path}: label map is {tuple(raw.shape)} (H, W) but its image "
                f"{path.name} is {tuple(image.shape[1:])}"
            )
        mask = raw
        if self.reduce_zero_label:
            mask = torch.where(raw == 0, IGNORE_INDEX, raw - 1)
            mask = torch.where(raw == IGNORE_INDEX, IGNORE_INDEX, mask)
        bad = (mask >= self.num_classes) & (mask != IGNORE_INDEX)
        if bad.any():
            value = int(raw[bad].max())
            raise DataError(
                f"{label_path}: label {value} is outside 0..{self.num_classes - 1} "
                f"(num_classes={self.num_classes}, reduce_zero_label={self.reduce_zero_label}) "
                f"and is not {IGNORE_INDEX} (ignored)"
            )
        return image, mask

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image, mask = self.read(index)
        image, mask = self.transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return image.as_subclass(Tensor), mask.as_subclass(Tensor)


def _listed(names: list[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _check_pairs(images: list[Path], label_dir: Path, split: str) -> None:
    """One label map per image (same stem) and no other, each of its image's size (read
    from the headers); raises DataError naming the files that do not fit."""
    labels = {p.stem: p for p in label_dir.glob("*.png")}
    stems = {p.stem for p in images}
    lonely_images = [p.name for p in images if p.stem not in labels]
    lonely_labels = sorted(p.name for stem, p in labels.items() if stem not in stems)
    if lonely_images or lonely_labels:
        parts = []
        if lonely_images:
            parts.append(
                f"{len(lonely_images)} image(s) without a label map: {_listed(lonely_images)}"
            )
        if lonely_labels:
            parts.append(
                f"{len(lonely_labels)} label map(s) without an image: {_listed(lonely_labels)}"
            )
        raise DataError(
            f"{label_dir.parent.parent}: images/{split} and annotations/{split} do not pair up "
            f"({'; '.join(parts)}); each image needs annotations/{split}/<its stem>.png"
        )
    wrong = []
    bar = dict(desc="reading sizes", unit="pair", disable=len(images) <= _LARGE_FOLDER)
    for image in tqdm(images, **bar):
        try:
            with Image.open(image) as im, Image.open(labels[image.stem]) as lm:
                sizes = im.size, lm.size
        except OSError:
            continue  # an unreadable file: the one-pass image check names it
        if sizes[0] != sizes[1]:
            wrong.append((labels[image.stem], image, sizes[0][::-1], sizes[1][::-1]))
    if wrong:
        label, image, image_hw, label_hw = wrong[0]
        more = f" ({len(wrong) - 1} more pairs differ)" if len(wrong) > 1 else ""
        raise DataError(
            f"{label}: label map is {label_hw} (H, W) but its image {image.name} is "
            f"{image_hw}; a label map has its image's size{more}"
        )


def label_values(paths: Sequence[str | Path]) -> dict[int, Path]:
    """Every value the label maps at ``paths`` store, each with the first file holding it.

    One pass, each map read whole (its histogram for 8-bit maps, ``np.unique`` for
    16/32-bit ones); a progress bar past 2,000 maps. Values are as stored, before
    ``reduce_zero_label``; 255 is among them where a map has ignored pixels. Raises
    ValueError naming a file that is not a single-channel PNG.
    """
    found: dict[int, Path] = {}
    bar = dict(desc="reading label maps", unit="map", disable=len(paths) <= _LARGE_FOLDER)
    for path in tqdm(paths, **bar):
        with Image.open(path) as im:
            if im.mode in ("L", "P"):
                values = [v for v, count in enumerate(im.histogram()) if count]
            elif im.mode in ("I", "I;16"):
                values = np.unique(np.asarray(im)).tolist()
            else:
                raise ValueError(
                    f"{path}: a label map must be a single-channel PNG (mode L or P), "
                    f"got mode {im.mode}"
                )
        for value in values:
            found.setdefault(int(value), Path(path))
    return found
