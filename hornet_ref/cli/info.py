"""``hornet-ref info [NAME ...]``: parameters and GFLOPs of the variants."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _info(args: argparse.Namespace) -> int:
    import torch

    from ..factory import create_model
    from ..flops import count_flops, count_params
    from ..hornet import list_models

    names = args.names or list_models()
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        valid = ", ".join(list_models())
        print(f"unknown model(s) {unknown}; valid names: {valid}", file=sys.stderr)
        return 2
    print(f"{'name':<24} {'params':>13} {'input':>7} {'GFLOPs':>8}")
    for name in names:
        with torch.device("meta"):  # no memory is allocated, even for the large models
            model = create_model(name)
        size = args.img_size or model.config.img_size
        gflops = count_flops(model, size) / 1e9
        print(f"{name:<24} {count_params(model):>13,} {size:>7} {gflops:>8.2f}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand to the ``hornet-ref`` parser."""
    info = subparsers.add_parser("info", help="parameters and GFLOPs of the HorNet variants")
    info.add_argument("names", nargs="*", metavar="NAME", help="variants (default: all)")
    info.add_argument(
        "--img-size", type=int, default=None, help="input side (default: the variant's)"
    )
    info.set_defaults(func=_info)
