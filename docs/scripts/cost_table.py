"""Multiply-accumulates of one gnConv against one self-attention layer, HorNet-T shapes.

    python docs/scripts/cost_table.py

Prints the Markdown table of the Concepts page ("Cost"). Every number is counted
with ``hornet_ref.count_flops`` on modules built on the meta device (nothing is
allocated) and checked against the closed-form formulas the page derives, so a
change to either the code or the formulas fails here first.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from hornet_ref import GnConv, channel_widths, count_flops

# HorNet-T at 224x224 (spec): (C, map side, order n) for stages 1-4.
STAGES = [(64, 56, 2), (128, 28, 3), (256, 14, 4), (512, 7, 5)]
KERNEL = 7  # the default mixer's kernel, and Swin's window side
HEAD_DIM = 32


class _SelfAttention(nn.Module):
    """Multi-head self-attention on (B, C, H, W), over the whole map or over windows.

    Written with explicit matmuls: torch's flop counter does not count
    ``scaled_dot_product_attention`` on CPU, and this must be counted.
    """

    def __init__(self, dim: int, window: int | None = None) -> None:
        super().__init__()
        self.heads, self.window = dim // HEAD_DIM, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        m = self.window or h  # a global layer is one window of the whole map
        tokens = rearrange(x, "b c (nh m1) (nw m2) -> (b nh nw) (m1 m2) c", m1=m, m2=m)
        q, k, v = rearrange(
            self.qkv(tokens), "n t (three e d) -> three n e t d", three=3, e=self.heads
        )
        attn = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)  # (n, e, t, t)
        out = rearrange(attn @ v, "n e t d -> n t (e d)")
        out = self.proj(out)
        return rearrange(out, "(b nh nw) (m1 m2) c -> b c (nh m1) (nw m2)", b=b, nh=h // m, m1=m)


def gnconv_macs(dim: int, side: int, order: int, kernel: int = KERNEL) -> int:
    """HW (3C^2 + 2 sum_{k<n-1} d_k^2 + K^2 S): proj_in, proj_out, pws and the mixer."""
    d = channel_widths(dim, order)
    pws = sum(d[k] * d[k + 1] for k in range(order - 1))
    return side * side * (2 * dim * dim + dim * dim + pws + kernel * kernel * sum(d))


def attention_macs(dim: int, side: int, window: int | None = None) -> int:
    """4 N C^2 for the projections plus 2 N M C for QK^T and AV, M tokens per window."""
    n = side * side
    m = n if window is None else window * window
    return 4 * n * dim * dim + 2 * n * m * dim


def _counted(module: nn.Module, dim: int, side: int) -> int:
    return count_flops(module, side, in_chans=dim)


def main() -> None:
    print(
        "| stage | C | map | n | gnConv | global attention | 7x7-window attention "
        "| global / gnConv |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for i, (dim, side, order) in enumerate(STAGES):
        with torch.device("meta"):
            gn = _counted(GnConv(dim, order=order), dim, side)
            glob = _counted(_SelfAttention(dim), dim, side)
            win = _counted(_SelfAttention(dim, window=KERNEL), dim, side)
        assert gn == gnconv_macs(dim, side, order), (gn, gnconv_macs(dim, side, order))
        assert glob == attention_macs(dim, side), (glob, attention_macs(dim, side))
        assert win == attention_macs(dim, side, KERNEL), (win, attention_macs(dim, side, KERNEL))
        print(
            f"| {i + 1} | {dim} | {side}x{side} | {order} | {gn / 1e6:.1f} M | {glob / 1e6:.1f} M "
            f"| {win / 1e6:.1f} M | {glob / gn:.1f}x |"
        )


if __name__ == "__main__":
    main()
