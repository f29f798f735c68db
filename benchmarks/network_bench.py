"""Benchmark whole networks: HorNet-T (7x7 and GF) against torchvision's ConvNeXt-T and Swin-T.

    python benchmarks/network_bench.py                       # CPU: batch 8 at 224, eager
    python benchmarks/network_bench.py --settings fp32 amp cl compile
    python benchmarks/network_bench.py --batch 128 --settings amp+cl compile+amp+cl  # GPU

For each model: inference (no_grad forward) and one training step (forward,
cross-entropy, backward, SGD step), in the same interleaved rounds, reported as
milliseconds, images per second, memory (see _common.py), the ratio to
convnext_tiny and the ratio to the first setting given (the same model), each the
median over rounds of the ratio within a round: every setting and model is timed
in the same interleaved rounds. The IQR columns give the quartiles of the per-round
ratios to the first setting: the noise that the median ratio sits in. Settings
(--settings): fp32 eager; amp, bf16 autocast (fp16 on CUDA devices without bf16); cl,
the channels_last memory format; compile, torch.compile (fullgraph=True for HorNet);
and combinations.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics

import torch
import torchvision
from _common import (
    device_arg,
    machine,
    median_ratio,
    print_table,
    ratio_quartiles,
    step_memory_mb,
    time_rounds,
    write_json,
)
from torch import nn

import hornet_ref

SETTINGS = ["fp32", "amp", "cl", "amp+cl", "compile", "compile+cl", "compile+amp", "compile+amp+cl"]

PEERS = {
    "hornet_tiny_7x7": lambda: hornet_ref.create_model("hornet_tiny_7x7"),
    "hornet_tiny_gf": lambda: hornet_ref.create_model("hornet_tiny_gf"),
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(),
    "swin_t": lambda: torchvision.models.swin_t(),
}


def _amp_dtype(device: str) -> torch.dtype:
    if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def _steps(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, amp: bool, device: str):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    autocast = (
        (lambda: torch.autocast(device_type=device.split(":")[0], dtype=_amp_dtype(device)))
        if amp
        else contextlib.nullcontext
    )

    def infer() -> None:
        model.eval()
        with torch.no_grad(), autocast():
            model(x)

    def train() -> None:
        model.train()
        with autocast():
            loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return infer, train


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    device_arg(parser)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--models", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["fp32"],
        choices=SETTINGS,
        help="what to time: amp = bf16 autocast (fp16 where no bf16), cl = channels_last, "
        "compile = torch.compile (fullgraph for HorNet)",
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    device = args.device
    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    labels = torch.randint(0, 1000, (args.batch,), device=device)
    settings = [
        (name, "amp" in name.split("+"), "cl" in name.split("+"), "compile" in name.split("+"))
        for name in args.settings
    ]

    print(f"machine: {machine()}, batch {args.batch} at {args.img_size}")
    # Every (setting, model, step) is timed in the same interleaved rounds, so the
    # ratios between settings are as fair as those between models.
    fns, mem = {}, {}
    for label, amp, channels_last, compiled in settings:
        for name in args.models:
            torch.manual_seed(0)
            model = PEERS[name]().to(device)
            xin = x
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
                xin = x.contiguous(memory_format=torch.channels_last)
            if compiled:
                model = torch.compile(model, fullgraph=name.startswith("hornet"))
            infer, train = _steps(model, xin, labels, amp, device)
            fns[(label, name, "infer")], fns[(label, name, "train")] = infer, train
            train()  # compile/warm before measuring memory
            mem[(label, name)] = step_memory_mb(train, device)
    samples = time_rounds(fns, rounds=args.rounds, min_time=args.min_time)
    rows = []
    first = settings[0][0]
    for label, *_ in settings:
        for name in args.models:
            ti = statistics.median(samples[(label, name, "infer")])
            tt = statistics.median(samples[(label, name, "train")])
            row = {
                "setting": label,
                "model": name,
                "infer ms": ti * 1e3,
                "infer img/s": args.batch / ti,
                "train ms": tt * 1e3,
                "train img/s": args.batch / tt,
                "mem MB": mem[(label, name)],
            }
            for step in ("infer", "train"):
                if "convnext_tiny" in args.models:
                    row[f"{step} x convnext"] = median_ratio(
                        samples[(label, name, step)], samples[(label, "convnext_tiny", step)]
                    )
                row[f"{step} x {first}"] = median_ratio(
                    samples[(label, name, step)], samples[(first, name, step)]
                )
                q1, q3 = ratio_quartiles(samples[(label, name, step)], samples[(first, name, step)])
                row[f"{step} x {first} IQR"] = f"{q1:.2f}-{q3:.2f}"
            rows.append(row)
    columns = [
        "setting",
        "model",
        "infer ms",
        "infer img/s",
        "train ms",
        "train img/s",
        "mem MB",
        "infer x convnext",
        "train x convnext",
        f"infer x {first}",
        f"infer x {first} IQR",
        f"train x {first}",
        f"train x {first} IQR",
    ]
    print_table(rows, columns, "Whole networks (memory: see _common.py)")
    write_json(
        args.json,
        {"machine": machine(), "batch": args.batch, "img_size": args.img_size, "rows": rows},
    )


if __name__ == "__main__":
    main()
