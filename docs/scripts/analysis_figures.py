"""Draw the Analysis guide's figures (docs/assets/analysis-*.png) with hornet_ref's own tools.

    python docs/scripts/analysis_figures.py            # all four figures (a few minutes on a CPU)
    python docs/scripts/analysis_figures.py maps       # only the interaction maps

- ``maps``: per-order interaction maps of gnConv with a 7x7 mixer at orders 2 and 5, and
  with the Global-Local Filter at order 3 (``interaction_maps``, ``plot_interaction_maps``).
- ``erf``: effective receptive fields after the last stage of HorNet-T (7x7 and GF) with
  every stage at gnConv order 1, 3 or 5, random weights with layer scale 1, RepLKNet's
  recipe on real photographs (``stage_erfs``, ``plot_erf``), titled with the
  high-contribution area ratios.
- ``maps-trained`` and ``erf-trained``: their trained counterparts, from the reference network
  shipped with the package (:mod:`hornet_ref.reference`: hornet_nano_7x7 trained on the
  built-in shapes), next to the same architecture at its random initialisation, on the
  network's own validation images: the interaction maps of the gnConvs of stages 1 and 2,
  and the ERF after each stage. Their titles name the weights (model, task, updates, top-1).

Weights and images are fixed by seeds, and the PNGs carry no date or version, so
re-running the script on the same machine gives the same files.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

from hornet_ref import GlobalLocalFilter, GnConv, create_model  # noqa: E402
from hornet_ref.analysis import interaction_maps, sample_images, stage_erfs  # noqa: E402
from hornet_ref.plotting import plot_erf, plot_interaction_maps  # noqa: E402
from hornet_ref.reference import load_reference, reference_images  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MAP = 21  # side of the gnConvs' input map
DIM = 32  # their channels
ERF_SIZE, ERF_IMAGES = 224, 8
ERF_ORDERS = (1, 3, 5)
REFERENCE_IMAGES = 64
# 99% of a 32x32 stage-4 ERF can lie outside every centred square; 0.9 can always be reported.
REFERENCE_THRESHOLDS = (0.2, 0.3, 0.5, 0.9)


def _save(fig, name: str) -> None:
    path = ASSETS / name
    fig.savefig(path, dpi=90, facecolor="white", metadata={"Software": None})
    print(f"wrote {path}")


def interaction_maps_figure() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, DIM, MAP, MAP)
    global_local = partial(GlobalLocalFilter, h=MAP, w=MAP // 2 + 1)
    modules = {
        "7x7, n=2": GnConv(DIM, order=2),
        "7x7, n=5": GnConv(DIM, order=5),
        "GF, n=3": GnConv(DIM, order=3, mixer=global_local),
    }
    maps = {label: interaction_maps(m, x) for label, m in modules.items()}
    title = f"interaction maps at the centre of a {MAP}x{MAP} map (random weights, {DIM} channels)"
    _save(plot_interaction_maps(maps, title=title), "analysis-interaction-maps.png")


def erf_figure() -> None:
    images = sample_images(ERF_IMAGES, ERF_SIZE)
    panels = {}
    for name in ("hornet_tiny_7x7", "hornet_tiny_gf"):
        for order in ERF_ORDERS:
            torch.manual_seed(0)
            model = create_model(name, orders=(order,) * 4, layer_scale_init_value=1.0).eval()
            panels[f"{name}, n={order}"] = stage_erfs(model, images, stages=[3])[0]
    title = (
        "ERF after stage 4 of HorNet-T with every stage at order n: random weights "
        f"(layer scale 1), {ERF_IMAGES} photographs at {ERF_SIZE}px"
    )
    _save(plot_erf(panels, title=title, columns=len(ERF_ORDERS)), "analysis-erf-orders.png")


def _reference_pair() -> tuple[dict, torch.Tensor, str]:
    """{"random init": model, "trained": model}, the trained one's images, and its description."""
    trained, info = load_reference()
    torch.manual_seed(0)
    untrained = create_model(info["model"], num_classes=len(info["classes"])).eval()
    images, _ = reference_images(REFERENCE_IMAGES)
    which = (
        f"{info['model']} trained on the built-in shapes ({info['updates']:,} updates, "
        f"{info['val_acc1']:.1f}% val top-1)"
    )
    return {"random init": untrained, "trained": trained}, images, which


def trained_maps_figure() -> None:
    models, images, which = _reference_pair()
    maps = {
        f"{kind}, stage {s + 1} (n={n})": interaction_maps(model, images[:8], module=(s, 0))
        for s, n in ((0, 2), (1, 3))  # the first gnConv of stages 1 and 2, and its order
        for kind, model in models.items()
    }
    title = f"interaction maps of gnConvs on their own maps, random init vs\n{which}"
    _save(plot_interaction_maps(maps, title=title), "analysis-interaction-maps-trained.png")


def trained_erf_figure() -> None:
    models, images, which = _reference_pair()
    panels = {
        f"{kind}, stage {s + 1}": erf
        for kind, model in models.items()
        for s, erf in enumerate(stage_erfs(model, images, stages=[0, 1, 2, 3]))
    }
    title = f"ERF after each stage on {len(images)} of its val images, random init vs\n{which}"
    fig = plot_erf(panels, thresholds=REFERENCE_THRESHOLDS, title=title, columns=4)
    _save(fig, "analysis-erf-trained.png")


FIGURES = {
    "maps": interaction_maps_figure,
    "erf": erf_figure,
    "maps-trained": trained_maps_figure,
    "erf-trained": trained_erf_figure,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="*", help=f"any of {', '.join(FIGURES)} (default: all)")
    args = parser.parse_args()
    unknown = sorted(set(args.figures) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure(s) {unknown}; choose from {', '.join(FIGURES)}")
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name in args.figures or FIGURES:
        FIGURES[name]()


if __name__ == "__main__":
    main()
