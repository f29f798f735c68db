"""Tests of hornet_ref/cli/ (__init__.py, info.py): the ``hornet-ref info`` subcommand and
the parser."""

from __future__ import annotations

import builtins
import importlib.metadata
import sys

import pytest

from hornet_ref.cli import main


def _rows(stdout: str) -> dict[str, list[str]]:
    """The table ``info`` prints, keyed by model name (header skipped)."""
    lines = stdout.strip().splitlines()
    assert lines[0].split() == ["name", "params", "input", "GFLOPs"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def test_info_prints_params_and_gflops(capsys):
    assert main(["info", "hornet_tiny_7x7", "hornet_base_gf_img384"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert list(rows) == ["hornet_tiny_7x7", "hornet_base_gf_img384"]
    params, size, gflops = rows["hornet_tiny_7x7"]
    assert params == "22,409,512" and size == "224"  # HORNET.md's table
    assert float(gflops) == pytest.approx(3.98, rel=0.03)
    params, size, gflops = rows["hornet_base_gf_img384"]
    assert params == "92,099,560" and size == "384"
    assert float(gflops) == pytest.approx(45.44, rel=0.03)


def test_info_img_size_scales_the_count(capsys):
    assert main(["info", "hornet_tiny_7x7", "--img-size", "448"]) == 0
    _, size, gflops = _rows(capsys.readouterr().out)["hornet_tiny_7x7"]
    assert size == "448"
    assert float(gflops) == pytest.approx(4 * 3.98, rel=0.03)  # every conv sees 4x the pixels


def test_info_unknown_name_exits_2_listing_valid_names(capsys):
    assert main(["info", "hornet_tiny_7x7", "hornet_huge"]) == 2
    captured = capsys.readouterr()
    assert "unknown model(s) ['hornet_huge']" in captured.err
    assert "hornet_tiny_7x7" in captured.err and "hornet_nano_gf" in captured.err
    assert captured.out == ""


def test_missing_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "hornet-ref: error: the following arguments are required: COMMAND (see hornet-ref --help)\n"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["train", "--lr", "abc"],
            "hornet-ref train: error: argument --lr: invalid float value: 'abc'",
        ),
        (["info", "--img-size", "big"], "hornet-ref info: error: argument --img-size: invalid int"),
        (
            ["evaluate"],
            "hornet-ref evaluate: error: the following arguments are required: --checkpoint",
        ),
        (["export", "--model", "hornet_nano_7x7"], "hornet-ref export: error: the following"),
        (["trian"], "hornet-ref: error: argument COMMAND: invalid choice: 'trian'"),
    ],
    ids=["train", "info", "evaluate", "export", "command"],
)
def test_argparse_errors_are_one_line_pointing_to_help(capsys, argv, line):
    """No usage block: the error, then where the flags are explained, on one line."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(line), err
    command = "hornet-ref" + (f" {argv[0]}" if argv[0] != "trian" else "")
    assert err.endswith(f"(see {command} --help)\n") and "usage:" not in err


def _broken_torchvision(monkeypatch) -> None:
    """Make every import of torchvision fail as a mismatched install does (the first
    import, and any later one, e.g. an error handler's)."""
    for name in list(sys.modules):
        if name == "torchvision" or name.startswith(("torchvision.", "hornet_ref.train.")):
            monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "torchvision" or name.startswith("torchvision."):
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    versions = {"torch": "2.5.1+cpu", "torchvision": "0.21.0"}
    monkeypatch.setattr(importlib.metadata, "version", lambda package: versions[package])


def test_a_mismatched_torchvision_is_one_line_naming_both_versions_and_the_fix(
    tmp_path, capsys, monkeypatch
):
    _broken_torchvision(monkeypatch)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("hornet-ref train: error: torch 2.5.1+cpu and torchvision 0.21.0")
    assert "torchvision::nms does not exist" in err
    fix = "pip install torch==2.5.1 torchvision==0.20.1 --index-url https://download.pytorch.org/whl/cpu"
    assert err.endswith(fix + "\n")
    assert not out.exists()


def test_the_broken_install_check_never_raises_and_ignores_other_errors(monkeypatch):
    from hornet_ref.cli._install import broken_install, matching_torchvision

    assert broken_install(ValueError("--lr must be > 0")) is None
    assert broken_install(RuntimeError("CUDA out of memory")) is None

    def fail(package):
        raise OSError("metadata unreadable")

    monkeypatch.setattr(importlib.metadata, "version", fail)
    assert broken_install(RuntimeError("operator torchvision::nms does not exist")) is None
    assert matching_torchvision("2.5.1") == "0.20.1" and matching_torchvision("1.13.1") is None
