"""Tests of hornet_ref/dense/reference.py: the shipped segmenter loads, has learned the
shapes (not one class everywhere), and fails in one line when damaged."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from hornet_ref import CheckpointError
from hornet_ref.dense.metrics import SegmentationMetrics
from hornet_ref.dense.reference import (
    REFERENCE_SEGMENTER,
    SEGMENTER_REBUILD,
    load_reference_segmenter,
    reference_scenes,
)
from hornet_ref.reference import reference_info
from hornet_ref.train import TrainConfig
from hornet_ref.train.segment import segmentation_datasets

# The bar for the default segmentation run; the .json records the exact figure.
MIN_MIOU = 75.0


@pytest.fixture
def copy(tmp_path):
    """A copy of the shipped weights and their .json, to damage."""
    weights = tmp_path / REFERENCE_SEGMENTER.name
    shutil.copy(REFERENCE_SEGMENTER, weights)
    shutil.copy(REFERENCE_SEGMENTER.with_suffix(".json"), weights.with_suffix(".json"))
    return weights


def test_the_shipped_segmenter_is_small_and_described():
    info = reference_info(REFERENCE_SEGMENTER)
    assert REFERENCE_SEGMENTER.stat().st_size == info["bytes"] <= 10 * 2**20
    assert (info["model"], info["head"], info["task"]) == ("hornet_mini_7x7", "gnuper", "segment")
    assert info["val_miou"] >= MIN_MIOU and "--task segment" in info["command"]


def test_reference_scenes_are_the_runs_validation_scenes():
    info = reference_info(REFERENCE_SEGMENTER)
    config = TrainConfig(task="segment", train_samples=8, val_samples=info["val"]["samples"])
    val = segmentation_datasets(config, info["img_size"])[1]
    images, masks = reference_scenes(5)
    assert images.shape == (5, 3, 64, 64) and masks.shape == (5, 64, 64)
    for i in range(5):
        image, mask = val[i]
        torch.testing.assert_close(images[i], image)
        assert torch.equal(masks[i], mask)


def test_the_reference_segmenter_has_learned_every_shape():
    net, info = load_reference_segmenter()
    images, masks = reference_scenes(200)
    metrics = SegmentationMetrics(len(info["classes"]))
    with torch.no_grad():
        predicted = net(images)  # (200, 5, 64, 64)
    metrics.update(predicted, masks)
    scores = metrics.compute()
    assert 100 * scores["miou"] >= MIN_MIOU
    # Not background everywhere: every shape class is predicted, and mostly where it is.
    classes = predicted.argmax(1)
    for k in range(1, len(info["classes"])):
        hits = ((classes == k) & (masks == k)).sum() / (masks == k).sum()
        assert hits > 0.6, (info["classes"][k], float(hits))


def test_a_damaged_or_missing_segmenter_fails_in_one_line_naming_the_rebuild(copy):
    copy.write_bytes(copy.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=f"{copy}: its SHA-256 differs") as error:
        load_reference_segmenter(copy)
    assert SEGMENTER_REBUILD in str(error.value) and "\n" not in str(error.value)
    info = json.loads(copy.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps(info | {"channels": 64}))
    shutil.copy(REFERENCE_SEGMENTER, copy)
    with pytest.raises(CheckpointError, match=SEGMENTER_REBUILD):
        load_reference_segmenter(copy)  # the weights do not fit the described decoder
    copy.unlink()
    with pytest.raises(FileNotFoundError, match=f"{copy}: no such file"):
        load_reference_segmenter(copy)
