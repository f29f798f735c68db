"""The ``hornet-ref`` command line, the top layer: one module per command group.

- info.py: ``hornet-ref info`` (parameters and GFLOPs of the variants)
- analysis.py: ``erf`` and ``interactions``
- train.py: ``train`` and ``evaluate``
- weights.py: ``predict`` and ``convert``
- export.py: ``export``

This file only builds the parser and dispatches (``python -m hornet_ref.cli`` runs it).
Building the parser imports no torch (``--help`` stays instant): every handler imports
what it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ._install import broken_install
from .analysis import add_analysis_commands
from .export import register as add_export_command
from .info import register as add_info_command
from .train import register as add_train_commands
from .weights import register as add_weights_commands

__all__ = ["OneLineParser", "build_parser", "main"]


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line and a pointer to ``--help``
    instead of the usage block (subcommand parsers are built of the same class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="hornet-ref", description="gnConv and HorNet: inspect, analyse and train."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_info_command(sub)  # info
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
