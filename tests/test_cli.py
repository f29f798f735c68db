"""Tests of hornet_ref/cli.py: the ``hornet-ref info`` subcommand and the parser."""

from __future__ import annotations

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
    assert "usage: hornet-ref" in capsys.readouterr().err
