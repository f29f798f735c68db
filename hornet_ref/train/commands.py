"""``hornet-ref train`` and ``hornet-ref evaluate``: flags in, :func:`fit` /
:func:`evaluate_checkpoint` out, errors as one clear line and an exit status."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from ..checkpoint import CheckpointError
from ..pretrained import DownloadError
from .config import ConfigError, add_arguments, config_from_args
from .data import DataError
from .engine import NonFiniteLossError, fit
from .evaluate import evaluate_checkpoint

__all__ = ["register"]

_EXPECTED = (ConfigError, DataError, CheckpointError, DownloadError, FileNotFoundError)


def _fail(command: str, error: Exception) -> None:
    print(f"hornet-ref {command}: error: {error}", file=sys.stderr)


def _respawn_with_passive_openmp(device: str) -> None:
    """Re-run this command once with ``OMP_WAIT_POLICY=PASSIVE`` when training on CPU.

    By default OpenMP threads spin while they wait for each other. On a machine
    whose cores are shared with other work, a spinning thread burns the time slice
    its partner needs: the small ops of a 32x32 HorNet then run several times
    slower (we measured 5x on a busy 2-core machine). The policy is read once, when
    torch loads its OpenMP runtime, so it cannot be changed from inside this
    process; re-executing is the only way. Only the ``hornet-ref`` program does
    this, never a Python caller, and never when the variable is already set.
    """
    program = Path(sys.argv[0]).name
    if "OMP_WAIT_POLICY" in os.environ or program not in ("hornet-ref", "cli.py"):
        return
    if device != "cpu" and (device != "auto" or torch.cuda.is_available()):
        return
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "hornet_ref.cli", *sys.argv[1:]], env)


def _train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    _respawn_with_passive_openmp(config.device)
    try:
        fit(config)
    except _EXPECTED as e:
        _fail("train", e)
        return 2
    except NonFiniteLossError as e:
        _fail("train", e)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    try:
        result = evaluate_checkpoint(
            args.checkpoint,
            args.data,
            model=args.model,
            ema=args.ema,
            img_size=args.img_size,
            batch_size=args.batch_size,
            device=args.device,
            workers=args.workers,
            val_samples=args.val_samples,
            data_cache=args.data_cache,
        )
    except _EXPECTED as e:
        _fail("evaluate", e)
        return 2
    which = "EMA weights" if args.ema else "weights"
    print(
        f"top-1 {result['acc1']:.2f}%  top-5 {result['acc5']:.2f}%  loss {result['loss']:.4f}  "
        f"({result['images']} images of {args.data}, {which} of {args.checkpoint})"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``evaluate`` subcommands to the ``hornet-ref`` parser."""
    train = subparsers.add_parser(
        "train",
        help="train a HorNet (default: hornet_nano_7x7 on built-in data, a few CPU minutes)",
        description=(
            "Train a HorNet. With no flags: hornet_nano_7x7 on the built-in shapes data, "
            "written to runs/train. Flags left out take the recipe's value (--recipe)."
        ),
    )
    add_arguments(train)
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="top-1 / top-5 of a checkpoint on a dataset's validation split",
    )
    evaluate.add_argument("--checkpoint", required=True, help="a run's checkpoint.pt or weights")
    evaluate.add_argument(
        "--data", default="builtin", help="'builtin', 'cifar10', 'cifar100' or an ImageFolder root"
    )
    evaluate.add_argument("--model", default=None, help="variant name, for bare weights")
    evaluate.add_argument("--ema", action="store_true", help="use the run's EMA weights")
    evaluate.add_argument("--img-size", type=int, default=None, help="input side")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--workers", type=int, default=None)
    evaluate.add_argument("--val-samples", type=int, default=None, help="evaluate a subset")
    evaluate.add_argument("--data-cache", default="~/.cache/hornet-ref")
    evaluate.set_defaults(func=_evaluate)
