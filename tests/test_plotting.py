"""Tests of hornet_ref/plotting.py: figures from the analysis results, saved atomically.

Each figure is checked for what a reader needs (one panel per map, colorbars,
labelled axes, the colormap of its kind, area ratios in ERF titles) and that it
renders to a non-blank PNG of the requested size.
"""

from __future__ import annotations

import os

import matplotlib.image as mpimg
import pytest
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from hornet_ref import GnConv, create_model, harsanyi_dividends, interaction_maps, measure_order
from hornet_ref.plotting import (
    ERF_CMAP,
    INTERACTION_CMAP,
    plot_curves,
    plot_erf,
    plot_harsanyi,
    plot_interaction_maps,
    plot_order_evidence,
    save_figure,
)


def _images(fig: Figure):
    return [im for ax in fig.axes for im in ax.get_images()]


def _colorbars(fig: Figure) -> int:
    return sum(ax.get_label() == "<colorbar>" for ax in fig.axes)


def test_interaction_maps_figure_has_one_panel_per_order_and_a_colorbar_per_row():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 12, 12)
    rows = {f"order {n}": interaction_maps(GnConv(16, order=n), x) for n in (2, 4)}
    fig = plot_interaction_maps(rows, title="reach per order")
    images = _images(fig)
    assert len(images) == 3 + 5  # p_0..p_2 and p_0..p_4
    assert {im.get_cmap().name for im in images} == {INTERACTION_CMAP}
    assert _colorbars(fig) == 2
    titled = [ax for ax in fig.axes if ax.get_images()]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in titled)
    assert titled[1].get_title() == "$p_{1}$: reach 7x7"
    assert titled[1].get_xlabel() == "x (feature-map position)"  # maps over the gnConv's input


def test_interaction_maps_against_the_image_are_labelled_in_image_pixels():
    torch.manual_seed(0)
    model = create_model("hornet_mini_7x7", layer_scale_init_value=1.0).eval()
    maps = interaction_maps(model, torch.randn(1, 3, 64, 64), module=(1, 0), wrt="image")
    assert maps.stride == 8
    ax = next(ax for ax in plot_interaction_maps(maps).axes if ax.get_images())
    assert ax.get_xlabel() == "x (image pixel)"


def test_erf_figure_titles_carry_the_area_ratios():
    erf = torch.zeros(15, 15)
    erf[5:10, 5:10] = 1.0  # a uniform 5x5 square: ratio 9/225 at t=0.2, 25/225 at 0.5
    fig = plot_erf({"square": erf, "pixel": torch.eye(15)[7:8].T @ torch.eye(15)[7:8]})
    images = _images(fig)
    assert len(images) == 2 and {im.get_cmap().name for im in images} == {ERF_CMAP}
    assert _colorbars(fig) == 2
    title = fig.axes[0].get_title()
    assert "square" in title and f"0.2: {9 / 225:.2g}" in title and f"0.5: {25 / 225:.2g}" in title
    logged = plot_erf(erf, log_floor=1e-16)
    assert isinstance(_images(logged)[0].norm, LogNorm)


def test_erf_colours_tell_apart_two_erfs_whose_area_ratios_differ():
    """Same bright centre, one with a faint wide tail (area ratio at t=0.99 about 40x
    larger): linear colours draw them almost alike, the default log colours do not."""
    centre = torch.zeros(64, 64)
    centre[28:36, 28:36] = 1.0
    tailed = centre + 1e-3 * (centre == 0)

    def differing_pixels(**options) -> float:
        fig = plot_erf({"centre": centre, "tailed": tailed}, **options)
        a, b = (im.to_rgba(im.get_array()) for im in _images(fig))
        return float((abs(a - b).max(axis=-1) > 0.1).mean())

    assert differing_pixels(log_floor=None) < 0.01
    assert differing_pixels() > 0.9
    assert isinstance(_images(plot_erf(centre))[0].norm, LogNorm)


def test_erf_figure_marks_unreachable_ratios():
    erf = torch.zeros(8, 8)
    erf[0, 0] = 1.0
    with pytest.warns(RuntimeWarning):
        fig = plot_erf(erf)
    assert "0.2: 1*" in fig.axes[0].get_title()


def test_order_and_dividend_figures_have_one_line_per_measurement():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 5, 5)
    measurements = {f"order {n}": measure_order(GnConv(8, order=n), x) for n in (1, 2)}
    fig = plot_order_evidence(measurements)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3  # two measurements and the threshold
    assert ax.get_yscale() == "log" and ax.get_xlabel() and ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["order 1: degree 2", "order 2: degree 3"]
    dividends = harsanyi_dividends(GnConv(8, order=2), x, [(2, 2), (1, 1), (3, 3)])
    assert len(plot_harsanyi(dividends).axes[0].get_lines()) == 1


def test_a_one_epoch_run_shows_labelled_points_on_axes_from_zero():
    row = {"epoch": 1, "train_loss": 1.9, "val_loss": 1.5, "val_acc1": 45.2, "val_acc1_ema": 10.0}
    fig = plot_curves([row], epochs=1, title="hornet_nano_7x7 on builtin, from random init")
    ax_loss, ax_metric = fig.axes
    for ax in (ax_loss, ax_metric):
        assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] >= 2  # not 0.5 .. 1.5
    assert ax_loss.get_ylim()[0] == 0 and ax_loss.get_ylim()[1] > 1.9
    assert ax_metric.get_ylim() == (0, 100)
    assert {t.get_text() for t in ax_metric.texts} == {"45.2", "10"}
    assert {t.get_text() for t in ax_loss.texts} == {"1.9", "1.5"}
    assert fig.get_suptitle().endswith("from random init")


def test_a_long_run_has_curves_without_value_labels():
    rows = [
        {"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e, "val_acc1": 10 * e}
        for e in range(1, 9)
    ]
    fig = plot_curves(rows)
    assert all(not ax.texts for ax in fig.axes)
    assert fig.axes[1].get_ylim()[1] < 100  # the data's own range


def test_a_run_validated_every_few_epochs_draws_validation_at_those_epochs_only():
    """--eval-every 3 over 7 epochs: train loss at every epoch, validation at 1, 3, 6, 7."""
    rows = [{"epoch": e, "train_loss": 2 / e} for e in range(1, 8)]
    for row in rows:
        if row["epoch"] in (1, 3, 6, 7):
            row |= {"val_loss": 2.2 / row["epoch"], "val_acc1": 10.0 * row["epoch"]}
            row["val_acc1_ema"] = row["val_acc1"] - 1
    ax_loss, ax_metric = plot_curves(rows).axes
    train, val = ax_loss.get_lines()
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5, 6, 7]
    assert list(val.get_xdata()) == [1, 3, 6, 7]
    top1, ema = ax_metric.get_lines()
    assert list(top1.get_ydata()) == [10.0, 30.0, 60.0, 70.0]
    assert list(ema.get_ydata()) == [9.0, 29.0, 59.0, 69.0]


def test_save_figure_writes_a_png_of_the_figure_size_atomically(tmp_path):
    fig = plot_erf(torch.rand(9, 9), figsize=(4.0, 3.0))
    path = save_figure(fig, tmp_path / "erf.png", dpi=50)
    pixels = mpimg.imread(path)
    assert pixels.shape[:2] == (150, 200)
    assert pixels[..., :3].std() > 0.05  # not blank
    assert os.listdir(tmp_path) == ["erf.png"]  # no temporary file left behind


def test_save_figure_keeps_the_old_file_when_saving_fails(tmp_path):
    path = tmp_path / "erf.png"
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        save_figure(plot_erf(torch.rand(9, 9)), tmp_path / "erf.notaformat")
    save_fails = plot_erf(torch.rand(9, 9))
    save_fails.savefig = None  # any error while writing
    with pytest.raises(TypeError):
        save_figure(save_fails, path)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["erf.png"]
