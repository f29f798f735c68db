"""TrainConfig: every field has a flag, recipes fill what was left out, bad values are named."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hornet_ref.cli import build_parser, main
from hornet_ref.hornet import model_config
from hornet_ref.train.config import (
    RECIPES,
    TASKS,
    ConfigError,
    TrainConfig,
    add_arguments,
    config_from_args,
    resolve,
)

ROOT = Path(__file__).resolve().parents[1]


def _parse(argv: list[str]) -> TrainConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_every_field_has_a_flag_that_sets_it():
    """Each dataclass field round-trips through its generated flag."""
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if "bool" in f.type:
            value = not f.default
            argv = [flag if value else "--no-" + flag[2:]]
        elif "int" in f.type:
            value, argv = 7, [flag, "7"]
        elif "float" in f.type:
            value, argv = 0.25, [flag, "0.25"]
        else:
            choices = f.metadata.get("choices")
            value = choices[-1] if choices else "x"
            argv = [flag, value]
        assert getattr(_parse(argv), f.name) == value, f.name


def test_flags_left_out_keep_the_dataclass_defaults():
    assert _parse([]) == TrainConfig()


def test_train_and_evaluate_are_registered_in_the_cli():
    args = build_parser().parse_args(["train", "--epochs", "3", "--no-channels-last"])
    assert args.command == "train" and args.epochs == 3 and args.channels_last is False
    args = build_parser().parse_args(["evaluate", "--checkpoint", "c.pt", "--data", "d"])
    assert args.command == "evaluate" and args.checkpoint == "c.pt"


@pytest.mark.parametrize(
    "data, recipe", [("builtin", "shapes"), ("cifar100", "cifar"), ("/some/imagenet", "imagenet")]
)
def test_the_recipe_follows_the_data(data, recipe):
    config = resolve(TrainConfig(data=data))
    assert config.recipe == recipe
    assert config.epochs == RECIPES[recipe]["epochs"]
    assert config.ema_decay == RECIPES[recipe]["ema_decay"]


def test_the_recipe_warmup_keeps_its_share_of_a_shorter_run():
    assert resolve(TrainConfig(data="/x", epochs=30)).warmup_epochs == pytest.approx(2.0)
    assert resolve(TrainConfig(data="/x", epochs=30, warmup_epochs=5)).warmup_epochs == 5


def test_given_values_win_over_the_recipe():
    config = resolve(TrainConfig(epochs=3, lr=1e-3, mixup=0.0))
    assert (config.epochs, config.lr, config.mixup) == (3, 1e-3, 0.0)


@pytest.mark.parametrize(
    "model, drop_path",
    [
        ("hornet_tiny_gf", 0.2),
        ("hornet_small_7x7", 0.4),
        ("hornet_base_gf", 0.5),
        ("hornet_large_gf", 0.2),
        ("hornet_nano_7x7", 0.1),
    ],
)
def test_imagenet_drop_path_follows_the_paper_by_model_size(model, drop_path):
    """The paper's T / S / B values, read from the variant table (not the model's name)."""
    assert model_config(model).train_drop_path == drop_path
    assert resolve(TrainConfig(data="/x", model=model)).drop_path == drop_path
    assert resolve(TrainConfig(data="/x", model=model, drop_path=0.3)).drop_path == 0.3


def test_the_imagenet_recipe_is_the_papers():
    c = resolve(TrainConfig(data="/x", model="hornet_tiny_7x7"))
    assert (c.lr, c.lr_batch, c.weight_decay, c.epochs, c.warmup_epochs) == (
        4e-3,
        4096,
        0.05,
        300,
        20,
    )
    assert (c.mixup, c.cutmix, c.label_smoothing, c.random_erasing, c.rand_augment) == (
        0.8,
        1.0,
        0.1,
        0.25,
        9,
    )
    assert c.min_lr == 1e-6 and c.ema_decay > 0 and c.clip_grad > 0


@pytest.mark.parametrize(
    "overrides, flag",
    [
        ({"epochs": 0}, "--epochs"),
        ({"batch_size": -1}, "--batch-size"),
        ({"drop_path": 1.0}, "--drop-path"),
        ({"layer_decay": 0.0}, "--layer-decay"),
        ({"mixup": -0.1}, "--mixup"),
        ({"warmup_epochs": 10, "epochs": 2}, "--warmup-epochs"),
        ({"device": "tpu"}, "--device"),
        ({"train_samples": 0}, "--train-samples"),
        ({"eval_every": 0}, "--eval-every"),
    ],
)
def test_bad_values_name_their_flag(overrides, flag):
    with pytest.raises(ConfigError, match=flag):
        resolve(TrainConfig(**overrides))


def test_the_config_is_plain_data():
    values = resolve(TrainConfig()).to_dict()
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in values.values())
    assert TrainConfig.from_dict(values) == resolve(TrainConfig())


def test_an_unknown_model_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--model", "hornet_tinyy", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        "hornet-ref train: error: unknown model 'hornet_tinyy'" in err and "hornet_tiny_gf" in err
    )
    assert not (tmp_path / "run").exists()


def test_every_flag_states_its_default_once():
    """No "(default: by data) (default: None)": one statement, and none that says None."""
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    for name in ("train", "evaluate"):
        help_text = " ".join(subcommands[name].format_help().split())
        assert "(default: None)" not in help_text, name
        for action in subcommands[name]._actions:
            assert (action.help or "").count("(default:") <= 1, action.dest
    threads = next(a for a in subcommands["train"]._actions if a.dest == "threads")
    assert threads.help == "CPU threads for torch (default: torch's own choice)"
    workers = next(a for a in subcommands["train"]._actions if a.dest == "workers")
    assert workers.help.endswith("(default: by data)")


def test_the_train_commands_parse_without_torch():
    """`hornet-ref train --help` needs only config.py and cli/train.py, which import no
    torch (the package root, whose imports another test checks, is bypassed here)."""
    code = textwrap.dedent(
        f"""
        import argparse, sys, types
        root = types.ModuleType("hornet_ref")
        root.__path__ = [{str(ROOT / "hornet_ref")!r}]
        sys.modules["hornet_ref"] = root
        from hornet_ref.cli import train as commands
        commands.register(argparse.ArgumentParser().add_subparsers())
        import hornet_ref.train as train
        print(train.RECIPES["shapes"]["epochs"])
        print(sorted(m for m in ("torch", "torchvision", "matplotlib", "tqdm") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["6", "[]"], out.stderr


def test_every_task_choice_has_a_task_in_the_registry():
    from hornet_ref.train.tasks import REGISTRY, get_task

    assert tuple(REGISTRY) == TASKS
    assert all(get_task(name).head_key.endswith("weight") for name in TASKS)
    with pytest.raises(
        ConfigError, match="--task must be one of classify, segment, detect; got 'x'"
    ):
        get_task("x")
