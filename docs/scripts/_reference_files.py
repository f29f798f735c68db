"""What make_reference.py and make_reference_segmenter.py share: writing the kept
weights with their description, and the command line (train, or package a finished run)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import torch

from hornet_ref.checkpoint import save_atomic
from hornet_ref.cli import main as cli_main
from hornet_ref.files import write_atomic


def serialised(state: dict[str, torch.Tensor]) -> bytes:
    """The bytes torch.save writes for ``state``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_reference(
    out: Path,
    data: bytes,
    info: dict,
    *,
    dtype: str,
    checkpoint: dict,
    scores: dict[str, float],
    kept: str,
    metric: str,
    command: str,
    rebuild: str,
    summary: Callable[[dict], str],
) -> dict:
    """Write ``data`` (the kept weights, serialised, of ``dtype``) to ``out`` and ``info`` completed
    (epochs, updates, the scores as ``val_<metric>``, how it was made, size, SHA-256)
    to ``out``'s .json, each file whole or not at all."""
    config = checkpoint["config"]
    info |= {
        "epochs": config["epochs"],
        "updates": int(checkpoint["scheduler"]["last_epoch"]),  # one scheduler step per update
        "weights": kept,
        f"val_{metric}": round(scores[kept], 2),
        f"val_{metric}_by_weights": {k: round(v, 2) for k, v in scores.items()},
        "command": command,
        "rebuild": rebuild,
        "torch": torch.__version__,
        "dtype": dtype,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    info["summary"] = summary(info)
    write_atomic(out, lambda file: file.write(data))
    save_atomic(None, out.with_suffix(".json"), text=json.dumps(info, indent=2) + "\n")
    print(f"wrote {out} ({len(data) / 2**20:.1f} MB, {kept} weights) and its .json")
    return info


def main(
    description: str,
    package: Callable[[Path, Path, str | None], dict],
    *,
    train: list[str],
    train_out: str,
    out: Path,
) -> int:
    """``--run DIR`` packages a finished run; without it, ``hornet-ref <train> --out``
    trains the run first."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run", type=Path, help="a finished default run's folder (skip training)")
    parser.add_argument("--train-out", type=Path, default=Path(train_out))
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--command", help="with --run: the command(s) that trained it, recorded")
    args = parser.parse_args()
    run = args.run
    if run is None:
        run = args.train_out
        code = cli_main([*train, "--out", str(run)])
        if code:
            return code
    package(run, args.out, args.command)
    return 0
