"""The ``hornet-ref`` command line: one subcommand per job.

``hornet-ref info [NAME ...]`` prints parameters and GFLOPs of the variants.
Each subcommand's code lives beside the part of the package it drives; this
file only builds the parser and dispatches. Building the parser imports no torch
(``--help`` stays instant): every handler imports what it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ._install import broken_install
from .analysis.commands import add_analysis_commands
from .export_commands import register as add_export_command
from .train.commands import register as add_train_commands
from .weights_commands import register as add_weights_commands

__all__ = ["OneLineParser", "build_parser", "main"]


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line and a pointer to ``--help``
    instead of the usage block (subcommand parsers are built of the same class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _info(args: argparse.Namespace) -> int:
    import torch

    from .factory import create_model
    from .flops import count_flops, count_params
    from .hornet import list_models

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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="hornet-ref", description="gnConv and HorNet: inspect, analyse and train."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="parameters and GFLOPs of the HorNet variants")
    info.add_argument("names", nargs="*", metavar="NAME", help="variants (default: all)")
    info.add_argument(
        "--img-size", type=int, default=None, help="input side (default: the variant's)"
    )
    info.set_defaults(func=_info)
    add_analysis_commands(sub)  # erf, interactions
    add_train_commands(sub)  # train, evaluate
    add_weights_commands(sub)  # predict, convert
    add_export_command(sub)  # export
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:  # a broken torch / torchvision install is told in one line
        line = broken_install(e)
        if line is None:
            raise
        print(f"hornet-ref {args.command}: error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
