"""Benchmark one gnConv: time and memory by order, against peers, and as the map grows.

    python benchmarks/gnconv_bench.py                 # CPU-sized run, a few minutes
    python benchmarks/gnconv_bench.py --batch 64      # on a GPU
    python benchmarks/gnconv_bench.py --json out.json --plot growth.png

    python benchmarks/gnconv_bench.py --tables readability --rounds 15   # einops cost only

Table "orders": forward and forward+backward of GnConv for orders 1..5 at the four
HorNet-T stage shapes, next to two spatial mixers of the same width with the same
input/output projections: a depthwise 7x7 block (1x1, dw 7x7, 1x1: gnConv
without the gating) and multi-head self-attention (nn.MultiheadAttention over the
H*W tokens).

Table "readability": what readability costs. Our GnConv (with its input checks
and the recording branch) and the same computation with its channel splits
written as einops.unpack, each against the bare computation in plain torch ops
(BareGnConv with torch.split), at the HorNet-T stage shapes and orders. The two
variants live here only. Each ratio is the median over rounds of the two times
taken in the same round. A second, identical plain version is timed as a control:
its ratio to the first is 1 up to the machine's noise, which tells how far from 1
a ratio must be to mean anything.

Table "growth" (and the plot): forward time as the map side grows 14 -> 112 at 64
channels: 7x7 gnConv (linear in H*W), GF gnConv (n log n), attention (quadratic).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from functools import partial

import torch
from _common import (
    device_arg,
    machine,
    median_ratio,
    print_table,
    step_memory_mb,
    time_interleaved,
    time_rounds,
    write_json,
)
from einops import rearrange, unpack
from torch import Tensor, nn

from hornet_ref import GlobalLocalFilter, GnConv

STAGES = [(64, 56, 2), (128, 28, 3), (256, 14, 4), (512, 7, 5)]  # (C, side, HorNet-T order)
TABLES = ("orders", "readability", "growth")


def torch_split(t: Tensor, widths: list[int]) -> tuple[Tensor, ...]:
    return torch.split(t, widths, dim=1)


def einops_unpack(t: Tensor, widths: list[int]) -> list[Tensor]:
    """How hornet_ref wrote GnConv's splits until this benchmark showed unpack's backward cost."""
    return unpack(t, [(w,) for w in widths], "b * h w")


class BareGnConv(nn.Module):
    """GnConv's computation without its input checks and recording, with the channel
    split given (benchmark only): torch_split is the plain-torch version."""

    def __init__(self, ref: GnConv, split: Callable[[Tensor, list[int]], Sequence[Tensor]]):
        super().__init__()
        self.ref = ref
        self.split = split

    def forward(self, x: Tensor) -> Tensor:
        g = self.ref
        p0, q = self.split(g.proj_in(x), [g.dims[0], sum(g.dims)])
        gates = self.split(g.dwconv(q) * g.scale, g.dims)
        p = p0 * gates[0]
        for k in range(1, g.order):
            p = g.pws[k - 1](p) * gates[k]
        return g.proj_out(p)


class DepthwiseBlock(nn.Sequential):
    """1x1 -> depthwise 7x7 -> 1x1: gnConv's projections and mixer without the gating."""

    def __init__(self, dim: int) -> None:
        super().__init__(
            nn.Conv2d(dim, dim, 1),
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            nn.Conv2d(dim, dim, 1),
        )


class Attention(nn.Module):
    """Multi-head self-attention over the H*W positions, heads of 32 channels."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, max(dim // 32, 1), batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        h = x.shape[-2]
        tokens = rearrange(x, "b c h w -> b (h w) c")
        out, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return rearrange(out, "b (h w) c -> b c h w", h=h)


def _steps(module: nn.Module, x: Tensor) -> dict[str, callable]:
    xg = x.detach().requires_grad_(True)

    def fwd() -> None:
        with torch.no_grad():
            module(x)

    def fwd_bwd() -> None:
        module(xg).sum().backward()

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def by_order(args: argparse.Namespace) -> list[dict]:
    rows = []
    for dim, side, _ in STAGES:
        x = torch.randn(args.batch, dim, side, side, device=args.device)
        candidates: dict[str, nn.Module] = {
            f"gnconv n={n}": GnConv(dim, order=n) for n in range(1, 6)
        }
        candidates["dw7x7 block"] = DepthwiseBlock(dim)
        candidates["attention"] = Attention(dim)
        fns, mem = {}, {}
        for name, module in candidates.items():
            module.to(args.device)
            for mode, fn in _steps(module, x).items():
                fns[(name, mode)] = fn
                mem[(name, mode)] = step_memory_mb(fn, args.device)
        times = time_interleaved(fns, rounds=args.rounds, min_time=args.min_time)
        for name in candidates:
            rows.append(
                {
                    "shape": f"{dim}x{side}x{side}",
                    "module": name,
                    "fwd ms": times[(name, "fwd")] * 1e3,
                    "fwd+bwd ms": times[(name, "fwd+bwd")] * 1e3,
                    "mem MB": mem[(name, "fwd+bwd")],
                }
            )
    return rows


def readability(args: argparse.Namespace) -> list[dict]:
    rows = []
    for dim, side, order in STAGES:
        x = torch.randn(args.batch, dim, side, side, device=args.device)
        ours = GnConv(dim, order=order).to(args.device)
        candidates = {
            "ours": ours,
            "einops.unpack": BareGnConv(ours, einops_unpack),
            "plain": BareGnConv(ours, torch_split),
            "plain again": BareGnConv(ours, torch_split),
        }
        fns = {
            (name, mode): fn
            for name, module in candidates.items()
            for mode, fn in _steps(module, x).items()
        }
        samples = time_rounds(fns, rounds=args.rounds, min_time=args.min_time)
        for name in ("ours", "einops.unpack", "plain again"):
            row = {"shape": f"{dim}x{side}x{side}", "order": order, "module": name}
            for mode in ("fwd", "fwd+bwd"):
                row[f"{mode} ms"] = statistics.median(samples[(name, mode)]) * 1e3
                row[f"{mode} x plain"] = median_ratio(
                    samples[(name, mode)], samples[("plain", mode)]
                )
            rows.append(row)
    return rows


def by_size(args: argparse.Namespace) -> list[dict]:
    dim, order = 64, 3
    rows = []
    for side in args.sides:
        x = torch.randn(args.growth_batch, dim, side, side, device=args.device)
        gf = partial(GlobalLocalFilter, h=side, w=side // 2 + 1)
        candidates = {
            "gnconv 7x7": GnConv(dim, order=order),
            "gnconv GF": GnConv(dim, order=order, mixer=gf),
            "attention": Attention(dim),
        }
        fns = {}
        for name, module in candidates.items():
            fns[name] = _steps(module.to(args.device), x)["fwd"]
        times = time_interleaved(fns, rounds=args.rounds, min_time=args.min_time)
        for name, t in times.items():
            rows.append({"side": side, "tokens": side * side, "module": name, "fwd ms": t * 1e3})
    return rows


def plot_growth(rows: list[dict], path, batch: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name in dict.fromkeys(r["module"] for r in rows):
        pts = [(r["tokens"], r["fwd ms"]) for r in rows if r["module"] == name]
        ax.loglog(*zip(*pts, strict=True), marker="o", label=name)
    ax.set_xlabel(f"positions H*W (64 channels, batch {batch})")
    ax.set_ylabel("forward time (ms)")
    ax.set_title("Spatial mixers as the map grows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=120)
    tmp.replace(path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    device_arg(parser)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sides", type=int, nargs="+", default=[14, 28, 56, 112])
    parser.add_argument(
        "--growth-batch", type=int, default=1, help="batch of the growth table (GPU: 32)"
    )
    parser.add_argument("--plot", type=__import__("pathlib").Path, default=None)
    parser.add_argument(
        "--tables",
        nargs="+",
        default=list(TABLES),
        choices=list(TABLES),
        help="which tables to measure (default: all)",
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"machine: {machine()}, batch {args.batch}")
    payload = {"machine": machine(), "batch": args.batch}
    if "orders" in args.tables:
        payload["by_order"] = by_order(args)
        print_table(
            payload["by_order"],
            ["shape", "module", "fwd ms", "fwd+bwd ms", "mem MB"],
            "gnConv by order at the HorNet-T stage shapes (memory: see _common.py)",
        )
    if "readability" in args.tables:
        payload["readability"] = readability(args)
        print_table(
            payload["readability"],
            ["shape", "order", "module", "fwd ms", "fwd x plain", "fwd+bwd ms", "fwd+bwd x plain"],
            "What readability costs: our GnConv and a control against plain torch "
            "(median per-round ratios)",
        )
    if "growth" in args.tables:
        payload["by_size"] = by_size(args)
        print_table(
            payload["by_size"], ["side", "tokens", "module", "fwd ms"], "Growth with map size"
        )
        if args.plot:
            plot_growth(payload["by_size"], args.plot, args.growth_batch)
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
