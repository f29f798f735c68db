"""``hornet-ref export``: a named HorNet (optionally with a checkpoint's weights) to an
ONNX file or a torch.export program. The parser imports no torch; the handler does."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Iterator

__all__ = ["register"]


def _fail(message: str, code: int) -> int:
    print(f"hornet-ref export: error: {message}", file=sys.stderr)
    return code


@contextlib.contextmanager
def _exporter_quiet(verbose: bool) -> Iterator[None]:
    """Keep the exporter's chatter (torch.onnx's and onnxscript's logs, warnings and
    prints: a hundred lines for a small model) out of the terminal unless ``verbose``;
    hornet-ref's own warnings still show."""
    import logging
    import warnings

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    if verbose:
        yield
        return
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..checkpoint import CheckpointError
    from ..export import (
        ExportDependencyError,
        export_onnx,
        export_program,
        save_program,
        verify_onnx,
    )
    from ..factory import create_model
    from ..hornet import list_models

    if args.model not in list_models():
        return _fail(f"unknown model {args.model!r}; valid names: {', '.join(list_models())}", 2)
    out = Path(args.out)
    if not out.parent.is_dir():  # before the minutes an export of a large model takes
        return _fail(f"cannot write {out}: the folder {out.parent} does not exist", 2)
    try:
        if args.checkpoint is None:
            model = create_model(args.model)
        else:  # the file's head and gnConv orders (a run trained with --orders) are kept
            overlay = {"file": args.checkpoint}
            model = create_model(args.model, pretrained=True, pretrained_cfg_overlay=overlay)
        model.eval()
        if args.format == "onnx":
            with _exporter_quiet(args.verbose):
                export_onnx(model, out, input_size=args.input_size, opset=args.opset, dft=args.dft)
            if not args.no_verify:
                with _exporter_quiet(args.verbose):
                    err = verify_onnx(model, out)
                print(f"onnxruntime vs PyTorch on 2 random images: max relative error {err:.2e}")
                if err > 1e-4:
                    return _fail(f"onnxruntime's logits differ from PyTorch's by {err:.2e}", 1)
        else:
            with _exporter_quiet(args.verbose):
                program = export_program(
                    model,
                    input_size=args.input_size,
                    dft="matmul" if args.dft == "matmul" else "fft",
                )
                save_program(program, out)
    except (ExportDependencyError, CheckpointError, ValueError, FileNotFoundError) as e:
        return _fail(str(e), 2)
    print(f"wrote {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand to the ``hornet-ref`` parser."""
    export = subparsers.add_parser(
        "export",
        help="export a HorNet to ONNX or a torch.export program",
        description=(
            "Export a HorNet (fresh weights, or --checkpoint's) for deployment. ONNX: opset "
            "20, dynamic batch axis, preprocessing and class names in the metadata, checked "
            "in onnxruntime against PyTorch. exported-program: torch.export.save's .pt2."
        ),
    )
    export.add_argument("--model", required=True, metavar="NAME", help="a HorNet variant name")
    export.add_argument("--checkpoint", default=None, metavar="FILE", help="weights to load")
    export.add_argument("--format", choices=["onnx", "exported-program"], default="onnx")
    export.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    export.add_argument(
        "--input-size", type=int, default=None, help="input side (default: the variant's)"
    )
    export.add_argument("--opset", type=int, default=20, help="ONNX opset (default 20)")
    export.add_argument(
        "--dft",
        choices=["onnx", "matmul"],
        default="matmul",
        help="Global-Local Filter FFTs as matrix products (default: any runtime, and "
        "faster in onnxruntime) or as ONNX DFT nodes",
    )
    export.add_argument(
        "--no-verify", action="store_true", help="skip the onnxruntime check of an ONNX file"
    )
    export.add_argument(
        "--verbose",
        action="store_true",
        help="show the exporter's own logs and warnings (hidden by default)",
    )
    export.set_defaults(func=_export)
