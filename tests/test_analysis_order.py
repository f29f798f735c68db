"""Tests of hornet_ref/analysis/order.py: the measured interaction order.

gnConv of order n is a polynomial of degree n + 1 (Rao et al. 2022, Section 3.1):
finite differences must find exactly n + 1, a HorBlock (LayerNorm, GELU) must be
called "not a polynomial", and Harsanyi dividends must vanish above n + 1 players.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hornet_ref import GnConv, HorBlock, harsanyi_dividends, measure_order
from hornet_ref.analysis import compare_orders, gnconvs_by_order


def _bias_free(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


@settings(max_examples=8, deadline=None)
@given(
    order=st.integers(1, 5),
    width_factor=st.integers(1, 2),
    size=st.integers(3, 9),
    batch=st.integers(1, 2),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_measured_order_of_gnconv_is_n_plus_1(order, width_factor, size, batch, bias, seed):
    """For every order n, width, map size and batch, the measured degree is n + 1."""
    torch.manual_seed(seed)
    gnconv = GnConv(width_factor * 2 ** max(order - 1, 1), order=order)
    if not bias:
        _bias_free(gnconv)
    x = torch.randn(batch, gnconv.dim, size, size)
    result = measure_order(gnconv, x, max_order=7)
    assert result.degree == order + 1, result.verdict
    assert result.differences.dtype == torch.float64
    # The evidence: the (n+1)-th difference is far above rounding, every later one at it.
    assert result.relative[order] > 1e3 * result.rtol
    assert (result.relative[order + 1 :] <= result.rtol).all()


@pytest.mark.parametrize("layer_scale", [1e-6, 1.0])
def test_a_horblock_is_not_a_polynomial(layer_scale):
    """LayerNorm and GELU make a HorBlock non-polynomial: no degree, never a small wrong one.

    With HorNet's layer-scale of 1e-6 the block is an identity plus 1e-6 times the
    rest, which looks like a low-degree polynomial unless the measurement is careful.
    """
    torch.manual_seed(0)
    block = HorBlock(16, order=3, layer_scale_init_value=layer_scale)
    result = measure_order(block, torch.randn(2, 16, 8, 8))
    assert result.degree is None
    assert not result.is_polynomial
    assert "not a polynomial" in result.verdict


def test_measure_order_rejects_a_float32_callable():
    gnconv = GnConv(8, order=2)
    with pytest.raises(TypeError, match="float64"):
        measure_order(lambda x: gnconv(x.float()), torch.randn(1, 8, 5, 5))


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_harsanyi_dividends_vanish_above_n_plus_1_players(order):
    torch.manual_seed(order)
    gnconv = GnConv(16, order=order)
    x = torch.randn(16, 5, 5)
    # Pixels of the centre output's 7x7 window (here: the whole 5x5 input).
    players = [(2, 2), (1, 1), (2, 3), (3, 1), (0, 2), (4, 4), (1, 3), (3, 3)][: order + 3]
    result = harsanyi_dividends(gnconv, x, players)
    # float64 rounding is ~1e-16 of the largest value; real dividends sit far above it.
    peak = result.by_size.max()
    assert (result.by_size[order + 2 :] <= 1e-13 * peak).all()
    assert result.by_size[order + 1] > 1e-10 * peak
    assert result.largest_coalition == order + 1
    assert result.dividends.shape == (2 ** len(players),)


def test_harsanyi_dividends_add_up_to_the_output_gain():
    """Efficiency: the dividends of all coalitions sum to v(all) - v(none)."""
    torch.manual_seed(0)
    gnconv = GnConv(8, order=2).double()
    x = torch.randn(8, 5, 5, dtype=torch.float64)
    players = [(2, 2), (1, 2), (3, 3), (0, 0)]
    result = harsanyi_dividends(gnconv, x, players)
    empty = x.clone()
    for i, j in players:
        empty[:, i, j] = 0.0
    with torch.no_grad():
        gain = gnconv(x[None])[0, 0, 2, 2] - gnconv(empty[None])[0, 0, 2, 2]
    total = result.dividends[1:].sum()
    torch.testing.assert_close(total, gain, rtol=1e-10, atol=1e-12)


def test_compare_orders_over_gnconvs_of_orders_1_to_5():
    measured = compare_orders(gnconvs_by_order(16, range(1, 6)), torch.randn(1, 16, 6, 6))
    assert {label: m.degree for label, m in measured.items()} == {
        f"order {n}": n + 1 for n in range(1, 6)
    }
