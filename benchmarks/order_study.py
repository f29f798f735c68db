"""The order study: does gnConv's interaction order change what a small HorNet learns?

    python benchmarks/order_study.py --workers 2    # the grid: 3 tasks x 7 variants x 3 seeds
    python benchmarks/order_study.py --quick        # one seed of 3 variants, 1/4 of the updates
    python benchmarks/order_study.py --docs         # also ship the results and figures

The same network (hornet_ref.study.STUDY_MODEL) is trained at gnConv orders 1-5 in
every stage, at the paper's per-stage orders (2, 3, 4, 5) and without gating
("order 0": the depthwise conv path alone), on three tasks made offline: scikit-learn's
handwritten digits, patches of scikit-image's photographs (train and val from
disjoint regions) and PSVRT same/different. Everything goes into --out: one JSON and
one checkpoint per finished cell (a stopped study resumes; finished cells are never
retrained), results.json, table.md, the figures, and analysis.json (the trained
networks' receptive fields and per-order energy next to the same networks at init).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from hornet_ref.plotting import save_figure
from hornet_ref.study import (
    STUDY_RESULTS,
    StudyError,
    analyse_trained,
    format_table,
    plot_accuracy,
    plot_energy,
    plot_erf_by_order,
    plot_interactions,
    run_study,
)

DOCS_ASSETS = Path(__file__).resolve().parent.parent / "docs" / "assets"
FIGURES = ("order-accuracy.png", "order-erf.png", "order-energy.png", "order-interactions.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/order_study"))
    parser.add_argument("--quick", action="store_true", help="one seed of 3 variants, 1/4 updates")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per cell (default 3)")
    parser.add_argument(
        "--workers", type=int, default=1, help="cells trained at once, one thread each (CPU: 2)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    parser.add_argument(
        "--no-analysis", action="store_true", help="skip the trained-vs-init analysis"
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help="results to hornet_ref/data, figures to docs/assets",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    try:
        results = run_study(args.out, quick=args.quick, seeds=args.seeds, workers=args.workers)
    except StudyError as e:
        print(f"order_study: {e}", file=sys.stderr)
        return 2
    out = args.out
    table = format_table(results)
    (out / "table.md").write_text(table + "\n")
    print(table)
    print(
        f"training time, all cells: {results['train_seconds_total'] / 60:.1f} min; "
        f"machine: {results['machine']}"
    )
    save_figure(plot_accuracy(results), out / "order-accuracy.png")
    if not args.quick and not args.no_analysis:
        analysis = analyse_trained(out, results)
        (out / "analysis.json").write_text(json.dumps(analysis, indent=1) + "\n")
        save_figure(plot_erf_by_order(analysis), out / "order-erf.png")
        save_figure(plot_energy(analysis), out / "order-energy.png")
        save_figure(plot_interactions(out, results), out / "order-interactions.png")
    wall = time.perf_counter() - started
    print(f"wall time of this command: {wall / 60:.1f} min")
    if args.docs:
        DOCS_ASSETS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "results.json", STUDY_RESULTS)
        if (out / "analysis.json").exists():
            shutil.copy(out / "analysis.json", STUDY_RESULTS.with_name("order_analysis.json"))
        for name in FIGURES:
            if (out / name).exists():
                shutil.copy(out / name, DOCS_ASSETS / name)
        print(f"copied results into {STUDY_RESULTS.parent}, figures into {DOCS_ASSETS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
