"""Detection and instance segmentation as a task of the training loop (``--task detect``).

The loop (``hornet_ref/train/engine.py``) is the classifier's: the same optimiser,
schedule, atomic checkpoints, resume and Ctrl-C handling. This module supplies what
differs:

- the data: the built-in detection scenes (``SceneDetection``)
  or a folder in COCO's layout (``CocoInstances``, ``hornet_ref/datasets/coco.py``);
- the model: torchvision's Mask R-CNN on the run's HorNet with an FPN or HorFPN neck
  (``maskrcnn_hornet``), in a :class:`Detector` that takes the
  loop's one ``inputs`` object, ``(images, targets)``, and returns torchvision's loss
  dict in train mode;
- the loss: the sum of that dict (RPN objectness and box, RoI class, box and mask);
- the metrics: COCO-style box and mask mAP, AP50 and AP75 (percent) by torchmetrics'
  ``MeanAveragePrecision`` (pycocotools underneath), and the loss on the val images.

torchmetrics and pycocotools are the ``detect`` extra, imported only when a detection
run starts. As for the other tasks, the last epoch's weights are the run's result:
no metric picks a "best" checkpoint.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.models.detection import MaskRCNN
from torchvision.transforms import v2

from ..checkpoint import (
    CheckpointError,
    load_exactly,
    load_pretrained,
    read_state_dict,
    run_weights,
)
from ..datasets.coco import CocoInstances, coco_files, collate_detection
from ..datasets.folders import DataError, Datasets, check_image_files
from ..datasets.scenes import SceneDetection
from ..dense.models import AUTHORS_WIDTH, maskrcnn_hornet
from ..hornet import model_config
from .auto import DataStats
from .config import DEFAULT_MODEL, RECIPES, ConfigError, TrainConfig, model_overrides
from .data import _subset
from .distributed import all_reduce_sum, pick_device
from .precision import autocast
from .task import Evaluation

__all__ = [
    "DETECT_NECKS",
    "SCENE_CLASSES",
    "SCENE_SIZE",
    "DetectTask",
    "Detection",
    "Detector",
    "anchor_sizes",
    "build_detector",
    "detect_img_size",
    "detect_stats",
    "detection_datasets",
    "evaluate_detection_run",
    "evaluate_detector",
    "neck_width",
    "prepare_detect",
]

#: Necks of ``--task detect`` (``--head``); the first is the default.
DETECT_NECKS = ("horfpn", "fpn")
#: Side of the built-in scenes, the number of train / val scenes, and their classes.
SCENE_SIZE = 64
_BUILTIN_SCENES = (2_000, 300)
SCENE_CLASSES = ("disk", "square", "triangle", "plus")
#: The default input side of a COCO folder (longer side, pixels).
FOLDER_SIZE = 512
#: Mask R-CNN settings for small images with a few objects each (torchvision's are
#: for 800-px COCO images: 2,000 proposals, 512 sampled RoIs, 100 detections).
_SMALL_IMAGES = dict(
    rpn_pre_nms_top_n_train=300, rpn_post_nms_top_n_train=300,
    rpn_pre_nms_top_n_test=150, rpn_post_nms_top_n_test=150,
    rpn_batch_size_per_image=128, box_batch_size_per_image=64, box_detections_per_img=20,
)  # fmt: skip
_HEAD_KEY = "detector.roi_heads.box_predictor.cls_score.weight"  # (K + 1, width)


def _require_libraries() -> None:
    """torchmetrics and pycocotools (the ``detect`` extra), or one line naming them."""
    missing = [m for m in ("torchmetrics", "pycocotools") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f'--task detect needs {" and ".join(missing)}: pip install "hornet-ref[detect]"'
        )


def detect_img_size(data: str) -> int:
    """The default input side of ``--task detect``: the scenes' side, or 512 for a
    folder (the longer side of its images)."""
    return SCENE_SIZE if data == "builtin" else FOLDER_SIZE


def anchor_sizes(img_size: int) -> tuple[int, ...]:
    """One anchor size per pyramid level P2..P6: 1/16 to 1 of the input side (4 to 64
    px at 64; torchvision's 32 to 512 are 1/25 to 2/3 of an 800-px image)."""
    return tuple(max(1, round(img_size * 2**level / 16)) for level in range(5))


def neck_width(stage_widths: Sequence[int]) -> int:
    """The default width of the neck and heads: a quarter of the backbone's last stage,
    at most the authors' 256 (nano 64, HorNet-T 128, from HorNet-B on 256).

    Half ``decoder_width``'s FPN width: Mask R-CNN carries this
    width through its RPN and its box and mask heads, on every proposal, and at
    nano's 128 a short run trained half as fast (docs/training.md, "Detection").
    """
    return min(int(stage_widths[-1]) // 4, AUTHORS_WIDTH["fpn"])


def prepare_detect(config: TrainConfig) -> tuple[TrainConfig, str]:
    """``config`` with the detection defaults filled in, and a line saying what was
    chosen: the neck (``--head``: horfpn, the paper's detection neck, unless fpn is
    given), its width from the backbone (:func:`neck_width`) and,
    for ``--recipe auto``, the ``detect`` recipe. Raises ConfigError for a
    segmentation head or when torchmetrics / pycocotools are missing."""
    _require_libraries()
    config = replace(config, model=config.model or DEFAULT_MODEL)
    notes = []
    if config.head not in DETECT_NECKS:
        if config.head != TrainConfig.head:  # the segmentation default stands for "not given"
            raise ConfigError(
                f"--task detect takes --head {' or '.join(DETECT_NECKS)} (the neck of "
                f"Mask R-CNN); got {config.head!r}, a segmentation head"
            )
        config = replace(config, head=DETECT_NECKS[0])
        notes.append(
            f"neck {config.head} (the paper's detection neck; --head fpn for the plain one)"
        )
    else:
        notes.append(f"neck {config.head}")
    if config.decoder_channels is None:
        widths = model_config(config.model, **model_overrides(config)).dims
        config = replace(config, decoder_channels=neck_width(widths))
        notes[-1] += (
            f", {config.decoder_channels} channels (a quarter of {config.model}'s last stage "
            f"of {widths[-1]}, at most the authors' 256; --decoder-channels to change)"
        )
    else:
        notes[-1] += f", {config.decoder_channels} channels, as given"
    if config.recipe == "auto":
        config = replace(config, recipe="detect")
        notes.append(
            "--recipe auto's rules are for classifiers: Mask R-CNN trains by the detect recipe"
        )
    return config, "; ".join(notes)


def detect_stats(config: TrainConfig) -> DataStats:
    """What ``--recipe auto`` looks at (every recipe field is the task's by then): the
    training images, the classes with background when known, the input side."""
    side = config.img_size or detect_img_size(config.data)
    if config.data == "builtin":
        return DataStats(config.train_samples or _BUILTIN_SCENES[0], 1 + len(SCENE_CLASSES), side)
    _, folder = coco_files(_folder_root(config), "train")
    n = sum(1 for f in folder.iterdir() if f.is_file())
    return DataStats(min(n, config.train_samples or n), 0, side)


class _Flipped(Dataset):
    """A detection dataset with a random horizontal flip of image, boxes and masks."""

    def __init__(self, dataset: Dataset, p: float) -> None:
        self.dataset, self.flip = dataset, v2.RandomHorizontalFlip(p)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        image, target = self.dataset[index]
        image, target = self.flip(tv_tensors.Image(image), target)
        plain = {k: v.as_subclass(Tensor) for k, v in target.items()}
        return image.as_subclass(Tensor), plain


def _folder_root(config: TrainConfig) -> Path:
    root = Path(config.data).expanduser()
    if not root.is_dir():
        raise DataError(
            f"--data for --task detect is 'builtin' or a folder in COCO's layout "
            f"(annotations/instances_train*.json, train*/, ...); {config.data!r} is neither"
        )
    return root


def _coco_note(split: CocoInstances) -> str:
    ids = split.category_ids
    gaps = ids != list(range(ids[0], ids[0] + len(ids)))
    return (
        f"{split.annotation_file.name}: {len(ids)} categories, ids {ids[0]}..{ids[-1]}"
        f"{' with gaps' if gaps else ''}, are classes 1..{len(ids)} in id order (0: background)"
    )


def detection_datasets(config: TrainConfig, img_size: int, *, train: bool = True) -> Datasets:
    """Train and val datasets of ``config.data`` at ``img_size`` (``train=False``: the
    val split only, the train slot holding it too, for ``hornet-ref evaluate``).

    Built-in: 2,000 train and 300 val scenes of ``SCENE_SIZE`` px with
    ``SCENE_CLASSES`` (seeds ``config.seed`` and ``config.seed + 1``; other counts
    with ``train_samples`` / ``val_samples``). A COCO folder: its train and val
    splits, resized to a longer side of ``img_size``, checked before the first epoch
    (both files list the same categories, every image decodes). Training images are
    flipped with probability ``config.hflip``. Raises DataError naming what is wrong.
    """
    hflip = config.hflip if config.hflip is not None else RECIPES["detect"]["hflip"]
    if config.data == "builtin":
        if img_size != SCENE_SIZE:
            raise DataError(f"the built-in scenes are {SCENE_SIZE} px; got --img-size {img_size}")
        n_val = config.val_samples or _BUILTIN_SCENES[1]
        val = SceneDetection(n_val, SCENE_SIZE, config.seed + 1, classes=SCENE_CLASSES)
        fit_set: Dataset = val
        if train:
            n_train = config.train_samples or _BUILTIN_SCENES[0]
            scenes = SceneDetection(n_train, SCENE_SIZE, config.seed, classes=SCENE_CLASSES)
            fit_set = _Flipped(scenes, hflip) if hflip > 0 else scenes
        return Datasets(fit_set, val, val.classes, "builtin", collate=collate_detection)
    root = _folder_root(config)
    val = CocoInstances(root, "val", img_size=img_size)
    notes = [_coco_note(val)]
    fit_set = val
    if train:
        fit_set = CocoInstances(root, "train", img_size=img_size, hflip=hflip)
        if fit_set.category_ids != val.category_ids:
            raise DataError(
                f"{val.annotation_file} lists categories {_brief(val.category_ids)} but "
                f"{fit_set.annotation_file} lists {_brief(fit_set.category_ids)}; "
                "both splits must list the same categories"
            )
        notes = [_coco_note(fit_set)]
        check_image_files(fit_set.files() + val.files(), workers=config.workers)
        fit_set = _subset(fit_set, config.train_samples, config.seed)
    classes = ["background", *val.classes]
    val_set = _subset(val, config.val_samples, config.seed + 1)
    return Datasets(fit_set, val_set, classes, "folder", notes, collate=collate_detection)


def _brief(ids: list[int]) -> str:
    return f"{ids[:6]}{'...' if len(ids) > 6 else ''} ({len(ids)})"


class Detector(nn.Module):
    """A torchvision detector called with the loop's one ``inputs`` object.

    ``forward((images, targets))``: ``images`` a list of (3, H, W) floats in [0, 1],
    ``targets`` a list of dicts (``boxes``, ``labels``, ``masks``); in train mode it
    returns torchvision's loss dict, in eval mode (``targets`` may be None) one dict
    of ``boxes``, ``labels``, ``scores`` and ``masks`` (N, 1, H, W) per image.
    """

    def __init__(self, detector: MaskRCNN) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs: tuple[list[Tensor], list[dict[str, Tensor]] | None]) -> Any:
        images, targets = inputs
        return self.detector(images, targets)

    @property
    def backbone(self) -> nn.Module:
        """The HorNet under the neck."""
        return self.detector.backbone.body

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Activation checkpointing in the HorNet (timm's name)."""
        self.backbone.set_grad_checkpointing(enable)

    def layer_id(self, param_name: str) -> int:
        """Depth for layer-wise lr decay: the HorNet's own ids, one past its deepest
        for the neck and heads (which are not decayed)."""
        prefix = "detector.backbone.body."
        if param_name.startswith(prefix):
            return self.backbone.layer_id(param_name.removeprefix(prefix))
        return self.backbone.layer_id("head.weight")


def build_detector(config: TrainConfig, num_classes: int, *, pretrained: bool = False) -> Detector:
    """The run's Mask R-CNN: ``config.head`` (fpn / horfpn) ``config.decoder_channels``
    wide on HorNet ``config.model`` (its published weights when ``pretrained``), for
    ``num_classes`` classes with the background, sized for ``config.img_size``
    (:func:`anchor_sizes`; box and mask heads as wide as the neck)."""
    side = config.img_size or detect_img_size(config.data)
    width = config.decoder_channels
    net = maskrcnn_hornet(
        config.model or DEFAULT_MODEL,
        num_classes,
        neck=config.head,
        out_channels=width,
        anchor_sizes=anchor_sizes(side),
        mask_channels=width,
        representation_size=2 * width,
        backbone_kwargs=dict(
            pretrained=pretrained, drop_path_rate=config.drop_path or 0.0, **model_overrides(config)
        ),
        min_size=side,
        max_size=side,
        **_SMALL_IMAGES,
    )
    return Detector(net)


def _to(target: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in target.items()}


@torch.no_grad()
def evaluate_detector(
    model: nn.Module,
    loader: DataLoader,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Box and mask ``*_map``, ``*_map50`` and ``*_map75`` (COCO-style, percent) and the
    mean training ``loss`` over ``loader`` of ``(images, targets)`` batches.

    The loss is the model's training losses on the val images (a second pass in
    train mode, without gradients). Under torchrun torchmetrics gathers every
    process's detections, so every process returns the whole set's figures.
    """
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type=("bbox", "segm"), backend="pycocotools")
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss x images, images
    for images, targets in loader:
        images = [image.to(device, non_blocking=True) for image in images]
        targets = [_to(target, device) for target in targets]
        model.eval()
        with autocast(device, dtype):
            outputs = model((images, None))
        preds = [
            {
                "boxes": out["boxes"].float().cpu(),
                "scores": out["scores"].float().cpu(),
                "labels": out["labels"].cpu(),
                "masks": (out["masks"][:, 0] > 0.5).cpu(),  # (N, H, W) from (N, 1, H, W)
            }
            for out in outputs
        ]
        truth = [
            {
                "boxes": t["boxes"].cpu(),
                "labels": t["labels"].cpu(),
                "masks": t["masks"].bool().cpu(),
            }
            for t in targets
        ]
        metric.update(preds, truth)
        model.train()
        with autocast(device, dtype):
            losses = model((images, targets))
        sums += torch.stack(
            [sum(losses.values()).double() * len(images), torch.tensor(len(images), device=device)]
        )
    model.eval()
    all_reduce_sum(sums)
    loss, n = sums.tolist()
    if n == 0:
        raise ValueError("the validation loader gave no images")
    scores = metric.compute()
    result = {"loss": loss / n}
    for ours, theirs in (("box", "bbox"), ("mask", "segm")):
        for suffix, key in (("map", "map"), ("map50", "map_50"), ("map75", "map_75")):
            result[f"{ours}_{suffix}"] = 100 * float(scores[f"{theirs}_{key}"])
    return result


class Detection:
    """Detection and instance segmentation: Mask R-CNN's summed losses, validated by box
    and mask mAP, AP50, AP75 (percent) and the loss.

    Args:
        device: where batches go.
        dtype: the autocast dtype of validation.
    """

    def __init__(self, *, device: torch.device, dtype: torch.dtype = torch.float32) -> None:
        self.device, self.dtype = device, dtype

    def batch(self, inputs: list[Tensor], targets: list[dict[str, Tensor]]) -> tuple[Any, None]:
        """The detector's one input, ``(images, targets)`` on the device; the loss needs
        no separate target."""
        images = [image.to(self.device, non_blocking=True) for image in inputs]
        return (images, [_to(target, self.device) for target in targets]), None

    def loss(self, output: dict[str, Tensor], target: None) -> Tensor:
        """The sum of torchvision's losses (RPN objectness and box, RoI class, box, mask)."""
        return sum(output.values())

    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]:
        """See :func:`evaluate_detector`."""
        return evaluate_detector(model, loader, device=self.device, dtype=self.dtype)

    def summary(self, row: dict[str, Any]) -> str:
        """The epoch's validation figures, as printed after each epoch."""
        text = (
            f"val loss {row['val_loss']:.4f}  box mAP {row['val_box_map']:.1f}% "
            f"(AP50 {row['val_box_map50']:.1f})  mask mAP {row['val_mask_map']:.1f}% "
            f"(AP50 {row['val_mask_map50']:.1f})"
        )
        if "val_box_map_ema" in row:
            text += f"  EMA box mAP {row['val_box_map_ema']:.1f}%"
        return text


def evaluate_detection_run(
    config: TrainConfig,
    weights: dict[str, Tensor],
    *,
    img_size: int | None = None,
    batch_size: int = 16,
    device: torch.device,
    workers: int | None = None,
    val_samples: int | None = None,
) -> dict[str, float]:
    """``hornet-ref evaluate`` of a ``--task detect`` checkpoint: its detector (from the
    run's ``config``) with ``weights`` on the val split of ``config.data``.

    Returns what :func:`evaluate_detector` does, and ``images``.
    """
    if val_samples is not None:
        config = replace(config, val_samples=val_samples)
    size = img_size or config.img_size or detect_img_size(config.data)
    datasets = detection_datasets(config, size, train=False)
    head = weights.get(_HEAD_KEY)
    if head is not None and head.shape[0] != datasets.num_classes:
        raise CheckpointError(
            f"the checkpoint's detector has {head.shape[0]} classes (with background) but "
            f"{config.data} has {datasets.num_classes}; evaluate it on data with the same classes"
        )
    net = build_detector(replace(config, img_size=size, drop_path=0.0), datasets.num_classes)
    load_exactly(net, weights, "the run's detector")
    loader = DataLoader(
        datasets.val, batch_size=batch_size, num_workers=workers or 0, collate_fn=datasets.collate
    )
    scores = evaluate_detector(net.to(device), loader, device=device)
    return scores | {"images": len(datasets.val)}


class DetectTask:
    """Detection and instance segmentation (``--task detect``): a :func:`build_detector`
    on the built-in scenes or a COCO-layout folder."""

    head_key = _HEAD_KEY

    def img_size(self, config: TrainConfig) -> int:
        """``--img-size``, else :func:`detect_img_size`."""
        return config.img_size or detect_img_size(config.data)

    def prepare(self, config: TrainConfig) -> tuple[TrainConfig, str]:
        """See :func:`prepare_detect`."""
        return prepare_detect(config)

    def stats(self, config: TrainConfig) -> DataStats:
        """See :func:`detect_stats`."""
        return detect_stats(config)

    def datasets(self, config: TrainConfig, img_size: int) -> Datasets:
        """See :func:`detection_datasets`."""
        return detection_datasets(config, img_size)

    def build_model(self, config: TrainConfig, num_classes: int, *, pretrained: bool) -> nn.Module:
        """See :func:`build_detector`."""
        return build_detector(config, num_classes, pretrained=pretrained)

    def load_finetune(self, net: nn.Module, path: str, num_classes: int) -> str | None:
        """A classifier's weights file into the detector's HorNet (its head skipped)."""
        load_pretrained(net.backbone, read_state_dict(path), skip_head=True)
        return f"backbone from {path}"

    def task(
        self,
        config: TrainConfig,
        num_classes: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
    ) -> Detection:
        """The :class:`Detection` the loop calls (images stay in a list: no memory format)."""
        return Detection(device=device, dtype=dtype)

    def evaluate_checkpoint(self, request: Evaluation) -> dict[str, float]:
        """See :func:`evaluate_detection_run`."""
        return evaluate_detection_run(
            TrainConfig.from_dict(request.run | {"data": request.data}),
            run_weights(request.state, ema=request.ema),
            img_size=request.img_size,
            batch_size=min(request.batch_size, 16),
            device=pick_device(request.device),
            workers=request.workers,
            val_samples=request.val_samples,
        )
