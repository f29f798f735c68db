"""Shared plumbing for the benchmark scripts: timing, memory, tables, JSON.

Timing uses torch.utils.benchmark (it handles warm-up, threads and CUDA
synchronisation). Candidates are timed in interleaved rounds, so a slow spell on
a shared machine hits all of them alike; we report the median over rounds and
compare candidates as ratios measured in the same run.

Memory: on CUDA, the peak allocated by the step (torch.cuda.max_memory_allocated).
On CPU torch keeps no allocator statistics, so we report the bytes of tensors
saved for backward (activation memory, each storage counted once), or 0 for a
step without backward.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils import benchmark


def device_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--json", type=Path, default=None, help="write the table here as JSON")


def machine() -> str:
    """One line naming the hardware the numbers come from."""
    if torch.cuda.is_available():
        return (
            f"{torch.cuda.get_device_name()} (CUDA {torch.version.cuda}), torch {torch.__version__}"
        )
    return (
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_rounds(
    fns: dict[str, Callable[[], object]], *, rounds: int, min_time: float
) -> dict[str, list[float]]:
    """Seconds per call of each fn in each of ``rounds`` round-robin rounds."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    threads = torch.get_num_threads()
    for fn in fns.values():  # warm-up (and compilation) outside the timed rounds
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            # Timer runs on one thread unless told otherwise: give it torch's thread count.
            timer = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=threads)
            samples[name].append(timer.blocked_autorange(min_run_time=min_time).median)
    return samples


def time_interleaved(
    fns: dict[str, Callable[[], object]], *, rounds: int, min_time: float
) -> dict[str, float]:
    """Median seconds per call of each fn, timed round-robin ``rounds`` times."""
    samples = time_rounds(fns, rounds=rounds, min_time=min_time)
    return {name: statistics.median(s) for name, s in samples.items()}


def median_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a's time divided by b's time in the same round.

    Within one round the two were timed seconds apart, so a slow spell of the
    machine cancels out of each ratio better than out of a ratio of medians.
    """
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def ratio_quartiles(a: list[float], b: list[float]) -> tuple[float, float]:
    """First and third quartiles over rounds of a's time divided by b's in the same round.

    The median ratio sits between them; how far apart they are is the machine's noise
    as it shows in the ratio itself (a 2% difference inside a 0.95-1.05 spread is not
    a measured difference).
    """
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0]
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return q1, q3


def step_memory_mb(step: Callable[[], object], device: str) -> float:
    """Peak CUDA memory of one call (MB), or on CPU the MB saved for backward."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values()) / 2**20


def print_table(rows: list[dict], columns: list[str], title: str) -> None:
    widths = {c: max([len(c), *(len(_fmt(r.get(c))) for r in rows)]) for c in columns}
    print(f"\n{title}")
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return "" if v is None else str(v)


def write_json(path: Path | None, payload: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)
    print(f"\nwrote {path}")
