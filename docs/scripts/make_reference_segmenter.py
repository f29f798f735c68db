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

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

import torch

from hornet_ref.checkpoint import save_atomic, strip_prefix
from hornet_ref.cli import main as cli_main
from hornet_ref.datasets.scenes import SCENE_MEAN, SCENE_STD
from hornet_ref.dense import create_segmenter
from hornet_ref.dense.metrics import SegmentationMetrics
from hornet_ref.dense.reference import REFERENCE_SEGMENTER, SEGMENTER_REBUILD, reference_scenes
from hornet_ref.files import write_atomic
from hornet_ref.train.checkpointing import load_checkpoint
from hornet_ref.train.segment import SCENE_CLASSES

TRAIN_COMMAND = "hornet-ref train --task segment --out {out}"


@torch.no_grad()
def _miou(net: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor, k: int) -> float:
    metrics = SegmentationMetrics(k)
    for x, y in zip(images.split(100), masks.split(100)):
        metrics.update(net(x), y)
    return 100 * metrics.compute()["miou"]


def _serialised(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


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
        state = dict(checkpoint[kind if kind == "ema" else "model"])
        state.pop("n_averaged", None)  # the EMA's counter, before its "module." goes
        state = strip_prefix(state)
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        net = create_segmenter(info["model"], len(classes), head=info["head"],
                               channels=info["channels"])  # fmt: skip
        net.load_state_dict({k: v.float() for k, v in state.items()})
        scores[kind], states[kind] = _miou(net.eval(), images, masks, len(classes)), state
        print(f"{kind} weights (fp16): {scores[kind]:.2f}% mIoU on {len(images)} val scenes")
    kept = max(scores, key=lambda k: (scores[k], k == "final"))
    state = {k: v.contiguous() for k, v in states[kept].items()}
    data = _serialised(state)
    info |= {
        "epochs": config["epochs"],
        "updates": int(checkpoint["scheduler"]["last_epoch"]),  # one scheduler step per update
        "weights": kept,
        "val_miou": round(scores[kept], 2),
        "val_miou_by_weights": {k: round(v, 2) for k, v in scores.items()},
        "command": command or TRAIN_COMMAND.format(out=run),
        "rebuild": SEGMENTER_REBUILD,
        "torch": torch.__version__,
        "dtype": "float16",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    info["summary"] = (
        f"{info['model']} + {info['head']} {info['channels']} trained on the built-in scenes, "
        f"{info['updates']:,} updates, {info['val_miou']:.1f}% val mIoU"
    )
    write_atomic(out, lambda file: file.write(data))
    save_atomic(None, out.with_suffix(".json"), text=json.dumps(info, indent=2) + "\n")
    print(f"wrote {out} ({len(data) / 2**20:.1f} MB, {kept} weights) and its .json")
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished default run's folder (skip training)")
    parser.add_argument("--train-out", type=Path, default=Path("runs/reference_segmenter"))
    parser.add_argument("--out", type=Path, default=REFERENCE_SEGMENTER)
    parser.add_argument("--command", help="with --run: the command that trained it, recorded")
    args = parser.parse_args()
    run = args.run
    if run is None:
        run = args.train_out
        code = cli_main(["train", "--task", "segment", "--out", str(run)])
        if code:
            return code
    package(run, args.out, args.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
