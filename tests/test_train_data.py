"""The built-in shapes, CIFAR/ImageFolder wiring, loaders, and clear errors for bad data."""

from __future__ import annotations

from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import datasets

from hornet_ref.datasets.folders import to_rgb
from hornet_ref.datasets.shapes import SHAPE_CLASSES, make_shapes
from hornet_ref.train.auto import Sides
from hornet_ref.train.config import TrainConfig
from hornet_ref.train.data import (
    DataError,
    UnreadableImageError,
    build_datasets,
    build_loaders,
    check_readable,
    data_stats,
)


def test_shapes_are_the_same_for_the_same_seed_and_differ_across_seeds():
    a, la = make_shapes(50, seed=3)
    b, lb = make_shapes(50, seed=3)
    c, _ = make_shapes(50, seed=4)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(a, c)


def test_shapes_are_balanced_uint8_images_of_every_class():
    images, labels = make_shapes(1000, seed=0)
    assert images.shape == (1000, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.bincount(minlength=10).tolist() == [100] * len(SHAPE_CLASSES)


def test_the_class_is_in_the_shape_not_the_colour():
    """Mean colour per class is about the same: colour alone cannot classify."""
    images, labels = make_shapes(2000, seed=0)
    means = torch.stack([images[labels == k].float().mean(dim=(0, 2, 3)) for k in range(10)])
    assert (means.max(dim=0).values - means.min(dim=0).values).max() < 20  # of 255


def test_builtin_datasets_and_loaders_give_normalised_batches():
    data = build_datasets(TrainConfig(train_samples=64, val_samples=20), img_size=32)
    assert (len(data.train), len(data.val), data.num_classes) == (64, 20, 10)
    train, val, sampler = build_loaders(data, batch_size=16, workers=0, seed=0)
    images, labels = next(iter(train))
    assert images.shape == (16, 3, 32, 32) and images.dtype == torch.float32
    assert labels.shape == (16,) and -4 < images.mean() < 4
    assert sum(len(y) for _, y in val) == 20


def test_the_train_order_is_a_permutation_per_epoch_and_skips_exactly():
    data = build_datasets(TrainConfig(train_samples=40, val_samples=10), img_size=32)
    _, _, sampler = build_loaders(data, batch_size=8, workers=0, seed=5)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(first) == list(range(40)) and first != second
    sampler.set_epoch(0)
    sampler.skip = 16
    assert list(sampler) == first[16:]


def test_two_processes_split_the_data_without_overlap():
    data = build_datasets(TrainConfig(train_samples=40, val_samples=11), img_size=32)
    seen_train, seen_val = [], []
    for rank in (0, 1):
        _, val, sampler = build_loaders(data, batch_size=4, workers=0, seed=0, rank=rank, world=2)
        sampler.set_epoch(0)
        seen_train += list(sampler)
        seen_val += list(val.sampler)
    assert sorted(seen_train) == list(range(40))
    assert sorted(seen_val) == list(range(11))  # every val image exactly once


def _image_folder(root: Path, splits=("train", "val"), classes=("cat", "dog")) -> Path:
    for split in splits:
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (40, 30), (i * 90, 50, 200)).save(folder / f"{i}.png")
    return root


def test_an_image_folder_root_gives_both_splits(tmp_path):
    data = build_datasets(TrainConfig(data=str(_image_folder(tmp_path))), img_size=32)
    assert data.classes == ["cat", "dog"] and data.kind == "folder"
    image, label = data.val[0]
    assert image.shape == (3, 32, 32) and label == 0


def test_unreadable_images_are_found_before_training_and_listed_in_one_line(tmp_path):
    root = _image_folder(tmp_path)
    whole = root / "train" / "cat" / "0.png"
    whole.write_bytes(whole.read_bytes()[:40])  # cut off inside the image data
    (root / "val" / "dog" / "1.png").write_text("not an image")
    with pytest.raises(DataError) as info:
        build_datasets(TrainConfig(data=str(root)), img_size=32)
    message = str(info.value)
    assert message.startswith("2 of 8 images cannot be read") and "\n" not in message
    assert str(whole) in message and str(root / "val" / "dog" / "1.png") in message


@pytest.mark.parametrize("workers", [0, 1])
def test_an_image_broken_after_the_check_stops_the_loader_in_one_line_naming_it(tmp_path, workers):
    """Also from a DataLoader worker, which re-raises with its traceback in the message."""
    root = _image_folder(tmp_path)
    data = build_datasets(TrainConfig(data=str(root)), img_size=32)  # checked: all readable
    broken, gone = root / "train" / "cat" / "1.png", root / "train" / "dog" / "0.png"
    broken.write_text("not an image any more")
    gone.unlink()
    loader = torch.utils.data.DataLoader(data.train, batch_size=1, num_workers=workers)
    with pytest.raises(UnreadableImageError) as info:
        list(loader)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"{root / 'train' / 'cat' / '1.png'} was readable when the run")
    assert "(UnidentifiedImageError)" in message and message.endswith("with --resume)")
    assert isinstance(info.value, DataError)  # the CLI's one line for bad data, status 2


def test_a_long_list_of_unreadable_images_shows_the_first_few_and_the_count(tmp_path):
    folder = tmp_path / "train" / "cat"
    folder.mkdir(parents=True)
    for i in range(2_005):  # past the threshold: threads and a progress bar
        (folder / f"{i:04d}.png").write_bytes(b"\x89PNG broken" if i % 400 == 0 else b"")
    Image.new("RGB", (8, 8)).save(folder / "0001.png")
    with pytest.raises(
        DataError, match=r"^2004 of 2005 images .*0000.png, .*0002.png, .*0003.png and 2001 more;"
    ):
        check_readable([datasets.ImageFolder(str(tmp_path / "train"))], workers=2)


def test_a_missing_data_path_names_what_was_expected(tmp_path):
    with pytest.raises(DataError, match="no dataset at .*expected 'builtin', 'cifar10'"):
        build_datasets(TrainConfig(data=str(tmp_path / "nowhere")), img_size=32)


def test_an_image_folder_without_val_names_the_layout(tmp_path):
    root = _image_folder(tmp_path, splits=("train",))
    with pytest.raises(DataError, match=r"has no val/ folder: expected .*/val/<class>/<image>"):
        build_datasets(TrainConfig(data=str(root)), img_size=32)


def test_a_class_only_in_val_is_refused_in_one_line_naming_it(tmp_path):
    _image_folder(tmp_path, splits=("train",), classes=("cat", "dog"))
    _image_folder(tmp_path, splits=("val",), classes=("cat", "dog", "emu"))
    with pytest.raises(DataError, match=r"^1 class folder\(s\) in .*/val/ but not in train/") as e:
        build_datasets(TrainConfig(data=str(tmp_path)), img_size=32)
    assert "never learned: emu;" in str(e.value) and "\n" not in str(e.value)


def test_a_class_only_in_train_is_trained_named_in_one_note_and_val_keeps_its_labels(tmp_path):
    """val/ lacks "cat", the first class: its "dog" images keep train's index 1, not 0."""
    _image_folder(tmp_path, splits=("train",), classes=("cat", "dog"))
    _image_folder(tmp_path, splits=("val",), classes=("dog",))
    data = build_datasets(TrainConfig(data=str(tmp_path)), img_size=32)
    assert data.classes == ["cat", "dog"] and data.num_classes == 2
    assert [label for _, label in data.val] == [1, 1]
    (note,) = data.notes
    assert note.startswith("1 class folder(s) in train/ have no val/ folder") and "cat" in note


def _mixed_modes(root: Path) -> Path:
    """Per split: 3 RGB, 2 grayscale, 1 RGBA, 1 16-bit grayscale PNG (one class)."""
    rgb = np.full((24, 24, 3), 200, np.uint8)
    images = {
        "rgb": [Image.fromarray(rgb)] * 3,
        "gray": [Image.fromarray(rgb[..., 0]).convert("L")] * 2,
        "rgba": [Image.fromarray(np.dstack([rgb, np.zeros((24, 24), np.uint8)]), "RGBA")],
        "deep": [Image.fromarray(np.full((24, 24), 128 * 257, np.uint16))],
    }
    for split in ("train", "val"):
        folder = root / split / "cat"
        folder.mkdir(parents=True)
        for kind, shown in images.items():
            for i, image in enumerate(shown):
                image.save(folder / f"{kind}{i}.png")
    return root


def test_grayscale_rgba_and_16_bit_images_are_converted_and_counted_in_one_line(tmp_path):
    data = build_datasets(TrainConfig(data=str(_mixed_modes(tmp_path))), img_size=32)
    assert data.notes == ["converted to RGB: 4 grayscale, 2 16-bit, 2 RGBA (of 14 images)"]
    assert {tuple(image.shape) for image, _ in data.val} == {(3, 32, 32)}


def test_16_bit_images_keep_their_grey_and_alpha_lies_over_white():
    """PIL's own convert("RGB") clips 16-bit values at 255 (white); to_rgb scales them."""
    deep = Image.fromarray(np.full((4, 4), 128 * 257, np.uint16))
    assert deep.mode.startswith("I") and np.asarray(deep.convert("RGB")).min() == 255
    assert np.asarray(to_rgb(deep)).tolist() == np.full((4, 4, 3), 128).tolist()
    clear = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert to_rgb(clear).mode == "RGB" and np.asarray(to_rgb(clear)).min() == 255


def test_an_rgb_folder_prints_no_conversion_note(tmp_path):
    data = build_datasets(TrainConfig(data=str(_image_folder(tmp_path))), img_size=32)
    assert data.notes == []


def test_a_folder_of_wildly_different_sizes_is_trained_at_one_side(tmp_path):
    for split in ("train", "val"):
        folder = tmp_path / split / "cat"
        folder.mkdir(parents=True)
        for side in (24, 40, 200, 512):
            Image.new("RGB", (side, side * 3 // 2), (9, 99, 199)).save(folder / f"{side}.png")
    data = build_datasets(TrainConfig(data=str(tmp_path)), img_size=64)
    train, _, _ = build_loaders(data, batch_size=4, workers=0, seed=0)
    images, _ = next(iter(train))
    assert images.shape == (4, 3, 64, 64)
    assert {tuple(image.shape) for image, _ in data.val} == {(3, 64, 64)}


def test_data_stats_reads_the_sides_from_the_headers_of_the_training_images(tmp_path):
    for split, sides in (("train", (24, 100, 128, 130, 512)), ("val", (999,))):
        folder = tmp_path / split / "cat"
        folder.mkdir(parents=True)
        for side in sides:  # the shorter side is the height
            Image.new("RGB", (side * 2, side)).save(folder / f"{side}.png")
    stats = data_stats(TrainConfig(data=str(tmp_path)), img_size=32)
    assert stats.sides == Sides(24, 128, 512) and stats.train_images == 5
    assert data_stats(TrainConfig(), img_size=32).sides is None  # built-in: nothing to read


def test_an_empty_split_is_refused(tmp_path):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "val" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="cannot read images under"):
        build_datasets(TrainConfig(data=str(tmp_path)), img_size=32)


class _FakeCifar:
    """Stands in for torchvision's CIFAR10: same attributes, no download."""

    def __init__(self, root, train, download):
        n = 30 if train else 10
        self.data = np.random.default_rng(0).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
        self.targets = [i % 10 for i in range(n)]
        self.classes = [f"class{i}" for i in range(10)]


def test_cifar_comes_in_as_normalised_32x32_tensors(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "CIFAR10", _FakeCifar)
    data = build_datasets(TrainConfig(data="cifar10", data_cache=str(tmp_path)), img_size=32)
    assert (len(data.train), len(data.val), data.num_classes) == (30, 10, 10)
    image, label = data.val[3]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 3


def test_cifar_offline_names_the_folder_to_fill(tmp_path, monkeypatch):
    def offline(root, train, download):
        raise URLError("Name or service not known")

    monkeypatch.setattr(datasets, "CIFAR100", offline)
    with pytest.raises(DataError, match=r"could not download cifar100 into .*cifar100.*online"):
        build_datasets(TrainConfig(data="cifar100", data_cache=str(tmp_path)), img_size=32)
