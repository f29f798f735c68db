"""Datasets and loaders: the built-in shapes, CIFAR-10/100, and ImageFolder roots.

``--data`` names one of three kinds:

- ``builtin``: :func:`~hornet_ref.datasets.shapes.make_shapes`, generated in memory
  (train and val from different seeds), no files, no download;
- ``cifar10`` / ``cifar100``: torchvision's datasets, downloaded into ``--data-cache``
  the first time (the machine must be online then);
- a path: an ImageFolder root in the ImageNet layout, ``PATH/train/<class>/*.jpg``
  and ``PATH/val/<class>/*.jpg``. Every image is decoded once before training
  (:func:`check_readable`): a damaged file stops the run with one line naming it,
  before the first epoch rather than inside one; a file that breaks during the run
  stops it with one line too (:class:`UnreadableImageError`). Grayscale, alpha and
  16-bit images are converted to RGB (:func:`~hornet_ref.datasets.folders.to_rgb`)
  and counted in one line. A class folder only in train/ is trained and named in one
  line (its accuracy is not measured); one only in val/ stops the run, naming it.
  :func:`data_stats` reads every training image's size from its header, for
  ``--recipe auto`` to choose the input side and model.

Augmentation comes from ``torchvision.transforms.v2``. 32x32 data gets the
CIFAR pipeline (pad-and-crop, flip); ImageFolder data gets the ImageNet one
(random resized crop down to ``crop_scale`` of the area, flip; resize and centre
crop for validation). The flip's probability is the recipe's ``hflip``. RandAugment
and random erasing join when the recipe asks for them. Mixup and cutmix act on
whole batches, so they live in :mod:`hornet_ref.train.recipe`.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, Subset
from torch.utils.data.distributed import DistributedSampler
from torchvision import datasets, tv_tensors
from torchvision.transforms import v2

from ..constants import IMAGENET_MEAN, IMAGENET_STD
from ..datasets.folders import (
    DataError,
    Datasets,
    check_image_files,
    conversion_note,
    image_sides,
    to_rgb,
)
from ..datasets.shapes import SHAPE_CLASSES, make_shapes
from .auto import DataStats, Sides
from .config import TrainConfig

__all__ = [
    "DataError",
    "Datasets",
    "UnreadableImageError",
    "build_datasets",
    "build_loaders",
    "check_image_files",
    "check_readable",
    "data_stats",
    "default_workers",
    "eval_transform",
]

_CIFAR_MEAN, _CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_SHAPES_MEAN, _SHAPES_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
_BUILTIN_SIZES = (12_000, 2_000)
_EVAL_CROP = 0.875  # ImageNet validation: resize to img_size / 0.875, centre-crop img_size


class UnreadableImageError(DataError):
    """An image that was readable before training and is not any more (deleted or
    overwritten during the run). A DataLoader worker re-raises it in the main
    process with the worker's traceback in the message: only its own line is kept."""

    def __init__(self, message: str) -> None:
        prefix = f"{type(self).__module__}.{type(self).__qualname__}: "
        last = message.rstrip().splitlines()[-1] if message.strip() else message
        super().__init__(last.removeprefix(prefix) if last.startswith(prefix) else message)


def _load_image(path: str) -> object:
    """An ImageFolder image as RGB (see ``to_rgb``); a failure is one line naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except OSError as e:  # PIL's UnidentifiedImageError is one; a deleted file too
        said = " ".join(str(e).split())
        why = type(e).__name__ if path in said else f"{type(e).__name__}: {said}"
        raise UnreadableImageError(
            f"{path} was readable when the run began and is not now ({why}); restore it "
            "and start again (a training run continues from its last finished epoch with "
            "--resume)"
        ) from None


class _TensorImages(Dataset):
    """Images held in memory as one uint8 tensor (N, 3, H, W), transformed on access."""

    def __init__(self, images: Tensor, labels: Tensor, transform: v2.Transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.transform(tv_tensors.Image(self.images[index])), int(self.labels[index])


def _kind(data: str) -> str:
    return data if data in ("builtin", "cifar10", "cifar100") else "folder"


def _normalization(kind: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return {
        "builtin": (_SHAPES_MEAN, _SHAPES_STD),
        "cifar10": (_CIFAR_MEAN, _CIFAR_STD),
        "cifar100": (_CIFAR_MEAN, _CIFAR_STD),
    }.get(kind, (IMAGENET_MEAN, IMAGENET_STD))


def _train_transform(config: TrainConfig, kind: str, img_size: int) -> v2.Transform:
    mean, std = _normalization(kind)
    # An unresolved config (None) gets the paper's values: crops down to 8%, flip half.
    crop_scale = 0.08 if config.crop_scale is None else config.crop_scale
    hflip = 0.5 if config.hflip is None else config.hflip
    if kind == "folder":
        steps = [v2.RandomResizedCrop(img_size, scale=(crop_scale, 1.0), antialias=True)]
    else:
        steps = [v2.RandomCrop(32, padding=4, padding_mode="reflect")]
        if img_size != 32:
            steps.append(v2.Resize(img_size, antialias=True))
    if hflip:
        steps.append(v2.RandomHorizontalFlip(hflip))
    if config.rand_augment:
        steps.append(v2.RandAugment(num_ops=2, magnitude=config.rand_augment))
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    if config.random_erasing:
        steps.append(v2.RandomErasing(p=config.random_erasing, value=0))
    return v2.Compose(steps)


def eval_transform(kind: str, img_size: int) -> v2.Transform:
    """The deterministic validation pipeline for a data kind at ``img_size``."""
    mean, std = _normalization(kind)
    if kind == "folder":
        steps = [v2.Resize(round(img_size / _EVAL_CROP), antialias=True), v2.CenterCrop(img_size)]
    else:
        steps = [] if img_size == 32 else [v2.Resize(img_size, antialias=True)]
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(steps)


def _cifar(config: TrainConfig, train: bool) -> tuple[Tensor, Tensor, list[str]]:
    cls = datasets.CIFAR10 if config.data == "cifar10" else datasets.CIFAR100
    root = Path(config.data_cache).expanduser() / config.data
    try:
        ds = cls(str(root), train=train, download=True)
    except (OSError, RuntimeError) as e:  # urllib's URLError is an OSError
        raise DataError(
            f"could not download {config.data} into {root} ({type(e).__name__}: {e}). "
            f"Run once where the machine is online, or place torchvision's "
            f"{config.data} files under {root}"
        ) from e
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32) uint8
    return images, torch.tensor(ds.targets), list(ds.classes)


def _image_folder(root: Path, split: str, transform: v2.Transform | None) -> datasets.ImageFolder:
    folder = root / split
    layout = f"{root}/train/<class>/<image> and {root}/val/<class>/<image> (ImageNet layout)"
    if not folder.is_dir():
        raise DataError(f"{root} has no {split}/ folder: expected {layout}")
    try:
        return datasets.ImageFolder(str(folder), transform=transform, loader=_load_image)
    except (FileNotFoundError, OSError) as e:
        raise DataError(f"cannot read images under {folder}: {e}; expected {layout}") from e


def _subset(dataset: Dataset, n: int | None, seed: int) -> Dataset:
    if n is None or n >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[:n].tolist())


def data_stats(config: TrainConfig, img_size: int) -> DataStats:
    """What ``--recipe auto`` looks at: training images (after ``--train-samples``),
    classes and the input side, found without building the datasets' transforms; for a
    folder, the sides of its training images too, read from the file headers.

    Raises DataError as :func:`build_datasets` does.
    """
    kind = _kind(config.data)
    if kind == "builtin":
        n, classes = config.train_samples or _BUILTIN_SIZES[0], len(SHAPE_CLASSES)
    elif kind in ("cifar10", "cifar100"):
        n, classes = 50_000, 10 if kind == "cifar10" else 100
    else:
        root = Path(config.data).expanduser()
        if not root.is_dir():
            raise DataError(_no_dataset(config.data))
        folder = _image_folder(root, "train", None)
        train = _subset(folder, config.train_samples, config.seed)
        sides = image_sides(_image_paths(train))
        found = Sides.of(sides) if sides else None
        return DataStats(len(train), len(folder.classes), img_size, found)
    return DataStats(min(n, config.train_samples or n), classes, img_size)


def _no_dataset(data: str) -> str:
    return (
        f"no dataset at {data!r}: expected 'builtin', 'cifar10', 'cifar100', or "
        f"a folder holding train/<class>/<image> and val/<class>/<image>"
    )


def build_datasets(config: TrainConfig, img_size: int) -> Datasets:
    """The train and val datasets named by ``config.data``, transformed for ``img_size``.

    Raises DataError when the data is missing or laid out differently than
    expected, before anything is written anywhere.
    """
    kind = _kind(config.data)
    train_tf, val_tf = _train_transform(config, kind, img_size), eval_transform(kind, img_size)
    if kind == "builtin":
        n_train = config.train_samples or _BUILTIN_SIZES[0]
        n_val = config.val_samples or _BUILTIN_SIZES[1]
        # Seeds of their own, so the data do not change with the run's --seed.
        train_images, train_labels = make_shapes(n_train, seed=1)
        val_images, val_labels = make_shapes(n_val, seed=2)
        return Datasets(
            _TensorImages(train_images, train_labels, train_tf),
            _TensorImages(val_images, val_labels, val_tf),
            list(SHAPE_CLASSES),
            kind,
        )
    if kind in ("cifar10", "cifar100"):
        train_images, train_labels, classes = _cifar(config, train=True)
        val_images, val_labels, _ = _cifar(config, train=False)
        train = _TensorImages(train_images, train_labels, train_tf)
        val = _TensorImages(val_images, val_labels, val_tf)
    else:
        root = Path(config.data).expanduser()
        if not root.is_dir():
            raise DataError(_no_dataset(config.data))
        train = _image_folder(root, "train", train_tf)
        val = _image_folder(root, "val", val_tf)
        notes = _match_classes(root, train, val)
        classes = train.classes
    train = _subset(train, config.train_samples, config.seed)
    val = _subset(val, config.val_samples, config.seed)
    if kind != "folder":
        return Datasets(train, val, classes, kind)
    converted = conversion_note(check_readable([train, val], workers=config.workers))
    return Datasets(train, val, classes, kind, [*notes, *filter(None, [converted])])


def _match_classes(root: Path, train: datasets.ImageFolder, val: datasets.ImageFolder) -> list:
    """Give val/ the class indices of train/. A class only in train/ is trained, and named
    in the note returned; a class only in val/ cannot be learned: a DataError names it."""
    only_val = sorted(set(val.classes) - set(train.classes))
    if only_val:
        raise DataError(
            f"{len(only_val)} class folder(s) in {root}/val/ but not in train/, so never "
            f"learned: {', '.join(only_val[:5])}; add them to train/ or remove them from val/"
        )
    only_train = sorted(set(train.classes) - set(val.classes))
    if not only_train:
        return []
    val.samples = [(path, train.class_to_idx[val.classes[k]]) for path, k in val.samples]
    val.imgs, val.targets = val.samples, [k for _, k in val.samples]
    val.classes, val.class_to_idx = train.classes, train.class_to_idx
    return [
        f"{len(only_train)} class folder(s) in train/ have no val/ folder, so their accuracy "
        f"is not measured: {', '.join(only_train[:5])}"
        + (f" and {len(only_train) - 5} more" if len(only_train) > 5 else "")
    ]


def _image_paths(dataset: Dataset) -> list[str]:
    """The files an ImageFolder (or a Subset of one) reads."""
    if isinstance(dataset, Subset):
        paths = _image_paths(dataset.dataset)
        return [paths[i] for i in dataset.indices]
    return [path for path, _ in dataset.samples]


def check_readable(dataset_list: list[Dataset], *, workers: int | None = None) -> Counter:
    """:func:`check_image_files` of every image the ImageFolder datasets (or Subsets of
    them) read: how many there are of each PIL mode."""
    return check_image_files(
        [p for dataset in dataset_list for p in _image_paths(dataset)], workers=workers
    )


class _SkipFirst(Sampler[int]):
    """A sampler's indices without the first ``skip`` (to resume inside an epoch)."""

    def __init__(self, sampler: DistributedSampler, skip: int = 0) -> None:
        self.sampler, self.skip = sampler, skip

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        indices = iter(self.sampler)
        for _ in range(self.skip):
            next(indices)
        return indices

    def __len__(self) -> int:
        return len(self.sampler) - self.skip


class _Shard(Sampler[int]):
    """Every ``world``-th index from ``rank``: an exact split of the val set, no padding."""

    def __init__(self, length: int, rank: int, world: int) -> None:
        self.indices = range(rank, length, world)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _ignore_sigint(worker_id: int) -> None:
    """Loader workers leave Ctrl-C to the main process, which saves a checkpoint first
    (a worker that quit on SIGINT would make the loader fail before that)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers(kind: str, device: torch.device) -> int:
    """Loader processes: none for in-memory 32x32 data on CPU (they would only compete
    with the model for cores), otherwise up to 8 per process."""
    if kind != "folder" and device.type == "cpu":
        return 0
    return min(8, len(os.sched_getaffinity(0)))


def build_loaders(
    data: Datasets,
    *,
    batch_size: int,
    workers: int,
    seed: int,
    rank: int = 0,
    world: int = 1,
    pin_memory: bool = False,
) -> tuple[DataLoader, DataLoader, _SkipFirst]:
    """Train and val loaders for one process of ``world``.

    The train order is a seeded permutation per epoch (``sampler.set_epoch``),
    shared by all processes and split between them; incomplete batches are
    dropped. Set ``sampler.skip`` to start an epoch part-way through.
    """
    sampler = _SkipFirst(
        DistributedSampler(data.train, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    )
    common = dict(
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=False,
        worker_init_fn=_ignore_sigint if workers else None,
        collate_fn=data.collate,
    )
    train = DataLoader(data.train, batch_size=batch_size, sampler=sampler, drop_last=True, **common)
    val = DataLoader(
        data.val, batch_size=batch_size, sampler=_Shard(len(data.val), rank, world), **common
    )
    return train, val, sampler
