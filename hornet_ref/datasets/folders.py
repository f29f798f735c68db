"""What every image dataset of a run shares: :class:`Datasets`, :class:`DataError`, and
:func:`check_image_files`, which decodes a folder's images once before training."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch.utils.data import Dataset
from tqdm.auto import tqdm

__all__ = ["DataError", "Datasets", "check_image_files"]


class DataError(ValueError):
    """Data that cannot be found or read, with the layout that was expected."""


@dataclass
class Datasets:
    """The train and val datasets of a run, and what the model must know about them."""

    train: Dataset
    val: Dataset
    classes: list[str]
    kind: str  # "builtin", "cifar10", "cifar100" or "folder"

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# Folders larger than this get a progress bar and (unless --workers 0) several threads.
_LARGE_FOLDER = 2_000


def _readable(path: str) -> bool:
    """Whether PIL decodes the image whole (a JPEG at 1/8 scale: the same bytes read)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (image.width // 8 or 1, image.height // 8 or 1))
            image.load()
    except Exception:  # PIL's errors for unknown, truncated and damaged files vary
        return False
    return True


def check_image_files(paths: list[str], *, workers: int | None = None) -> None:
    """Decode every image file once, before training; raise a one-line DataError listing
    the files that cannot be read (the first few, and how many), so that a damaged file
    stops a run before its first epoch, not inside one.

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
            flags = list(tqdm(pool.map(_readable, paths, chunksize=64), **bar))
    else:
        flags = [_readable(p) for p in tqdm(paths, **bar)]
    bad = [p for p, ok in zip(paths, flags, strict=True) if not ok]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise DataError(
            f"{len(bad)} of {len(paths)} images cannot be read (not an image, truncated or "
            f"damaged): {shown}; remove or replace them and start again"
        )
