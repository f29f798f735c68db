"""Tests of hornet_ref/datasets/scenes.py and hornet_ref/dense/metrics.py: built-in scenes,
ADE20K-style folders, mIoU and pixel accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image

from hornet_ref.datasets.scenes import (
    IGNORE_INDEX,
    SceneDetection,
    SceneSegmentation,
    SegmentationFolder,
    label_values,
    make_scenes,
)
from hornet_ref.datasets.shapes import SHAPE_CLASSES
from hornet_ref.dense.metrics import SegmentationMetrics, confusion_matrix


def test_scenes_are_reproducible_from_their_seed_and_differ_across_seeds():
    a, b = make_scenes(6, 48, seed=1), make_scenes(6, 48, seed=1)
    assert torch.equal(a.images, b.images) and torch.equal(a.semantic, b.semantic)
    assert not torch.equal(a.images, make_scenes(6, 48, seed=2).images)
    assert a.images.shape == (6, 3, 48, 48) and a.images.dtype == torch.uint8
    assert a.semantic.shape == (6, 48, 48) and a.num_classes == 11


def test_scene_labels_agree_with_the_instances_and_boxes():
    scenes = make_scenes(12, 64, seed=0, classes=("disk", "square", "plus"))
    assert scenes.classes == ("disk", "square", "plus")
    assert int(scenes.semantic.max()) <= 3 and (scenes.semantic == 0).any()
    for i in range(12):
        t = scenes.targets(i)
        for box, label, mask in zip(t["boxes"], t["labels"], t["masks"].bool()):
            # Each instance's pixels carry its class in the semantic map ...
            assert (scenes.semantic[i][mask] == label).all()
            # ... and its box is the tightest one around them.
            rows, cols = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        # Every labelled pixel belongs to exactly one instance (or a hidden sliver).
        covered = t["masks"].sum(0)
        assert (covered <= 1).all() and ((scenes.semantic[i] > 0) >= (covered > 0)).all()


def test_scene_datasets_give_normalised_images_masks_and_tv_tensor_targets():
    seg = SceneSegmentation(4, 32, seed=0, train=True)
    image, mask = seg[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert mask.shape == (32, 32) and mask.dtype == torch.int64
    assert seg.num_classes == 11 and seg.classes[0] == "background"
    det = SceneDetection(4, 32, seed=0)
    image, target = det[1]
    assert 0 <= image.min() and image.max() <= 1
    assert target["boxes"].format.value == "XYXY" and target["boxes"].canvas_size == (32, 32)
    assert target["masks"].shape[1:] == (32, 32)
    with pytest.raises(ValueError, match=r"unknown shape classes \['hexagon'\]"):
        make_scenes(2, classes=("disk", "hexagon"))


def test_a_scene_whose_shapes_are_hidden_has_an_empty_target():
    scenes = make_scenes(2, 32, seed=0)
    scenes.instances[0] = 0  # pretend everything was painted over
    t = scenes.targets(0)
    assert t["boxes"].shape == (0, 4) and t["labels"].shape == (0,)
    assert t["masks"].shape == (0, 32, 32)


def _write(root, split, name, image: np.ndarray, label: np.ndarray) -> None:
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(root / "images" / split / f"{name}.jpg")
    Image.fromarray(label.astype(np.uint8), mode="L").save(
        root / "annotations" / split / f"{name}.png"
    )


@pytest.fixture
def photo() -> np.ndarray:
    """A real photograph (matplotlib's Grace Hopper), 600x512 RGB, cut to 64x48."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = Image.open(f).convert("RGB").resize((48, 64))
    return np.asarray(image)


def test_segmentation_folder_reads_a_real_photograph_and_reduces_label_zero(tmp_path, photo):
    label = np.zeros((64, 48), np.uint8)  # 0: ADE20K's "other"
    label[10:40, 8:40] = 1  # a hand-drawn "person" region
    label[40:, :] = 3
    label[0, 0] = 255
    _write(tmp_path, "training", "hopper", photo, label)
    ade = SegmentationFolder(tmp_path, "training", num_classes=3)
    image, mask = ade[0]
    assert image.shape == (3, 64, 48) and image.dtype == torch.float32
    assert mask.dtype == torch.int64
    expected = torch.from_numpy(label.astype(np.int64)) - 1
    expected[torch.from_numpy(label) == 0] = IGNORE_INDEX
    expected[0, 0] = IGNORE_INDEX
    assert torch.equal(mask, expected)
    stored, _ = ade.read(0)
    assert abs(stored.float().mean().item() - photo.mean()) < 1.0  # the JPEG's pixels
    raw = SegmentationFolder(tmp_path, "training", num_classes=4, reduce_zero_label=False)
    assert torch.equal(raw[0][1], torch.from_numpy(label.astype(np.int64)))


def test_segmentation_folder_errors_name_the_file_and_value(tmp_path, photo):
    label = np.ones((64, 48), np.uint8)
    label[5, 5] = 7
    _write(tmp_path, "validation", "too_high", photo, label)
    ade = SegmentationFolder(tmp_path, "validation", num_classes=3)
    with pytest.raises(ValueError, match=r"too_high\.png: label 7 is outside 0\.\.2"):
        ade[0]
    _write(tmp_path, "training", "small_mask", photo, np.ones((32, 24), np.uint8))
    with pytest.raises(ValueError, match=r"small_mask\.png: label map is \(32, 24\).*\(64, 48\)"):
        SegmentationFolder(tmp_path, "training", num_classes=3)[0]
    (tmp_path / "annotations" / "training" / "small_mask.png").unlink()
    with pytest.raises(ValueError, match=r"without a label map: small_mask\.jpg"):
        SegmentationFolder(tmp_path, "training", num_classes=3)
    with pytest.raises(ValueError, match=r"images/training/ and annotations/training/"):
        SegmentationFolder(tmp_path / "nowhere", num_classes=3)


def test_label_values_lists_every_stored_value_with_the_first_file_holding_it(tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    Image.fromarray(np.array([[0, 2], [2, 255]], np.uint8), mode="L").save(a)
    Image.fromarray(np.array([[2, 5], [5, 5]], np.uint8), mode="L").save(b)
    Image.fromarray(np.array([[300, 0], [0, 0]], np.uint16)).save(c)  # a 16-bit map
    assert label_values([a, b, c]) == {0: a, 2: a, 255: a, 5: b, 300: c}
    Image.new("RGB", (2, 2)).save(a)
    with pytest.raises(ValueError, match=r"a\.png: a label map must be a single-channel PNG"):
        label_values([a])


def test_confusion_matrix_miou_and_pixel_accuracy_match_a_hand_computed_example():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 2]])
    # Counted by hand (ignored pixel left out): rows true, columns predicted.
    expected = torch.tensor([[1, 1, 0], [0, 2, 1], [1, 0, 1]])
    assert torch.equal(confusion_matrix(pred, target, 3), expected)
    metrics = SegmentationMetrics(3)
    metrics.update(pred[:1], target[:1])
    metrics.update(pred[1:], target[1:])
    scores = metrics.compute()
    # IoU: class 0 1/(2+2-1) = 1/3, class 1 2/(3+3-2) = 1/2, class 2 1/(2+2-1) = 1/3.
    assert math.isclose(scores["miou"], (1 / 3 + 1 / 2 + 1 / 3) / 3)
    assert math.isclose(scores["pixel_acc"], 4 / 7)


def test_miou_leaves_out_absent_classes_and_accepts_logits():
    metrics = SegmentationMetrics(4)
    target = torch.tensor([[[0, 1]]])
    logits = torch.zeros(1, 4, 1, 2)
    logits[0, 0, 0, 0] = logits[0, 1, 0, 1] = 5.0
    metrics.update(logits, target)
    iou = metrics.iou()
    assert iou[:2].tolist() == [1.0, 1.0] and iou[2:].isnan().all()
    assert metrics.compute() == {"miou": 1.0, "pixel_acc": 1.0}
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.3 or be 255; got 0\.\.9"):
        confusion_matrix(torch.zeros(2), torch.tensor([0, 9]), 4)


def test_all_shape_classes_can_appear():
    scenes = make_scenes(40, 32, seed=0, max_shapes=2)
    assert set(scenes.semantic.unique().tolist()) == set(range(len(SHAPE_CLASSES) + 1))


def test_digit_scenes_paint_real_digits_on_photographs_with_consistent_labels():
    from hornet_ref.datasets.scenes import make_digit_scenes

    pytest.importorskip("sklearn")
    pytest.importorskip("skimage")
    scenes = make_digit_scenes(10, 48, seed=3)
    again = make_digit_scenes(10, 48, seed=3)
    assert torch.equal(scenes.images, again.images) and torch.equal(scenes.semantic, again.semantic)
    assert scenes.classes == tuple("0123456789") and scenes.num_classes == 11
    assert scenes.images.shape == (10, 3, 48, 48) and int(scenes.semantic.max()) <= 10
    for i in range(10):
        t = scenes.targets(i)
        assert len(t["labels"]) >= 1  # the last digit painted is always whole
        for label, mask in zip(t["labels"], t["masks"].bool()):
            assert (scenes.semantic[i][mask] == label).all()
    # A photograph is behind the digits: the background is not one flat colour.
    background = scenes.images[0][:, scenes.semantic[0] == 0].float()  # (3, pixels)
    assert background.std(dim=1).min() > 5
    # The val split draws other scans on other pixels: its scenes differ at the same seed.
    val = make_digit_scenes(10, 48, seed=3, split="val")
    assert not torch.equal(val.images, scenes.images)
    with pytest.raises(ValueError, match="split 'train' or 'val'"):
        make_digit_scenes(4, 48, split="test")
