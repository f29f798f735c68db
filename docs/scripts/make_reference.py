"""Re-make the reference network shipped in hornet_ref/data/ (hornet_ref.reference).

    python docs/scripts/make_reference.py                      # train, then write both files
    python docs/scripts/make_reference.py --run /tmp/ref_run   # package a finished run

Training is the default run, ``hornet-ref train --out DIR`` with no other flag
(hornet_nano_7x7 on the built-in shapes, the ``auto`` recipe; about 15 minutes on a
2-core CPU). The script then scores the run's final weights and its EMA on the run's
validation images, keeps whichever scores higher (the first on a tie), and writes

- hornet_ref/data/reference_nano_shapes.pt: a bare fp32 state_dict (fp16 if fp32
  would exceed 10 MB), loadable with ``torch.load(weights_only=True)``;
- hornet_ref/data/reference_nano_shapes.json: what it is (model, task, data, epochs,
  updates, validation top-1, the command, the torch version, the file's SHA-256).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from _reference_files import main as reference_main
from _reference_files import serialised, write_reference

from hornet_ref.checkpoint import load_pretrained, read_state_dict
from hornet_ref.datasets.shapes import SHAPE_CLASSES
from hornet_ref.factory import create_model
from hornet_ref.reference import REFERENCE_WEIGHTS, reference_images
from hornet_ref.train.checkpointing import load_checkpoint
from hornet_ref.train.data import _normalization

MAX_BYTES = 10 * 2**20
VAL_SEED = 2  # hornet_ref.train.data.build_datasets: the built-in val split's seed
TRAIN_COMMAND = "hornet-ref train --out {out}"


@torch.no_grad()
def _accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    hits = sum(
        int((model(x).argmax(1) == y).sum()) for x, y in zip(images.split(250), labels.split(250))
    )
    return 100 * hits / len(labels)


def package(run: Path, out: Path, command: str | None = None) -> dict:
    """Write the weights and their description from a finished default run (``command``:
    how it was trained, when not by this script)."""
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    config = checkpoint["config"]
    defaults = {"data": "builtin", "task": "classify", "model": "hornet_nano_7x7"}
    if any(config.get(k) != v for k, v in defaults.items()) or config.get("train_samples"):
        sys.exit(f"{run} is not the default run (hornet-ref train with no flags)")
    if checkpoint["epoch"] != config["epochs"]:
        sys.exit(f"{run} has not finished: epoch {checkpoint['epoch']} of {config['epochs']}")

    img_size = config.get("img_size") or 32
    mean, std = _normalization("builtin")
    n_val = config.get("val_samples") or 2000
    info = {
        "model": config["model"],
        "task": "classify",
        "data": "builtin",
        "classes": list(SHAPE_CLASSES),
        "img_size": img_size,
        "mean": list(mean),
        "std": list(std),
        "val": {"samples": n_val, "seed": VAL_SEED},
    }
    images, labels = reference_images(info=info)

    scores, states = {}, {}
    for kind in ("final", "ema"):
        if kind == "ema" and checkpoint.get("ema") is None:
            continue
        state = read_state_dict(checkpoint, use_ema=kind == "ema")
        model = load_pretrained(create_model(config["model"], num_classes=10), state).eval()
        scores[kind], states[kind] = _accuracy(model, images, labels), state
        print(f"{kind} weights: {scores[kind]:.2f}% top-1 on {n_val} val images")
    kept = max(scores, key=lambda k: (scores[k], k == "final"))

    state = {k: v.float().contiguous() for k, v in states[kept].items()}
    data = serialised(state)
    if len(data) > MAX_BYTES:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        data = serialised(state)
    return write_reference(
        out, data, info, checkpoint=checkpoint, scores=scores, kept=kept, metric="acc1",
        dtype=str(next(iter(state.values())).dtype).removeprefix("torch."),
        command=command or TRAIN_COMMAND.format(out=run),
        rebuild="python docs/scripts/make_reference.py",
        summary=lambda i: f"{i['model']} trained on the built-in shapes, "
        f"{i['updates']:,} updates, {i['val_acc1']:.1f}% val top-1",
    )  # fmt: skip


def main() -> int:
    return reference_main(
        __doc__.splitlines()[0], package,
        train=["train"], train_out="runs/reference", out=REFERENCE_WEIGHTS,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
