"""Re-make the reference segmenter shipped in hornet_ref/data/ (hornet_ref.dense.reference).

    python docs/scripts/make_reference_segmenter.py                    # train, then write
    python docs/scripts/make_reference_segmenter.py --run /tmp/seg_run # package a finished run

Training is the default segmentation run, ``hornet-ref train --task segment --out DIR``
with no other flag (hornet_mini_7x7 with the gnConv UPerNet head on the built-in scenes,
the segmentation recipe; the Dense prediction page gives its time on a 2-core CPU). The
script scores the run's final weights and its EMA on the run's validation scenes, keeps
whichever has the higher mIoU (the final on a tie), and writes

- hornet_ref/data/reference_mini_scenes.pt: a bare fp16 state_dict (half the bytes of
  fp32; the mIoU recorded is that of these fp16 weights, loaded as fp32), loadable with
  ``torch.load(weights_only=True)``;
- hornet_ref/data/reference_mini_scenes.json: what it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from _reference_files import main as reference_main
from _reference_files import serialised, write_reference

from hornet_ref.checkpoint import run_weights
from hornet_ref.datasets.scenes import SCENE_MEAN, SCENE_STD
from hornet_ref.dense import create_segmenter
from hornet_ref.dense.metrics import SegmentationMetrics
from hornet_ref.dense.reference import REFERENCE_SEGMENTER, SEGMENTER_REBUILD, reference_scenes
from hornet_ref.train.checkpointing import load_checkpoint
from hornet_ref.train.segment import SCENE_CLASSES

TRAIN_COMMAND = "hornet-ref train --task segment --out {out}"


@torch.no_grad()
def _miou(net: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor, k: int) -> float:
    metrics = SegmentationMetrics(k)
    for x, y in zip(images.split(100), masks.split(100)):
        metrics.update(net(x), y)
    return 100 * metrics.compute()["miou"]


def package(run: Path, out: Path, command: str | None = None) -> dict:
    """Write the weights and their description from a finished default segmentation run."""
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    config = checkpoint["config"]
    if (
        config.get("task") != "segment"
        or config.get("data") != "builtin"
        or any(config.get(k) for k in ("train_samples", "val_samples"))
    ):
        sys.exit(f"{run} is not the default segmentation run (hornet-ref train --task segment)")
    if checkpoint["epoch"] != config["epochs"]:
        sys.exit(f"{run} has not finished: epoch {checkpoint['epoch']} of {config['epochs']}")
    classes = ["background", *SCENE_CLASSES]
    info = {
        "model": config["model"],
        "task": "segment",
        "head": config["head"],
        "channels": config["decoder_channels"],
        "data": "builtin",
        "classes": classes,
        "img_size": config.get("img_size") or 64,
        "mean": list(SCENE_MEAN),
        "std": list(SCENE_STD),
        "val": {"samples": 400, "seed": config["seed"] + 1},  # train/segment.py's val split
    }
    images, masks = reference_scenes(info=info)
    scores, states = {}, {}
    for kind in ("final", "ema"):
        if kind == "ema" and checkpoint.get("ema") is None:
            continue
        state = run_weights(checkpoint, ema=kind == "ema")
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        net = create_segmenter(info["model"], len(classes), head=info["head"],
                               channels=info["channels"])  # fmt: skip
        net.load_state_dict({k: v.float() for k, v in state.items()})
        scores[kind], states[kind] = _miou(net.eval(), images, masks, len(classes)), state
        print(f"{kind} weights (fp16): {scores[kind]:.2f}% mIoU on {len(images)} val scenes")
    kept = max(scores, key=lambda k: (scores[k], k == "final"))
    state = {k: v.contiguous() for k, v in states[kept].items()}
    return write_reference(
        out, serialised(state), info, checkpoint=checkpoint, scores=scores, kept=kept,
        dtype="float16",
        metric="miou", command=command or TRAIN_COMMAND.format(out=run),
        rebuild=SEGMENTER_REBUILD,
        summary=lambda i: f"{i['model']} + {i['head']} {i['channels']} trained on the "
        f"built-in scenes, {i['updates']:,} updates, {i['val_miou']:.1f}% val mIoU",
    )  # fmt: skip


def main() -> int:
    return reference_main(
        __doc__.splitlines()[0], package,
        train=["train", "--task", "segment"], train_out="runs/reference_segmenter",
        out=REFERENCE_SEGMENTER,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
