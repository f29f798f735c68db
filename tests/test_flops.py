"""Tests of hornet_ref/flops.py: multiply-accumulates of convs and linears, and parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hornet_ref import GnConv, channel_widths, count_flops, count_params, create_model

# From shared/spec/HORNET.md, "Published variants": GFLOPs (MACs) at the variant's resolution.
PUBLISHED_GFLOPS = {
    "hornet_tiny_7x7": (3.98, 224),
    "hornet_tiny_gf": (3.91, 224),
    "hornet_small_7x7": (8.83, 224),
    "hornet_small_gf": (8.73, 224),
    "hornet_base_7x7": (15.58, 224),
    "hornet_base_gf": (15.46, 224),
    "hornet_base_gf_img384": (45.44, 384),
    "hornet_large_7x7": (34.82, 224),
    "hornet_large_gf": (34.64, 224),
    "hornet_large_gf_img384": (101.81, 384),
}


@pytest.mark.parametrize("name", list(PUBLISHED_GFLOPS))
def test_published_gflops_within_three_percent(name):
    gflops, size = PUBLISHED_GFLOPS[name]
    with torch.device("meta"):
        model = create_model(name)
    assert next(model.parameters()).is_meta  # nothing was allocated
    measured = count_flops(model, size) / 1e9
    assert measured == pytest.approx(gflops, rel=0.03), f"{name}: {measured:.2f} vs {gflops}"


def test_conv_and_linear_by_hand():
    """Conv2d(3, 8, 3, pad 1) on 10x10: 8*10*10 outputs of 3*3*3 MACs; then Linear(800, 10)."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(800, 10))
    assert count_flops(model, 10) == 8 * 10 * 10 * 3 * 3 * 3 + 800 * 10
    assert count_params(model) == (8 * 3 * 3 * 3 + 8) + (800 * 10 + 10)


def test_rectangular_input_and_in_chans():
    model = nn.Conv2d(2, 4, kernel_size=1)
    assert count_flops(model, (6, 5), in_chans=2) == 4 * 2 * 6 * 5


@pytest.mark.parametrize("order", [1, 3, 5])
def test_gnconv_counts_only_its_convolutions(order):
    """proj_in, the depthwise 7x7 mixer, the pws and proj_out; the gating products are free."""
    dim, side = 32, 9
    d = channel_widths(dim, order)
    pixels = side * side
    expected = pixels * (
        dim * 2 * dim  # proj_in
        + sum(d) * 7 * 7  # depthwise mixer over S channels
        + sum(d[k - 1] * d[k] for k in range(1, order))  # pws
        + dim * dim  # proj_out
    )
    assert count_flops(GnConv(dim, order=order), side, in_chans=dim) == expected


def test_count_params_on_meta_allocates_nothing():
    with torch.device("meta"):
        model = nn.Linear(10_000, 10_000)
    assert count_params(model) == 10_000 * 10_000 + 10_000
