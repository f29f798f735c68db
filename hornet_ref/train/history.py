"""What a run leaves to look at: ``metrics.jsonl`` and ``curves.png``.

``metrics.jsonl`` holds one JSON object per finished epoch: ``epoch`` (1-based),
``train_loss``, ``val_loss``, ``val_acc1``, ``val_acc5``, ``lr`` (at the epoch's
end), ``images_per_sec`` (training only, all processes), ``peak_mem_mb``,
``seconds``, and ``val_acc1_ema`` / ``val_loss_ema`` when an EMA is kept.
It is rewritten whole from the checkpoint's history after every epoch, so it
always matches the checkpoint, resumed runs included.
"""

from __future__ import annotations

import json
from pathlib import Path

from .checkpointing import save_atomic

__all__ = ["plot_curves", "write_metrics"]


def write_metrics(history: list[dict], path: Path) -> None:
    """Write ``history`` as JSON lines, atomically."""
    save_atomic(None, path, text="".join(json.dumps(row) + "\n" for row in history))


def plot_curves(history: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch, train and val (and EMA), saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_loss.plot(epochs, [row["train_loss"] for row in history], "o-", label="train")
    ax_loss.plot(epochs, [row["val_loss"] for row in history], "o-", label="val")
    ax_acc.plot(epochs, [row["val_acc1"] for row in history], "o-", label="val top-1")
    if "val_acc1_ema" in history[0]:
        ax_acc.plot(epochs, [row["val_acc1_ema"] for row in history], "o--", label="val top-1, EMA")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
