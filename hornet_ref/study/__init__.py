"""The order study: does gnConv's interaction order change what a small HorNet learns?

- data.py: the three tasks, made offline (handwritten digits, photograph patches,
  PSVRT same/different).
- run.py: the grid of (task, variant, seed) cells, trained alike, resumable.

Run it with ``python benchmarks/order_study.py``; the docs page "Does the order
matter?" shows its results.
"""

from .data import (
    PHOTOGRAPHS,
    TaskData,
    make_digits,
    make_photo_patches,
    make_same_different,
)
from .run import (
    STUDY_MODEL,
    TASKS,
    VARIANTS,
    Recipe,
    StudyError,
    Task,
    Variant,
    build_variant,
    run_study,
    summarise,
    train_cell,
)

__all__ = [
    "PHOTOGRAPHS",
    "STUDY_MODEL",
    "TASKS",
    "VARIANTS",
    "Recipe",
    "StudyError",
    "Task",
    "TaskData",
    "Variant",
    "build_variant",
    "make_digits",
    "make_photo_patches",
    "make_same_different",
    "run_study",
    "summarise",
    "train_cell",
]
