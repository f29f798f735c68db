"""Tests of hornet_ref/dense/task.py: the segmentation task's data, loss and evaluation."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hornet_ref.train import TrainConfig, fit
from hornet_ref.train.data import DataError
from hornet_ref.train.evaluate import evaluate_checkpoint
from hornet_ref.train.segment import (
    Segmentation,
    build_segmenter,
    evaluate_segmenter,
    folder_classes,
    prepare_segment,
    segmentation_datasets,
)


class _Oracle(nn.Module):
    """Predicts class 1 on the left half and 0 elsewhere: (B, 3, H, W) -> (B, 2, H, W)."""

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 2, *x.shape[-2:])
        logits[:, 1, :, : x.shape[-1] // 2] = 10.0
        logits[:, 0, :, x.shape[-1] // 2 :] = 10.0
        return logits


def test_evaluate_segmenter_reports_percent_miou_pixel_accuracy_and_ignores_255():
    masks = torch.zeros(2, 4, 4, dtype=torch.int64)
    masks[:, :, :2] = 1
    masks[0, 0, 3] = 1  # one wrong pixel: predicted 0
    masks[1, 3, 3] = 255  # ignored
    loader = DataLoader(TensorDataset(torch.zeros(2, 3, 4, 4), masks), batch_size=1)
    scores = evaluate_segmenter(_Oracle(), loader, 2, device=torch.device("cpu"))
    # 31 counted pixels, 30 right; IoU class 0: 14 / (14 + 15 - 14), class 1: 16 / (17 + 16 - 16).
    assert math.isclose(scores["pixel_acc"], 100 * 30 / 31)
    assert math.isclose(scores["miou"], 100 * (14 / 15 + 16 / 17) / 2)
    assert scores["loss"] > 0


def test_segmentation_task_loss_ignores_255_and_summary_names_the_metrics():
    task = Segmentation(3, device=torch.device("cpu"))
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), 255)
    target[0, 0, 0] = 2
    loss = task.loss(logits, target)
    expected = -torch.log_softmax(logits[0, :, 0, 0], 0)[2]
    torch.testing.assert_close(loss, expected)
    text = task.summary({"val_loss": 0.5, "val_miou": 61.25, "val_pixel_acc": 90.0})
    assert "mIoU 61.25%" in text and "pixel acc 90.00%" in text


def test_builtin_segmentation_data_and_model():
    config = TrainConfig(task="segment", head="horfpn", decoder_channels=16, train_samples=8,
                         val_samples=4, drop_path=0.0)  # fmt: skip
    train, val, classes, kind = segmentation_datasets(config, 64)
    assert classes == ["background", "disk", "square", "triangle", "plus"] and kind == "builtin"
    assert len(train) == 8 and len(val) == 4
    model = build_segmenter(config, len(classes))
    assert model(train[0][0][None]).shape == (1, 5, 64, 64)
    with pytest.raises(DataError, match=r"'builtin' or a folder in ADE20K's layout"):
        segmentation_datasets(replace(config, data="/nonexistent/place"), 64)
    with pytest.raises(DataError, match=r"annotations/training is not a folder"):
        segmentation_datasets(replace(config, data="."), 64)


def test_a_segmentation_folder_with_an_unreadable_file_is_refused_before_training(tmp_path):
    for split in ("training", "validation"):
        for folder in ("images", "annotations"):
            (tmp_path / folder / split).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (16, 16)).save(tmp_path / "images" / split / f"{i}.jpg")
            Image.new("L", (16, 16)).save(tmp_path / "annotations" / split / f"{i}.png")
    broken = tmp_path / "annotations" / "validation" / "1.png"
    broken.write_bytes(broken.read_bytes()[:30])
    config = TrainConfig(task="segment", data=str(tmp_path), num_classes=3, drop_path=0.0)
    with pytest.raises(DataError, match=rf"^1 of 8 images cannot be read .*: {broken};"):
        segmentation_datasets(config, 16)


def test_fit_segment_records_miou_resumes_and_evaluate_agrees(tmp_path):
    """``train --task segment`` through the classifier's loop: metrics, curves, resume."""
    out = tmp_path / "run"
    config = TrainConfig(task="segment", head="horfpn", decoder_channels=8, train_samples=16,
                         val_samples=8, epochs=2, stop_after=1, batch_size=16, workers=0,
                         progress=False, device="cpu", out=str(out))  # fmt: skip
    fit(config)  # pauses after epoch 1 with a checkpoint
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and {"val_miou", "val_pixel_acc", "val_loss"} <= set(rows[0])
    result = fit(replace(config, stop_after=None, resume=True))
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert result.history[0] == rows[0]  # the resumed run kept epoch 1's row
    assert (out / "curves.png").stat().st_size > 0
    scores = evaluate_checkpoint(out / "checkpoint.pt", "builtin", val_samples=8)
    assert math.isclose(scores["miou"], result.history[-1]["val_miou"], rel_tol=1e-6)
    assert 0 <= scores["pixel_acc"] <= 100


def test_fit_segment_finetune_by_name_starts_the_backbone_from_the_published_file(
    tmp_path, published_weights
):
    """``train --task segment --finetune hornet_tiny_7x7`` with the file in torch.hub's
    cache: the segmenter's backbone is the file's (lr 0 keeps it), the decoder is new,
    nothing is downloaded."""
    source = published_weights("hornet_tiny_7x7", seed=3)
    config = TrainConfig(
        task="segment",
        finetune="hornet_tiny_7x7",
        head="fpn",
        decoder_channels=8,
        train_samples=4,
        val_samples=4,
        epochs=1,
        batch_size=4,
        lr=0.0,
        workers=0,
        progress=False,
        device="cpu",
        out=str(tmp_path / "run"),
    )
    result = fit(config)
    assert result.config.model == "hornet_tiny_7x7"
    backbone = result.model.backbone.state_dict()
    for key, value in source.items():
        if not key.startswith("head."):
            torch.testing.assert_close(backbone[key], value, rtol=0, atol=0, msg=key)
    assert "val_miou" in result.history[-1]


def test_the_recipe_line_of_a_segment_run_counts_scenes_and_their_classes(tmp_path):
    from hornet_ref.train.auto import DataStats
    from hornet_ref.train.segment import segment_stats

    assert segment_stats(TrainConfig(task="segment")) == DataStats(2_000, 5, 64, task="segment")
    assert segment_stats(TrainConfig(task="segment", train_samples=320)).train_images == 320
    images = tmp_path / "images" / "training"
    images.mkdir(parents=True)
    for i in range(3):
        (images / f"{i}.jpg").touch()
    folder = TrainConfig(task="segment", data=str(tmp_path), num_classes=150, img_size=256)
    assert segment_stats(folder) == DataStats(3, 150, 256, task="segment")


def test_segmentation_has_a_recipe_of_its_own_chosen_from_the_scenes():
    from hornet_ref.train.auto import MIN_UPDATES_SEGMENT, DataStats, choose

    values, reason = choose(DataStats(2_000, 5, 64, task="segment"))
    # Labels are per pixel: nothing mixes or smooths them; the run is long in updates.
    assert values["label_smoothing"] == values["mixup"] == values["cutmix"] == 0
    assert values["rand_augment"] == 0 and values["random_erasing"] == 0
    assert values["batch_size"] == 64 and values["lr"] == 2e-3
    assert values["epochs"] * (2_000 // 64) >= MIN_UPDATES_SEGMENT
    assert reason.startswith("segmentation, 2,000 training images, 5 classes, 64 px")
    assert "background" in reason  # why the run is that long
    # Four times the pixels, a quarter of the batch; never below 4.
    assert choose(DataStats(2_000, 5, 128, task="segment"))[0]["batch_size"] == 16
    assert choose(DataStats(20_000, 150, 512, task="segment"))[0]["batch_size"] == 4
    # A given --epochs wins; classification's rules are untouched.
    assert choose(DataStats(2_000, 5, 64, task="segment"), epochs=3)[0]["epochs"] == 3
    assert choose(DataStats(2_000, 5, 64))[0]["label_smoothing"] == 0.1


@pytest.mark.parametrize(
    ("img_size", "model"), [(None, "hornet_mini_7x7"), (32, "hornet_nano_7x7")]
)
def test_the_scenes_side_picks_the_segmentation_backbone_unless_given(img_size, model):
    from hornet_ref.train.segment import prepare_segment

    config, line = prepare_segment(TrainConfig(task="segment", img_size=img_size))
    assert config.model == model and f"{model} for {img_size or 64} px" in line
    given, line = prepare_segment(TrainConfig(task="segment", model="hornet_nano_gf"))
    assert given.model == "hornet_nano_gf" and "nano below" not in line


def _ade_folder(root, labels: dict[str, list[int]]) -> None:
    """An ADE20K-layout folder: per split, one 8x8 image and label map per value list
    (each map holds those values, the last one filling the rest)."""
    for name, values in labels.items():
        split, stem = name.split("/")
        for folder in ("images", "annotations"):
            (root / folder / split).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (40, 90, 160)).save(root / "images" / split / f"{stem}.jpg")
        label = torch.full((8, 8), values[-1], dtype=torch.uint8)
        label.view(-1)[: len(values)] = torch.tensor(values, dtype=torch.uint8)
        Image.fromarray(label.numpy(), mode="L").save(root / "annotations" / split / f"{stem}.png")


def test_num_classes_is_read_from_the_label_maps_of_both_splits(tmp_path):
    _ade_folder(tmp_path, {"training/a": [0, 1, 2], "training/b": [0, 255], "validation/c": [4]})
    k, note = folder_classes(tmp_path, None, reduce_zero_label=True)
    assert k == 4  # stored 1..4 are classes 0..3; 0 and 255 ignored
    assert note.startswith("4 classes read from 3 label maps, 3 present (0..1, 3)")
    assert "reduce_zero_label: stored 0 ignored, k is class k-1" in note
    k, note = folder_classes(tmp_path, None, reduce_zero_label=False)
    assert k == 5 and "4 present (0..2, 4)" in note and "0 included" in note
    config = TrainConfig(task="segment", data=str(tmp_path), workers=0)
    assert len(segmentation_datasets(config, 8)[2]) == 4


def test_a_given_num_classes_wins_and_a_label_past_it_names_the_file(tmp_path):
    _ade_folder(tmp_path, {"training/a": [1, 2], "validation/b": [1]})
    assert folder_classes(tmp_path, 10, reduce_zero_label=True)[0] == 10
    train, _, classes, _ = segmentation_datasets(
        TrainConfig(task="segment", data=str(tmp_path), num_classes=10, workers=0), 8
    )
    assert len(classes) == 10 and train.num_classes == 10
    _ade_folder(tmp_path, {"validation/high": [1, 7]})
    bad = tmp_path / "annotations" / "validation" / "high.png"
    with pytest.raises(DataError, match=rf"^{bad}: label 7 is past --num-classes 3 \(stored "):
        folder_classes(tmp_path, 3, reduce_zero_label=True)
    with pytest.raises(DataError, match=r"hold no class labels .*--no-reduce-zero-label"):
        _ade_folder(tmp_path / "zeros", {"training/z": [0], "validation/z": [255]})
        folder_classes(tmp_path / "zeros", None, reduce_zero_label=True)


def test_prepare_fills_what_the_run_did_not_give_and_keeps_what_it_did(tmp_path):
    config, note = prepare_segment(TrainConfig(task="segment"))
    assert config.decoder_channels == 128 and config.num_classes is None  # mini's last stage
    assert "; decoder gnuper 128 channels (as wide as hornet_mini_7x7's last" in note
    config, note = prepare_segment(TrainConfig(task="segment", head="fpn", decoder_channels=24))
    assert config.decoder_channels == 24 and note.endswith("; decoder fpn 24 channels, as given")
    _ade_folder(tmp_path, {"training/a": [1, 3], "validation/b": [2]})
    given = TrainConfig(task="segment", data=str(tmp_path), num_classes=6, head="horfpn")
    config, note = prepare_segment(given)
    assert (config.num_classes, config.decoder_channels) == (6, 64)  # half mini's 128
    assert "; --num-classes 6, 3 present (0..2)" in note


def test_a_run_stored_before_the_width_followed_the_backbone_resumes_at_its_width():
    # Its config.json says decoder_channels None: the segmenter was built at the authors' width.
    stored = TrainConfig(task="segment", model="hornet_nano_7x7", head="gnuper", resume=True)
    config, note = prepare_segment(stored)
    assert config.decoder_channels == 512 and "the stored run's" in note
    config, _ = prepare_segment(replace(stored, head="horfpn"))
    assert config.decoder_channels == 256


def test_the_recipe_line_of_a_folder_run_says_the_classes_and_the_decoder(tmp_path, capsys):
    _ade_folder(tmp_path / "data", {"training/a": [1, 2], "validation/b": [2, 3]})
    config = TrainConfig(task="segment", data=str(tmp_path / "data"), model="hornet_mini_7x7",
                         head="horfpn", img_size=32, epochs=1, batch_size=1, workers=0,
                         progress=False, device="cpu", out=str(tmp_path / "run"))  # fmt: skip
    result = fit(config)
    assert (result.config.num_classes, result.config.decoder_channels) == (3, 64)
    out = capsys.readouterr().out
    line = next(t for t in out.splitlines() if t.startswith("recipe auto: segmentation, 1 "))
    assert "; 3 classes read from 2 label maps, 3 present (0..2); reduce_zero_label" in line
    assert line.endswith("decoder horfpn 64 channels (half hornet_mini_7x7's last stage of 128, "
                         "at most the authors' width; --decoder-channels to change)")  # fmt: skip
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["num_classes"] == 3 and stored["decoder_channels"] == 64
