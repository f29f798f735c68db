"""Detection folders in COCO's layout: images and an ``instances_*.json`` per split.

The layout of COCO 2017, and of most tools that export "COCO format"::

    ROOT/annotations/instances_train2017.json    ROOT/train2017/*.jpg
    ROOT/annotations/instances_val2017.json      ROOT/val2017/*.jpg

A split ``"train"`` reads the one ``annotations/instances_train*.json`` and the images
in the folder named by the file's suffix (``train2017/``), or else the one folder
``ROOT/train*/``; ``"val"`` likewise. Reading the JSON and decoding polygons and RLE
masks is torchvision's (``CocoDetection`` and ``wrap_dataset_for_transforms_v2``)
and pycocotools', imported only when a folder is opened.

Category ids need not be contiguous (COCO's own 80 classes have ids 1..90): the
categories, sorted by id, become classes 1..K, and 0 is the background. Crowd
annotations (``iscrowd: 1``) are left out of the targets, and an image without
annotations is an all-background image (zero boxes).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from .folders import DataError

__all__ = ["CocoInstances", "collate_detection", "coco_files"]

_KEYS = ("images", "annotations", "categories")
_LAYOUT = (
    "a COCO folder holds annotations/instances_<split>*.json and the images in <split>*/ "
    "(COCO 2017: annotations/instances_train2017.json and train2017/)"
)


def collate_detection(batch: list[tuple[Tensor, dict[str, Tensor]]]) -> tuple[list, list]:
    """A loader batch of detection items: (list of images, list of targets), since the
    images may differ in size and every image has its own number of boxes."""
    images, targets = zip(*batch)
    return list(images), list(targets)


def coco_files(root: str | Path, split: str) -> tuple[Path, Path]:
    """``(annotation file, image folder)`` of ``split`` (``"train"`` or ``"val"``) under
    ``root``; raises DataError saying what was found and what was expected."""
    root = Path(root)
    found = sorted((root / "annotations").glob(f"instances_{split}*.json"))
    if len(found) != 1:
        what = "none" if not found else ", ".join(p.name for p in found)
        raise DataError(
            f"{root / 'annotations'}: expected one instances_{split}*.json, found {what}; "
            + _LAYOUT
        )
    annotations = found[0]
    named = root / annotations.stem.removeprefix("instances_")
    if named.is_dir():
        return annotations, named
    folders = sorted(p for p in root.glob(f"{split}*") if p.is_dir())
    if len(folders) != 1:
        raise DataError(
            f"{root}: expected the images of {annotations.name} in {named.name}/ "
            f"or one {split}*/ folder, found {', '.join(p.name for p in folders) or 'none'}"
        )
    return annotations, folders[0]


def _read_json(path: Path) -> dict[str, Any]:
    """The file's COCO dict, after the checks that need no images."""
    expected = "a COCO instances file (a JSON object with images, annotations and categories)"
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); expected {expected}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path} is not JSON ({e}); expected {expected}") from e
    if not isinstance(data, dict):
        raise DataError(f"{path} holds a JSON {type(data).__name__}; expected {expected}")
    missing = [k for k in _KEYS if not isinstance(data.get(k), list)]
    if missing:
        raise DataError(f"{path} has no {', '.join(missing)} list; expected {expected}")
    for key in _KEYS:
        if not data[key]:
            raise DataError(f"{path} lists no {key}; expected {expected}")
    return data


class CocoInstances(Dataset):
    """One split of a COCO-layout folder: items ``(image, target)`` for Mask R-CNN.

    ``image`` is (3, H, W) float32 in [0, 1], resized so that its longer side is
    ``img_size`` (when given); ``target`` holds ``boxes`` (M, 4) XYXY pixels,
    ``labels`` (M,) int64 in 1..K and ``masks`` (M, H, W) uint8, M = 0 for an image
    without (non-crowd) annotations.

    Args:
        root: the folder (see the module docstring for the layout).
        split: ``"train"`` or ``"val"``.
        img_size: the longer side images are resized to (None: as stored).
        hflip: the probability of a horizontal flip (training: 0.5; 0 for validation).

    Raises DataError naming the file for an empty file, one that is not JSON or has
    no COCO keys, annotations of an unknown category, and image files that are missing.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        img_size: int | None = None,
        hflip: float = 0.0,
    ) -> None:
        from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2

        self.annotation_file, self.image_dir = coco_files(root, split)
        data = _read_json(self.annotation_file)
        names = {int(c["id"]): str(c.get("name", c["id"])) for c in data["categories"]}
        self.category_ids = sorted(names)
        unknown = sorted({int(a["category_id"]) for a in data["annotations"]} - set(names))
        if unknown:
            raise DataError(
                f"{self.annotation_file}: annotations of category ids {unknown[:5]} that "
                f"'categories' does not list (it lists {_id_range(sorted(names))})"
            )
        self.classes = [names[i] for i in self.category_ids]
        files = [str(image["file_name"]) for image in data["images"]]
        missing = [f for f in files if not (self.image_dir / f).is_file()]
        if missing:
            shown = ", ".join(missing[:3]) + (
                f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            )
            raise DataError(
                f"{self.annotation_file}: {len(missing)} of {len(files)} image files it lists "
                f"are missing from {self.image_dir}: {shown}"
            )
        # CocoDetection reads the file again through pycocotools, which prints as it goes.
        with contextlib.redirect_stdout(io.StringIO()):
            coco = CocoDetection(str(self.image_dir), str(self.annotation_file))
        keys = ("boxes", "labels", "masks", "iscrowd")
        self.coco = wrap_dataset_for_transforms_v2(coco, target_keys=keys)
        # Category id -> class 1..K.
        self.lookup = torch.zeros(max(names) + 1, dtype=torch.int64)
        self.lookup[torch.tensor(self.category_ids)] = torch.arange(1, len(self.category_ids) + 1)
        steps: list[v2.Transform] = [v2.ToImage()]
        steps += [] if img_size is None else [v2.Resize(None, max_size=img_size)]
        steps += [v2.RandomHorizontalFlip(hflip)] if hflip > 0 else []
        self.transform = v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True)])

    def files(self) -> list[str]:
        """Every image file of the split."""
        return [
            str(self.image_dir / info["file_name"]) for info in self.coco.coco.dataset["images"]
        ]

    def __len__(self) -> int:
        return len(self.coco)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        image, target = self.coco[index]  # a PIL image, the wrapper's dict
        h, w = v2.functional.get_size(image)
        if "boxes" not in target:  # an image without annotations: all background
            target["boxes"] = tv_tensors.BoundingBoxes(
                torch.zeros(0, 4), format="XYXY", canvas_size=(h, w)
            )
            target["labels"] = torch.zeros(0, dtype=torch.int64)
            target["masks"] = tv_tensors.Mask(torch.zeros(0, h, w, dtype=torch.uint8))
            target["iscrowd"] = []
        image, target = self.transform(image, target)
        boxes = target["boxes"]
        labels = self.lookup[target["labels"]]
        # No crowds, no boxes under a pixel wide or high (after resizing).
        wide, high = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        crowd = torch.as_tensor(target["iscrowd"], dtype=torch.bool)  # the wrapper's list
        keep = ~crowd & (wide >= 1) & (high >= 1)
        return image.as_subclass(Tensor), {
            "boxes": boxes[keep].as_subclass(Tensor),
            "labels": labels[keep],
            "masks": target["masks"][keep].as_subclass(Tensor).to(torch.uint8),
        }


def _id_range(ids: list[int]) -> str:
    return f"{len(ids)} ids, {ids[0]}..{ids[-1]}" if ids else "none"
