"""The order study's table and figures, drawn from its results (a dict or results.json).

    from hornet_ref.study import load_results, format_table, plot_accuracy
    results = load_results("docs/assets/order_study.json")
    print(format_table(results))
    plot_accuracy(results).savefig("order.png")

and, from the trained cells of a finished study folder, what training did to gnConv
(:func:`analyse_trained`): receptive fields by stage, one gnConv's interaction maps
and the size of each order's output, for each network at initialisation and trained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from .run import VARIANTS, StudyError, Variant, build_variant, cell_name

__all__ = [
    "STUDY_RESULTS",
    "distinguishable",
    "format_table",
    "initial_cell",
    "load_cell",
    "load_results",
    "analyse_trained",
    "plot_accuracy",
    "plot_energy",
    "plot_erf_by_order",
    "plot_interactions",
]


VARIANT_BY_NAME = {v.name: v for v in VARIANTS}

#: The full study's results as run for the docs (``python benchmarks/order_study.py --docs``),
#: shipped with the package so notebook 6 and the docs page read them offline.
STUDY_RESULTS = Path(__file__).resolve().parent.parent / "data" / "order_study.json"


def load_results(path: str | os.PathLike = STUDY_RESULTS) -> dict[str, Any]:
    """A study's results.json (default: the shipped full run), checked; one-line error otherwise."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise StudyError(
            f"{path} not found: run python benchmarks/order_study.py to make it"
        ) from None
    except json.JSONDecodeError as e:
        raise StudyError(f"{path} is not valid JSON ({e}); re-run the study to rewrite it") from e
    if not isinstance(results, dict) or "summary" not in results or "rows" not in results:
        raise StudyError(f"{path} is not an order-study results file (no 'summary' or 'rows')")
    return results


def _variant_names(results: dict) -> list[str]:
    return [v["name"] for v in results["settings"]["variants"]]


def distinguishable(a: dict[str, float], b: dict[str, float]) -> bool:
    """True when two cells' seed ranges (min-max) do not overlap.

    A deliberately plain rule for a few seeds: we call two settings different only
    when every seed of one beats every seed of the other.
    """
    return a["min"] > b["max"] or b["min"] > a["max"]


def format_table(results: dict) -> str:
    """A Markdown table: one row per variant, val top-1 mean +- sd (min-max) per task."""
    tasks = list(results["summary"])
    names = _variant_names(results)
    cost = results.get("cost", {})
    head = "| variant | params | MMACs | " + " | ".join(tasks) + " |"
    rule = "|---|---:|---:|" + "---:|" * len(tasks)
    lines = [head, rule]
    for name in names:
        c = cost.get(name, {})
        cells = []
        for task in tasks:
            s = results["summary"][task].get(name)
            cells.append(
                "-"
                if s is None
                else f"{s['mean']:.1f} ± {s['sd']:.1f} ({s['min']:.1f}-{s['max']:.1f})"
            )
        params = f"{c['params']:,}" if "params" in c else "-"
        macs = f"{c['macs'] / 1e6:.2f}" if "macs" in c else "-"
        lines.append(f"| {name} | {params} | {macs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_accuracy(results: dict, *, title: str | None = None) -> Figure:
    """Val top-1 against the variant, one panel per task, plus one panel of cost.

    Each variant shows its seeds (dots) and their mean +- sd (bar); the x axis runs
    from the no-gating control ("0") through orders 1-5 to the paper's per-stage
    orders ("2-5"). The last panel gives parameters and MACs relative to order 1.
    """
    import matplotlib.pyplot as plt

    tasks = list(results["summary"])
    names = _variant_names(results)
    labels = [_label(results, n) for n in names]
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(3.6 * (len(tasks) + 1), 3.4))
    for ax, task in zip(axes, tasks):
        for i, name in enumerate(names):
            accs = [r["acc"] for r in results["rows"] if r["task"] == task and r["variant"] == name]
            if not accs:
                continue
            s = results["summary"][task][name]
            ax.errorbar(i, s["mean"], yerr=s["sd"], fmt="o", color="C0", capsize=4, ms=6)
            ax.scatter([i + 0.15] * len(accs), accs, s=10, color="C1", zorder=3)
        ax.set_xticks(range(len(names)), labels)
        ax.set_xlabel("gnConv order (0: no gating)")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("val top-1 (%): mean ± sd, dots = seeds")
    cost = results.get("cost", {})
    ax = axes[-1]
    if cost:
        base = cost.get("order 1") or next(iter(cost.values()))
        xs = range(len(names))
        ax.plot(xs, [cost[n]["params"] / base["params"] for n in names], "s-", label="params")
        ax.plot(xs, [cost[n]["macs"] / base["macs"] for n in names], "^-", label="MACs")
        ax.set_xticks(list(xs), labels)
        ax.set_xlabel("gnConv order (0: no gating)")
        ax.set_ylabel("relative to order 1")
        ax.legend()
        ax.grid(alpha=0.3)
        ax.set_title("cost")
    recipe = results["settings"]["recipe"]
    seeds = results["settings"]["seeds"]
    fig.suptitle(
        title
        or f"Order study: {recipe['updates']} updates of batch {recipe['batch_size']}, "
        f"{seeds} seed{'s' if seeds > 1 else ''} per cell"
    )
    fig.tight_layout()
    return fig


def _label(results: dict, name: str) -> str:
    for v in results["settings"]["variants"]:
        if v["name"] == name:
            return Variant(v["name"], tuple(v["orders"]), v["gating"]).order_label
    return name


def load_cell(out: str | os.PathLike, task: str, variant: Variant, seed: int, num_classes: int):
    """The trained network of one finished cell of the study folder ``out``."""
    path = Path(out) / "cells" / f"{cell_name(task, variant, seed)}.pt"
    if not path.exists():
        raise StudyError(f"{path} not found: that cell has not finished (re-run the study)")
    model = build_variant(variant, num_classes)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def initial_cell(variant: Variant, seed: int, num_classes: int):
    """The same cell's network at initialisation (the seed sets the init, as in training)."""
    torch.manual_seed(seed)
    return build_variant(variant, num_classes).eval()


def _erf_ratios(model, images: torch.Tensor, t: float) -> list[float]:
    """High-contribution area ratio at threshold ``t`` of each stage's ERF: 4 floats."""
    from ..analysis import high_contribution_area_ratio, stage_erfs

    erfs = stage_erfs(model, images, stages=[0, 1, 2, 3])  # (4, H, W)
    return [high_contribution_area_ratio(e, t).ratio for e in erfs]


def analyse_trained(
    out: str | os.PathLike,
    results: dict,
    *,
    task: str = "digits",
    images: int = 32,
    threshold: float = 0.5,
    say=print,
) -> dict[str, Any]:
    """What training did to gnConv: the study's networks at init and trained, measured.

    For every variant and seed of ``task`` in the finished study folder ``out``:
    the high-contribution area ratio (at ``threshold``) of the effective receptive
    field of each stage's output, over ``images`` validation images. For the order-5
    network of seed 0, the RMS size of each p_k of every gnConv (how much of the
    output each order carries). Returns ``{"erf": ..., "energy": ...}``, JSON-ready.
    """
    from ..analysis import interaction_energy

    data = _task_data(task)
    x = data.val_x[:images]  # (images, 1, 32, 32)
    seeds = results["settings"]["seeds"]
    erf: dict[str, dict[str, list[list[float]]]] = {}
    for name in _variant_names(results):
        variant = VARIANT_BY_NAME[name]
        erf[name] = {"init": [], "trained": []}
        for seed in range(seeds):
            erf[name]["init"].append(_erf_ratios(initial_cell(variant, seed, 10), x, threshold))
            trained = load_cell(out, task, variant, seed, 10)
            erf[name]["trained"].append(_erf_ratios(trained, x, threshold))
        say(f"ERF area ratio t={threshold}, {name}: trained {erf[name]['trained']}")
    energy = {}
    top = VARIANT_BY_NAME["order 5"]
    for label, model in (
        ("init", initial_cell(top, 0, 10)),
        ("trained", load_cell(out, task, top, 0, 10)),
    ):
        found = interaction_energy(model, x)
        energy[label] = {
            name: {"p": e.p.tolist(), "gates": e.gates.tolist()} for name, e in found.items()
        }
    top_acc = next(
        r["acc"]
        for r in results["rows"]
        if r["task"] == task and r["variant"] == top.name and r["seed"] == 0
    )
    return {
        "task": task,
        "updates": results["settings"]["recipe"]["updates"],
        "energy_network": f"{top.name}, seed 0, val top-1 {top_acc:.1f}%",
        "images": images,
        "threshold": threshold,
        "erf": erf,
        "energy": energy,
    }


def _task_data(task: str):
    from .run import TASKS

    for t in TASKS:
        if t.name == task:
            return t.make()
    raise StudyError(f"no study task {task!r}; tasks: {[t.name for t in TASKS]}")


def plot_erf_by_order(analysis: dict, *, title: str | None = None) -> Figure:
    """ERF area ratio against the order, one panel per stage, init and trained.

    Each point is the mean over seeds with its sd as an error bar; a rising line would
    mean the receptive field grows with the order.
    """
    import matplotlib.pyplot as plt

    names = list(analysis["erf"])
    labels = [VARIANT_BY_NAME[n].order_label for n in names]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), sharey=True)
    for stage, ax in enumerate(axes):
        for j, (state, style) in enumerate((("init", "o--"), ("trained", "s-"))):
            per = [torch.tensor(analysis["erf"][n][state])[:, stage] for n in names]
            means = [float(p.mean()) for p in per]
            sds = [float(p.std()) if len(p) > 1 else 0.0 for p in per]
            ax.errorbar(
                [i + 0.08 * j for i in range(len(names))],
                means,
                yerr=sds,
                fmt=style,
                capsize=3,
                label=state,
            )
        ax.set_xticks(range(len(names)), labels)
        ax.set_xlabel("gnConv order (0: no gating)")
        ax.set_title(f"stage {stage + 1} output")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"ERF area ratio, t = {analysis['threshold']}")
    axes[0].legend()
    fig.suptitle(
        title
        or f"ERF by order: the study networks at init and trained ({analysis['updates']} "
        f"updates on {analysis['task']}), {analysis['images']} val images, mean ± sd over seeds"
    )
    fig.tight_layout()
    return fig


def plot_energy(analysis: dict, *, title: str | None = None) -> Figure:
    """RMS of p_0..p_n of each gnConv of the order-5 network, at init and trained."""
    import matplotlib.pyplot as plt

    blocks = list(analysis["energy"]["trained"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, state in zip(axes, ("init", "trained")):
        for name in blocks:
            p = analysis["energy"][state][name]["p"]
            ax.semilogy(range(len(p)), p, "o-", label=name.removesuffix(".gnconv"))
        ax.set_xlabel("k (p_k: the k-th order's output)")
        ax.set_title(state)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("RMS of p_k")
    axes[1].legend(fontsize=7)
    fig.suptitle(
        title
        or f"How much each order carries: study network at {analysis['energy_network']} "
        f"({analysis['updates']} updates on {analysis['task']}), {analysis['images']} val images"
    )
    fig.tight_layout()
    return fig


def plot_interactions(
    out: str | os.PathLike,
    results: dict,
    *,
    task: str = "digits",
    variant: str = "order 5",
    module: tuple[int, int] = (1, 0),
    image: int = 0,
) -> Figure:
    """Interaction maps p_0..p_n of one gnConv on one val image, at init and trained.

    The maps are taken against the image (``wrt="image"``), so they show how far each
    order reaches through the stem and the blocks before it, at the centre query.
    """
    from ..analysis import interaction_maps
    from ..plotting import plot_interaction_maps

    v = VARIANT_BY_NAME[variant]
    x = _task_data(task).val_x[image : image + 1]  # (1, 1, 32, 32)
    acc = next(
        r["acc"]
        for r in results["rows"]
        if r["task"] == task and r["variant"] == variant and r["seed"] == 0
    )
    updates = results["settings"]["recipe"]["updates"]
    rows = {
        "init (seed 0)": interaction_maps(initial_cell(v, 0, 10), x, module=module, wrt="image"),
        f"trained ({acc:.1f}%)": interaction_maps(
            load_cell(out, task, v, 0, 10), x, module=module, wrt="image"
        ),
    }
    return plot_interaction_maps(
        rows,
        title=f"gnConv stages.{module[0]}.{module[1]}, study network at {variant}, "
        f"{task} (seed 0, {updates} updates): init vs trained, one val image",
    )
