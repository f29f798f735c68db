"""Tests of hornet_ref/analysis/erf.py: effective receptive fields and area ratios.

A 7x7 depthwise mixer gives one gnConv a 7x7 reach, two in a row 13x13, and the
Global-Local Filter the whole map; the area ratio is checked on maps whose answer is
known by hand, for monotonicity in t, and on thresholds no square can reach.
"""

from __future__ import annotations

import warnings
from functools import partial

import pytest
import torch
from torch import nn

from hornet_ref import (
    GlobalLocalFilter,
    GnConv,
    create_model,
    effective_receptive_field,
    high_contribution_area_ratio,
)
from hornet_ref.analysis import (
    area_ratios,
    compare_erfs,
    mixers_by_kind,
    noise_images,
    random_vs_trained,
    stage_erfs,
)


@pytest.fixture(scope="module")
def nano():
    torch.manual_seed(0)
    return create_model("hornet_nano_7x7")


SIZE = 21  # odd, so the centre unit sits in the middle: (10, 10)
RECIPES = ["luo", "replknet"]


def _support(erf: torch.Tensor) -> tuple[slice, slice]:
    """The bounding box of the non-zero entries of an (H, W) map."""
    rows, cols = torch.nonzero(erf, as_tuple=True)
    return slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)


def _centred_square(side: int, size: int = SIZE) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    lo = size // 2 - side // 2
    mask[lo : lo + side, lo : lo + side] = True
    return mask


@pytest.mark.parametrize("recipe", RECIPES)
def test_erf_of_one_7x7_gnconv_is_zero_outside_7x7_and_nonzero_inside(recipe):
    torch.manual_seed(0)
    gnconv = GnConv(16, order=3)
    erf = effective_receptive_field(gnconv, noise_images(4, SIZE, channels=16), recipe=recipe)
    assert erf.shape == (SIZE, SIZE)
    window = _centred_square(7)
    assert (erf[~window] == 0).all()
    assert (erf[window] > 0).all()


def test_erf_of_two_stacked_7x7_gnconvs_is_13x13():
    torch.manual_seed(0)
    stack = nn.Sequential(GnConv(16, order=2), GnConv(16, order=3))
    erf = effective_receptive_field(stack, noise_images(4, SIZE, channels=16), recipe="luo")
    window = _centred_square(13)
    assert (erf[~window] == 0).all()
    assert (erf[window] > 0).all()


def test_erf_of_a_gf_mixer_covers_the_whole_map():
    torch.manual_seed(0)
    gnconv = GnConv(16, order=3, mixer=partial(GlobalLocalFilter, h=SIZE, w=SIZE // 2 + 1))
    erf = effective_receptive_field(gnconv, noise_images(4, SIZE, channels=16), recipe="luo")
    assert (erf > 0).all()


def test_erf_stops_after_the_requested_hornet_stage(nano):
    """The stage-s ERF of a HorNet equals the ERF of the network cut after stage s."""
    torch.manual_seed(0)
    model = nano.eval()
    images = noise_images(2, 32)
    erfs = stage_erfs(model, images, stages=[0, 2], recipe="luo")

    def cut_after_stage_2(x):
        for i in range(3):
            x = model.stages[i](model.downsample_layers[i](x))
        return x

    direct = effective_receptive_field(cut_after_stage_2, images, recipe="luo")
    torch.testing.assert_close(erfs[1], direct)
    # Stage 0 of hornet_nano: a 2x2 stride-2 stem, then one 7x7 gnConv: 14x14 pixels.
    rows, cols = _support(erfs[0])
    assert (rows.stop - rows.start, cols.stop - cols.start) == (14, 14)


def test_area_ratio_grows_with_t():
    torch.manual_seed(0)
    gnconv = GnConv(16, order=3)
    erf = effective_receptive_field(gnconv, noise_images(2, SIZE, channels=16))
    thresholds = [0.05, 0.2, 0.3, 0.5, 0.8, 0.99, 1.0]
    ratios = [high_contribution_area_ratio(erf, t).ratio for t in thresholds]
    assert ratios == sorted(ratios)
    assert ratios[0] < ratios[-1]


@pytest.mark.parametrize(
    ("t", "side"),
    # A uniform 5x5 square holds k*k/25 in the centred k x k square (k odd, <= 5).
    [(0.2, 3), (0.3, 3), (0.36, 3), (0.37, 5), (0.5, 5), (0.99, 5), (1.0, 5)],
)
def test_area_ratio_of_a_uniform_square_is_known(t, side):
    erf = _centred_square(5, size=15).double()
    result = high_contribution_area_ratio(erf, t)
    assert result.reached
    assert result.side == side
    assert result.ratio == pytest.approx(side**2 / 15**2)


@pytest.mark.parametrize("t", [0.0, 0.2, 0.5, 0.99, 1.0])
def test_area_ratio_of_a_single_centre_pixel_is_one_pixel(t):
    erf = torch.zeros(16, 12)
    erf[8, 6] = 3.0
    result = high_contribution_area_ratio(erf, t)
    assert result.side == 1
    assert float(result) == pytest.approx(1 / (16 * 12))


@pytest.mark.parametrize(
    ("erf", "t"),
    [
        (torch.ones(9, 9), 1.5),  # more than the whole map
        (torch.zeros(9, 9), 0.2),  # nothing to hold
        (torch.ones(8, 8), 0.99),  # an even map: the largest centred square misses a row
    ],
)
def test_area_ratio_of_an_unreachable_threshold_is_one_with_a_warning(erf, t):
    with pytest.warns(RuntimeWarning, match="no centred square"):
        result = high_contribution_area_ratio(erf, t)
    assert result.ratio == 1.0
    assert not result.reached
    assert result.side is None


def test_area_ratios_default_thresholds_never_raise_on_a_corner_heavy_map():
    erf = torch.zeros(10, 10)
    erf[0, 0] = 1.0  # outside every centred square of an even map
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ratios = area_ratios(erf)
    assert list(ratios) == [0.2, 0.3, 0.5, 0.99]
    assert all(r.ratio == 1.0 and not r.reached for r in ratios.values())
    assert len(caught) == 4


def test_erf_rejects_images_of_the_wrong_channel_count(nano):
    with pytest.raises(ValueError, match=r"3-channel input .* got an image batch of shape \(2, 4"):
        effective_receptive_field(nano, torch.randn(2, 4, 32, 32))


@pytest.mark.parametrize("stage", [4, -1, 7])
def test_erf_rejects_a_stage_index_out_of_range(nano, stage):
    with pytest.raises(ValueError, match=r"stages 0\.\.3"):
        effective_receptive_field(nano, torch.randn(1, 3, 32, 32), stage=stage)


def test_area_ratio_rejects_a_map_that_is_not_an_erf():
    with pytest.raises(ValueError, match="non-negative"):
        high_contribution_area_ratio(torch.randn(9, 9), 0.5)
    with pytest.raises(ValueError, match=r"\(H, W\) map"):
        high_contribution_area_ratio(torch.ones(2, 9, 9), 0.5)


def test_compared_mixers_reach_their_window_or_the_whole_map():
    """gnConv 7x7 and the ConvNeXt block see 7x7; gnConv GF and self-attention see all."""
    mixers = mixers_by_kind(dim=16, size=SIZE, order=3)
    erfs = compare_erfs(mixers, noise_images(2, SIZE, channels=16), recipe="luo")
    window = _centred_square(7)
    for local in ("gnConv 7x7", "ConvNeXt block"):
        assert (erfs[local][~window] == 0).all() and (erfs[local][window] > 0).all()
    for global_ in ("gnConv GF", "self-attention"):
        assert (erfs[global_] > 0).all()


def test_random_vs_trained_loads_the_checkpoint_into_the_second_model(tmp_path):
    torch.manual_seed(5)
    trained = create_model("hornet_nano_7x7", layer_scale_init_value=1.0)
    path = tmp_path / "nano.pth"
    torch.save(trained.state_dict(), path)
    images = noise_images(2, 32)
    erfs = random_vs_trained(
        "hornet_nano_7x7", images, checkpoint=path, stages=[1, 3], recipe="luo"
    )
    assert erfs["trained"].shape == erfs["random init"].shape == (2, 32, 32)
    torch.testing.assert_close(
        erfs["trained"], stage_erfs(trained, images, stages=[1, 3], recipe="luo")
    )
    assert not torch.allclose(erfs["trained"], erfs["random init"])


def test_random_vs_trained_by_name_uses_the_published_weights_in_the_cache(tmp_path):
    """No path: the variant's published file, here random weights in mmpretrain's layout
    placed in torch.hub's cache under the name the registry downloads (nothing is fetched)."""
    from hornet_ref.pretrained import pretrained_cfg

    torch.manual_seed(6)
    trained = create_model("hornet_tiny_7x7", layer_scale_init_value=1.0)
    mm = {
        ("head.fc." + k[5:] if k.startswith("head.") else "backbone." + k)
        .replace(".pws.", ".projs.")
        .replace("backbone.norm.", "backbone.norm3.")
        + (".weight" if k.endswith((".gamma1", ".gamma2")) else ""): v
        for k, v in trained.state_dict().items()
    }
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        cache = tmp_path / "checkpoints"
        cache.mkdir()
        torch.save(
            {"state_dict": mm}, cache / pretrained_cfg("hornet_tiny_7x7")["sources"][0].file_name
        )
        images = noise_images(1, 64)
        erfs = random_vs_trained("hornet_tiny_7x7", images, stages=[3], recipe="luo")
    finally:
        torch.hub.set_dir(before)
    torch.testing.assert_close(
        erfs["trained"], stage_erfs(trained.eval(), images, stages=[3], recipe="luo")
    )
