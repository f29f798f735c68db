"""Benchmark gnConv in decoders: FPN vs HorFPN, UPerNet vs the gnConv UPerNet head.

    python benchmarks/dense_bench.py                     # costs, CPU times, 2-seed training
    python benchmarks/dense_bench.py --no-train          # costs and times only

Each pair is measured on the same backbone maps at the same input size: the
decoder's parameters, its MACs (hornet_ref.flops.count_flops of the whole segmenter
minus the backbone's), and one forward+backward of the decoder on the CPU, timed in
interleaved rounds and reported as the median per-round ratio to the conv decoder
(see _common.py). The costs use the authors' widths (256 channels for the FPNs, 512
for UPerNet) on HorNet-T's stage widths. mIoU comes from the same short training of
every head through ``hornet_ref.train.fit`` (``task="segment"``) on the built-in
scenes, with a tiny backbone and narrower decoders (``--train-channels``) so that
all runs fit in minutes on a CPU, from two seeds; the spread is the difference.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import device_arg, machine, median_ratio, print_table, time_rounds, write_json

from hornet_ref import count_flops, count_params, create_model
from hornet_ref.dense import create_segmenter

PAIRS = (("fpn", "horfpn", 256), ("uper", "gnuper", 512))


def _costs(args: argparse.Namespace) -> list[dict]:
    """Parameters, MACs and forward+backward time of each decoder on HorNet-T's maps."""
    backbone = create_model("hornet_tiny_7x7", num_classes=0).eval()
    backbone_macs = count_flops(backbone, args.size)
    x = torch.randn(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        maps = backbone.forward_intermediates(x, intermediates_only=True)
    rows = []
    for conv, gn, channels in PAIRS:
        heads = {}
        for head in (conv, gn):
            torch.manual_seed(0)
            heads[head] = create_segmenter(backbone, 150, head=head, channels=channels).head

        def step(h=None):
            def run() -> None:
                h.zero_grad(set_to_none=True)
                h([m.detach().requires_grad_(False) for m in maps]).float().mean().backward()

            return run

        samples = time_rounds(
            {name: step(h) for name, h in heads.items()},
            rounds=args.rounds,
            min_time=args.min_time,
        )
        for name, head in heads.items():
            segmenter = create_segmenter(backbone, 150, head=head)
            rows.append(
                {
                    "decoder": name,
                    "channels": channels,
                    "params_M": count_params(head) / 1e6,
                    "GMACs": (count_flops(segmenter.eval(), args.size) - backbone_macs) / 1e9,
                    "fwd_bwd_ms": 1e3 * statistics.median(samples[name]),
                    "time_vs_conv": median_ratio(samples[name], samples[conv]),
                }
            )
    return rows


def _train_miou(args: argparse.Namespace) -> list[dict]:
    """mIoU (percent) of each head after the same short built-in training, per seed."""
    from hornet_ref.train import TrainConfig, fit

    rows = []
    for conv, gn, _ in PAIRS:
        for head in (conv, gn):
            scores, seconds = [], []
            for seed in args.seeds:
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    config = TrainConfig(
                        task="segment",
                        head=head,
                        decoder_channels=args.train_channels,
                        model=args.train_model,
                        data="builtin",
                        train_samples=args.train_samples,
                        val_samples=args.val_samples,
                        epochs=args.epochs,
                        batch_size=16,
                        lr=args.lr,
                        lr_batch=16,
                        workers=0,
                        seed=seed,
                        out=str(Path(out) / "run"),
                        progress=False,
                        device="cpu",
                    )
                    result = fit(config)
                    seconds.append(time.perf_counter() - start)
                scores.append(result.history[-1]["val_miou"])
            rows.append(
                {
                    "decoder": head,
                    "channels": args.train_channels,
                    **{f"mIoU_seed{s}": v for s, v in zip(args.seeds, scores)},
                    "mIoU_mean": statistics.mean(scores),
                    "spread": max(scores) - min(scores),
                    "train_s": statistics.mean(seconds),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    device_arg(parser)
    parser.add_argument("--size", type=int, default=128, help="input side for costs and times")
    parser.add_argument("--batch", type=int, default=2, help="images per timed step")
    parser.add_argument("--no-train", action="store_true", help="skip the mIoU training")
    parser.add_argument("--train-model", default="hornet_nano_7x7")
    parser.add_argument("--train-channels", type=int, default=32, help="decoder width trained")
    parser.add_argument("--train-samples", type=int, default=320)
    parser.add_argument("--val-samples", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    if args.device != "cpu":
        parser.error("dense_bench times the CPU: pass --device cpu")

    print(f"machine: {machine()}")
    costs = _costs(args)
    print_table(
        costs,
        ["decoder", "channels", "params_M", "GMACs", "fwd_bwd_ms", "time_vs_conv"],
        f"decoders on HorNet-T maps, {args.size}x{args.size} input, 150 classes; "
        f"forward+backward of batch {args.batch}, ratio to the conv decoder of the pair",
    )
    payload = {"machine": machine(), "costs": costs}
    if not args.no_train:
        trained = _train_miou(args)
        seeds = ", ".join(str(s) for s in args.seeds)
        print_table(
            trained,
            ["decoder", "channels", *(f"mIoU_seed{s}" for s in args.seeds)]
            + ["mIoU_mean", "spread", "train_s"],
            f"val mIoU (%) after {args.epochs} epochs on {args.train_samples} built-in scenes, "
            f"{args.train_model}, seeds {seeds}",
        )
        payload["training"] = trained
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
