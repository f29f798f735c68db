"""What a run leaves to look at: ``metrics.jsonl`` and ``curves.png``.

``metrics.jsonl`` holds one JSON object per finished epoch: ``epoch`` (1-based),
``train_loss``, then, for the epochs that were validated (the first, the last and
every ``--eval-every``), the task's validation metrics as ``val_<name>`` (for
classification ``val_loss``, ``val_acc1``, ``val_acc5``; for segmentation ``val_loss``,
``val_miou``, ``val_pixel_acc``; for detection ``val_loss``, ``val_box_map``,
``val_box_map50``, ``val_box_map75`` and the same three ``val_mask_*``), ``lr`` (at the epoch's
end), ``images_per_sec`` (training only, all processes), ``peak_mem_mb``,
``seconds``, and ``val_<name>_ema`` when an EMA is kept. It is rewritten whole
from the checkpoint's history after every epoch, so it always matches the
checkpoint, resumed runs included. ``curves.png`` is
:func:`hornet_ref.plotting.plot_curves` of the same rows, redrawn after each validation
(and when Ctrl-C stops a run), titled with the run and the weights it started from.
Both are written by the one atomic writer, :func:`hornet_ref.files.write_atomic`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import write_atomic

__all__ = ["save_curves", "write_metrics"]


def write_metrics(history: list[dict], path: Path) -> None:
    """Write ``history`` as JSON lines, atomically."""
    text = "".join(json.dumps(row) + "\n" for row in history)
    write_atomic(path, lambda file: file.write(text.encode()))


def save_curves(
    history: list[dict], path: Path, *, title: str | None = None, epochs: int | None = None
) -> None:
    """Draw ``history`` with :func:`~hornet_ref.plotting.plot_curves` (``title`` above,
    the epoch axis up to ``epochs``) and save it as a PNG."""
    from ..plotting import plot_curves, save_figure  # matplotlib loads only when drawn

    if any("val_box_map" in row for row in history):  # --task detect
        fig = plot_curves(
            history,
            metric=("val_box_map", "val_mask_map"),
            metric_label="box and mask mAP (%)",
            epochs=epochs,
            title=title,
        )
    elif any("val_miou" in row for row in history):  # --task segment
        fig = plot_curves(
            history,
            metric=("val_miou", "val_pixel_acc"),
            metric_label="mIoU, pixel accuracy (%)",
            epochs=epochs,
            title=title,
        )
    else:
        fig = plot_curves(history, epochs=epochs, title=title)
    save_figure(fig, path)
