"""``hornet-ref train`` and ``hornet-ref evaluate``: flags in, :func:`fit` /
:func:`evaluate_checkpoint` out, errors as one clear line and an exit status.

The parsers are built from :mod:`hornet_ref.train.config` alone, so ``--help``
imports no torch; each handler imports the training code when it runs.
"""

from __future__ import annotations

import argparse
import sys

from ..train.config import ConfigError, add_arguments, config_from_args

__all__ = ["register"]

_THREADS_HELP = "CPU threads for torch (default: torch's own choice)"


def _fail(command: str, error: Exception) -> None:
    print(f"hornet-ref {command}: error: {error}", file=sys.stderr)


# Errors that mean bad input (exit status 2), not a failure of the run: module and name.
_INPUT_ERRORS = (
    ("hornet_ref.checkpoint", "CheckpointError"),
    ("hornet_ref.pretrained", "DownloadError"),
    ("hornet_ref.datasets.folders", "DataError"),
)


def _expected_errors() -> tuple[type[Exception], ...]:
    """The bad-input errors, without importing anything: it runs while an error is
    handled, and an import that fails then (a broken torchvision) would raise again.
    A module not imported yet cannot have raised its error."""
    found: list[type[Exception]] = [ConfigError, FileNotFoundError]
    for module, name in _INPUT_ERRORS:
        error = getattr(sys.modules.get(module), name, None)
        if error is not None:
            found.append(error)
    return tuple(found)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _train(args: argparse.Namespace) -> int:
    try:
        _set_threads(args.threads)
        from ..train.engine import NonFiniteLossError, fit

        config = config_from_args(args)
        try:
            fit(config)
        except NonFiniteLossError as e:
            _fail("train", e)
            return 1
    except _expected_errors() as e:
        _fail("train", e)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    try:
        _set_threads(args.threads)
        from ..train.evaluate import evaluate_checkpoint

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
    except _expected_errors() as e:
        _fail("evaluate", e)
        return 2
    which = "EMA weights" if args.ema else "weights"
    if "box_map" in result:  # a --task detect checkpoint
        print(
            f"box mAP {result['box_map']:.2f}%  AP50 {result['box_map50']:.2f}%  "
            f"AP75 {result['box_map75']:.2f}%  mask mAP {result['mask_map']:.2f}%  "
            f"AP50 {result['mask_map50']:.2f}%  AP75 {result['mask_map75']:.2f}%  "
            f"loss {result['loss']:.4f}  ({result['images']} images of {args.data}, "
            f"{which} of {args.checkpoint})"
        )
        return 0
    if "miou" in result:  # a --task segment checkpoint
        print(
            f"mIoU {result['miou']:.2f}%  pixel acc {result['pixel_acc']:.2f}%  "
            f"loss {result['loss']:.4f}  ({result['images']} images of {args.data}, "
            f"{which} of {args.checkpoint})"
        )
        return 0
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
    train.add_argument("--threads", type=int, default=None, help=_THREADS_HELP)
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
    evaluate.add_argument("--batch-size", type=int, default=256, help="images per batch")
    evaluate.add_argument(
        "--device", default="auto", help="'auto' (CUDA if present), 'cpu', 'cuda'"
    )
    evaluate.add_argument(
        "--workers", type=int, default=None, help="data loader processes (default: by data)"
    )
    evaluate.add_argument("--val-samples", type=int, default=None, help="evaluate a subset")
    evaluate.add_argument(
        "--data-cache", default="~/.cache/hornet-ref", help="where CIFAR is downloaded and kept"
    )
    evaluate.add_argument("--threads", type=int, default=None, help=_THREADS_HELP)
    evaluate.set_defaults(func=_evaluate)
