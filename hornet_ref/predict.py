"""Classifying photographs with a (trained) HorNet: top-k ImageNet classes by name.

Preprocessing is the model's ``pretrained_cfg`` (:func:`~hornet_ref.eval_transform`);
ImageNet-1K class names come from torchvision's weights metadata. A Large model's
ImageNet-22K head is read through :func:`~hornet_ref.pretrained.imagenet_1k_rows` when
1K classes are asked for; otherwise its predictions are 22K row indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

import torch
from torch import Tensor, nn

from .pretrained import eval_transform, imagenet_1k_rows, imagenet_categories

__all__ = ["Prediction", "classify", "load_image"]


@dataclass(frozen=True)
class Prediction:
    """One class of a top-k list: its index in the scored classes, name, probability."""

    index: int
    label: str
    probability: float


def load_image(path: str | PathLike) -> Tensor:
    """An image file (PNG, JPEG, ...) as an RGB uint8 tensor (3, H, W).

    Raises ValueError naming the file when it is not an image Pillow can read.
    """
    from pathlib import Path

    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2.functional import pil_to_tensor

    if not Path(path).is_file():
        raise FileNotFoundError(f"no image file at {path}")
    try:
        with Image.open(path) as image:
            return pil_to_tensor(image.convert("RGB"))  # (3, H, W) uint8
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path} is not an image Pillow can read") from e


def _labels(model: nn.Module, classes: int, imagenet_1k: bool) -> list[str]:
    if classes == 1000:
        return imagenet_categories()
    label_set = getattr(model, "pretrained_cfg", {}).get("label_set")
    what = "22K row" if label_set == "imagenet-22k" and not imagenet_1k else "class"
    return [f"{what} {i}" for i in range(classes)]


@torch.no_grad()
def classify(
    model: nn.Module,
    images: Tensor | Sequence[Tensor],
    *,
    top_k: int = 5,
    imagenet_1k: bool = False,
) -> list[list[Prediction]]:
    """The ``top_k`` classes of each image, most probable first.

    Args:
        model: a classifier from :func:`~hornet_ref.create_model` (its
            ``pretrained_cfg`` gives the preprocessing).
        images: RGB uint8 images (3, H, W) of any sizes, or a (B, 3, H, W) batch.
        top_k: how many classes per image.
        imagenet_1k: score only the 1000 ImageNet-1K classes, through their rows of an
            ImageNet-22K head (the Large models); names then come from ImageNet-1K.

    Returns:
        Per image, ``top_k`` :class:`Prediction` objects with softmax probabilities
        over the scored classes.
    """
    transform = eval_transform(model)
    batch = torch.stack([transform(image) for image in images])  # (B, 3, S, S)
    model.eval()
    param = next(model.parameters())
    logits = model(batch.to(param.device, param.dtype)).float()  # (B, K)
    if imagenet_1k and logits.shape[1] != 1000:
        rows = imagenet_1k_rows()
        if logits.shape[1] <= max(rows):
            raise ValueError(
                f"the model has {logits.shape[1]} classes; --imagenet-1k needs an "
                f"ImageNet-22K head (more than {max(rows)} rows)"
            )
        logits = logits[:, rows]  # (B, 1000)
    labels = _labels(model, logits.shape[1], imagenet_1k)
    probs = logits.softmax(dim=1)
    top = probs.topk(min(top_k, probs.shape[1]), dim=1)
    return [
        [Prediction(int(i), labels[int(i)], float(p)) for p, i in zip(values, indices)]
        for values, indices in zip(top.values, top.indices)
    ]
