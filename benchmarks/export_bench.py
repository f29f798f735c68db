"""Benchmark exported HorNets: onnxruntime against eager PyTorch, and the matrix DFT of the
Global-Local Filter against torch.fft.

    python benchmarks/export_bench.py                      # HorNet-T, batch 1 and 8
    python benchmarks/export_bench.py --onnx-dir /tmp/onnx # reuse exported files

Part 1: inference of HorNet-T 7x7 and GF (224) in eager PyTorch (no_grad) and in
onnxruntime's CPU provider (same thread count), from files written by
``hornet_ref.export_onnx``; GF both with ONNX DFT nodes and with the matrix DFT. Each
row gives the median over rounds of onnxruntime's time over eager's in the same round.

Part 2: the matrix DFT (``GlobalLocalFilter.dft = "matmul"``) against torch.fft in eager
PyTorch, for HorNet-T GF's whole network at 224 and at 384 (filters resized), in
multiply-accumulates (torch's counter sees the matrix products; FFTs it does not count)
and in time, as the median per-round ratio matrix / fft.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from _common import device_arg, machine, median_ratio, print_table, time_rounds, write_json
from torch.utils.flop_counter import FlopCounterMode

import hornet_ref
from hornet_ref.export import _spectral_path


def _macs(model: torch.nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


def _onnx_session(model, path: Path, dft: str, threads: int):
    import onnxruntime as ort

    if not path.is_file():
        hornet_ref.export_onnx(model, path, dft=dft)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _runtime_part(args, threads: int) -> list[dict]:
    fns, rows = {}, []
    for name in args.models:
        torch.manual_seed(0)
        model = hornet_ref.create_model(name).eval()
        paths = {"onnx": args.onnx_dir / f"{name}.onnx"}
        if "gf" in name and "matmul" in args.gf_onnx:
            paths["matmul"] = args.onnx_dir / f"{name}_matmul.onnx"
        sessions = {dft: _onnx_session(model, p, dft, threads) for dft, p in paths.items()}
        for batch in args.batches:
            x = torch.randn(batch, 3, 224, 224)
            feed = {"images": x.numpy()}

            def eager(model=model, x=x):
                with torch.no_grad():
                    model(x)

            fns[(name, batch, "eager")] = eager
            for dft, session in sessions.items():
                fns[(name, batch, f"ort-{dft}")] = lambda s=session, f=feed: s.run(None, f)
    samples = time_rounds(fns, rounds=args.rounds, min_time=args.min_time)
    for name, batch, runner in fns:
        if runner == "eager":
            continue
        t = statistics.median(samples[(name, batch, runner)])
        rows.append(
            {
                "model": name,
                "batch": batch,
                "runtime": {"ort-onnx": "ort", "ort-matmul": "ort (matrix DFT)"}[runner],
                "ms": t * 1e3,
                "eager ms": statistics.median(samples[(name, batch, "eager")]) * 1e3,
                "x eager": median_ratio(
                    samples[(name, batch, runner)], samples[(name, batch, "eager")]
                ),
            }
        )
    return rows


def _dft_part(args) -> list[dict]:
    torch.manual_seed(0)
    model = hornet_ref.create_model("hornet_tiny_gf").eval()
    fns, macs = {}, {}
    for size in args.sizes:
        x = torch.randn(args.dft_batch, 3, size, size)
        for dft in ("fft", "matmul"):
            with _spectral_path(model, dft):
                macs[(size, dft)] = _macs(model, x[:1])

            def run(x=x, dft=dft):
                with _spectral_path(model, dft), torch.no_grad():
                    model(x)

            fns[(size, dft)] = run
    samples = time_rounds(fns, rounds=args.rounds, min_time=args.min_time)
    rows = []
    for size in args.sizes:
        rows.append(
            {
                "input": size,
                "batch": args.dft_batch,
                "fft GMACs": macs[(size, "fft")] / 1e9,
                "matrix GMACs": macs[(size, "matmul")] / 1e9,
                "DFT GMACs": (macs[(size, "matmul")] - macs[(size, "fft")]) / 1e9,
                "fft ms": statistics.median(samples[(size, "fft")]) * 1e3,
                "matrix ms": statistics.median(samples[(size, "matmul")]) * 1e3,
                "matrix x fft": median_ratio(samples[(size, "matmul")], samples[(size, "fft")]),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    device_arg(parser)
    parser.add_argument(
        "--models", nargs="+", default=["hornet_tiny_7x7", "hornet_tiny_gf"], metavar="NAME"
    )
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--sizes", nargs="+", type=int, default=[224, 384])
    parser.add_argument("--dft-batch", type=int, default=8, help="batch of part 2")
    parser.add_argument(
        "--gf-onnx",
        nargs="+",
        default=["onnx", "matmul"],
        choices=["onnx", "matmul"],
        help="GF files to time: DFT nodes, matrix DFT",
    )
    parser.add_argument(
        "--onnx-dir", type=Path, default=Path("export_bench_onnx"), help="ONNX files (reused)"
    )
    parser.add_argument(
        "--parts", nargs="+", default=["runtime", "dft"], choices=["runtime", "dft"]
    )
    args = parser.parse_args()
    if args.device != "cpu":
        parser.error("export_bench times onnxruntime's CPU provider: use --device cpu")
    args.onnx_dir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    print(f"machine: {machine()}")
    payload: dict = {"machine": machine()}
    if "runtime" in args.parts:
        rows = _runtime_part(args, threads)
        print_table(rows, list(rows[0]), "onnxruntime (CPU) against eager PyTorch, 224")
        payload["runtime"] = rows
    if "dft" in args.parts:
        rows = _dft_part(args)
        print_table(rows, list(rows[0]), "HorNet-T GF: matrix DFT against torch.fft, eager")
        payload["dft"] = rows
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
