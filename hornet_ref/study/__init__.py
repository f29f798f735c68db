"""The order study: does gnConv's interaction order change what a small HorNet learns?

- data.py: the three tasks, made offline (handwritten digits, photograph patches,
  PSVRT same/different).
- run.py: the grid of (task, variant, seed) cells, trained alike, resumable.
- report.py: the table and figures, from results.json and the trained cells.

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
from .report import (
    STUDY_RESULTS,
    analyse_trained,
    distinguishable,
    format_table,
    initial_cell,
    load_cell,
    load_results,
    plot_accuracy,
    plot_energy,
    plot_erf_by_order,
    plot_interactions,
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
    cell_name,
    run_study,
    summarise,
    train_cell,
)

__all__ = [
    "STUDY_RESULTS",
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
    "cell_name",
    "distinguishable",
    "format_table",
    "initial_cell",
    "load_cell",
    "load_results",
    "analyse_trained",
    "plot_accuracy",
    "plot_energy",
    "plot_erf_by_order",
    "plot_interactions",
    "make_digits",
    "make_photo_patches",
    "make_same_different",
    "run_study",
    "summarise",
    "train_cell",
]
