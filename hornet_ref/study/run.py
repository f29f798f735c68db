"""The order study: the same small HorNet at gnConv orders 0-5, trained alike on three tasks.

One cell is (task, variant, seed). Every cell trains the same network shape (only the
spatial branch of each block differs), with the same recipe and the same number of
updates, then scores its validation set. Each finished cell is written at once as its
own JSON file (and its weights) in the output folder, so a study that stops resumes
where it stopped and never trains a finished cell again.

    from hornet_ref.study import run_study
    results = run_study("runs/order_study", quick=True)   # one seed of a few cells
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..flops import count_flops, count_params
from ..hornet import HorNet, HorNetConfig
from .data import TaskData, make_digits, make_photo_patches, make_same_different

__all__ = [
    "STUDY_MODEL",
    "TASKS",
    "VARIANTS",
    "Recipe",
    "StudyError",
    "Task",
    "Variant",
    "build_variant",
    "cell_name",
    "run_study",
    "summarise",
    "train_cell",
]


class StudyError(ValueError):
    """A study folder or setting that cannot be used; the message says what was expected."""


@dataclass(frozen=True)
class Variant:
    """One column of the study: gnConv orders by stage, or no gating at all."""

    name: str
    orders: tuple[int, int, int, int]
    gating: bool = True

    @property
    def order_label(self) -> str:
        """The x-axis label: '0' for the control, '3' for uniform orders, '2-5' per stage."""
        if not self.gating:
            return "0"
        return str(self.orders[0]) if len(set(self.orders)) == 1 else "2-5"


#: The study's variants: the no-gating control, orders 1-5 in every stage, the paper's.
VARIANTS = (
    Variant("no gating", (1, 1, 1, 1), gating=False),
    *(Variant(f"order {n}", (n,) * 4) for n in range(1, 6)),
    Variant("orders 2,3,4,5", (2, 3, 4, 5)),
)

#: The network all variants share: hornet_mini's widths and depths, a 2x2 stem for
#: 32-px grey images (maps 16, 8, 4, 2), the paper's init.
STUDY_MODEL = HorNetConfig(
    base_dim=16, depths=(1, 1, 2, 1), stem_patch=2, img_size=32, in_chans=1, num_classes=10
)


@dataclass(frozen=True)
class Recipe:
    """The training recipe every cell uses: AdamW, linear warm-up, cosine to zero."""

    updates: int = 400
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: float = 0.1  # share of the updates


@dataclass(frozen=True)
class Task:
    """A study task: its name, what it asks, and how its data is made from a seed."""

    name: str
    question: str
    make: Callable[[], TaskData] = field(repr=False)
    shift: int = 2  # random translation of up to this many px (zero padding); 0: none


#: The study's tasks. The data is fixed (seed 0); a cell's seed sets init and batches.
TASKS = (
    Task("digits", "which digit (scikit-learn's scans, 1,500 train / 297 val)", make_digits),
    Task(
        "photos",
        "which of 10 photographs a 32-px grey patch comes from (2,000 train / 500 val, "
        "disjoint regions)",
        make_photo_patches,
    ),
    Task(
        "same-different",
        "are two random 2x2 binary items identical? (PSVRT, 16-px canvas, 20,000 train / "
        "1,000 val)",
        partial(make_same_different, train=20_000, val=1_000, side=16, item=2),
        shift=0,  # a shift could push an item off the canvas and change its label
    ),
)

_QUICK_VARIANTS = ("no gating", "order 1", "orders 2,3,4,5")


def build_variant(variant: Variant, num_classes: int) -> HorNet:
    """The study network with ``variant``'s spatial branch and a ``num_classes`` head."""
    return HorNet(
        STUDY_MODEL, orders=variant.orders, gating=variant.gating, num_classes=num_classes
    )


def _lr_at(step: int, recipe: Recipe) -> float:
    warm = max(1, round(recipe.warmup * recipe.updates))
    if step < warm:
        return recipe.lr * (step + 1) / warm
    progress = (step - warm) / max(1, recipe.updates - warm)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * progress))


def _shift(x: Tensor, pad: int, g: torch.Generator) -> Tensor:
    """Each image translated by up to ``pad`` px (zeros enter): (B, C, H, W) -> same."""
    if pad == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=g).tolist()
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=g).tolist()
    return torch.stack(
        [padded[i, :, y : y + h, x_ : x_ + w] for i, (y, x_) in enumerate(zip(dy, dx))]
    )


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 500) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
        for i in range(0, len(y), batch)
    )
    return 100.0 * correct / len(y)


def train_cell(
    data: TaskData, variant: Variant, seed: int, recipe: Recipe, shift: int = 2
) -> tuple[HorNet, dict]:
    """Train one cell; returns the trained network and its row of results.

    The row holds val top-1 (``acc``), train top-1 on the same number of train images
    (``train_acc``), the last 10% of updates' mean loss, and the wall time.
    """
    torch.manual_seed(seed)
    model = build_variant(variant, data.num_classes)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "gamma" not in n]
    other = [p for n, p in model.named_parameters() if p.ndim <= 1 or "gamma" in n]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": recipe.weight_decay},
            {"params": other, "weight_decay": 0},
        ],
        lr=recipe.lr,
    )
    g = torch.Generator().manual_seed(seed)
    n = len(data.train_y)
    start = time.perf_counter()
    order = torch.randperm(n, generator=g)
    pos, losses = 0, []
    model.train()
    for step in range(recipe.updates):
        if pos + recipe.batch_size > n:  # a new epoch: reshuffle
            order, pos = torch.randperm(n, generator=g), 0
        idx = order[pos : pos + recipe.batch_size]
        pos += recipe.batch_size
        x = _shift(data.train_x[idx], shift, g)
        loss = F.cross_entropy(model(x), data.train_y[idx])
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, recipe)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(
                f"{variant.name}, seed {seed}: loss is {losses[-1]} at step {step}"
            )
    seconds = time.perf_counter() - start
    k = len(data.val_y)
    row = {
        "acc": _accuracy(model, data.val_x, data.val_y),
        "train_acc": _accuracy(model, data.train_x[:k], data.train_y[:k]),
        "final_loss": sum(losses[-max(1, len(losses) // 10) :]) / max(1, len(losses) // 10),
        "seconds": seconds,
    }
    return model, row


_DATA: dict[str, TaskData] = {}  # each process makes a task's data once


def _one_thread() -> None:
    torch.set_num_threads(1)


def _train_and_save(out: Path, task: Task, variant: Variant, seed: int, recipe: Recipe) -> dict:
    """Train one cell and write its weights, then its row (the row last: it marks it done)."""
    if task.name not in _DATA:
        _DATA[task.name] = task.make()
    model, row = train_cell(_DATA[task.name], variant, seed, recipe, task.shift)
    row |= {"task": task.name, "variant": variant.name, "seed": seed}
    name = cell_name(task.name, variant, seed)
    torch.save(model.state_dict(), out / "cells" / f"{name}.pt")
    _atomic_json(out / "cells" / f"{name}.json", row)
    return row


def _settings(
    recipe: Recipe, tasks: Iterable[Task], variants: Iterable[Variant], seeds: int
) -> dict:
    return {
        "model": asdict(STUDY_MODEL),
        "recipe": asdict(recipe),
        "tasks": {t.name: {"question": t.question, "shift": t.shift} for t in tasks},
        "variants": [asdict(v) for v in variants],
        "seeds": seeds,
    }


def _atomic_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)


def _check_folder(out: Path, settings: dict) -> int:
    """Create the folder or check that it holds this study; returns finished cells kept."""
    manifest = out / "study.json"
    cells = out / "cells"
    if manifest.exists():
        try:
            stored = json.loads(manifest.read_text())
        except json.JSONDecodeError as e:
            raise StudyError(
                f"{manifest} is not valid JSON ({e}); move it away or use another --out"
            ) from e
        if stored != json.loads(json.dumps(settings)):
            raise StudyError(
                f"{out} holds a study with other settings (see {manifest}); its finished cells "
                "are kept: use another --out, or the same settings to resume it"
            )
        return len(list(cells.glob("*.json")))
    if cells.exists() and any(cells.iterdir()):
        raise StudyError(f"{cells} holds results but no study.json: use another --out")
    cells.mkdir(parents=True, exist_ok=True)
    _atomic_json(manifest, settings)
    return 0


def cell_name(task: str, variant: Variant, seed: int) -> str:
    return f"{task}__{variant.name.replace(' ', '_').replace(',', '-')}__seed{seed}"


def _cost(variant: Variant, num_classes: int) -> dict:
    with torch.device("meta"):
        model = build_variant(variant, num_classes)
    return {
        "params": count_params(model),
        "macs": count_flops(model, STUDY_MODEL.img_size, in_chans=STUDY_MODEL.in_chans),
    }


def run_study(
    out: str | os.PathLike,
    *,
    quick: bool = False,
    seeds: int = 3,
    recipe: Recipe | None = None,
    tasks: Iterable[Task] = TASKS,
    variants: Iterable[Variant] = VARIANTS,
    progress: bool = True,
    workers: int = 1,
    say: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) the study in ``out``; returns the results (also in results.json).

    ``quick`` runs one seed of three variants (no gating, order 1, orders 2-5) with a
    quarter of the updates. ``workers`` > 1 trains that many cells at once, each in its
    own process on one thread (the tasks' ``make`` must then be picklable). A folder
    that already holds a study with other settings is refused; finished cells are never
    trained again nor overwritten.
    """
    from tqdm.auto import tqdm

    recipe = recipe or Recipe()
    tasks, variants = list(tasks), list(variants)
    if quick:
        seeds = 1
        recipe = Recipe(**{**asdict(recipe), "updates": max(1, recipe.updates // 4)})
        variants = [v for v in variants if v.name in _QUICK_VARIANTS] or variants[:3]
    if seeds < 1 or workers < 1:
        raise StudyError(f"seeds and workers must be >= 1, got {seeds} and {workers}")
    out = Path(out)
    settings = _settings(recipe, tasks, variants, seeds)
    kept = _check_folder(out, settings)
    if kept:
        say(f"resuming {out}: {kept} finished cells kept, not retrained")

    grid = [(t, v, s) for t in tasks for v in variants for s in range(seeds)]
    todo = [
        c for c in grid if not (out / "cells" / f"{cell_name(c[0].name, *c[1:])}.json").exists()
    ]
    started = time.perf_counter()
    bar = tqdm(
        total=len(grid),
        initial=len(grid) - len(todo),
        desc="order study",
        unit="cell",
        disable=not progress,
    )
    if workers == 1:
        for task, variant, seed in todo:
            bar.set_postfix_str(f"{task.name}, {variant.name}, seed {seed}")
            _train_and_save(out, task, variant, seed, recipe)
            bar.update()
    else:
        # Small networks use one core badly: one cell per process, one thread each.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
            jobs = [pool.submit(_train_and_save, out, *cell, recipe) for cell in todo]
            for job in as_completed(jobs):
                row = job.result()
                bar.set_postfix_str(f"{row['task']}, {row['variant']}, seed {row['seed']}")
                bar.update()
    bar.close()

    rows = [
        json.loads((out / "cells" / f"{cell_name(t.name, v, s)}.json").read_text())
        for t, v, s in grid
    ]
    results = {
        "settings": settings,
        "machine": _machine() | {"workers": workers},
        # Wall time of each session that trained cells here (a resume appends one).
        "wall_seconds_sessions": _sessions(out, time.perf_counter() - started, len(todo)),
        "train_seconds_total": sum(r["seconds"] for r in rows),
        "cost": {v.name: _cost(v, 10) for v in variants},
        "rows": rows,
        "summary": summarise(rows),
    }
    _atomic_json(out / "results.json", results)
    return results


def _sessions(out: Path, seconds: float, trained: int) -> list[dict]:
    """The earlier sessions' wall times from results.json, plus this one if it trained."""
    earlier: list[dict] = []
    path = out / "results.json"
    if path.exists():
        try:
            stored = json.loads(path.read_text())
            earlier = list(stored.get("wall_seconds_sessions", []))
        except (json.JSONDecodeError, AttributeError):
            earlier = []
    return earlier + ([{"seconds": seconds, "cells": trained}] if trained else [])


def summarise(rows: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Per task and variant: mean, sample standard deviation, min and max of val top-1."""
    table: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        table.setdefault(r["task"], {}).setdefault(r["variant"], []).append(r["acc"])
    summary = {}
    for task, by_variant in table.items():
        summary[task] = {}
        for variant, accs in by_variant.items():
            mean = sum(accs) / len(accs)
            sd = (
                (sum((a - mean) ** 2 for a in accs) / (len(accs) - 1)) ** 0.5
                if len(accs) > 1
                else 0.0
            )
            summary[task][variant] = {
                "mean": mean,
                "sd": sd,
                "min": min(accs),
                "max": max(accs),
                "n": len(accs),
            }
    return summary


def _machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
