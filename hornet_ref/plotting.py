"""Figures for the analysis tools; every function returns a matplotlib Figure.

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot, so they
need no display and leave pyplot's state alone; a notebook shows one when it is a
cell's value, and :func:`save_figure` writes one atomically. One colormap per kind
of map, the same in every figure: :data:`INTERACTION_CMAP` for interaction maps,
:data:`ERF_CMAP` for effective receptive fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

import torch
from matplotlib import colormaps
from matplotlib.colors import LogNorm, PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from .analysis.erf import THRESHOLDS, area_ratios
from .analysis.interactions import InteractionMaps
from .analysis.order import HarsanyiDividends, OrderMeasurement
from .files import write_atomic

__all__ = [
    "ERF_CMAP",
    "INTERACTION_CMAP",
    "plot_curves",
    "plot_erf",
    "plot_harsanyi",
    "plot_interaction_maps",
    "plot_order_evidence",
    "save_figure",
]

INTERACTION_CMAP = "magma"
"""Colormap of every interaction map."""
ERF_CMAP = "viridis"
"""Colormap of every effective receptive field."""

_PANEL = 2.4  # inches per map panel


def _as_mapping(items, kind: type, default_label: str) -> dict[str, object]:
    """One item, a sequence or a mapping of items -> {label: item}."""
    if isinstance(items, kind):
        return {default_label: items}
    if isinstance(items, Mapping):
        return dict(items)
    return {
        getattr(item, "name", "") or f"{default_label} {i}": item for i, item in enumerate(items)
    }


def plot_interaction_maps(
    maps: InteractionMaps | Sequence[InteractionMaps] | Mapping[str, InteractionMaps],
    *,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Interaction maps on a grid: one row per GnConv, one column per order p_0 .. p_n.

    Each panel is scaled to its own maximum (square-root colour scale, so weak but
    non-zero influence shows) and titled with its reach, the size of the box of
    non-zero influence; a cyan cross marks the query position.

    Args:
        maps: one :class:`~hornet_ref.analysis.InteractionMaps` (maps of shape
            (n + 1, H, W)), a sequence or a ``{label: InteractionMaps}`` mapping.
        figsize: (width, height) in inches; default 2.4 inches per panel.
        title: the figure's title.

    Returns:
        The Figure.
    """
    rows = _as_mapping(maps, InteractionMaps, "GnConv")
    if not rows:
        raise ValueError("no interaction maps to plot")
    columns = max(m.order for m in rows.values()) + 1
    if figsize is None:
        figsize = (_PANEL * columns + 1.0, _PANEL * len(rows) + (0.4 if title else 0.0))
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(len(rows), columns, squeeze=False)
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    for r, (label, m) in enumerate(rows.items()):
        image = None
        for k in range(columns):
            ax = axes[r, k]
            if k > m.order:
                ax.axis("off")
                continue
            panel = m.maps[k].detach().float().cpu()
            peak = panel.max()
            panel = panel / peak if peak > 0 else panel
            image = ax.imshow(panel.numpy(), cmap=INTERACTION_CMAP, norm=norm)
            i, j = m.query
            centre = (j + 0.5) * m.stride - 0.5, (i + 0.5) * m.stride - 0.5
            ax.plot(*centre, marker="+", color="cyan", markersize=8, mew=1.2)
            height, width = m.reach()[k]
            ax.set_title(f"$p_{{{k}}}$: reach {height}x{width}", fontsize=9)
            unit = "feature-map position" if m.stride == 1 else "image pixel"  # wrt input/image
            ax.set_xlabel(f"x ({unit})", fontsize=8)
            ax.set_ylabel(f"{label}\ny ({unit})" if k == 0 else f"y ({unit})", fontsize=8)
            ax.tick_params(labelsize=7)
        fig.colorbar(image, ax=list(axes[r]), label="influence / max (sqrt scale)", shrink=0.9)
    if title:
        fig.suptitle(title)
    return fig


def _erf_panels(erfs: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
    if isinstance(erfs, Mapping):
        return {label: m for label, m in erfs.items()}
    if erfs.ndim == 2:
        return {"ERF": erfs}
    if erfs.ndim == 3:
        return {f"map {i}": m for i, m in enumerate(erfs)}
    raise ValueError(f"expected ERF maps (H, W) or (S, H, W), got shape {tuple(erfs.shape)}")


def plot_erf(
    erfs: Tensor | Mapping[str, Tensor],
    *,
    thresholds: Sequence[float] = THRESHOLDS,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
    columns: int | None = None,
    log_floor: float | None = 1e-4,
) -> Figure:
    """Effective receptive fields as heatmaps, each titled with its area ratios.

    Args:
        erfs: an (H, W) map, an (S, H, W) stack, or ``{label: (H, W) map}``.
        thresholds: fractions t for
            :func:`~hornet_ref.analysis.high_contribution_area_ratio`; a ratio marked
            ``*`` was not reached (reported as 1.0).
        figsize: (width, height) in inches; default 3.2 inches per panel.
        title: the figure's title.
        columns: panels per row (default: all in one row, up to 4).
        log_floor: log colours from this fraction of each panel's peak up to the
            peak (default four decades); lower values and exact zeros are black. A
            linear scale shows only the brightest pixels, so two ERFs whose area
            ratios differ 40x look alike; on a log scale their tails differ. A tiny
            floor such as 1e-16 shows any non-zero contribution (the reach); None
            gives linear colours.

    Returns:
        The Figure.
    """
    panels = _erf_panels(erfs)
    if not panels:
        raise ValueError("no ERF maps to plot")
    columns = columns or min(len(panels), 4)
    rows = math.ceil(len(panels) / columns)
    if figsize is None:
        figsize = (3.2 * columns + 0.6, 3.4 * rows + (0.4 if title else 0.0))
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (label, erf) in zip(axes, panels.items(), strict=False):  # spare axes stay empty
        erf = erf.detach().double().cpu()
        ratios = area_ratios(erf, thresholds)
        parts = [f"{t:g}: {r.ratio:.2g}" + ("" if r.reached else "*") for t, r in ratios.items()]
        summary = "\n".join(", ".join(parts[i : i + 2]) for i in range(0, len(parts), 2))
        if log_floor is None:
            image = ax.imshow(erf.numpy(), cmap=ERF_CMAP, vmin=0.0)
        else:
            peak = max(erf.max().item(), 1e-300)
            norm = LogNorm(vmin=peak * log_floor, vmax=peak, clip=False)
            cmap = colormaps[ERF_CMAP].with_extremes(under="black", bad="black")
            image = ax.imshow(erf.numpy(), cmap=cmap, norm=norm)
        ax.set_title(f"{label}: area ratio at t =\n{summary}", fontsize=8)
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
        label = "contribution" if log_floor is None else "contribution (log)"
        fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def plot_order_evidence(
    measurements: OrderMeasurement | Mapping[str, OrderMeasurement],
    *,
    figsize: tuple[float, float] = (6.4, 4.0),
    title: str | None = None,
) -> Figure:
    """The finite-difference evidence of :func:`~hornet_ref.analysis.measure_order`.

    For each measurement, the size of the m-th difference relative to its rounding
    scale against m (log scale); differences of order above the degree fall to
    float64 rounding (~1e-16), below the dashed threshold.

    Args:
        measurements: one :class:`~hornet_ref.analysis.OrderMeasurement` or
            ``{label: OrderMeasurement}``.
        figsize: (width, height) in inches.
        title: the axes' title.

    Returns:
        The Figure.
    """
    lines = _as_mapping(measurements, OrderMeasurement, "module")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    for label, m in lines.items():
        orders = torch.arange(1, m.relative.numel() + 1)
        found = f"degree {m.degree}" if m.is_polynomial else "not a polynomial"
        ax.semilogy(orders, m.relative.clamp_min(1e-20), marker="o", label=f"{label}: {found}")
    rtol = next(iter(lines.values())).rtol if lines else 1e-12
    ax.axhline(rtol, color="grey", linestyle="--", label=f"zero below {rtol:g}")
    ax.set_xlabel("order m of the finite difference")
    ax.set_ylabel("|difference| / rounding scale of its terms")
    ax.set_title(title or "measured interaction order")
    ax.legend(fontsize=8)
    return fig


def plot_harsanyi(
    dividends: HarsanyiDividends | Mapping[str, HarsanyiDividends],
    *,
    figsize: tuple[float, float] = (6.4, 4.0),
    title: str | None = None,
) -> Figure:
    """Largest |Harsanyi dividend| by coalition size (log scale), one line per entry.

    Args:
        dividends: one :class:`~hornet_ref.analysis.HarsanyiDividends` (``by_size``
            of shape (m + 1,)) or ``{label: HarsanyiDividends}``.
        figsize: (width, height) in inches.
        title: the axes' title.

    Returns:
        The Figure.
    """
    lines = _as_mapping(dividends, HarsanyiDividends, "output")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    for label, d in lines.items():
        sizes = torch.arange(d.by_size.numel())
        ax.semilogy(sizes, d.by_size.clamp_min(1e-20), marker="o", label=label)
    ax.set_xlabel("coalition size |S| (pixels)")
    ax.set_ylabel("largest |I(S)|")
    ax.set_title(title or "Harsanyi dividends by coalition size")
    ax.legend(fontsize=8)
    return fig


def plot_curves(
    history: Sequence[Mapping[str, float]],
    *,
    metric: str | Sequence[str] = "val_acc1",
    metric_label: str = "top-1 accuracy (%)",
    epochs: int | None = None,
    chance: float | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (10, 3.8),
) -> Figure:
    """A training run's curves: the train loss of every epoch and the validation loss
    on the left, a validation metric (and its EMA's, when the run kept one) on the
    right, one point per validated epoch.

    Args:
        history: the run's metrics rows (``TrainResult.history``, or the lines of
            ``metrics.jsonl``), each with ``epoch`` and ``train_loss``; those of
            validated epochs also with ``val_loss`` and ``metric``.
        metric: the row key drawn on the right; ``metric + "_ema"`` is drawn too when
            the rows have it. Several keys (``("val_miou", "val_pixel_acc")``) share
            the panel, each labelled with its key.
        metric_label: the right panel's y label.
        epochs: the epoch axis runs to this (the planned length; default: the last row's).
        chance: a dotted line at this value of the metric (10 for ten classes).
        title: the figure's title.
        figsize: (width, height) in inches.

    Returns:
        The Figure.
    """
    if not history:
        raise ValueError("plot_curves needs at least one epoch of history")
    fig = Figure(figsize=figsize, layout="constrained")
    ax_loss, ax_metric = fig.subplots(1, 2)
    x = [row["epoch"] for row in history]
    validated = [row for row in history if "val_loss" in row]  # --eval-every skips some
    x_val = [row["epoch"] for row in validated]
    ax_loss.plot(x, [row["train_loss"] for row in history], "o-", label="train")
    ax_loss.plot(x_val, [row["val_loss"] for row in validated], "o-", label="validation")
    keys = [metric] if isinstance(metric, str) else list(metric)
    for key in keys:
        alone = len(keys) == 1
        label = "validation" if alone else key
        ax_metric.plot(x_val, [row[key] for row in validated], "o-", label=label)
        if validated and f"{key}_ema" in validated[0]:
            ema = [row[f"{key}_ema"] for row in validated]
            ax_metric.plot(x_val, ema, "o--", label="EMA" if alone else f"{key} EMA")
    if chance is not None:
        ax_metric.axhline(chance, color="grey", linestyle=":", label="chance")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_metric.set(xlabel="epoch", ylabel=metric_label, title="validation")
    for ax in (ax_loss, ax_metric):
        # From epoch 0 (before training): a short run's points do not float in an
        # axis half an epoch wide.
        ax.set_xlim(0, max(epochs or x[-1], 2) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if len(history) <= 3:  # too few points for a curve: write their values
            ax.margins(y=0.12)
            _label_points(ax)
    if len(history) == 1:  # one point per line gives matplotlib no range: start at 0
        ax_loss.set_ylim(0, ax_loss.get_ylim()[1] * 1.15)
        ax_metric.set_ylim(0, max(100, ax_metric.get_ylim()[1]))
    if title:
        fig.suptitle(title)
    return fig


def _label_points(ax) -> None:
    """Write each plotted point's value beside it (lines with markers: not chance's)."""
    for line in ax.get_lines():
        if line.get_marker() in (None, "None", ""):
            continue
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True):
            ax.annotate(
                f"{y:.3g}",
                (x, y),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
                color=line.get_color(),
            )


def save_figure(fig: Figure, path: str | PathLike, *, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` atomically: a temporary file beside it, then a rename.

    A reader never sees a half-written file, and an interrupted save leaves any
    previous file in place. The format follows the suffix (``.png``, ``.pdf``, ...).

    Returns:
        The path written.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    return write_atomic(path, lambda file: fig.savefig(file, format=fmt, dpi=dpi))
