"""Run notebooks top to bottom and store their outputs in the files (what the repository shows).

    python notebooks/execute.py                      # all four, full settings (use a GPU)
    python notebooks/execute.py --small              # all four, small settings (CPU, minutes)
    python notebooks/execute.py --small 02_high_order_interactions.ipynb

Each notebook runs in a fresh Python kernel with notebooks/ as its working directory,
as it does on Colab and under CI's ``pytest --nbmake``; ``--small`` sets HORNET_REF_SMALL=1
for the kernel. Run timings are not written into the files, so re-running a notebook
changes only what its cells print and draw. A failing cell stops the run and leaves
that notebook's file untouched.

Needs the ``notebooks`` extra: ``pip install -e ".[notebooks]"``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def execute(path: Path, *, timeout: int) -> float:
    """Run one notebook in place; returns the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
        record_timing=False,
    ).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="file names in notebooks/ (default: all)")
    parser.add_argument("--small", action="store_true", help="small settings: HORNET_REF_SMALL=1")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args()
    os.environ["HORNET_REF_SMALL"] = "1" if args.small else "0"
    paths = [HERE / name for name in args.notebooks] or sorted(HERE.glob("[0-9]*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path.name}: {execute(path, timeout=args.timeout):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
