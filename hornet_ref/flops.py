"""Counting a model's multiply-accumulates with torch.utils.flop_counter.

Vision papers (HorNet's included) quote "FLOPs" that are multiply-accumulates
(MACs) of convolutions and linear layers; elementwise products, norms,
activations and FFTs are not counted. torch's FlopCounterMode counts 2 FLOPs
per MAC for exactly the matrix and convolution ops, so we halve its total.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_params"]


def count_params(model: nn.Module) -> int:
    """Number of parameters (works on the meta device: nothing is allocated)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_size: int | tuple[int, int], *, in_chans: int = 3) -> int:
    """Multiply-accumulates of convs and linears for one image of ``input_size``.

    ``input_size`` is a side (224) or (H, W). The model may live on the meta device,
    which makes counting the large variants free. Returns an int (divide by 1e9 for
    the "GFLOPs" of the HorNet tables).
    """
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(1, in_chans, h, w, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2
