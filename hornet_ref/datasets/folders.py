"""What every image dataset of a run shares: :class:`Datasets`, :class:`DataError`,
:func:`check_image_files`, which decodes a folder's images once before training,
:func:`image_sides`, which reads their sizes from the headers, and :func:`to_rgb`,
which turns grayscale, alpha and 16-bit images into the RGB a network takes."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch.utils.data import Dataset
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "DataError",
    "Datasets",
    "check_image_files",
    "conversion_note",
    "image_sides",
    "to_rgb",
]


class DataError(ValueError):
    """Data that cannot be found or read, with the layout that was expected."""


@dataclass
class Datasets:
    """The train and val datasets of a run, and what the model must know about them."""

    train: Dataset
    val: Dataset
    classes: list[str]
    kind: str  # "builtin", "cifar10", "cifar100" or "folder"
    notes: list[str] = field(default_factory=list)  # what a run prints about the data
    # How the loaders batch items (None: stack them); detection keeps lists of targets.
    collate: Callable | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# Folders larger than this get a progress bar and (unless --workers 0) several threads.
_LARGE_FOLDER = 2_000


#: What each PIL mode other than RGB is called when a run counts its conversions.
_MODE_NAMES = {
    "1": "black-and-white", "L": "grayscale", "LA": "grayscale", "P": "palette",
    "PA": "palette", "RGBA": "RGBA", "RGBX": "RGBA", "CMYK": "CMYK", "YCbCr": "YCbCr",
    "I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "I": "16-bit", "F": "float",
}  # fmt: skip
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # PIL opens 16-bit grayscale PNGs as these


def to_rgb(image: Image) -> Image:
    """A PIL image as 8-bit RGB: alpha composited over white, 16-bit values scaled to 8
    bits (PIL's own ``convert("RGB")`` clips them at 255, a white image)."""
    from PIL.Image import alpha_composite, fromarray, new

    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT:
        import numpy as np

        values = np.asarray(image, dtype=np.int64)  # (H, W), 0..65535
        image = fromarray((values.clip(0, 65535) >> 8).astype(np.uint8), "L")
    elif image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = alpha_composite(new("RGBA", rgba.size, "white"), rgba)
    return image.convert("RGB")


def _readable(path: str) -> str | None:
    """The image's PIL mode if PIL decodes it whole (a JPEG at 1/8 scale: the same bytes
    read), else None."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
            image.draft("RGB", (image.width // 8 or 1, image.height // 8 or 1))
            image.load()
    except Exception:  # PIL's errors for unknown, truncated and damaged files vary
        return None
    return mode


def conversion_note(modes: Counter) -> str | None:
    """One line counting the images that are not RGB (``modes``: PIL mode -> images), as
    "converted to RGB: 12 grayscale, 3 RGBA, 1 16-bit (of 1,600 images)"; None if all are."""
    kinds = Counter()
    for mode, count in modes.items():
        if mode != "RGB":
            kinds[_MODE_NAMES.get(mode, mode)] += count
    if not kinds:
        return None
    most = sorted(kinds.items(), key=lambda item: (-item[1], item[0]))
    counted = ", ".join(f"{n:,} {kind}" for kind, n in most)
    return f"converted to RGB: {counted} (of {sum(modes.values()):,} images)"


def _side(path: str) -> int | None:
    """The shorter side of an image, from its header (nothing decoded); None if unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return min(image.size)
    except Exception:  # an unreadable file is named later, by check_image_files
        return None


def image_sides(paths: list[str]) -> list[int]:
    """The shorter side of every image PIL can open, read from the file headers (cheap: no
    pixel is decoded); a progress bar for more than 2,000 files."""
    bar = dict(total=len(paths), desc="reading image sizes", unit="img")
    sides = (_side(p) for p in tqdm(paths, disable=len(paths) <= _LARGE_FOLDER, **bar))
    return [s for s in sides if s]


def check_image_files(paths: list[str], *, workers: int | None = None) -> Counter:
    """Decode every image file once, before training; raise a one-line DataError listing
    the files that cannot be read (the first few, and how many), so that a damaged file
    stops a run before its first epoch, not inside one. Returns how many images there
    are of each PIL mode ("RGB", "L", "RGBA", "I;16" ...).

    More than 2,000 files show a progress bar and are read by ``workers`` threads
    (default: up to 8).
    """
    large = len(paths) > _LARGE_FOLDER
    if workers is None:
        workers = min(8, len(os.sched_getaffinity(0)))
    bar = dict(total=len(paths), desc="checking images", unit="img", disable=not large)
    if large and workers > 1:
        # Threads, not processes: PIL decodes without the GIL, and threads need no
        # importable __main__ (notebooks, scripts without a main guard).
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            modes = list(tqdm(pool.map(_readable, paths, chunksize=64), **bar))
    else:
        modes = [_readable(p) for p in tqdm(paths, **bar)]
    bad = [p for p, mode in zip(paths, modes, strict=True) if mode is None]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise DataError(
            f"{len(bad)} of {len(paths)} images cannot be read (not an image, truncated or "
            f"damaged): {shown}; remove or replace them and start again"
        )
    return Counter(modes)
