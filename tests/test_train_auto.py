"""--recipe auto: the documented choices by dataset size, a short run's warm-up and EMA
horizon, the EMA's warm-up, and the one-line reason a run prints and stores."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from hornet_ref import CheckpointError
from hornet_ref.train import TrainConfig, fit
from hornet_ref.train.auto import (
    EMA_SHARE,
    MIN_EPOCHS,
    MIN_UPDATES_SMALL_SIDE,
    DataStats,
    choose,
    ema_horizon,
    tier,
)
from hornet_ref.train.config import RECIPES, explain, resolve
from hornet_ref.train.recipe import build_ema, ema_decay_at

IMAGENET = DataStats(1_281_167, 1000, 224)


def _auto(n: int, **given) -> TrainConfig:
    return resolve(TrainConfig(data="/some/folder", **given), DataStats(n, 10, 32))


@pytest.mark.parametrize(
    "n, name, batch, epochs, mixup, rand_augment",
    [
        (1_500, "small", 64, 61, 0.0, 0),  # 23 updates an epoch: 61 epochs for 1,400 updates
        (10_000, "small", 64, 9, 0.0, 0),  # 156 an epoch: 9 epochs
        (30_000, "medium", 128, 30, 0.2, 5),
        (100_000, "large", 128, 100, 0.8, 9),
    ],
)
def test_below_imagenet_scale_the_documented_choices(n, name, batch, epochs, mixup, rand_augment):
    assert tier(n) == name
    config = _auto(n)
    assert (config.batch_size, config.epochs) == (batch, epochs)
    assert (config.mixup, config.rand_augment) == (mixup, rand_augment)
    assert config.lr == 2e-3 and config.lr_batch == batch  # not 4e-3 scaled down from 4096
    updates = epochs * (n // batch)
    assert updates >= MIN_UPDATES_SMALL_SIDE and epochs >= MIN_EPOCHS  # a 32-px folder
    assert ema_horizon(config.ema_decay) == pytest.approx(EMA_SHARE * updates, rel=1e-3)


def test_small_folders_get_crops_that_keep_a_third_of_the_image_larger_ones_the_papers():
    assert _auto(1_500).crop_scale == 0.35 and _auto(10_000).crop_scale == 0.35
    assert _auto(30_000).crop_scale == _auto(100_000).crop_scale == 0.08
    assert {_auto(n).hflip for n in (1_500, 30_000, 100_000)} == {0.5}
    assert _auto(1_500, hflip=0.0, crop_scale=0.5).hflip == 0.0  # the user's call wins


@pytest.mark.parametrize("side, crop_scale", [(32, 0.35), (64, 0.08), (96, 0.08), (128, 0.08)])
def test_small_folders_trained_at_64_px_and_up_get_the_papers_crops(side, crop_scale):
    stats = DataStats(800, 10, side)
    config = resolve(TrainConfig(data="/some/folder", img_size=side), stats)
    assert config.crop_scale == crop_scale
    _, reason = choose(stats)
    assert f"folder crops >= {crop_scale:.0%} of the area" in reason
    given = resolve(TrainConfig(data="/some/folder", img_size=side, crop_scale=0.5), stats)
    assert given.crop_scale == 0.5  # the user's call wins at every side


@pytest.mark.parametrize("side, least", [(32, 1_400), (64, 700), (128, 700)])
def test_a_32_px_folder_gets_twice_the_updates_of_a_larger_one(side, least):
    stats = DataStats(1_600, 10, side)  # 25 updates an epoch at batch 64
    config = resolve(TrainConfig(data="/some/folder", img_size=side), stats)
    assert config.epochs == math.ceil(least / 25)  # 56 epochs at 32 px, 28 from 64
    _, reason = choose(stats)
    assert f"= {config.epochs * 25} updates (>= {least} updates and 8 epochs" in reason
    assert ("; 700 from 64 px)" in reason) == (side == 32)
    assert choose(stats, epochs=5)[0]["epochs"] == 5  # --epochs wins, and the line says so
    assert "(--epochs given)" in choose(stats, epochs=5)[1]
    assert choose(stats, finetune=True)[0]["epochs"] == max(10, math.ceil(300 / 25))


def test_the_folder_transform_follows_crop_scale_and_hflip():
    from torchvision.transforms import v2

    from hornet_ref.train.data import _train_transform

    config = _auto(1_500, hflip=0.0)
    steps = _train_transform(config, "folder", 32).transforms
    crop = next(t for t in steps if isinstance(t, v2.RandomResizedCrop))
    assert crop.scale == (0.35, 1.0)
    assert not any(isinstance(t, v2.RandomHorizontalFlip) for t in steps)
    steps = _train_transform(_auto(1_500), "folder", 32).transforms
    flips = [t for t in steps if isinstance(t, v2.RandomHorizontalFlip)]
    assert [t.p for t in flips] == [0.5]


@pytest.mark.parametrize("name, value", [("crop_scale", 0.0), ("crop_scale", 1.5), ("hflip", 2.0)])
def test_crop_scale_and_hflip_out_of_range_fail_in_one_line(name, value):
    from hornet_ref.train.config import ConfigError

    with pytest.raises(ConfigError, match=f"--{name.replace('_', '-')} must be in"):
        _auto(1_500, **{name: value})


def test_at_imagenet_scale_auto_is_the_papers_recipe_to_the_letter():
    auto = resolve(TrainConfig(data="/imagenet", model="hornet_tiny_gf"), IMAGENET)
    paper = resolve(TrainConfig(data="/imagenet", model="hornet_tiny_gf", recipe="imagenet"))
    assert auto.recipe == "auto" and paper.recipe == "imagenet"
    for name in RECIPES["imagenet"]:
        assert getattr(auto, name) == getattr(paper, name), name
    assert (paper.lr, paper.lr_batch, paper.epochs, paper.ema_decay) == (4e-3, 4096, 300, 0.9999)


def test_a_shortened_run_keeps_the_warmup_share_and_an_ema_horizon_of_a_tenth():
    """--epochs 15 on 1,500 images: 345 updates, 1 warm-up epoch (the paper's 20/300),
    an EMA averaging over about 35 updates rather than the paper's 10,000."""
    config = _auto(1_500, epochs=15)
    assert config.epochs == 15 and config.warmup_epochs == pytest.approx(1.0)
    assert ema_horizon(config.ema_decay) == pytest.approx(0.1 * 15 * 23, rel=1e-3)


def test_what_the_user_sets_wins_and_the_reason_says_so():
    config = _auto(1_500, lr=1e-3, mixup=0.5, ema_decay=0.0, batch_size=32)
    assert (config.lr, config.mixup, config.ema_decay, config.batch_size) == (1e-3, 0.5, 0, 32)
    assert config.epochs == math.ceil(MIN_UPDATES_SMALL_SIDE / (1_500 // 32))  # at its batch
    line = explain(TrainConfig(data="/x", lr=1e-3, mixup=0.5), DataStats(1_500, 10, 32))
    assert "\n" not in line and "small data" in line and "given: lr=0.001, mixup=0.5" in line


def test_a_tiny_set_gets_a_batch_that_leaves_eight_updates_an_epoch():
    config = _auto(100)
    assert config.batch_size == 8 and config.epochs * (100 // 8) >= MIN_UPDATES_SMALL_SIDE


def test_a_run_of_ten_updates_or_fewer_keeps_no_ema():
    assert _auto(1_500, epochs=1, batch_size=150).ema_decay == 0


def test_finetuning_lowers_the_lr_and_decays_it_by_layer():
    values, reason = choose(DataStats(1_500, 10, 224), finetune=True)
    assert values["lr"] < 2e-3 and values["layer_decay"] < 1 and "fine-tuning" in reason
    assert choose(IMAGENET, finetune=True)[0]["lr"] == values["lr"]


def test_finetuning_weights_of_a_small_variant_keeps_the_tiers_lr():
    """nano/mini have no published weights: a checkpoint of them was trained on small
    data, where lr 1e-4 stalled near 40%; a published variant's weights keep 1e-4."""
    stats = DataStats(1_500, 10, 32)
    here = TrainConfig(data="/x", finetune="/runs/shapes.pt", model="hornet_nano_7x7")
    published = TrainConfig(data="/x", finetune="/w/tiny.pth", model="hornet_tiny_7x7")
    assert resolve(here, stats).lr == 2e-3 and resolve(here, stats).layer_decay == 0.8
    assert resolve(published, stats).lr == 1e-4
    assert "no published weights" in explain(here, stats)
    assert "no published weights" not in explain(published, stats)
    assert resolve(TrainConfig(data="/x", finetune="/r.pt", model="hornet_nano_7x7", lr=5e-4),
                   stats).lr == 5e-4  # fmt: skip


def test_the_ema_decay_warms_up_then_holds():
    assert ema_decay_at(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay_at(0.999, 10_000) == 0.999
    ema = build_ema(nn.Linear(1, 1, bias=False), 0.999)
    model = nn.Linear(1, 1, bias=False)
    for value in (0.0, 1.0):  # the first update copies, the second averages with d = 2/11
        model.weight.data.fill_(value)
        ema.update_parameters(model)
    assert float(ema.module.weight.detach()) == pytest.approx(1 - 2 / 11)
    assert int(ema.n_averaged) == 2


def test_a_run_prints_and_stores_its_recipe_and_flags_a_young_ema(tmp_path, capsys):
    """64 built-in images, one epoch: auto picks batch 8 (8 updates), prints one recipe
    line, stores it in config.json; an EMA of horizon 100 is flagged as not meaningful."""
    out = tmp_path / "run"
    config = TrainConfig(
        model="hornet_mini_7x7", img_size=32, train_samples=64, val_samples=32, epochs=1,
        ema_decay=0.99, out=str(out), progress=False, workers=0,
    )  # fmt: skip
    result = fit(config)
    printed = capsys.readouterr().out
    assert result.config.batch_size == 8
    line = next(x for x in printed.splitlines() if x.startswith("recipe auto: 64 training"))
    assert "(small data)" in line and "given: epochs=1, ema_decay=0.99" in line
    assert json.loads((out / "config.json").read_text())["recipe_reason"] == line
    assert "EMA not meaningful yet: 8 of its 100-update horizon" in printed
    assert torch.isfinite(torch.tensor(result.history[0]["val_loss_ema"]))


def test_finetune_by_name_loads_the_published_weights_offline_with_a_fresh_head(
    tmp_path, capsys, published_weights
):
    """--finetune hornet_tiny_7x7 with its file already in torch.hub's cache: the model
    becomes that variant, the backbone is the file's (lr 0), the head has the data's 10
    classes, and auto picks its fine-tuning recipe."""
    source = published_weights("hornet_tiny_7x7", seed=1)
    config = TrainConfig(
        finetune="hornet_tiny_7x7", img_size=32, train_samples=8, val_samples=4,
        batch_size=4, epochs=1, lr=0.0, out=str(tmp_path / "run"), progress=False,
        workers=0,
    )  # fmt: skip
    result = fit(config)
    printed = capsys.readouterr().out
    assert result.config.model == "hornet_tiny_7x7"
    assert result.config.layer_decay < 1 and "fine-tuning" in printed
    tuned = result.model.state_dict()
    assert tuned["head.weight"].shape == (10, source["head.weight"].shape[1])
    for key in source:
        if not key.startswith("head."):
            assert torch.equal(tuned[key], source[key]), key


def test_finetune_by_a_name_without_published_weights_fails_in_one_line(tmp_path, capsys):
    from hornet_ref.cli import main

    argv = ["train", "--finetune", "hornet_nano_7x7", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no published weights" in err
    assert not (tmp_path / "run").exists()


def _folder(root, sides, *, classes=("cat", "dog")):
    """train/ and val/ with one PNG per side and class; each image a bit wider than high."""
    from PIL import Image

    for split in ("train", "val"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i, side in enumerate(sides):
                Image.new("RGB", (side + 3, side), (i * 20, 80, 160)).save(
                    root / split / name / f"{i}.png"
                )
    return str(root)


def _chosen(data: str, **given) -> tuple[TrainConfig, str]:
    from hornet_ref.train.task import ClassifyTask

    config = TrainConfig(data=data, **given)
    stats = ClassifyTask().stats(config)
    return resolve(config, stats), explain(config, stats)


@pytest.mark.parametrize(
    "sides, model, img_size, seen",
    [
        ((32,) * 5, "hornet_nano_7x7", 32, "sizes all 32 px: hornet_nano_7x7 at 32 px"),
        ((28, 36, 40, 44), "hornet_nano_7x7", 32, "sizes 28-44 px, median 40: hornet_nano_7x7"),
        ((120, 124, 128, 132, 140), "hornet_nano_s4_7x7", 128, "median 128: hornet_nano_s4_7x7 at"),
        ((48, 60, 64), "hornet_nano_s4_7x7", 64, "sizes 48-64 px, median 60: hornet_nano_s4_7x7"),
        ((24, 64, 100, 128, 512), "hornet_nano_s4_7x7", 96, "sizes 24-512 px, median 100"),
        ((300, 400, 800), "hornet_nano_s4_7x7", 224, "sizes 300-800 px, median 400"),  # at most 224
    ],
)
def test_a_folder_is_trained_at_its_median_side_with_a_model_to_suit(
    tmp_path, sides, model, img_size, seen
):
    config, line = _chosen(_folder(tmp_path, sides))
    assert (config.model, config.img_size) == (model, img_size)
    assert line.startswith("recipe auto: sizes") and seen in line
    assert f"{img_size} px, from scratch" in line  # the recipe's own words use that side


def test_a_given_model_or_img_size_wins_and_the_other_is_chosen_to_suit(tmp_path):
    data = _folder(tmp_path, (120, 128, 136))
    config, line = _chosen(data, model="hornet_nano_7x7")
    assert (config.model, config.img_size) == ("hornet_nano_7x7", 128)
    assert "128 px for hornet_nano_7x7 (--model given)" in line
    config, line = _chosen(data, img_size=32)
    assert (config.model, config.img_size) == ("hornet_nano_7x7", 32)
    assert "hornet_nano_7x7 for 32 px (--img-size given)" in line
    config, line = _chosen(data, img_size=96)
    assert (config.model, config.img_size) == ("hornet_nano_s4_7x7", 96)
    config, line = _chosen(data, model="hornet_tiny_7x7", img_size=64)
    assert (config.model, config.img_size) == ("hornet_tiny_7x7", 64)
    assert "(--model and --img-size given)" in line


def test_weights_trained_at_other_orders_are_fine_tuned_at_them(tmp_path):
    """--finetune FILE of a run trained with --orders builds the run's network at the
    file's orders; a given --orders wins (and a mismatch is then told when loading)."""
    from hornet_ref import create_model

    data = _folder(tmp_path / "data", (32,) * 2)
    weights = tmp_path / "orders.pth"
    torch.save(
        create_model("hornet_nano_7x7", orders=(1, 2, 5, 5), num_classes=2).state_dict(), weights
    )
    config = TrainConfig(
        data=data, finetune=str(weights), batch_size=4, epochs=1, out=str(tmp_path / "run"),
        progress=False, workers=0,
    )  # fmt: skip
    assert fit(config).config.orders == "1,2,5,5"
    with pytest.raises(CheckpointError, match=r"--orders 1,2,5,5 to train"):
        fit(replace(config, orders="3", out=str(tmp_path / "told")))


def test_a_named_recipe_and_the_built_in_data_keep_the_default_model_and_side(tmp_path):
    """Only a folder under auto is read: the built-in run is nano at 32 px, as before."""
    from hornet_ref.train.task import ClassifyTask

    config, line = _chosen("builtin")
    assert (config.model, config.img_size) == ("hornet_nano_7x7", None)
    assert ClassifyTask().img_size(config) == 32 and "sizes" not in line
    assert line.startswith("recipe auto: 12,000 training images (small data), 10 classes, 32 px")
    named = resolve(TrainConfig(data=_folder(tmp_path, (128,) * 3), recipe="imagenet"))
    assert (named.model, named.img_size) == ("hornet_nano_7x7", None)


def test_a_folder_run_prints_its_sizes_choice_and_conversions_in_its_first_lines(tmp_path, capsys):
    """A 64-px folder with a grayscale image: nano_s4 at 64 px, one update, the lines said."""
    from PIL import Image

    data = _folder(tmp_path / "data", (64,) * 4)
    Image.new("L", (70, 64), 90).save(tmp_path / "data" / "train" / "cat" / "gray.png")
    out = tmp_path / "run"
    config = TrainConfig(data=data, batch_size=4, epochs=1, out=str(out), progress=False, workers=0)
    result = fit(config)
    lines = capsys.readouterr().out.splitlines()
    assert (result.config.model, result.config.img_size) == ("hornet_nano_s4_7x7", 64)
    assert lines[0].startswith("hornet_nano_s4_7x7") and lines[0].endswith("64 px")
    assert lines[3] == "converted to RGB: 1 grayscale (of 17 images)"
    assert lines[4].startswith("recipe auto: sizes all 64 px: hornet_nano_s4_7x7 at 64 px;")
    assert json.loads((out / "config.json").read_text())["recipe_reason"] == lines[4]
