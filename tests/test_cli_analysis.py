"""Tests of the ``hornet-ref erf`` and ``hornet-ref interactions`` subcommands.

End to end on small models: each writes a PNG that decodes, has the size asked
for and is not blank. Bad input (a stage out of range, a checkpoint of another
variant, a missing file) ends with a one-line error and a non-zero exit, no
traceback and no file.
"""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib.image as mpimg
import pytest
import torch

from hornet_ref import create_model
from hornet_ref.cli import main


def _assert_real_png(path, width: int, height: int) -> None:
    pixels = mpimg.imread(path)  # raises if the file does not decode
    assert pixels.shape[:2] == (height, width)
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05  # not blank
    assert len(torch.unique(torch.from_numpy(rgb.reshape(-1, 3).copy()), dim=0)) > 50


@pytest.fixture(scope="module")
def nano_checkpoint(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("ckpt") / "nano.pth"
    torch.save({"model": create_model("hornet_nano_7x7").state_dict()}, path)
    return path


@pytest.mark.parametrize("recipe", ["replknet", "luo"])
def test_erf_writes_a_png_of_the_requested_size(tmp_path, capsys, recipe):
    out = tmp_path / "erf.png"
    argv = ["erf", "--model", "hornet_nano_7x7", "--images", "2", "--recipe", recipe]
    argv += ["--figsize", "8", "3", "--dpi", "50", "--out", str(out)]
    assert main(argv) == 0
    _assert_real_png(out, 400, 150)
    printed = capsys.readouterr().out
    assert all(f"stage {s}" in printed for s in range(4))
    assert f"wrote {out}" in printed


def test_erf_of_one_stage_with_trained_weights(tmp_path, capsys, nano_checkpoint):
    out = tmp_path / "erf.png"
    argv = ["erf", "--model", "hornet_nano_7x7", "--checkpoint", str(nano_checkpoint)]
    argv += ["--stage", "2", "--images", "2", "--out", str(out), "--figsize", "4", "4"]
    assert main(argv) == 0
    _assert_real_png(out, 400, 400)
    printed = capsys.readouterr().out
    assert "stage 2" in printed and "stage 1" not in printed


def test_interactions_writes_a_png_of_the_requested_size(tmp_path, capsys):
    out = tmp_path / "maps.png"
    argv = ["interactions", "--model", "hornet_mini_7x7", "--images", "1"]
    argv += ["--figsize", "12", "8", "--dpi", "40", "--out", str(out)]
    assert main(argv) == 0
    _assert_real_png(out, 480, 320)
    printed = capsys.readouterr().out
    # Every order of every stage's first gnConv reaches its 7x7 window (stage 3 map: 2x2).
    assert "stage 1 block 0 (n=3): reach p_0 1x1, p_1 7x7, p_2 7x7, p_3 7x7" in printed
    assert "stage 3 block 0 (n=5)" in printed


@pytest.mark.parametrize("command", ["erf", "interactions"])
def test_every_figure_names_its_weights_in_the_title(
    tmp_path, monkeypatch, command, nano_checkpoint
):
    import hornet_ref.plotting

    titles = []
    monkeypatch.setattr(
        hornet_ref.plotting,
        "save_figure",
        lambda fig, path, dpi=100: titles.append(fig.get_suptitle()),
    )
    argv = [command, "--model", "hornet_nano_7x7", "--stage", "3", "--images", "1"]
    argv += ["--out", str(tmp_path / "x.png")]
    assert main([*argv, "--seed", "3"]) == 0
    assert main([*argv, "--checkpoint", str(nano_checkpoint)]) == 0
    assert "(random init, seed 3" in titles[0]
    assert "(weights nano.pth" in titles[1]


def test_interactions_of_one_block_through_the_console_script(tmp_path):
    """The installed entry point, in a fresh process with no display: Agg is used."""
    out = tmp_path / "maps.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    env["OMP_NUM_THREADS"] = "1"
    argv = ["interactions", "--model", "hornet_mini_gf", "--img-size", "64", "--stage", "2"]
    argv += ["--block", "1", "--images", "1", "--out", str(out), "--figsize", "10", "3"]
    code = "import sys; from hornet_ref.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    _assert_real_png(out, 1000, 300)
    # GF mixer at stage 2 of a 64 px image: the map is 4x4 and every order covers it.
    assert "stage 2 block 1 (n=4): reach p_0 1x1, p_1 4x4, p_2 4x4, p_3 4x4, p_4 4x4" in run.stdout


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--images", "0", "must be >= 1, got 0"),
        ("--img-size", "0", "must be >= 1, got 0"),
        ("--batch-size", "-2", "must be >= 1, got -2"),
        ("--images", "x", "expected a whole number >= 1, got 'x'"),
    ],
)
def test_a_count_below_one_names_its_flag(tmp_path, capsys, flag, value, says):
    out = tmp_path / "x.png"
    with pytest.raises(SystemExit) as exit_info:
        main(["erf", "--model", "hornet_nano_7x7", "--out", str(out), flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"hornet-ref erf: error: argument {flag}: {says} (see hornet-ref erf --help)\n"
    assert not out.exists()


@pytest.mark.parametrize("command", ["erf", "interactions"])
def test_a_stage_out_of_range_is_a_usage_error(tmp_path, capsys, command):
    out = tmp_path / "x.png"
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--model", "hornet_nano_7x7", "--stage", "4", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "--stage: invalid choice: 4 (choose from 0, 1, 2, 3)" in capsys.readouterr().err
    assert not out.exists()


def test_a_block_out_of_range_is_an_error(tmp_path, capsys):
    out = tmp_path / "x.png"
    argv = ["interactions", "--model", "hornet_nano_7x7", "--stage", "0", "--block", "3"]
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "stage 0 of hornet_nano_7x7 has blocks 0..0, got --block 3" in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["erf", "interactions"])
def test_a_checkpoint_for_another_variant_is_a_clean_error(
    tmp_path, capsys, nano_checkpoint, command
):
    out = tmp_path / "x.png"
    argv = [command, "--model", "hornet_mini_7x7", "--checkpoint", str(nano_checkpoint)]
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hornet-ref {command}: error: checkpoint does not fit the model")
    assert "mis-shaped" in err and "Traceback" not in err
    assert not out.exists()


def test_a_missing_checkpoint_or_unknown_model_is_a_clean_error(tmp_path, capsys):
    out = tmp_path / "x.png"
    missing = tmp_path / "nope.pth"
    assert (
        main(["erf", "--model", "hornet_nano_7x7", "--checkpoint", str(missing), "--out", str(out)])
        == 1
    )
    assert f"no checkpoint file at {missing}" in capsys.readouterr().err
    assert main(["erf", "--model", "hornet_huge", "--out", str(out)]) == 1
    assert "unknown model 'hornet_huge'" in capsys.readouterr().err
    assert not out.exists()


def test_erf_and_interactions_take_published_weights_by_name(tmp_path, capsys, monkeypatch):
    """--pretrained reads the variant's file from torch.hub's cache (placed there, in the
    authors' layout, under the registry's name); without it and offline, one line."""
    from hornet_ref.pretrained import pretrained_cfg

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.manual_seed(2)
    source = pretrained_cfg("hornet_tiny_7x7")["sources"][-1].file_name  # the authors' link
    torch.save({"model": create_model("hornet_tiny_7x7").state_dict()}, cache / source)
    out = tmp_path / "erf.png"
    argv = ["erf", "--model", "hornet_tiny_7x7", "--pretrained", "--img-size", "64"]
    argv += ["--stage", "3", "--images", "1", "--out", str(out), "--figsize", "4", "4"]
    assert main(argv) == 0
    _assert_real_png(out, 400, 400)
    maps = tmp_path / "maps.png"
    argv = ["interactions", "--model", "hornet_tiny_7x7", "--pretrained", "--img-size", "64"]
    assert main([*argv, "--stage", "0", "--out", str(maps)]) == 0
    capsys.readouterr()

    (cache / source).unlink()
    monkeypatch.setattr(
        "socket.getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(OSError("no network"))
    )
    assert main(["erf", "--model", "hornet_tiny_7x7", "--pretrained", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not download the weights of hornet_tiny_7x7" in err
