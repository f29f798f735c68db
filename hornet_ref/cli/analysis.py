"""The ``hornet-ref erf`` and ``hornet-ref interactions`` subcommands.

    hornet-ref erf --model hornet_tiny_7x7 --out erf.png
    hornet-ref erf --model hornet_tiny_7x7 --pretrained --out erf_trained.png
    hornet-ref erf --model hornet_tiny_gf --checkpoint hornet_tiny_gf.pth --stage 2 --out erf.png
    hornet-ref interactions --model hornet_tiny_gf --out interactions.png
    hornet-ref interactions --model hornet_tiny_7x7 --stage 2 --block 1 --out maps.png

Figures are drawn with matplotlib's Agg backend (no display needed) and written
atomically. Stage and block indices count from 0, as in the Python API.

This module imports no torch: the parsers are built for ``--help`` alone, and each
handler imports the model and analysis code it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..hornet import HorNet

__all__ = ["add_analysis_commands"]

# The same words as the --threads help of ``hornet-ref train`` and ``evaluate``.
_THREADS_HELP = "CPU threads for torch (default: torch's own choice)"


def _error(command: str, message: str, code: int = 1) -> int:
    print(f"hornet-ref {command}: error: {message}", file=sys.stderr)
    return code


def _build_model(args: argparse.Namespace) -> HorNet:
    """The named model, with the checkpoint's weights if one is given (may raise)."""
    import torch

    from ..factory import create_model
    from ..hornet import list_models

    if args.model not in list_models():
        raise ValueError(f"unknown model {args.model!r}; valid names: {', '.join(list_models())}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.pretrained or args.checkpoint is not None:
        overlay = {"file": args.checkpoint} if args.checkpoint else None
        return create_model(args.model, pretrained=True, pretrained_cfg_overlay=overlay).eval()
    overrides = {} if args.layer_scale is None else {"layer_scale_init_value": args.layer_scale}
    return create_model(args.model, **overrides).eval()


def _weights(args: argparse.Namespace) -> str:
    """Which weights a figure shows, for its title: a file, a published name, or random."""
    if args.checkpoint:
        return f"weights {Path(args.checkpoint).name}"
    if args.pretrained:
        return f"published {args.model} weights"
    scale = "" if args.layer_scale is None else f", layer scale {args.layer_scale:g}"
    return f"random init, seed {args.seed}{scale}"


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_common(parser: argparse.ArgumentParser, *, images: int) -> None:
    parser.add_argument("--model", required=True, metavar="NAME", help="a HorNet variant name")
    parser.add_argument(
        "--checkpoint", metavar="PATH", help="weights for the variant (default: random init)"
    )
    parser.add_argument(
        "--pretrained", action="store_true", help="the variant's published (trained) weights"
    )
    parser.add_argument(
        "--img-size", type=_positive_int, help="image side (default: the variant's)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights / noise")
    parser.add_argument(
        "--layer-scale",
        type=float,
        metavar="G",
        help="initial layer-scale of random weights (HorNet's 1e-6 makes every block "
        "nearly an identity; 1 lets the random gnConvs show)",
    )
    parser.add_argument(
        "--out", required=True, metavar="FILE.png", help="where to write the figure"
    )
    parser.add_argument(
        "--figsize", type=float, nargs=2, metavar=("W", "H"), help="figure size in inches"
    )
    parser.add_argument("--dpi", type=int, default=100, help="pixels per inch of the PNG")
    parser.add_argument("--threads", type=_positive_int, metavar="N", help=_THREADS_HELP)
    parser.add_argument("--stage", type=int, choices=range(4), help="stage 0-3 (default: all)")
    parser.add_argument(
        "--images", type=_positive_int, default=images, metavar="N", help="how many images"
    )


def _use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: the commands only write files


def _save(fig, args: argparse.Namespace) -> None:
    from ..plotting import save_figure

    save_figure(fig, args.out, dpi=args.dpi)
    print(f"wrote {args.out}")


def _erf(args: argparse.Namespace) -> int:
    from ..analysis.erf import THRESHOLDS, area_ratios, stage_erfs
    from ..analysis.images import noise_images, sample_images
    from ..checkpoint import CheckpointError
    from ..pretrained import DownloadError

    _use_agg()
    try:
        model = _build_model(args)
        size = args.img_size or model.config.img_size
        if args.recipe == "luo":
            images = noise_images(args.images, size, seed=args.seed)
        else:
            images = sample_images(args.images, size)
        stages = list(range(4)) if args.stage is None else [args.stage]
        erfs = stage_erfs(
            model,
            images,
            stages=stages,
            recipe=args.recipe,
            batch_size=args.batch_size,
            progress=True,
        )
    except (CheckpointError, DownloadError, FileNotFoundError, ValueError) as e:
        return _error("erf", str(e))

    from ..plotting import plot_erf

    panels = {f"stage {s}": erf for s, erf in zip(stages, erfs, strict=True)}
    print(f"{'map':<10}" + "".join(f"{f'ratio@{t:g}':>13}" for t in THRESHOLDS))
    for label, erf in panels.items():
        ratios = area_ratios(erf)
        print(
            f"{label:<10}"
            + "".join(f"{r.ratio:>12.4f}{' ' if r.reached else '*'}" for r in ratios.values())
        )
    title = f"ERF of {args.model} ({_weights(args)}, {args.recipe}, {args.images} images, {size}px)"
    log_floor = {"reach": 1e-16, "log": 1e-4, "linear": None}[args.colors]
    _save(plot_erf(panels, title=title, figsize=args.figsize, log_floor=log_floor), args)
    return 0


def _interactions(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..analysis.images import sample_images
    from ..analysis.interactions import interaction_maps
    from ..checkpoint import CheckpointError
    from ..pretrained import DownloadError

    _use_agg()
    try:
        model = _build_model(args)
        depths = model.config.depths
        if args.stage is None:
            if args.block is not None:
                raise ValueError("--block needs --stage")
            chosen = [(s, 0) for s in range(4) if depths[s] > 0]
        else:
            block = args.block or 0
            if not 0 <= block < depths[args.stage]:
                raise ValueError(
                    f"stage {args.stage} of {args.model} has blocks 0..{depths[args.stage] - 1}, "
                    f"got --block {block}"
                )
            chosen = [(args.stage, block)]
        size = args.img_size or model.config.img_size
        images = sample_images(args.images, size)
        maps = {}
        for stage, block in tqdm(chosen, desc="interaction maps", unit="gnConv"):
            order = model.config.orders[stage]
            label = f"stage {stage} block {block} (n={order})"
            maps[label] = interaction_maps(
                model, images, module=(stage, block), wrt=args.wrt, probes=args.probes or None
            )
    except (CheckpointError, DownloadError, FileNotFoundError, ValueError) as e:
        return _error("interactions", str(e))

    from ..plotting import plot_interaction_maps

    for label, m in maps.items():
        reach = ", ".join(f"p_{k} {h}x{w}" for k, (h, w) in enumerate(m.reach()))
        height, width = m.maps.shape[-2:]
        print(f"{label}: reach {reach} (of a {height}x{width} map)")
    against = "its own input" if args.wrt == "input" else "the image"
    title = f"gnConv interaction maps of {args.model} ({_weights(args)}), against {against}"
    _save(plot_interaction_maps(maps, title=title, figsize=args.figsize), args)
    return 0


def add_analysis_commands(sub: argparse._SubParsersAction) -> None:
    """Register the ``erf`` and ``interactions`` subcommands on a subparsers object."""
    # The options both share are in _add_common; what the two blocks below still have in
    # common is only the shape of argparse's calls.
    erf = sub.add_parser(
        "erf",
        help="effective receptive fields of a HorNet, stage by stage",
        description="Effective receptive field of the centre unit after each stage (or one "
        "stage), as a PNG with the high-contribution area ratios in the titles.",
    )
    _add_common(erf, images=8)
    erf.add_argument(
        "--recipe",
        choices=("replknet", "luo"),
        default="replknet",
        help="replknet: real photographs; luo: random noise (default: replknet)",
    )
    erf.add_argument("--batch-size", type=_positive_int, default=4, help="images per pass")
    erf.add_argument(
        "--colors",
        choices=("log", "reach", "linear"),
        default="log",
        help="log: four decades below each peak (default; ERFs that differ look different); "
        "reach: down to 1e-16, so any non-zero contribution shows; linear: only the peak "
        "region shows. The area ratios are the same in all three",
    )
    erf.set_defaults(func=_erf)

    inter = sub.add_parser(
        "interactions",
        help="per-order interaction maps of gnConv blocks",
        description="How strongly each position influences p_0 .. p_n of a gnConv at the "
        "centre of its map, for the first block of each stage (or one block).",
    )
    _add_common(inter, images=2)
    inter.add_argument("--block", type=int, help="block within --stage (default 0)")
    inter.add_argument(
        "--wrt",
        choices=("input", "image"),
        default="input",
        help="gradients against the gnConv's own input (its reach) or the image",
    )
    inter.add_argument(
        "--probes",
        type=int,
        default=16,
        help="random probes per order for layers wider than this (0: exact, slower)",
    )
    inter.set_defaults(func=_interactions)
