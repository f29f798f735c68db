"""Spatial mixers to compare gnConv with, each (B, C, H, W) -> (B, C, H, W).

- :func:`convnext_block`: the ConvNeXt block (Liu et al. 2022), a 7x7 depthwise conv,
  LayerNorm and an MLP around a residual: first-order spatial mixing with a 7x7 reach.
- :class:`SelfAttentionMixer`: multi-head self-attention over all positions
  (Vaswani et al. 2017; as in ViT, Dosovitskiy et al. 2021): global reach, and
  through the softmax not a polynomial of the input.

Only for analysis: the HorNet model does not use them.
"""

from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn
from torchvision.models.convnext import CNBlock

__all__ = ["SelfAttentionMixer", "convnext_block"]


def convnext_block(dim: int, *, layer_scale: float = 1.0) -> nn.Module:
    """A ConvNeXt block of width ``dim``: (B, dim, H, W) -> (B, dim, H, W).

    torchvision's ``CNBlock``: x + gamma * MLP(LN(DW7x7(x))). ``layer_scale`` is the
    initial gamma; the default 1.0 (not ConvNeXt's 1e-6) keeps the block from being
    an identity at initialisation, so its reach shows.
    """
    return CNBlock(dim, layer_scale=layer_scale, stochastic_depth_prob=0.0)


class SelfAttentionMixer(nn.Module):
    """Multi-head self-attention over the H * W positions: (B, dim, H, W) -> (B, dim, H, W).

    Every position attends to every other (no positional encoding, no residual):
    the mixer gnConv replaces, at the same width.

    Args:
        dim: channels, divisible by ``num_heads``.
        num_heads: attention heads.
    """

    def __init__(self, dim: int, num_heads: int = 4) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.dim = dim
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        tokens = rearrange(x, "b c h w -> b (h w) c")
        mixed, _ = self.attn(tokens, tokens, tokens, need_weights=False)  # (B, H * W, dim)
        return rearrange(mixed, "b (h w) c -> b c h w", h=height, w=width)
