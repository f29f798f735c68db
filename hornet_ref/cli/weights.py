"""``hornet-ref predict`` and ``hornet-ref convert``: trained weights from the command line.

    hornet-ref predict photo.jpg --model hornet_tiny_7x7
    hornet-ref predict photo.jpg --model hornet_large_7x7 --imagenet-1k
    hornet-ref predict photo.jpg --model hornet_tiny_gf --checkpoint hornet_tiny_gf.pth
    hornet-ref convert hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth hornet_tiny_7x7.pth

This module imports no torch: the parsers are declared here and the handlers import
the model stack when they run, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _fail(command: str, error: Exception, code: int = 1) -> int:
    message = " ".join(str(error).split())  # one line, whatever the error's layout
    print(f"hornet-ref {command}: error: {message}", file=sys.stderr)
    return code


def _predict(args: argparse.Namespace) -> int:
    from ..checkpoint import CheckpointError
    from ..factory import create_model
    from ..hornet import list_models
    from ..predict import classify, load_image
    from ..pretrained import DownloadError

    if args.model not in list_models():
        return _fail("predict", ValueError(f"unknown model {args.model!r}"), 2)
    if args.top < 1:
        return _fail("predict", ValueError(f"--top must be >= 1, got {args.top}"), 2)
    overlay = {"use_ema": args.ema}
    if args.checkpoint:
        overlay["file"] = args.checkpoint
    try:
        images = [load_image(path) for path in args.images]
        model = create_model(args.model, pretrained=True, pretrained_cfg_overlay=overlay)
        results = classify(model, images, top_k=args.top, imagenet_1k=args.imagenet_1k)
    except (CheckpointError, DownloadError, FileNotFoundError, ValueError) as e:
        return _fail("predict", e)
    for path, predictions in zip(args.images, results):
        print(path)
        for p in predictions:
            print(f"  {100 * p.probability:6.2f}%  {p.label} ({p.index})")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from ..checkpoint import CheckpointError, convert_checkpoint, load_pretrained, read_state_dict
    from ..factory import create_model
    from ..hornet import list_models

    try:
        state = read_state_dict(args.input, use_ema=args.ema)
        if args.model is not None:
            if args.model not in list_models():
                return _fail("convert", ValueError(f"unknown model {args.model!r}"), 2)
            head = state.get("head.weight")
            classes = int(head.shape[0]) if head is not None else 0
            load_pretrained(create_model(args.model, num_classes=classes), state)
        convert_checkpoint(state, args.output)
    except (CheckpointError, FileNotFoundError, OSError) as e:
        return _fail("convert", e)
    checked = f", checked against {args.model}" if args.model else ""
    print(f"wrote {args.output}: {len(state)} tensors in hornet-ref's layout{checked}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` and ``convert`` subcommands to the ``hornet-ref`` parser."""
    predict = subparsers.add_parser(
        "predict",
        help="top-5 ImageNet classes of photographs with trained weights",
        description=(
            "Print the top-5 classes (names and probabilities) of each image. Weights: the "
            "variant's published ones (downloaded once into torch.hub's cache) or --checkpoint."
        ),
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG)")
    predict.add_argument("--model", required=True, metavar="NAME", help="a HorNet variant name")
    predict.add_argument(
        "--checkpoint", metavar="FILE", help="weights to use instead of the published ones"
    )
    predict.add_argument(
        "--imagenet-1k",
        action="store_true",
        help="score the 1000 ImageNet-1K classes of a Large model's ImageNet-22K head",
    )
    predict.add_argument("--ema", action="store_true", help="a training checkpoint's EMA weights")
    predict.add_argument("--top", type=int, default=5, metavar="K", help="classes per image")
    predict.set_defaults(func=_predict)

    convert = subparsers.add_parser(
        "convert",
        help="rewrite a checkpoint (authors', mmpretrain's, training) as hornet-ref weights",
        description=(
            "Read IN in any layout hornet-ref loads and write its weights to OUT as a bare "
            "state_dict with hornet-ref's key names (atomically)."
        ),
    )
    convert.add_argument("input", metavar="IN", help="the checkpoint to read")
    convert.add_argument("output", metavar="OUT", help="the file to write")
    convert.add_argument("--ema", action="store_true", help="take the EMA weights")
    convert.add_argument(
        "--model", metavar="NAME", help="check that the weights load into this variant first"
    )
    convert.set_defaults(func=_convert)
