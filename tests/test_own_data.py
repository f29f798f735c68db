"""benchmarks/own_data.py: the folders it writes from real photographs are read by
``--recipe auto`` as a user's would be, and its summary says what the runs measured."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("skimage")

_SPEC = importlib.util.spec_from_file_location(
    "own_data", Path(__file__).resolve().parents[1] / "benchmarks" / "own_data.py"
)
own_data = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(own_data)


def _chosen(data: str):
    from hornet_ref.train import TrainConfig
    from hornet_ref.train.config import explain, resolve
    from hornet_ref.train.task import ClassifyTask

    config = TrainConfig(data=data)
    stats = ClassifyTask().stats(config)
    return resolve(config, stats), explain(config, stats)


def _images(root: Path, split: str) -> list[Image.Image]:
    return [Image.open(f) for f in sorted((root / split).rglob("*.png"))]


def test_the_photograph_folder_is_trained_by_nano_s4_at_128_px_grey_and_colour_mixed(tmp_path):
    root = own_data.make_photos_folder(tmp_path / "photos", train=3, val=2)
    train, val = _images(root, "train"), _images(root, "val")
    assert (len(train), len(val)) == (30, 20)  # ten photographs, one class folder each
    shorter = [min(im.size) for im in train + val]
    assert 112 <= min(shorter) and max(shorter) <= 160
    assert {im.mode for im in train} == {"L", "RGB"}  # grey photographs stay grey
    assert len({im.size for im in train}) > 20  # sizes vary, as a user's do
    config, line = _chosen(str(root))
    assert (config.model, config.img_size) == ("hornet_nano_s4_7x7", 128)
    assert "sizes 1" in line and "hornet_nano_s4_7x7 at 128 px" in line


def test_the_patch_folder_is_trained_by_nano_at_32_px(tmp_path):
    root = own_data.make_patches_folder(tmp_path / "patches", train=4, val=2)
    train = _images(root, "train")
    assert len(train) == 40 and {im.size for im in train} == {(32, 32)}
    config, line = _chosen(str(root))
    assert (config.model, config.img_size) == ("hornet_nano_7x7", 32)
    assert "sizes all 32 px: hornet_nano_7x7 at 32 px" in line


def test_the_folders_are_the_same_bytes_for_the_same_seed(tmp_path):
    a = own_data.make_patches_folder(tmp_path / "a", train=2, val=1, seed=3)
    b = own_data.make_patches_folder(tmp_path / "b", train=2, val=1, seed=3)
    c = own_data.make_patches_folder(tmp_path / "c", train=2, val=1, seed=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert [(a / f).read_bytes() for f in files] == [(b / f).read_bytes() for f in files]
    assert [(a / f).read_bytes() for f in files] != [(c / f).read_bytes() for f in files]


def _run(top1: list[float], seconds: list[float]) -> dict:
    return {"top1": top1, "seconds": seconds, "model": "hornet_nano_7x7", "img_size": 32}


def test_the_summary_gives_mean_spread_and_when_hornet_reached_resnets_final():
    results = {
        "machine": "test",
        "digits": {
            "runs": [
                {"hornet": _run([50, 90, 98], [10, 20, 30]), "peer": _run([80, 97], [5, 10])},
                {"hornet": _run([40, 80, 96], [10, 20, 30]), "peer": _run([70, 97], [5, 12])},
            ]
        },
    }
    table = own_data.summary(results)
    row = table.splitlines()[-1]
    assert "| digits | 2 | hornet_nano_7x7, 32 px | 97.00 ± 1.41 (96.00-98.00) | 30 |" in row
    assert "97.00 ± 0.00 (97.00-97.00) | 11 | 30 s, never |" in row
    results["digits"]["runs"].append({"hornet": _run([50, 90, 97], [10, 20, 30]), "peer": None})
    row = own_data.summary(results).splitlines()[-1]  # ResNet-18's columns: its two runs
    assert row.startswith("| digits | 3 (ResNet-18: 2) |") and "| 97.00 ± 0.00" in row
    assert own_data.time_to(results["digits"]["runs"][0]["hornet"], 90) == 20
    assert own_data.time_to(results["digits"]["runs"][0]["hornet"], 99) is None


def test_the_peer_loop_trains_a_hornet_variant_and_the_summary_names_it(tmp_path):
    """--peer-model: a HorNet in ResNet-18's loop (what the recipe is worth), named as
    the peer in the table; the "peer" entry of the results is not read as a folder."""
    root = own_data.make_patches_folder(tmp_path / "patches", train=4, val=2)
    run = own_data._peer(str(root), 1, 32, model="hornet_nano_7x7")
    assert len(run["top1"]) == 1 and 0 <= run["top1"][0] <= 100 and run["seconds"][0] > 0
    results = {
        "machine": "test",
        "peer": "hornet_nano_7x7",
        "patches": {"runs": [{"hornet": _run([50, 60], [1, 2]), "peer": _run([40], [3])}]},
    }
    header, _, row = own_data.summary(results).splitlines()
    assert "| hornet_nano_7x7 top-1 | hornet_nano_7x7 s |" in header and "ResNet" not in header
    assert row.startswith("| patches | 1 |") and "| 40.00 | 3 | 1 s |" in row


def test_the_medium_folder_is_at_the_medium_tiers_size(tmp_path):
    """patches20k: the patches, 2,000 a class by default, ten classes: 20,000 training
    images, the smallest folder ``auto`` gives the medium tier's rules."""
    import inspect

    from hornet_ref.study.data import PHOTOGRAPHS
    from hornet_ref.train.auto import tier

    per_class = inspect.signature(own_data.make_medium_folder).parameters["train"].default
    assert tier(per_class * len(PHOTOGRAPHS)) == "medium"
    assert tier(per_class * len(PHOTOGRAPHS) - 1) == "small"
    root = own_data.make_medium_folder(tmp_path / "medium", train=3, val=2)
    assert len(_images(root, "train")) == 30 and len(_images(root, "val")) == 20


def test_the_second_photograph_folder_shares_no_photograph_with_the_first(tmp_path):
    """others128: photos128's crops of ten other photographs (scikit-image, scikit-learn,
    matplotlib), so a change to the network is measured on a second 128-px folder."""
    from hornet_ref.study.data import PHOTOGRAPHS

    root = own_data.make_others_folder(tmp_path / "others", train=2, val=1)
    classes = sorted(p.name for p in (root / "train").iterdir())
    assert len(classes) == 10 and not set(classes) & set(PHOTOGRAPHS)
    assert {"china", "flower", "grace_hopper", "moon"} <= set(classes)
    train = _images(root, "train")
    assert len(train) == 20 and {im.mode for im in train} == {"L", "RGB"}
    assert all(112 <= min(im.size) <= 160 for im in train)
    config, _ = _chosen(str(root))
    assert (config.model, config.img_size) == ("hornet_nano_s4_7x7", 128)


def test_the_48_px_folder_is_photos128_scaled_down_and_trained_at_64_px_with_8_percent_crops(
    tmp_path,
):
    """photos48: the same crops as photos128 (the same seed draws the same regions), each
    at a shorter side of 48 px, which auto trains at 64 px with the paper's 8% crops."""
    small = own_data.make_photos48_folder(tmp_path / "photos48", train=2, val=1)
    large = own_data.make_photos_folder(tmp_path / "photos128", train=2, val=1)
    pairs = [(Image.open(f), Image.open(large / f.relative_to(small)))
             for f in sorted(small.rglob("*.png"))]  # fmt: skip
    assert len(pairs) == 30
    for im, source in pairs:
        assert min(im.size) == 48 and im.mode == source.mode
        ratio = max(source.size) / min(source.size)
        assert abs(max(im.size) / 48 - ratio) < 0.05  # the aspect is kept
    config, line = _chosen(str(small))
    assert (config.model, config.img_size, config.crop_scale) == ("hornet_nano_s4_7x7", 64, 0.08)
    assert "sizes all 48 px" in line and "at 64 px" in line, line


def test_peer_only_trains_the_peer_alone_and_appends_its_line(tmp_path, monkeypatch):
    import json
    import sys

    own_data.make_patches_folder(tmp_path / "patches", train=2, val=1)
    out = tmp_path / "peer.jsonl"
    argv = ["own_data.py", "--root", str(tmp_path), "--folders", "patches", "--peer-only", "32",
            "--epochs", "1", "--seeds", "0", "1", "--json", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(own_data, "_hornet", lambda *a, **k: pytest.fail("HorNet was trained"))
    own_data.main()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["folder"], x["seed"], x["side"]) for x in lines] == [("patches", 0, 32),
                                                                  ("patches", 1, 32)]  # fmt: skip
    assert all(len(x["peer"]["top1"]) == 1 for x in lines)
    monkeypatch.setattr(sys, "argv", argv[:6])  # no --epochs
    with pytest.raises(SystemExit):
        own_data.main()
