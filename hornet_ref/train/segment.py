"""Semantic segmentation as a task of the training loop (``hornet-ref train --task segment``).

The loop (:mod:`hornet_ref.train.engine`) is the classifier's: the same optimiser,
schedule, atomic checkpoints, resume and Ctrl-C handling. This module supplies what
differs: the data (built-in scenes or an ADE20K-layout folder), the model (a
:func:`~hornet_ref.dense.create_segmenter` on the run's HorNet), the loss (per-pixel
cross-entropy, 255 ignored) and the validation metrics (mIoU and pixel accuracy, as
percentages, beside the loss).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from ..checkpoint import load_exactly, load_pretrained, read_state_dict, run_weights
from ..constants import IMAGENET_MEAN, IMAGENET_STD
from ..datasets.folders import DataError, Datasets, check_image_files
from ..datasets.scenes import IGNORE_INDEX, SceneSegmentation, SegmentationFolder, label_values
from ..dense.metrics import SegmentationMetrics
from ..dense.models import AUTHORS_WIDTH, Segmenter, create_segmenter, decoder_width
from ..hornet import model_config
from .auto import MINI, MINI_FROM, NANO, DataStats
from .config import DEFAULT_MODEL, TrainConfig, model_overrides
from .distributed import pick_device
from .task import Evaluation

__all__ = [
    "SCENE_SIZE",
    "SegmentTask",
    "Segmentation",
    "build_segmenter",
    "evaluate_segmentation_run",
    "folder_classes",
    "prepare_segment",
    "evaluate_segmenter",
    "segment_img_size",
    "segment_stats",
    "segmentation_datasets",
]

#: Side of the built-in scenes, and the number of train / val scenes.
SCENE_SIZE = 64
_BUILTIN_SCENES = (2_000, 400)
#: Shape classes of the built-in segmentation scenes (with background: 5 classes).
SCENE_CLASSES = ("disk", "square", "triangle", "plus")


def segment_img_size(data: str) -> int:
    """The default input side of ``--task segment``: the scenes' side, or 512 (ADE20K's
    crops) for a folder."""
    return SCENE_SIZE if data == "builtin" else 512


def segment_stats(config: TrainConfig) -> DataStats:
    """What ``--recipe auto`` looks at for ``--task segment``: the scenes' (or the
    folder's ``images/training``) count, the classes with background, the input side."""
    side = config.img_size or segment_img_size(config.data)
    if config.data == "builtin":
        n, classes = config.train_samples or _BUILTIN_SCENES[0], 1 + len(SCENE_CLASSES)
    else:
        folder = Path(config.data).expanduser() / "images" / "training"
        n = sum(1 for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0
        n, classes = min(n, config.train_samples or n), config.num_classes or 0
    return DataStats(n, classes, side, task="segment")


def _folder_transforms(
    img_size: int, crop_scale: float = 0.25, hflip: float = 0.5
) -> tuple[v2.Transform, v2.Transform]:
    """Train: random scale-and-crop to ``img_size`` keeping at least ``crop_scale`` of the
    area, and a flip; val: resize the short side and centre-crop. Label maps follow the
    image (nearest neighbour, as v2 does for masks)."""
    finish = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    crop = v2.RandomResizedCrop(img_size, scale=(crop_scale, 1.0))
    train = v2.Compose([crop, v2.RandomHorizontalFlip(hflip), *finish])
    val = v2.Compose([v2.Resize(img_size), v2.CenterCrop(img_size), *finish])
    return train, val


def segmentation_datasets(
    config: TrainConfig, img_size: int
) -> tuple[Dataset, Dataset, list[str], str]:
    """(train, val, class names, kind) for ``config.data``: ``"builtin"`` or a folder.

    Built-in: 2,000 train and 400 val scenes of ``SCENE_SIZE`` px (seeds
    ``config.seed`` and ``config.seed + 1``; other counts with ``train_samples`` /
    ``val_samples``), background plus ``SCENE_CLASSES``. A folder in ADE20K's
    layout has ``num_classes`` classes, or those its label maps hold when it is None
    (:func:`folder_classes`); its images are cropped to ``img_size``. Raises DataError
    naming what is wrong.
    """
    if config.data == "builtin":
        if img_size != SCENE_SIZE:
            raise DataError(f"the built-in scenes are {SCENE_SIZE} px; got --img-size {img_size}")
        n_train = config.train_samples or _BUILTIN_SCENES[0]
        n_val = config.val_samples or _BUILTIN_SCENES[1]
        seed = config.seed
        train = SceneSegmentation(n_train, SCENE_SIZE, seed, train=True, classes=SCENE_CLASSES)
        val = SceneSegmentation(n_val, SCENE_SIZE, seed + 1, classes=SCENE_CLASSES)
        return train, val, train.classes, "builtin"
    root = _folder_root(config)
    if config.num_classes is None:
        num_classes, _ = folder_classes(root, None, config.reduce_zero_label)
        config = replace(config, num_classes=num_classes)
    train_tf, val_tf = _folder_transforms(
        img_size,
        0.25 if config.crop_scale is None else config.crop_scale,
        0.5 if config.hflip is None else config.hflip,
    )
    kwargs = {"num_classes": config.num_classes, "reduce_zero_label": config.reduce_zero_label}
    try:
        train = SegmentationFolder(root, "training", transform=train_tf, **kwargs)
        val = SegmentationFolder(root, "validation", transform=val_tf, **kwargs)
    except ValueError as e:
        raise DataError(str(e)) from e
    files = [str(path) for folder in (train, val) for path in folder.files()]
    check_image_files(files, workers=config.workers)  # before the first epoch, not in one
    return train, val, [str(k) for k in range(config.num_classes)], "folder"


def _folder_root(config: TrainConfig) -> Path:
    root = Path(config.data).expanduser()
    if not root.is_dir():
        raise DataError(
            f"--data for --task segment is 'builtin' or a folder in ADE20K's layout "
            f"(images/training, annotations/training, ...); {config.data!r} is neither"
        )
    return root


def _spans(values: list[int], most: int = 6) -> str:
    """Sorted integers as runs: [0, 1, 2, 5, 7, 8] -> '0..2, 5, 7..8'."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs[:most])
    return text + (f", ... ({len(runs) - most} more runs)" if len(runs) > most else "")


def folder_classes(root: Path, num_classes: int | None, reduce_zero_label: bool) -> tuple[int, str]:
    """The classes K of an ADE20K-layout folder, and a line saying what its label maps hold.

    One pass over every label map of both splits
    (:func:`~hornet_ref.datasets.scenes.label_values`).
    With ``reduce_zero_label`` a stored 0 is ignored and a stored k is class k - 1;
    255 is ignored either way. Without ``num_classes``, K is the largest class found
    plus one; with it, a stored label past K raises DataError naming its file.
    """
    maps: list[Path] = []
    for split in ("training", "validation"):
        folder = root / "annotations" / split
        if not folder.is_dir():
            raise DataError(
                f"{folder} is not a folder; a segmentation root holds images/{split}/ "
                f"and annotations/{split}/ (ADE20K's layout)"
            )
        maps += sorted(folder.glob("*.png"))
    try:
        found = label_values(maps)
    except ValueError as e:
        raise DataError(str(e)) from e
    shift = int(reduce_zero_label)
    stored = sorted(v for v in found if v != IGNORE_INDEX)
    present = [v - shift for v in stored if v >= shift]
    if num_classes is None:
        if not present:
            raise DataError(
                f"the {len(maps)} label maps in {root / 'annotations'} hold no class labels "
                f"(stored: {_spans(sorted(found)) or 'none'}; 255 and, with "
                "reduce_zero_label, 0 are ignored); pass --no-reduce-zero-label if 0 is a class"
            )
        num_classes = present[-1] + 1
        source = f"{num_classes} classes read from {len(maps):,} label maps"
    else:
        above = [v for v in stored if v - shift >= num_classes]
        if above:
            raise DataError(
                f"{found[above[-1]]}: label {above[-1]} is past --num-classes {num_classes} "
                f"(stored labels {shift}..{num_classes - 1 + shift} are classes, "
                f"{'0 and ' if shift else ''}{IGNORE_INDEX} are ignored; "
                f"reduce_zero_label={reduce_zero_label})"
            )
        source = f"--num-classes {num_classes}"
    zero = (
        "reduce_zero_label: stored 0 ignored, k is class k-1 (ADE20K's 'other' is 0; "
        "--no-reduce-zero-label when 0 is a class)"
        if reduce_zero_label
        else "no reduce_zero_label: stored labels are the classes, 0 included"
    )
    return num_classes, f"{source}, {len(present)} present ({_spans(present)}); {zero}"


def prepare_segment(config: TrainConfig) -> tuple[TrainConfig, str]:
    """``config`` with what the data and the backbone decide filled in, and a line
    saying what was chosen: ``num_classes`` from a folder's label maps
    (:func:`folder_classes`, which also checks a given count) and ``decoder_channels``
    from the backbone (:func:`~hornet_ref.dense.decoder_width`)."""
    notes = []
    if config.model is None:
        # The input side picks the variant at classification's switch (train/auto.py), but
        # mini, not nano_s4, from it: the segmentation default was measured with mini.
        side = config.img_size or segment_img_size(config.data)
        model = MINI if side >= MINI_FROM else NANO
        config = replace(config, model=model)
        notes.append(f"{model} for {side} px (nano below {MINI_FROM} px, mini from it)")
    if config.data != "builtin":
        num_classes, note = folder_classes(
            _folder_root(config), config.num_classes, config.reduce_zero_label
        )
        config = replace(config, num_classes=num_classes)
        notes.append(note)
    if config.decoder_channels is None and config.resume:
        # A run stored before the default followed the backbone: it was built this wide.
        config = replace(config, decoder_channels=AUTHORS_WIDTH[config.head])
        notes.append(
            f"decoder {config.head} {config.decoder_channels} channels (the stored run's: "
            "the authors' width, the default before it followed the backbone)"
        )
    elif config.decoder_channels is None:
        widths = model_config(config.model, **model_overrides(config)).dims
        width = decoder_width(config.head, widths)
        config = replace(config, decoder_channels=width)
        notes.append(
            f"decoder {config.head} {width} channels "
            f"({'as wide as' if config.head in ('uper', 'gnuper') else 'half'} "
            f"{config.model}'s last stage of {widths[-1]}, at most the authors' width; "
            "--decoder-channels to change)"
        )
    else:
        notes.append(f"decoder {config.head} {config.decoder_channels} channels, as given")
    return config, "; ".join(notes)


def build_segmenter(
    config: TrainConfig, num_classes: int, *, pretrained: bool = False
) -> Segmenter:
    """The run's segmenter: ``config.head`` with ``config.decoder_channels`` on HorNet
    ``config.model`` (stochastic depth ``config.drop_path``; its published weights
    when ``pretrained``)."""
    return create_segmenter(
        config.model or DEFAULT_MODEL,
        num_classes,
        head=config.head,
        channels=config.decoder_channels,
        drop_path_rate=config.drop_path,
        pretrained=pretrained,
        **model_overrides(config),
    )


@torch.no_grad()
def evaluate_segmenter(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Mean per-pixel ``loss``, ``miou`` and ``pixel_acc`` (percent) over ``loader``.

    Under torchrun the confusion matrices and loss sums of all processes are added,
    so every process returns the whole set's figures.
    """
    model.eval()
    metrics = SegmentationMetrics(num_classes)
    loss_sum = torch.zeros((), dtype=torch.float64)
    pixels = 0
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)  # (B, 3, H, W), (B, H, W)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = model(images)  # (B, K, H, W)
        logits = logits.float()
        loss_sum += (
            F.cross_entropy(logits, masks, ignore_index=IGNORE_INDEX, reduction="sum")
            .double()
            .cpu()
        )
        pixels += int((masks != IGNORE_INDEX).sum())
        metrics.update(logits, masks)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        packed = torch.cat([metrics.matrix.flatten().double(), loss_sum.view(1)])
        packed = packed.to(device)
        torch.distributed.all_reduce(packed)
        packed = packed.cpu()
        metrics.matrix = packed[:-1].round().long().view(num_classes, num_classes)
        loss_sum = packed[-1]
        pixels = int(metrics.matrix.sum())
    if pixels == 0:
        raise ValueError("the validation loader gave no labelled pixels")
    scores = metrics.compute()
    return {
        "loss": float(loss_sum) / pixels,
        "miou": 100 * scores["miou"],
        "pixel_acc": 100 * scores["pixel_acc"],
    }


class Segmentation:
    """Semantic segmentation: per-pixel cross-entropy (255 ignored), validated by loss,
    mIoU and pixel accuracy (percent).

    Args:
        num_classes: classes K of the label maps.
        device: where batches go.
        dtype: the autocast dtype of validation.
        memory_format: of the image batches.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        self.num_classes = num_classes
        self.device, self.dtype, self.memory_format = device, dtype, memory_format

    def batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, 3, H, W) and label maps (B, H, W) int64 on the device."""
        images = inputs.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return images, targets.to(self.device, non_blocking=True)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy of logits (B, K, H, W) against label maps (B, H, W)."""
        return F.cross_entropy(output, target, ignore_index=IGNORE_INDEX)

    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]:
        """``loss``, ``miou`` and ``pixel_acc`` (percent) over the validation set."""
        return evaluate_segmenter(
            model, loader, self.num_classes, device=self.device, dtype=self.dtype
        )

    def summary(self, row: dict[str, Any]) -> str:
        """The epoch's validation figures, as printed after each epoch."""
        text = (
            f"val loss {row['val_loss']:.4f}  mIoU {row['val_miou']:.2f}%  "
            f"pixel acc {row['val_pixel_acc']:.2f}%"
        )
        if "val_miou_ema" in row:
            text += f"  EMA mIoU {row['val_miou_ema']:.2f}%"
        return text


def evaluate_segmentation_run(
    config: TrainConfig,
    weights: dict[str, Tensor],
    *,
    img_size: int | None = None,
    batch_size: int = 64,
    device: torch.device,
    workers: int | None = None,
    val_samples: int | None = None,
) -> dict[str, float]:
    """``hornet-ref evaluate`` of a ``--task segment`` checkpoint: its segmenter (from
    the run's ``config``) with ``weights`` on the val split of ``config.data``.

    Returns ``loss``, ``miou`` and ``pixel_acc`` (percent) and ``images``.
    """
    from ..checkpoint import CheckpointError

    if val_samples is not None:
        config = replace(config, val_samples=val_samples)
    size = img_size or config.img_size or segment_img_size(config.data)
    _, val, classes, _ = segmentation_datasets(config, size)
    classifier = weights.get("head.classifier.weight")
    if classifier is not None and classifier.shape[0] != len(classes):
        raise CheckpointError(
            f"the checkpoint's segmenter has {classifier.shape[0]} classes but "
            f"{config.data} has {len(classes)}; evaluate it on data with the same classes"
        )
    if config.decoder_channels is None and classifier is not None:
        # A run from before the default width followed the backbone: the weights say it.
        config = replace(config, decoder_channels=classifier.shape[1])
    net = build_segmenter(replace(config, drop_path=0.0), len(classes))
    load_exactly(net, weights, "the run's segmenter")
    loader = DataLoader(val, batch_size=batch_size, num_workers=workers or 0)
    scores = evaluate_segmenter(net.to(device), loader, len(classes), device=device)
    return scores | {"images": len(val)}


class SegmentTask:
    """Semantic segmentation (``--task segment``): a :func:`build_segmenter` on the
    built-in scenes or an ADE20K-layout folder."""

    head_key = "head.classifier.weight"  # the segmenter's per-pixel classifier

    def img_size(self, config: TrainConfig) -> int:
        """``--img-size``, else :func:`segment_img_size`."""
        return config.img_size or segment_img_size(config.data)

    def prepare(self, config: TrainConfig) -> tuple[TrainConfig, str]:
        """See :func:`prepare_segment`."""
        return prepare_segment(config)

    def stats(self, config: TrainConfig) -> DataStats:
        """See :func:`segment_stats`."""
        return segment_stats(config)

    def datasets(self, config: TrainConfig, img_size: int) -> Datasets:
        """See :func:`segmentation_datasets`."""
        return Datasets(*segmentation_datasets(config, img_size))

    def build_model(self, config: TrainConfig, num_classes: int, *, pretrained: bool) -> nn.Module:
        """See :func:`build_segmenter`."""
        return build_segmenter(config, num_classes, pretrained=pretrained)

    def load_finetune(self, net: nn.Module, path: str, num_classes: int) -> str | None:
        """A classifier's weights file into the segmenter's backbone (its head skipped)."""
        load_pretrained(net.backbone, read_state_dict(path), skip_head=True)
        return None

    def task(
        self,
        config: TrainConfig,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
    ) -> Segmentation:
        """The :class:`Segmentation` the loop calls."""
        return Segmentation(num_classes, device=device, dtype=dtype, memory_format=memory_format)

    def evaluate_checkpoint(self, request: Evaluation) -> dict[str, float]:
        """See :func:`evaluate_segmentation_run`."""
        # A segmenter's own keys ("backbone.", "head."): no published layout to convert.
        return evaluate_segmentation_run(
            TrainConfig.from_dict(request.run | {"data": request.data}),
            run_weights(request.state, ema=request.ema),
            img_size=request.img_size,
            batch_size=request.batch_size,
            device=pick_device(request.device),
            workers=request.workers,
            val_samples=request.val_samples,
        )
