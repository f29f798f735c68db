"""The recipe's parts: which parameters decay, lr scaling and schedule, layer decay, mixing, EMA."""

from __future__ import annotations

import pytest
import torch

from hornet_ref import create_model
from hornet_ref.train.config import TrainConfig, resolve
from hornet_ref.train.recipe import (
    WarmupCosine,
    build_ema,
    build_mixing,
    build_optimizer,
    build_scheduler,
    param_groups,
    scaled_lr,
)


def _names_by_decay(model: torch.nn.Module, groups: list[dict]) -> tuple[set[str], set[str]]:
    name_of = {id(p): n for n, p in model.named_parameters()}
    decay, no_decay = set(), set()
    for group in groups:
        names = {name_of[id(p)] for p in group["params"]}
        (decay if group["weight_decay"] > 0 else no_decay).update(names)
    return decay, no_decay


def test_no_weight_decay_on_norms_biases_and_layer_scale_but_on_gf_filters():
    model = create_model("hornet_nano_gf")
    decay, no_decay = _names_by_decay(model, param_groups(model, weight_decay=0.05))
    assert decay | no_decay == {n for n, _ in model.named_parameters()}
    shapes = {n: p.shape for n, p in model.named_parameters()}
    assert all(len(shapes[n]) >= 2 for n in decay) and all(len(shapes[n]) == 1 for n in no_decay)
    assert "stages.2.0.gnconv.dwconv.complex_weight" in decay
    for name in (
        "stages.0.0.gamma1",
        "stages.0.0.gamma2",
        "norm.weight",
        "head.bias",
        "stages.0.0.norm1.weight",
        "downsample_layers.0.1.bias",
        "stages.2.0.gnconv.dwconv.pre_norm.weight",
        "stages.1.0.gnconv.pws.0.bias",
    ):
        assert name in no_decay, name
    assert "stages.1.0.gnconv.pws.0.weight" in decay and "head.weight" in decay


def test_lr_scales_linearly_with_the_total_batch():
    config = resolve(TrainConfig(data="/x", batch_size=128, accum_steps=4))
    assert scaled_lr(config, world_size=8) == pytest.approx(4e-3)  # 128 * 4 * 8 = 4096
    assert scaled_lr(config, world_size=1) == pytest.approx(4e-3 / 8)


def test_warmup_then_cosine_to_the_floor():
    f = WarmupCosine(warmup=10, total=110, floor=0.01)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.01 + 0.99 * 0.5)
    assert f(110) == pytest.approx(0.01) and f(500) == pytest.approx(0.01)
    values = [f(t) for t in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_the_scheduler_drives_every_group_and_saves_as_plain_data(tmp_path):
    model = create_model("hornet_mini_7x7")
    config = resolve(TrainConfig(epochs=2, warmup_epochs=1, lr=1e-3, lr_batch=64, min_lr=1e-5))
    opt = build_optimizer(model, config, lr=1e-3)
    sched = build_scheduler(opt, config, lr=1e-3, updates_per_epoch=5)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[4] == pytest.approx(1e-3) and lrs[0] == pytest.approx(2e-4)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5)
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["lr_lambdas"][0]["total"] == 10


def test_layer_ids_come_from_the_model_and_rise_with_depth():
    with torch.device("meta"):
        model = create_model("hornet_tiny_7x7")  # depths (2, 3, 18, 2)
    names = [
        "downsample_layers.0.0.weight",
        "stages.0.0.gamma1",
        "stages.0.1.gamma1",
        "downsample_layers.1.1.weight",
        "stages.1.0.pwconv1.weight",
        "stages.3.1.gamma2",
        "norm.weight",
        "head.weight",
    ]
    ids = [model.layer_id(n) for n in names]
    assert ids == [0, 1, 2, 3, 3, 25, 26, 26]


def test_layer_decay_scales_early_layers_down():
    model = create_model("hornet_mini_7x7")
    groups = param_groups(model, weight_decay=0.05, layer_decay=0.5)
    name_of = {id(p): n for n, p in model.named_parameters()}
    scale = {name_of[id(p)]: g["lr_scale"] for g in groups for p in g["params"]}
    last = sum(model.config.depths) + 1
    assert scale["head.weight"] == 1.0
    assert scale["downsample_layers.0.0.weight"] == pytest.approx(0.5**last)
    assert scale["stages.0.0.gamma1"] == pytest.approx(0.5 ** (last - 1))


def test_without_layer_decay_every_group_has_the_full_lr():
    model = create_model("hornet_mini_7x7")
    assert {g["lr_scale"] for g in param_groups(model, weight_decay=0.05)} == {1.0}


def test_mixing_gives_soft_labels_that_sum_to_one():
    torch.manual_seed(0)
    mixing = build_mixing(resolve(TrainConfig(mixup=0.8, cutmix=1.0)), num_classes=10)
    images, labels = torch.rand(8, 3, 32, 32), torch.arange(8)
    mixed, soft = mixing(images, labels)
    assert mixed.shape == images.shape and soft.shape == (8, 10)
    assert torch.allclose(soft.sum(dim=1), torch.ones(8))
    assert not torch.equal(mixed, images)
    assert build_mixing(resolve(TrainConfig(mixup=0.0, cutmix=0.0)), num_classes=10) is None


def test_ema_moves_a_decay_fraction_toward_the_weights():
    model = torch.nn.Linear(2, 1, bias=False)
    ema = build_ema(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema.update_parameters(model)  # first update copies
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update_parameters(model)  # still warming up: decay min(0.9, 2 / 11)
    assert torch.allclose(ema.module.weight, torch.full((1, 2), 1 - 2 / 11))
    ema.n_averaged.fill_(1000)  # past the warm-up the decay is 0.9
    with torch.no_grad():
        model.weight.fill_(2.0)
    before = ema.module.weight.detach().clone()
    ema.update_parameters(model)
    assert torch.allclose(ema.module.weight, before + 0.1 * (2.0 - before))
    assert build_ema(model, decay=0.0) is None
