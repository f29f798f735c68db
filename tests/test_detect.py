"""Tests of hornet_ref/train/detect.py and hornet_ref/datasets/coco.py: ``--task detect``,
its COCO folders and the bad input of detection and segmentation folders."""

from __future__ import annotations

import json
import math
import signal
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from hornet_ref.cli import main
from hornet_ref.datasets.coco import CocoInstances
from hornet_ref.datasets.folders import DataError
from hornet_ref.datasets.scenes import SegmentationFolder
from hornet_ref.train import TrainConfig, engine, fit
from hornet_ref.train.checkpointing import load_checkpoint
from hornet_ref.train.config import RECIPES, ConfigError
from hornet_ref.train.detect import (
    Detection,
    anchor_sizes,
    build_detector,
    detection_datasets,
    neck_width,
    prepare_detect,
)
from hornet_ref.train.evaluate import evaluate_checkpoint

_FIELDS = ("box_map", "box_map50", "box_map75", "mask_map", "mask_map50", "mask_map75")


def _tiny(out, **changes) -> TrainConfig:
    """A detect run of seconds: 16 scenes, a 16-channel neck, one epoch."""
    config = TrainConfig(task="detect", train_samples=16, val_samples=8, epochs=1, batch_size=4,
                         decoder_channels=16, workers=0, progress=False, device="cpu",
                         out=str(out))  # fmt: skip
    return replace(config, **changes)


def _rows(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_short_detect_run_writes_finite_map_fields_and_evaluate_prints_them(tmp_path, capsys):
    out = tmp_path / "run"
    result = fit(_tiny(out))
    (row,) = _rows(out)
    for name in ("loss", *_FIELDS):
        value = row[f"val_{name}"]
        assert math.isfinite(value) and (name == "loss" or 0 <= value <= 100), (name, value)
    assert result.config.head == "horfpn" and result.config.recipe == "detect"
    assert (out / "curves.png").stat().st_size > 0
    scores = evaluate_checkpoint(out / "checkpoint.pt", "builtin", val_samples=8)
    assert math.isclose(scores["box_map"], row["val_box_map"], abs_tol=1e-6)
    assert scores["images"] == 8
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--val-samples", "8"]) == 0
    printed = capsys.readouterr().out
    assert "box mAP" in printed and "mask mAP" in printed and "AP75" in printed


def test_a_stopped_detect_run_keeps_its_checkpoint_and_resumes(tmp_path, monkeypatch):
    """Ctrl-C after update 2 of epoch 1 saves that position; --resume finishes the run."""
    out = tmp_path / "run"
    original, updates = engine._update, []

    def update_then_signal(*args):
        original(*args)
        updates.append(1)
        if len(updates) == 2:
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C would

    monkeypatch.setattr(engine, "_update", update_then_signal)
    with pytest.raises(KeyboardInterrupt):
        fit(_tiny(out, epochs=2))
    state = load_checkpoint(out / "checkpoint.pt")
    assert (state["epoch"], state["batch"]) == (0, 2)
    monkeypatch.setattr(engine, "_update", original)
    rest = fit(TrainConfig(out=str(out), resume=True, progress=False))
    assert [row["epoch"] for row in rest.history] == [1, 2]
    assert rest.config.task == "detect" and rest.config.decoder_channels == 16


def test_detect_defaults_neck_width_recipe_and_anchors():
    config, note = prepare_detect(TrainConfig(task="detect"))
    assert (config.head, config.decoder_channels, config.recipe) == ("horfpn", 64, "detect")
    assert "neck horfpn" in note and "64 channels" in note
    tiny, _ = prepare_detect(TrainConfig(task="detect", model="hornet_tiny_7x7"))
    assert tiny.decoder_channels == 128  # a quarter of 512
    assert neck_width([192, 384, 768, 1536]) == 256  # at most the authors' width
    fpn, _ = prepare_detect(TrainConfig(task="detect", head="fpn", decoder_channels=32))
    assert (fpn.head, fpn.decoder_channels) == ("fpn", 32)
    with pytest.raises(ConfigError, match=r"--head horfpn or fpn .* got 'uper'"):
        prepare_detect(TrainConfig(task="detect", head="uper"))
    assert set(RECIPES["detect"]) == set(RECIPES["shapes"])  # every recipe field has a value
    assert anchor_sizes(64) == (4, 8, 16, 32, 64)


def test_detect_without_torchmetrics_says_which_extra_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torchmetrics" else real(name)
    )
    with pytest.raises(
        ConfigError, match=r'needs torchmetrics: pip install "hornet-ref\[detect\]"'
    ):
        prepare_detect(TrainConfig(task="detect"))


def test_detection_loss_sums_the_loss_dict_and_summary_names_box_and_mask_map():
    task = Detection(device=torch.device("cpu"))
    losses = {"loss_classifier": torch.tensor(0.5), "loss_mask": torch.tensor(0.25)}
    assert float(task.loss(losses, None)) == 0.75
    row = {f"val_{k}": 10.0 * i for i, k in enumerate(_FIELDS)} | {"val_loss": 1.0}
    text = task.summary(row)
    assert "box mAP 0.0%" in text and "mask mAP 30.0%" in text


# -- COCO folders -------------------------------------------------------------------------


def _square(x0: float, y0: float, side: float) -> list[float]:
    """A COCO polygon: x, y of each corner."""
    return [x0, y0, x0 + side, y0, x0 + side, y0 + side, x0, y0 + side]


def _coco_folder(root, *, size=(40, 32)) -> None:
    """A small COCO-2017-layout folder: 3 train and 2 val PNGs of ``size`` (W, H), squares
    as polygons; category ids 3 ("cat") and 7 ("dog"), with a gap; the third train image
    without annotations, the second with a crowd besides its two squares."""
    (root / "annotations").mkdir(parents=True)
    rng = np.random.default_rng(0)
    categories = [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]
    for split, n in (("train2017", 3), ("val2017", 2)):
        (root / split).mkdir()
        images, annotations = [], []
        for i in range(n):
            pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / f"{i:03d}.png")
            images.append(
                {"id": i + 1, "file_name": f"{i:03d}.png", "width": size[0], "height": size[1]}
            )
            if i == 2:  # an image without annotations: all background
                continue
            for k, (category, x0) in enumerate(((3, 4.0), (7, 20.0))):
                annotations.append(
                    {"id": 10 * i + k + 1, "image_id": i + 1, "category_id": category,
                     "segmentation": [_square(x0, 8.0, 12.0)], "area": 144.0,
                     "bbox": [x0, 8.0, 12.0, 12.0], "iscrowd": 0}
                )  # fmt: skip
            if i == 1:
                crowd = {
                    "id": 99,
                    "image_id": 2,
                    "category_id": 3,
                    "iscrowd": 1,
                    "area": 16.0,
                    "segmentation": [_square(0.0, 0.0, 4.0)],
                    "bbox": [0.0, 0.0, 4.0, 4.0],
                }
                annotations.append(crowd)  # fmt: skip
        json.dump({"images": images, "annotations": annotations, "categories": categories},
                  open(root / "annotations" / f"instances_{split}.json", "w"))  # fmt: skip


def test_a_coco_folder_loads_with_contiguous_classes_masks_and_empty_images(tmp_path):
    _coco_folder(tmp_path)
    train = CocoInstances(tmp_path, "train", img_size=20)
    assert len(train) == 3 and train.classes == ["cat", "dog"] and train.category_ids == [3, 7]
    image, target = train[0]
    assert image.shape == (3, 16, 20) and image.dtype == torch.float32  # longer side 40 -> 20
    assert target["labels"].tolist() == [1, 2]  # ids 3 and 7 -> classes 1 and 2
    torch.testing.assert_close(target["boxes"], torch.tensor([[2.0, 4, 8, 10], [10, 4, 16, 10]]))
    assert target["masks"].shape == (2, 16, 20) and target["masks"].dtype == torch.uint8
    assert 30 <= int(target["masks"][0].sum()) <= 42  # the 6x6 square, drawn at half size
    assert train[1][1]["labels"].tolist() == [1, 2]  # the crowd left out
    _, empty = train[2]
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 16, 20)
    datasets = detection_datasets(_tiny(tmp_path, data=str(tmp_path)), 32)
    assert datasets.classes == ["background", "cat", "dog"] and datasets.kind == "folder"
    assert "2 categories, ids 3..7 with gaps, are classes 1..2" in datasets.notes[0]


def test_a_detect_run_on_a_coco_folder_writes_map(tmp_path):
    _coco_folder(tmp_path / "coco", size=(64, 48))
    out = tmp_path / "run"
    fit(_tiny(out, data=str(tmp_path / "coco"), img_size=64, batch_size=3, val_samples=None))
    (row,) = _rows(out)
    assert all(math.isfinite(row[f"val_{name}"]) for name in _FIELDS)
    model = build_detector(_tiny(out, img_size=64, head="fpn"), 3)
    assert model.detector.roi_heads.box_predictor.cls_score.out_features == 3


def test_bad_coco_files_name_the_file_and_what_was_expected(tmp_path):
    _coco_folder(tmp_path)
    path = tmp_path / "annotations" / "instances_val2017.json"
    good = json.loads(path.read_text())
    (tmp_path / "val2017" / "001.png").unlink()
    with pytest.raises(
        DataError, match=r"instances_val2017\.json: 1 of 2 image files .* missing .*001\.png"
    ):
        CocoInstances(tmp_path, "val")
    for text, expected in (
        ("", r"instances_val2017\.json is empty \(0 bytes\); expected a COCO instances file"),
        ("{images: oops", r"instances_val2017\.json is not JSON"),
        ("[1, 2]", r"instances_val2017\.json holds a JSON list; expected a COCO"),
        ('{"images": []}', r"instances_val2017\.json has no annotations, categories list"),
        (json.dumps(good | {"images": []}), r"instances_val2017\.json lists no images"),
        (json.dumps(good | {"annotations": []}), r"instances_val2017\.json lists no annotations"),
        (json.dumps(good | {"categories": good["categories"][:1]}), r"category ids \[3\] that"),
    ):
        path.write_text(text)
        with pytest.raises(DataError, match=expected):
            CocoInstances(tmp_path, "val")
    path.unlink()
    with pytest.raises(DataError, match=r"expected one instances_val\*\.json, found none"):
        CocoInstances(tmp_path, "val")
    with pytest.raises(DataError, match=r"'builtin' or a folder in COCO's layout"):
        detection_datasets(_tiny(tmp_path, data=str(tmp_path / "nowhere")), 64)


def test_coco_splits_with_other_categories_are_refused(tmp_path):
    _coco_folder(tmp_path)
    path = tmp_path / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    data["categories"].append({"id": 9, "name": "bird"})
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"both splits must list the same categories"):
        detection_datasets(_tiny(tmp_path, data=str(tmp_path)), 32)


# -- segmentation folders -----------------------------------------------------------------


def _ade(root, split: str, stem: str, image_hw=(16, 12), label_hw=(16, 12)) -> None:
    for folder in ("images", "annotations"):
        (root / folder / split).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", image_hw[::-1]).save(root / "images" / split / f"{stem}.jpg")
    Image.new("L", label_hw[::-1]).save(root / "annotations" / split / f"{stem}.png")


def test_a_segmentation_label_map_of_another_size_is_named_when_the_folder_opens(tmp_path):
    _ade(tmp_path, "training", "fine")
    _ade(tmp_path, "training", "odd", label_hw=(8, 6))
    with pytest.raises(
        DataError,
        match=r"odd\.png: label map is \(8, 6\) \(H, W\) but its image odd\.jpg is \(16, 12\)",
    ):
        SegmentationFolder(tmp_path, "training", num_classes=2)


def test_segmentation_images_and_label_maps_that_do_not_pair_up_are_named(tmp_path):
    _ade(tmp_path, "training", "a")
    _ade(tmp_path, "training", "b")
    (tmp_path / "annotations" / "training" / "b.png").rename(
        tmp_path / "annotations" / "training" / "c.png"
    )
    pattern = (
        r"images/training and annotations/training do not pair up \(1 image\(s\) without a "
        r"label map: b\.jpg; 1 label map\(s\) without an image: c\.png\)"
    )
    with pytest.raises(DataError, match=pattern):
        SegmentationFolder(tmp_path, "training", num_classes=2)


def test_evaluate_scores_a_detect_runs_ema_weights(tmp_path):
    """--ema on a detect checkpoint: the EMA's weights (saved with AveragedModel's
    "module." prefix and its counter) load into the detector and score as in training."""
    out = tmp_path / "run"
    fit(_tiny(out, ema_decay=0.9))
    (row,) = _rows(out)
    scores = evaluate_checkpoint(out / "checkpoint.pt", "builtin", ema=True, val_samples=8)
    assert math.isclose(scores["box_map"], row["val_box_map_ema"], abs_tol=1e-6)
