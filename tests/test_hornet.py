"""Tests of hornet_ref/hornet.py: HorBlock, HorNet, the named variants.

Parity with the authors' code on two small networks, exact parameter counts and
checkpoint keys of the ten published variants (on the meta device, so the large
ones cost nothing), timm's backbone conventions, and the error messages.
"""

from __future__ import annotations

import pytest
import torch

from hornet_ref import HorNet, HorNetConfig, create_model, list_models, model_config

# From shared/spec/HORNET.md, "Published variants (1000-class head)".
PUBLISHED_PARAMS = {
    "hornet_tiny_7x7": 22_409_512,
    "hornet_tiny_gf": 22_991_848,
    "hornet_small_7x7": 49_528_264,
    "hornet_small_gf": 50_401_768,
    "hornet_base_7x7": 87_256_680,
    "hornet_base_gf": 88_421_352,
    "hornet_base_gf_img384": 92_099_560,
    "hornet_large_7x7": 194_542_504,
    "hornet_large_gf": 196_289_512,
    "hornet_large_gf_img384": 201_806_824,
}
NETWORK_FIXTURES = ["hornet_mini_7x7", "hornet_mini_gf"]


def _hornet_from_config(config: dict) -> HorNet:
    """The HorNet a parity fixture's "config" describes (the authors' field names)."""
    gf_sizes = config.get("gf_sizes", [None] * 4)
    mixers = []
    for mixer, size in zip(config["mixers"], gf_sizes, strict=True):
        if mixer == "dwconv7x7":
            mixers.append(None)
        elif mixer == "global_local_filter":
            mixers.append(tuple(size))
        else:
            raise AssertionError(f"fixture has an unknown mixer {mixer!r}")
    arch = HorNetConfig(
        base_dim=config["base_dim"],
        depths=tuple(config["depths"]),
        orders=tuple(config["orders"]),
        gf_sizes=tuple(mixers),
        scale=config["s"],
        num_classes=config["num_classes"],
    )
    return HorNet(arch).eval()


def _meta_model(name: str, **overrides) -> HorNet:
    with torch.device("meta"):
        return create_model(name, **overrides)


@pytest.fixture(scope="module")
def mini() -> HorNet:
    torch.manual_seed(0)
    return create_model("hornet_mini_7x7").eval()


# --- parity with the authors' code ------------------------------------------------------


@pytest.mark.parametrize("name", NETWORK_FIXTURES)
def test_hornet_matches_authors_outputs_and_stage_maps(parity, name):
    data = parity(name)
    model = _hornet_from_config(data["config"])
    model.load_state_dict(data["state_dict"], strict=True)
    assert set(data["inputs"]) == set(data["stage_outputs"])
    with torch.no_grad():
        for key, x in data["inputs"].items():
            torch.testing.assert_close(model(x), data["outputs"][key], rtol=0, atol=1e-5)
            maps = model.forward_intermediates(x, intermediates_only=True)
            assert len(maps) == len(data["stage_outputs"][key]) == 4
            for mine, theirs in zip(maps, data["stage_outputs"][key], strict=True):
                torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-5)


def test_gf_network_fixture_exercises_filter_resizing(parity):
    """At 160 px the GF stages see 10x10 and 5x5 maps, not the (14, 8)/(7, 4) filters."""
    data = parity("hornet_mini_gf")
    assert data["inputs"]["x_160"].shape[-2:] == (160, 160)
    assert [tuple(m.shape[-2:]) for m in data["stage_outputs"]["x_160"]][2:] == [(10, 10), (5, 5)]


@pytest.mark.parametrize("name", NETWORK_FIXTURES)
def test_named_mini_models_load_the_fixture_weights_strictly(parity, name):
    data = parity(name)
    model = create_model(name).eval()
    model.load_state_dict(data["state_dict"], strict=True)
    key, x = next(iter(data["inputs"].items()))
    with torch.no_grad():
        torch.testing.assert_close(model(x), data["outputs"][key], rtol=0, atol=1e-5)


# --- the published variants -------------------------------------------------------------


def test_list_models_names_the_ten_published_variants_first():
    names = list_models()
    assert names[:10] == list(PUBLISHED_PARAMS)
    small = {"hornet_mini_7x7", "hornet_mini_gf", "hornet_nano_7x7", "hornet_nano_gf"}
    assert small | {"hornet_nano_s4_7x7"} <= set(names)


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMS))
def test_published_variant_has_the_authors_parameters_keys_and_shapes(name, official_state_dicts):
    spec = official_state_dicts[name]
    model = _meta_model(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMS[name]
    assert spec["num_params"] == PUBLISHED_PARAMS[name]
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(ours) - set(spec["state_dict"])) == []
    assert sorted(set(spec["state_dict"]) - set(ours)) == []
    assert ours == spec["state_dict"]


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMS))
def test_published_variant_loads_a_state_dict_of_the_authors_keys_strictly(
    name, official_state_dicts
):
    model = _meta_model(name)
    state = {
        k: torch.empty(shape, device="meta")
        for k, shape in official_state_dicts[name]["state_dict"].items()
    }
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_hornet_tiny_gf_loads_random_weights_of_the_authors_layout(official_state_dicts):
    gen = torch.Generator().manual_seed(0)
    shapes = official_state_dicts["hornet_tiny_gf"]["state_dict"]
    state = {k: torch.randn(shape, generator=gen) for k, shape in shapes.items()}
    model = create_model("hornet_tiny_gf")
    model.load_state_dict(state, strict=True)
    loaded = model.state_dict()
    for key in ("stages.2.17.gnconv.dwconv.complex_weight", "head.weight", "stages.3.1.gamma2"):
        assert torch.equal(loaded[key], state[key])


def test_published_configs_follow_the_spec():
    for name in PUBLISHED_PARAMS:
        config = model_config(name)
        assert config.depths == (2, 3, 18, 2)
        assert config.orders == (2, 3, 4, 5)
        assert config.scale == pytest.approx(1 / 3)
        assert config.stem_patch == 4 and config.num_classes == 1000
        if name.endswith("img384"):
            assert config.gf_sizes == (None, None, (24, 13), (12, 7)) and config.img_size == 384
        elif name.endswith("gf"):
            assert config.gf_sizes == (None, None, (14, 8), (7, 4)) and config.img_size == 224
        else:
            assert config.gf_sizes == (None,) * 4


# --- timm's conventions -----------------------------------------------------------------


def test_forward_features_and_forward_head(mini):
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        features = mini.forward_features(x)
        assert features.shape == (2, mini.num_features, 2, 3)
        assert mini.num_features == 128
        pre_logits = mini.forward_head(features, pre_logits=True)
        assert pre_logits.shape == (2, 128)
        logits = mini.forward_head(features)
        assert logits.shape == (2, 10)
        torch.testing.assert_close(logits, mini(x))
        torch.testing.assert_close(logits, mini.head(pre_logits))


def test_forward_intermediates_indices_and_options(mini):
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        stages, h = [], x
        for downsample, stage in zip(mini.downsample_layers, mini.stages, strict=True):
            h = stage(downsample(h))
            stages.append(h)

        final, maps = mini.forward_intermediates(x)
        torch.testing.assert_close(final, stages[3])
        assert len(maps) == 4
        for mine, expected in zip(maps, stages, strict=True):
            torch.testing.assert_close(mine, expected)

        _, last_two = mini.forward_intermediates(x, indices=2)
        assert [m.shape[1] for m in last_two] == [64, 128]
        torch.testing.assert_close(last_two[0], stages[2])

        _, chosen = mini.forward_intermediates(x, indices=[0, -1])
        torch.testing.assert_close(chosen[0], stages[0])
        torch.testing.assert_close(chosen[1], stages[3])

        only = mini.forward_intermediates(x, indices=[1], intermediates_only=True)
        assert isinstance(only, list) and len(only) == 1
        torch.testing.assert_close(only[0], stages[1])

        early_final, early = mini.forward_intermediates(x, indices=[1], stop_early=True)
        torch.testing.assert_close(early_final, stages[1])
        torch.testing.assert_close(early[0], stages[1])

        full_final, _ = mini.forward_intermediates(x, indices=[1])
        torch.testing.assert_close(full_final, stages[3])


@pytest.mark.parametrize("indices", [0, 5, [], [4], [-5]])
def test_forward_intermediates_rejects_bad_indices(mini, indices):
    with pytest.raises(ValueError, match="indices"):
        mini.forward_intermediates(torch.randn(1, 3, 32, 32), indices=indices)


@pytest.mark.parametrize("name", ["hornet_mini_7x7", "hornet_nano_gf"])
def test_feature_info_describes_the_stage_maps(name):
    model = create_model(name).eval()
    side = 64 if name.startswith("hornet_mini") else 32
    with torch.no_grad():
        maps = model.forward_intermediates(torch.randn(1, 3, side, side), intermediates_only=True)
    assert len(model.feature_info) == 4
    for info, fmap in zip(model.feature_info, maps, strict=True):
        assert info["num_chs"] == fmap.shape[1]
        assert info["reduction"] == side // fmap.shape[-1]
    assert [info["num_chs"] for info in model.feature_info] == model.config.dims


def test_num_classes_zero_gives_a_feature_extractor():
    model = create_model("hornet_mini_7x7", num_classes=0).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, model.num_features)
        torch.testing.assert_close(out, model.forward_head(model.forward_features(x), True))
    assert not any(k.startswith("head.") for k in model.state_dict())


def test_reset_classifier_replaces_the_head(mini):
    model = create_model("hornet_mini_7x7").eval()
    x = torch.randn(2, 3, 64, 64)
    model.reset_classifier(7)
    assert model.num_classes == 7
    with torch.no_grad():
        assert model(x).shape == (2, 7)
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (2, model.num_features)


def test_in_chans_and_tiny_images():
    model = create_model("hornet_nano_7x7", in_chans=1).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 32, 32)).shape == (3, 10)
    with torch.no_grad():
        assert create_model("hornet_nano_gf").eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_drop_path_is_stochastic_in_training_and_off_in_eval():
    torch.manual_seed(0)
    model = create_model("hornet_mini_7x7", drop_path_rate=0.5, layer_scale_init_value=1.0)
    rates = [getattr(block.drop_path, "p", 0.0) for stage in model.stages for block in stage]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.5)
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x), model(x))
        model.eval()
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("p", [0.25, 0.9])
def test_drop_path_equals_torchvisions_stochastic_depth_bit_for_bit(p):
    """Our DropPath draws the same per-sample mask as StochasticDepth(p, "row"): same values."""
    from torchvision.ops import StochasticDepth

    from hornet_ref.hornet import DropPath

    x = torch.randn(64, 8, 3, 3)
    ours, theirs = DropPath(p), StochasticDepth(p, "row")
    torch.manual_seed(1)
    a = ours(x)
    torch.manual_seed(1)
    b = theirs(x)
    assert torch.equal(a, b)
    dropped = (a == 0).flatten(1).all(dim=1)  # whole samples are zeroed, the rest scaled
    assert 0 < dropped.sum() < 64
    torch.testing.assert_close(a[~dropped], x[~dropped] / (1 - p))
    assert torch.equal(ours.eval()(x), x)


def test_drop_path_rate_rises_linearly_over_all_blocks():
    model = _meta_model("hornet_tiny_7x7", drop_path_rate=0.2)
    rates = [getattr(block.drop_path, "p", 0.0) for stage in model.stages for block in stage]
    assert len(rates) == 25
    expected = [0.2 * i / 24 for i in range(25)]
    assert rates == pytest.approx(expected)


def test_grad_checkpointing_recomputes_blocks_with_the_same_outputs_and_gradients():
    """set_grad_checkpointing (timm's name) changes memory, not math: the same logits and
    parameter gradients in training, the same state_dict keys, and no effect in eval."""
    torch.manual_seed(0)
    plain = create_model("hornet_mini_7x7").train()
    checkpointed = create_model("hornet_mini_7x7").train()
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.set_grad_checkpointing()
    x = torch.randn(2, 3, 64, 64)
    out_plain, out_checkpointed = plain(x), checkpointed(x)
    assert torch.allclose(out_plain, out_checkpointed)
    out_plain.square().sum().backward()
    out_checkpointed.square().sum().backward()
    grads = dict(checkpointed.named_parameters())
    for name, p in plain.named_parameters():
        assert torch.allclose(p.grad, grads[name].grad, atol=1e-6), name
    assert checkpointed.state_dict().keys() == plain.state_dict().keys()
    checkpointed.set_grad_checkpointing(False)
    assert not checkpointed.grad_checkpointing


def test_the_variant_table_carries_the_papers_training_drop_path():
    """HORNET.md: drop path 0.2 / 0.4 / 0.5 for T / S / B; the network built uses none."""
    sizes = {"tiny": 0.2, "small": 0.4, "base": 0.5, "large": 0.2}
    for name in list_models():
        size = name.split("_")[1]
        assert model_config(name).train_drop_path == sizes.get(size, 0.1), name
        assert model_config(name).drop_path_rate == 0.0, name


def test_layer_scale_zero_removes_gammas():
    model = create_model("hornet_mini_7x7", layer_scale_init_value=0.0)
    assert not any("gamma" in k for k in model.state_dict())
    default = create_model("hornet_mini_7x7")
    torch.testing.assert_close(default.stages[0][0].gamma1, torch.full((16,), 1e-6))


def test_hornet_batch_elements_do_not_interact(mini):
    x = torch.randn(3, 3, 64, 64)
    perturbed = x.clone()
    perturbed[1] = torch.randn(3, 64, 64)
    with torch.no_grad():
        y, y_perturbed = mini(x), mini(perturbed)
    torch.testing.assert_close(y_perturbed[[0, 2]], y[[0, 2]], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(y_perturbed[1], y[1])


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((1, 1, 64, 64), r"expects images \(B, 3, H, W\), got shape \(1, 1, 64, 64\)"),
        ((3, 64, 64), r"expects images \(B, 3, H, W\)"),
        ((1, 3, 65, 64), r"divisible by 32, got \(65, 64\)"),
        ((1, 3, 64, 48), r"divisible by 32, got \(64, 48\)"),
    ],
)
def test_hornet_rejects_bad_images(mini, shape, match):
    with pytest.raises(ValueError, match=match):
        mini(torch.randn(shape))


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"depths": (1, 1, 1)}, r"4 stages: depths has 3"),
        ({"orders": (2, 3, 4, 5, 6)}, r"4 stages: orders has 5"),
        ({"gf_sizes": (None,)}, r"4 stages: gf_sizes has 1"),
        ({"base_dim": 3}, r"stage 0: width 3 .* not divisible by 2\*\*\(order-1\) = 2"),
        ({"orders": (2, 3, 4, 0)}, r"stage 3"),
        ({"depths": (1, -1, 1, 1)}, r"depths must be >= 0"),
        ({"drop_path_rate": 1.0}, r"drop_path_rate must be in \[0, 1\), got 1.0"),
        ({"num_classes": -1}, r"num_classes >= 0"),
        ({"stem_patch": 0}, r"stem_patch >= 1"),
    ],
)
def test_bad_hornet_config_raises_naming_the_field(fields, match):
    with pytest.raises(ValueError, match=match):
        HorNet(HorNetConfig(**fields))


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'hornet_huge'") as info:
        create_model("hornet_huge")
    for name in list_models():
        assert name in str(info.value)


def test_unknown_override_is_named():
    with pytest.raises(ValueError, match=r"unknown HorNet option\(s\) \['colour'\]") as info:
        create_model("hornet_mini_7x7", colour="blue")
    assert "drop_path_rate" in str(info.value)
