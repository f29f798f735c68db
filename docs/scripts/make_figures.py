"""Draw the documentation's diagram of the gnConv recursion (docs/assets/gnconv-recursion.svg).

    python docs/scripts/make_figures.py

The diagram shows order n = 3 on C = 64 channels; its channel widths come from
``hornet_ref.channel_widths``, so the picture and the code cannot disagree. The
SVG is written deterministically (no date, fixed ids) so re-running it gives the
same file unless the drawing changed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch  # noqa: E402

from hornet_ref import channel_widths  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "assets" / "gnconv-recursion.svg"

DIM, ORDER = 64, 3
PROJ = "#fde0c5"  # 1x1 convs (proj_in, pws, proj_out)
MIXER = "#c9e4f5"  # the spatial mixer f
TENSOR = "#555555"


def _box(ax, x, y, w, h, text, color, fontsize=10):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=color,
            edgecolor="#333333",
            linewidth=1.2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None, offset=(0.0, 0.18), color="#333333"):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.3, "shrinkA": 0, "shrinkB": 0},
    )
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=9.5, color=TENSOR)


def _times(ax, x, y, r=0.2):
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor="#333333", linewidth=1.2))
    ax.text(x, y - 0.01, r"$\odot$", ha="center", va="center", fontsize=13)


def draw() -> plt.Figure:
    d = channel_widths(DIM, ORDER)  # [16, 32, 64]
    s_total = sum(d)
    plt.rcParams.update({"svg.hashsalt": "hornet-ref", "font.family": "DejaVu Sans"})
    fig, ax = plt.subplots(figsize=(10.5, 4.1))
    ax.set_xlim(-0.6, 13.2)
    ax.set_ylim(0.15, 5.0)
    ax.set_axis_off()

    row, top = 1.4, 4.15  # the recursion's row; the mixer's row
    times_x = [4.3, 7.1, 9.9]  # one elementwise product per order

    # x -> proj_in -> [p_0, q]
    ax.text(0.1, 2.6, "$x$\n(B, C, H, W)", ha="center", va="center", fontsize=10.5)
    _box(ax, 1.85, 2.6, 1.5, 0.9, "proj_in\n1x1, C → 2C\n" + r"$\phi_{\mathrm{in}}$", PROJ)
    _arrow(ax, (0.95, 2.6), (1.1, 2.6))
    ax.annotate(
        "",
        xy=(3.05, top),
        xytext=(2.6, 2.85),
        arrowprops={"arrowstyle": "-|>", "lw": 1.3, "connectionstyle": "angle,angleA=90,angleB=0"},
    )
    ax.text(2.45, 3.55, f"$q$: S = {s_total}", ha="right", va="center", fontsize=10, color=TENSOR)
    ax.annotate(
        "",
        xy=(times_x[0] - 0.2, row),
        xytext=(2.6, 2.35),
        arrowprops={"arrowstyle": "-|>", "lw": 1.3, "connectionstyle": "angle,angleA=-90,angleB=0"},
    )
    ax.text(2.45, 1.75, f"$p_0$: {d[0]}", ha="right", va="center", fontsize=10, color=TENSOR)

    # The mixer f on all S channels of q at once, scaled by s, split into the gates.
    _box(
        ax,
        6.95,
        top,
        7.8,
        0.8,
        r"mixer $f$ on all of $q$: 7x7 depthwise conv (or GF), then $\times\, s$"
        "\nsplit into gates $g_0, g_1, g_2$ of widths " + ", ".join(str(w) for w in d),
        MIXER,
    )
    for k, x in enumerate(times_x):
        _arrow(ax, (x, top - 0.4), (x, row + 0.2))
        ax.text(
            x + 0.1, 2.75, f"$g_{k}$: {d[k]}", ha="left", va="center", fontsize=10, color=TENSOR
        )

    # The recursion: p_1 = p_0 * g_0, p_{k+1} = pws_{k-1}(p_k) * g_k.
    for k, x in enumerate(times_x):
        _times(ax, x, row)
        if k + 1 < ORDER:
            pws_x = (x + times_x[k + 1]) / 2
            _arrow(ax, (x + 0.2, row), (pws_x - 0.78, row), f"$p_{k + 1}$")
            _box(ax, pws_x, row, 1.55, 0.75, f"pws$_{k}$\n1x1, {d[k]} → {d[k + 1]}", PROJ, 9.5)
            _arrow(ax, (pws_x + 0.78, row), (times_x[k + 1] - 0.2, row))
    _box(ax, 11.55, row, 1.35, 0.9, "proj_out\n1x1, C → C\n" + r"$\phi_{\mathrm{out}}$", PROJ)
    _arrow(ax, (times_x[-1] + 0.2, row), (10.87, row), f"$p_{ORDER}$")
    _arrow(ax, (12.23, row), (12.6, row))
    ax.text(12.9, row, "$y$", ha="center", va="center", fontsize=11)

    ax.text(
        6.6,
        0.45,
        f"order n = {ORDER}, C = {DIM}: $p_k$ is a polynomial of degree k + 1 in $x$, "
        f"so $y$ has degree n + 1 = {ORDER + 1}; every product is position by position,\n"
        "so the reach of the whole module stays the mixer's window.",
        ha="center",
        va="center",
        fontsize=9.5,
        color=TENSOR,
    )
    return fig


def main() -> None:
    fig = draw()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", bbox_inches="tight", metadata={"Date": None}, facecolor="white")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
