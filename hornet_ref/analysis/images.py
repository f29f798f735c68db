"""Real photographs without a download, ready for an ImageNet-trained model.

matplotlib ships one colour photograph (Grace Hopper); with the optional
``analysis`` extra (``pip install hornet-ref[analysis]``) scikit-image adds the
colour photographs bundled in its wheel (astronaut, cat, coffee, rocket,
motorcycle). When more images are asked for than there are photographs, further
views are made from them: crops at other places and mirror images.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
from einops import rearrange
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from ..constants import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "noise_images", "sample_images", "sample_photos"]

# scikit-image photographs stored in its wheel (no network access needed).
_SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")

# Views of each photograph beyond the first: (fraction of the short side, anchor, mirror).
_VIEWS = (
    (1.0, "centre", False),
    (1.0, "centre", True),
    (0.7, "top-left", False),
    (0.7, "bottom-right", True),
    (0.7, "top-right", False),
    (0.7, "bottom-left", True),
    (0.5, "centre", False),
    (0.5, "centre", True),
)


def _to_tensor(array) -> Tensor:
    """(H, W, 3 or 4) uint8 or float array -> (3, H, W) float in [0, 1]."""
    image = torch.from_numpy(np.array(array))  # a writable copy
    image = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
    return rearrange(image[..., :3], "h w c -> c h w").contiguous()


def sample_photos(*, use_skimage: bool = True) -> list[Tensor]:
    """The available photographs at their own sizes, each (3, H_i, W_i) in [0, 1].

    Args:
        use_skimage: also include scikit-image's photographs when it is installed.

    Returns:
        matplotlib's Grace Hopper first, then scikit-image's (if any).
    """
    from matplotlib import cbook
    from matplotlib import image as mpimg

    with cbook.get_sample_data("grace_hopper.jpg") as file:
        photos = [_to_tensor(mpimg.imread(file, format="jpg"))]
    if use_skimage and importlib.util.find_spec("skimage") is not None:
        from skimage import data

        photos += [_to_tensor(getattr(data, name)()) for name in _SKIMAGE_PHOTOS]
        photos.append(_to_tensor(data.stereo_motorcycle()[0]))
    return photos


def _view(photo: Tensor, size: int, fraction: float, anchor: str, mirror: bool) -> Tensor:
    """A square crop of ``photo`` resized to (3, size, size)."""
    _, height, width = photo.shape
    side = int(min(height, width) * fraction)
    top = {"top": 0, "bottom": height - side}.get(anchor.split("-")[0], (height - side) // 2)
    left = {"left": 0, "right": width - side}.get(anchor.split("-")[-1], (width - side) // 2)
    crop = TF.crop(photo, top, left, side, side)
    if mirror:
        crop = TF.horizontal_flip(crop)
    return TF.resize(crop, [size, size], antialias=True).clamp(0, 1)


def sample_images(
    n: int = 8, size: int = 224, *, normalize: bool = True, use_skimage: bool = True
) -> Tensor:
    """A batch of ``n`` real photographs, square, resized and (by default) normalised.

    Args:
        n: how many images; beyond the number of photographs, further crops and
            mirror images of them are used (all distinct up to 8 views each).
        size: the side of each image in pixels.
        normalize: subtract :data:`IMAGENET_MEAN` and divide by :data:`IMAGENET_STD`
            (what an ImageNet-trained HorNet expects); otherwise values are in [0, 1].
        use_skimage: include scikit-image's photographs when it is installed.

    Returns:
        (n, 3, size, size) float32.
    """
    if n < 1 or size < 1:
        raise ValueError(f"need n >= 1 and size >= 1, got n={n}, size={size}")
    photos = sample_photos(use_skimage=use_skimage)
    if n > len(photos) * len(_VIEWS):
        raise ValueError(
            f"only {len(photos) * len(_VIEWS)} distinct sample images are available, asked for {n}"
        )
    images = torch.stack(
        [_view(photos[i % len(photos)], size, *_VIEWS[i // len(photos)]) for i in range(n)]
    )  # (n, 3, size, size)
    if normalize:
        images = TF.normalize(images, list(IMAGENET_MEAN), list(IMAGENET_STD))
    return images


def noise_images(n: int = 8, size: int = 224, *, channels: int = 3, seed: int = 0) -> Tensor:
    """Standard-normal noise images, the input of Luo et al.'s ERF recipe.

    Returns:
        (n, channels, size, size) float32, the same for the same ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, size, size, generator=generator)
