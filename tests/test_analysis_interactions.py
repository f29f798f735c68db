"""Tests of hornet_ref/analysis/interactions.py: per-order interaction maps and energy.

Products are taken position by position, so every order of a 7x7 gnConv reaches
exactly its 7x7 window (p_0, a 1x1 projection, only the query pixel), while the
Global-Local Filter reaches the whole map. The maps must equal a plain per-channel
autograd computation of the same Jacobian norm.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch

from hornet_ref import GlobalLocalFilter, GnConv, create_model, interaction_energy, interaction_maps


def test_every_order_of_a_7x7_gnconv_reaches_its_7x7_window():
    torch.manual_seed(0)
    gnconv = GnConv(16, order=5)
    maps = interaction_maps(gnconv, torch.randn(2, 16, 15, 15), query=(6, 8))
    assert maps.maps.shape == (6, 15, 15)
    assert maps.reach() == [(1, 1)] + [(7, 7)] * 5
    assert maps.maps[0, 6, 8] > 0
    window = torch.zeros(15, 15, dtype=torch.bool)
    window[3:10, 5:12] = True  # 7x7 around (6, 8)
    assert (maps.maps[1:, ~window] == 0).all()
    assert (maps.maps[1:, window] > 0).all()


def test_a_gf_mixer_reaches_the_whole_map_from_order_1():
    torch.manual_seed(0)
    gnconv = GnConv(16, order=3, mixer=partial(GlobalLocalFilter, h=12, w=7))
    maps = interaction_maps(gnconv, torch.randn(2, 16, 12, 12))
    assert maps.reach() == [(1, 1)] + [(12, 12)] * 3
    assert (maps.maps[1:] > 0).all()


def test_maps_equal_the_jacobian_norm_computed_channel_by_channel():
    torch.manual_seed(0)
    gnconv = GnConv(8, order=3)
    x = torch.randn(3, 8, 9, 9, requires_grad=True)
    maps = interaction_maps(gnconv, x)
    _, rec = gnconv(x, return_interactions=True)
    for k, p_k in enumerate(rec.p):
        squares = torch.zeros(3, 9, 9)
        for c in range(p_k.shape[1]):
            (grad,) = torch.autograd.grad(p_k[:, c, 4, 4].sum(), x, retain_graph=True)
            squares += grad.pow(2).sum(dim=1)
        torch.testing.assert_close(maps.maps[k], squares.sqrt().mean(dim=0))
    # The random-probe estimate has the same support and roughly the same size.
    estimate = interaction_maps(gnconv, x, probes=4)
    assert estimate.reach() == maps.reach()
    ratio = estimate.maps.sum(dim=(1, 2)) / maps.maps.sum(dim=(1, 2))
    assert ((ratio > 0.5) & (ratio < 1.5)).all()


def test_maps_of_a_hornet_block_against_its_input_and_the_image():
    torch.manual_seed(0)
    model = create_model("hornet_mini_7x7")
    images = torch.randn(1, 3, 64, 64)
    own = interaction_maps(model, images, module=(1, 0), probes=4)
    assert own.name == "stages.1.0.gnconv"
    assert own.maps.shape == (4, 8, 8) and own.stride == 1  # stage 1 map: 64 / 8
    assert own.reach() == [(1, 1)] + [(7, 7)] * 3
    through = interaction_maps(model, images, module=(1, 0), wrt="image", probes=4)
    assert through.maps.shape == (4, 64, 64) and through.stride == 8
    with pytest.raises(ValueError, match="no GnConv 'stages.1.5.gnconv'"):
        interaction_maps(model, images, module=(1, 5))
    with pytest.raises(ValueError, match=r"3-channel input .* shape \(1, 1, 64, 64\)"):
        interaction_maps(model, torch.randn(1, 1, 64, 64), module=(1, 0))


def test_energy_is_the_rms_of_each_p_k_and_gate():
    torch.manual_seed(0)
    gnconv = GnConv(16, order=3)
    x = torch.randn(2, 16, 10, 10)
    energy = interaction_energy(gnconv, x)
    assert list(energy) == [""]
    with torch.no_grad():
        _, rec = gnconv(x, return_interactions=True)
    expected_p = torch.stack([(p**2).mean().sqrt() for p in rec.p])
    expected_gates = torch.stack([(g**2).mean().sqrt() for g in rec.gates])
    torch.testing.assert_close(energy[""].p, expected_p)
    torch.testing.assert_close(energy[""].gates, expected_gates)
    names = list(interaction_energy(create_model("hornet_mini_7x7"), torch.randn(1, 3, 64, 64)))
    assert names == ["stages.0.0.gnconv", "stages.1.0.gnconv", "stages.2.0.gnconv",
                     "stages.2.1.gnconv", "stages.3.0.gnconv"]  # fmt: skip
