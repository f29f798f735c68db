"""The order study: any order for any variant, the no-gating control, its tasks, its resume."""

from __future__ import annotations

import json
from functools import partial

import pytest
import torch

from hornet_ref import HorBlock, create_model
from hornet_ref.gnconv import GnConv, UngatedConv
from hornet_ref.study import (
    VARIANTS,
    Recipe,
    StudyError,
    Task,
    TaskData,
    distinguishable,
    format_table,
    load_results,
    make_same_different,
    plot_accuracy,
    run_study,
    summarise,
)
from hornet_ref.train.config import ConfigError, TrainConfig, parse_orders, resolve


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_create_model_takes_one_order_for_every_stage(order):
    model = create_model("hornet_nano_7x7", orders=order)
    gnconvs = [m for m in model.modules() if isinstance(m, GnConv)]
    assert len(gnconvs) == sum(model.config.depths)
    assert {g.order for g in gnconvs} == {order}
    assert model.config.orders == (order,) * 4
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, model.config.num_classes)


def test_create_model_takes_a_per_stage_list_of_orders():
    model = create_model("hornet_nano_7x7", orders=[5, 4, 3, 2])
    assert model.config.orders == (5, 4, 3, 2)
    for stage, order in enumerate((5, 4, 3, 2)):
        assert {b.gnconv.order for b in model.stages[stage]} == {order}


def test_more_orders_cost_more_parameters():
    params = [
        sum(p.numel() for p in create_model("hornet_nano_7x7", orders=n).parameters())
        for n in range(1, 6)
    ]
    assert params == sorted(params) and len(set(params)) == 5


@pytest.mark.parametrize("orders", [0, (2, 3, 0, 5), -1])
def test_order_below_one_is_refused_in_one_line(orders):
    with pytest.raises(ValueError, match="integer >= 1") as info:
        create_model("hornet_nano_7x7", orders=orders)
    assert "\n" not in str(info.value)


def test_no_gating_control_keeps_shapes_and_drops_the_gating_parameters():
    dim = 32
    control = UngatedConv(dim)
    x = torch.randn(2, dim, 9, 11)
    assert control(x).shape == x.shape
    # proj_in C->C (1x1 + bias), depthwise 7x7 (+ bias), proj_out C->C (1x1 + bias).
    expected = (dim * dim + dim) + (dim * 49 + dim) + (dim * dim + dim)
    assert sum(p.numel() for p in control.parameters()) == expected

    block = HorBlock(dim, order=3, gating=False)
    assert isinstance(block.gnconv, UngatedConv)
    assert block(x).shape == x.shape
    gated = sum(p.numel() for p in HorBlock(dim, order=1).parameters())
    assert sum(p.numel() for p in block.parameters()) < gated


def test_no_gating_control_is_linear_in_its_input():
    # Without gates, nothing multiplies two functions of the input: the path is linear.
    torch.manual_seed(0)
    control = UngatedConv(8).eval()
    bias_free = control(torch.zeros(1, 8, 6, 6))
    a, b = torch.randn(1, 8, 6, 6), torch.randn(1, 8, 6, 6)
    lhs = control(a + b) - bias_free
    rhs = (control(a) - bias_free) + (control(b) - bias_free)
    torch.testing.assert_close(lhs, rhs, atol=1e-5, rtol=1e-5)


def test_train_cli_orders_parse_and_check_the_widths():
    assert parse_orders("3") == (3, 3, 3, 3)
    assert parse_orders("2,3,4,5") == (2, 3, 4, 5)
    for bad in ("0", "two", "2,3", "1,2,3,-4"):
        with pytest.raises(ConfigError):
            parse_orders(bad)
    with pytest.raises(ConfigError, match=r"divisible by 2\*\*\(order-1\)") as info:
        resolve(TrainConfig(model="hornet_nano_7x7", orders="9"))
    assert "\n" not in str(info.value)


def _images_of(data: TaskData, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    return (data.train_x, data.train_y) if split == "train" else (data.val_x, data.val_y)


def _items(image: torch.Tensor, item: int) -> list[torch.Tensor]:
    """The two item x item patterns on a (side, side) canvas: boxes of non-zero pixels."""
    found, mask = [], image != 0
    for _ in range(2):
        ys, xs = torch.nonzero(mask, as_tuple=True)
        # The topmost-leftmost non-zero pixel is the top-left corner of one item.
        k = torch.argmin(ys * image.shape[1] + xs)
        y, x = int(ys[k]), int(xs[k])
        # A corner is where a full item x item box of non-zero pixels starts.
        while not bool(mask[y : y + item, x : x + item].all()):
            x -= 1
        found.append(image[y : y + item, x : x + item].clone())
        mask[y : y + item, x : x + item] = False
    assert not mask.any(), "pixels outside the two items"
    return found


@pytest.mark.parametrize("item", [2, 3])
def test_same_different_labels_are_right(item):
    data = make_same_different(train=200, val=50, side=16, item=item, seed=3)
    for split in ("train", "val"):
        x, y = _images_of(data, split)
        assert x.shape[1:] == (1, 16, 16) and set(y.tolist()) == {0, 1}
        assert abs(int(y.sum()) - len(y) / 2) <= 1  # balanced
        for image, label in zip(x[:, 0], y):
            assert set(image.unique().tolist()) <= {-1.0, 0.0, 1.0}
            first, second = _items(image, item)
            assert torch.equal(first, second) == bool(label)


def test_same_different_same_seed_same_bytes_other_seed_other_bytes():
    a = make_same_different(train=64, val=16, side=16, item=3, seed=7)
    b = make_same_different(train=64, val=16, side=16, item=3, seed=7)
    c = make_same_different(train=64, val=16, side=16, item=3, seed=8)
    assert a.train_x.numpy().tobytes() == b.train_x.numpy().tobytes()
    assert torch.equal(a.val_y, b.val_y)
    assert not torch.equal(a.train_x, c.train_x)


def test_same_different_refuses_a_canvas_too_small():
    with pytest.raises(ValueError, match="canvas of at least 8 px"):
        make_same_different(train=4, val=4, side=6, item=4)


def _tiny_task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 1, 32, 32, generator=g)
    y = torch.arange(40) % 2
    return Task(
        "tiny", "noise, two classes", lambda: TaskData(x[:32], y[:32], x[32:], y[32:], ("a", "b"))
    )


def test_study_resumes_without_retraining_finished_cells(tmp_path):
    task, variants = _tiny_task(), VARIANTS[:2]
    recipe = Recipe(updates=2, batch_size=8)
    first = run_study(
        tmp_path, seeds=2, recipe=recipe, tasks=[task], variants=variants, progress=False
    )
    cells = sorted((tmp_path / "cells").glob("*.json"))
    assert len(cells) == 4 and len(list((tmp_path / "cells").glob("*.pt"))) == 4
    stamps = {p.name: p.stat().st_mtime_ns for p in cells}

    # One cell lost: the rerun trains only that one and keeps the others' files as they were.
    cells[0].unlink()
    said: list[str] = []
    second = run_study(
        tmp_path,
        seeds=2,
        recipe=recipe,
        tasks=[task],
        variants=variants,
        progress=False,
        say=said.append,
    )
    assert said == [f"resuming {tmp_path}: 3 finished cells kept, not retrained"]
    for p in cells[1:]:
        assert p.stat().st_mtime_ns == stamps[p.name]
    assert len(second["rows"]) == 4
    kept = {(r["variant"], r["seed"]): r["acc"] for r in first["rows"]}
    for r in second["rows"]:
        assert r["acc"] == kept[(r["variant"], r["seed"])]  # same seed, same result

    # Other settings in the same folder: refused in one line, nothing touched.
    with pytest.raises(StudyError, match="other settings") as info:
        run_study(tmp_path, seeds=3, recipe=recipe, tasks=[task], variants=variants)
    assert "\n" not in str(info.value)
    assert len(list((tmp_path / "cells").glob("*.json"))) == 4


def test_study_results_file_table_and_figure(tmp_path):
    results = run_study(
        tmp_path,
        seeds=2,
        recipe=Recipe(updates=2, batch_size=8),
        tasks=[_tiny_task()],
        variants=VARIANTS[:2],
        progress=False,
    )
    stored = load_results(tmp_path)
    assert stored["summary"] == json.loads(json.dumps(results["summary"]))
    assert set(stored["cost"]) == {"no gating", "order 1"}
    assert stored["cost"]["no gating"]["params"] < stored["cost"]["order 1"]["params"]
    table = format_table(stored)
    assert table.count("\n") == 3 and "no gating" in table and "order 1" in table
    fig = plot_accuracy(stored)
    assert len(fig.axes) == 2  # one task, plus the cost panel


def test_summary_and_distinguishable():
    rows = [{"task": "t", "variant": v, "acc": a} for v, a in [("a", 90), ("a", 92), ("b", 95)]]
    s = summarise(rows)["t"]
    assert s["a"]["mean"] == 91 and s["a"]["sd"] == pytest.approx(2**0.5)
    assert (s["a"]["min"], s["a"]["max"], s["a"]["n"]) == (90, 92, 2)
    assert distinguishable(s["a"], s["b"])
    assert not distinguishable(s["a"], {"min": 91.5, "max": 96.0})


def test_load_results_errors_are_one_line(tmp_path):
    with pytest.raises(StudyError, match="not found"):
        load_results(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(StudyError, match="not valid JSON"):
        load_results(bad)
    bad.write_text("[]")
    with pytest.raises(StudyError, match="not an order-study results file"):
        load_results(bad)


def test_study_trains_cells_in_worker_processes(tmp_path):
    task = Task(
        "sd",
        "tiny same/different",
        partial(make_same_different, train=16, val=8, side=16, item=2),
        shift=0,
    )
    results = run_study(
        tmp_path,
        seeds=2,
        recipe=Recipe(updates=2, batch_size=8),
        tasks=[task],
        variants=VARIANTS[1:2],
        progress=False,
        workers=2,
    )
    assert sorted(r["seed"] for r in results["rows"]) == [0, 1]
    assert len(list((tmp_path / "cells").glob("*.pt"))) == 2
    assert results["machine"]["workers"] == 2
