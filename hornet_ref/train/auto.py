"""``--recipe auto``: a training recipe chosen from the data, not from its name.

:func:`choose` is a pure function of what the data and the run look like
(:class:`DataStats`: training images, classes, input side) and returns every
recipe field, plus one line saying why. The rules, by the number of training
images ``n`` (the table in docs/training.md, "Your own data", is generated from
this module):

- **paper** (``n >= 500,000``, ImageNet scale): the paper's recipe, unchanged
  (``RECIPES["imagenet"]``: lr 4e-3 at a total batch of 4096, 300 epochs, mixup,
  cutmix, RandAugment 9, random erasing, EMA 0.9999).
- below it the paper's linear lr scaling is dropped: 4e-3 scaled from 4096 down
  to a batch of 128 is 1.25e-4, too small to train a network from scratch in a
  short run. The lr is given for the tier's own batch instead (it still scales
  linearly when ``--batch-size`` or processes change it), and:

  - **large** (``50,000 <= n``, CIFAR size): the paper's augmentation, lr 2e-3
    at batch 128, at least 100 epochs;
  - **medium** (``20,000 <= n``): lighter augmentation (RandAugment 5, mixup 0.2,
    no cutmix, no erasing), lr 2e-3 at batch 128, at least 30 epochs;
  - **small** (``n < 20,000``): no mixup, cutmix, erasing or RandAugment (each
    costs accuracy when a class has a few hundred images), random resized crops
    that keep at least 35% of a folder image's area below ``PAPER_CROPS_FROM`` px
    (at 32 px the paper's 8% leaves a 9-px region, and cost the digits a point) and
    the paper's 8% from it (at 64 px 8% leaves 18 px; on photographs at 64 and 128 px
    it gained 4 to 9 points, beyond the seeds' spread on three of the four folder
    and side pairs with several seeds), lr 2e-3 at batch 64, no drop path.

  Every tier flips half the images horizontally, as the paper does; the data's
  statistics cannot tell whether mirroring changes a class (digits, text), so
  ``--hflip 0`` is the user's call.

- **run length**, when ``epochs`` is not given: the tier's epochs, but never fewer
  than ``MIN_UPDATES`` optimiser updates nor fewer than ``MIN_EPOCHS`` epochs,
  because a small set gives few updates per epoch and the network needs updates,
  not epochs, to converge (layer scale starts every block at 1e-6). Below
  ``PAPER_CROPS_FROM`` px (a 32-px input) the floor is ``MIN_UPDATES_SMALL_SIDE``,
  twice as many: there an update is cheap, and on 32-px photograph patches the
  doubled run gained 5 points, beyond the seeds' spread.
- **warm-up**: the paper's share of the run, 20 of 300 epochs.
- **EMA**: an averaging horizon of ``EMA_SHARE`` of the run's updates, so the
  average forgets the first, untrained weights before the run ends; the decay is
  ``1 - 1 / horizon``, at most the paper's 0.9999 (no EMA for 10 updates or fewer).
- **fine-tuning** (``finetune``): lr 1e-4 at the tier's batch, layer-wise lr decay
  0.8, drop path 0.1, at least 10 epochs and ``MIN_UPDATES_FINETUNE`` updates; the
  augmentation follows the data's tier. Weights of a variant that has no published
  weights (``trained_here``: nano, nano_s4, mini) were trained on small data, here or
  by the user; from those, lr 1e-4 stalled near 40% on two folders where the tier's lr
  (2e-3 for small data) reached 95% and 82%, so such a run keeps the tier's lr.

The **input** of a folder's run, when ``--model`` or ``--img-size`` is not given
(:func:`choose_input`), follows its training images' shorter sides (read from the
file headers): the side is their median, rounded to a multiple of 32 (and of the
model's total stride), from 32 px up to 224 (or the model's own side, if larger);
the model is ``hornet_nano_7x7`` for a median below ``MINI_FROM`` px (trained at
32) and ``hornet_nano_s4_7x7`` from it: nano's widths and depths behind a 4x4 stem, so a
128-px image keeps maps of 32 to 4 (``hornet_mini_7x7``, a quarter of its width, reached
77% on a folder of 128-px photographs where nano_s4 reached 83-86%).
A given ``--model`` or ``--img-size`` wins; the other is chosen to suit it.

**Segmentation** (``--task segment``, :func:`choose_segment`) has rules of its own,
because what it learns from is pixels, not images: the images' labels are not mixed
(no mixup, cutmix or label smoothing: a pixel's class is not a blend), the data's
own augmentation is used (flips for the built-in scenes; scale-and-crop keeping at
least 25% of the area, and flips, for a folder), the batch shrinks with the pixels
of an input (64 at 64 px, 16 at 128, at least 4) and the lr is 2e-3 at that batch,
and the run lasts at least ``MIN_UPDATES_SEGMENT`` updates, because the heads first
learn to call every pixel background (most pixels are) and leave it only after a
few hundred updates (docs/dense.md, "Why the heads stalled").

Fields the user set are not touched here; :func:`~hornet_ref.train.config.resolve`
fills only what was left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EMA_SHARE",
    "MIN_EPOCHS",
    "MIN_UPDATES",
    "MIN_UPDATES_FINETUNE",
    "MIN_UPDATES_SMALL_SIDE",
    "MIN_UPDATES_SEGMENT",
    "MINI_FROM",
    "SIDE_RANGE",
    "DataStats",
    "Sides",
    "choose",
    "choose_segment",
    "choose_input",
    "ema_horizon",
    "tier",
]

#: The fewest optimiser updates a run from scratch gets when ``epochs`` is not given.
MIN_UPDATES = 700
#: The fewest a run from scratch gets below ``PAPER_CROPS_FROM`` px (at 32 px an update is a
#: sixteenth of a 128-px one; docs/training.md, "Twice the updates at 32 px").
MIN_UPDATES_SMALL_SIDE = 1_400
#: The fewest updates a fine-tuning run gets.
MIN_UPDATES_FINETUNE = 300
#: The fewest epochs any run gets when ``epochs`` is not given (enough for the
#: built-in data; docs/training.md, "Your own data", has the measurement).
MIN_EPOCHS = 8
#: The fewest updates a segmentation run from scratch gets.
MIN_UPDATES_SEGMENT = 900
#: The EMA's averaging horizon, as a share of the run's updates.
EMA_SHARE = 0.1

#: A folder whose median image side is below this trains hornet_nano_7x7 (2x2 stem), from it
#: a 4x4 stem: hornet_nano_s4_7x7 to classify, hornet_mini_7x7 to segment.
MINI_FROM = 48
#: From this training side up, the small tier's random resized crops keep the paper's 8% of
#: the area, below it 35% (docs/training.md, "The paper's 8% crops from 64 px").
PAPER_CROPS_FROM = 64
#: The sides a folder's run may be given from its images: 32 px (nano's) to 224 (the
#: paper's), or a larger model's own side.
SIDE_RANGE = (32, 224)
NANO, MINI, NANO_S4 = "hornet_nano_7x7", "hornet_mini_7x7", "hornet_nano_s4_7x7"

_PAPER_SCALE, _LARGE, _MEDIUM = 500_000, 50_000, 20_000
_PAPER_EMA = 0.9999
_WARMUP_SHARE = 20 / 300  # the paper's 20 warm-up epochs of 300

#: What each tier below the paper's sets (the paper's tier is RECIPES["imagenet"]).
_TIERS: dict[str, dict[str, Any]] = {
    "large": dict(
        epochs=100, batch_size=128, lr=2e-3, drop_path=0.1,
        mixup=0.8, cutmix=1.0, rand_augment=9, random_erasing=0.25,
    ),
    "medium": dict(
        epochs=30, batch_size=128, lr=2e-3, drop_path=0.1,
        mixup=0.2, cutmix=0.0, rand_augment=5, random_erasing=0.0,
    ),
    "small": dict(
        epochs=0, batch_size=64, lr=2e-3, drop_path=0.0, crop_scale=0.35,
        mixup=0.0, cutmix=0.0, rand_augment=0, random_erasing=0.0,
    ),
}  # fmt: skip
_COMMON = dict(
    min_lr=1e-5,
    weight_decay=0.05,
    layer_decay=1.0,
    clip_grad=5.0,
    label_smoothing=0.1,
    crop_scale=0.08,
    hflip=0.5,
)
_FINETUNE = dict(lr=1e-4, layer_decay=0.8, drop_path=0.1, epochs=10)


@dataclass(frozen=True)
class Sides:
    """The shorter sides of a folder's training images, in pixels."""

    smallest: int
    median: int
    largest: int

    @classmethod
    def of(cls, sides: list[int]) -> Sides:
        """The smallest, median (the upper of two middles) and largest of ``sides``."""
        ordered = sorted(sides)
        return cls(ordered[0], ordered[len(ordered) // 2], ordered[-1])

    def __str__(self) -> str:
        if self.smallest == self.largest:
            return f"sizes all {self.median} px"
        return f"sizes {self.smallest}-{self.largest} px, median {self.median}"


@dataclass(frozen=True)
class DataStats:
    """What :func:`choose` looks at: the training set's size and classes, the input side,
    and (a folder's) the sides of its images, which :func:`choose_input` reads."""

    train_images: int
    classes: int
    img_size: int
    sides: Sides | None = None
    task: str = "classify"  # "segment": :func:`choose` hands over to :func:`choose_segment`


def tier(train_images: int) -> str:
    """``"paper"``, ``"large"``, ``"medium"`` or ``"small"`` by the training set's size."""
    if train_images >= _PAPER_SCALE:
        return "paper"
    if train_images >= _LARGE:
        return "large"
    return "medium" if train_images >= _MEDIUM else "small"


def ema_horizon(decay: float) -> float:
    """Updates an EMA of ``decay`` averages over: ``1 / (1 - decay)`` (inf for 0)."""
    return math.inf if decay <= 0 else 1 / (1 - decay)


def _batch_for(train_images: int, batch_size: int) -> int:
    """The tier's batch, halved until a training set gives at least 8 batches."""
    while batch_size > 8 and train_images // batch_size < 8:
        batch_size //= 2
    return batch_size


def choose_input(sides: Sides, *, model: str | None, img_size: int | None) -> tuple[str, int, str]:
    """``(model, img_size, words)`` for a folder of images with these ``sides``; a given
    ``model`` or ``img_size`` (not None) is kept. ``words`` says what was seen and chosen."""
    from ..hornet import model_config  # the model stack loads torch

    chose_model = model is None
    if model is None:
        wide = img_size is not None and img_size >= 64 and img_size % 32 == 0
        model = NANO_S4 if wide or (img_size is None and sides.median >= MINI_FROM) else NANO
    variant = model_config(model)
    step = math.lcm(variant.stem_patch * 8, 32)  # the total stride, and a multiple of 32
    if img_size is None:
        lowest = max(SIDE_RANGE[0], step)
        highest = max(SIDE_RANGE[1], variant.img_size) // step * step
        img_size = min(max(math.floor(sides.median / step + 0.5) * step, lowest), highest)
        words = f"{model} at {img_size} px" if chose_model else f"{img_size} px for {model}"
        given = "" if chose_model else " (--model given)"
    else:
        words = f"{model} for {img_size} px" if chose_model else f"{model} at {img_size} px"
        given = " (--img-size given)" if chose_model else " (--model and --img-size given)"
    return model, img_size, f"{sides}: {words}{given}"


def choose(
    stats: DataStats,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    accum_steps: int = 1,
    world: int = 1,
    finetune: bool = False,
    trained_here: bool = False,
    paper: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """Every recipe field for data like ``stats``, and one line saying why.

    ``epochs`` and ``batch_size`` are the user's (None: the rules choose), because
    the run's length in updates follows from them. ``paper`` is the paper's recipe
    (``RECIPES["imagenet"]``), returned as it is at ImageNet scale. ``trained_here``:
    the fine-tuned weights are of a variant with no published weights, so they were
    trained on small data, and fine-tuning keeps the tier's lr (lr 1e-4 stalls there).
    """
    if stats.task == "segment":
        return choose_segment(
            stats, epochs=epochs, batch_size=batch_size, accum_steps=accum_steps, world=world,
            finetune=finetune,
        )  # fmt: skip
    n = stats.train_images
    name = tier(n)
    if name == "paper" and not finetune:
        values = dict(paper or {})
        reason = f"{n:,} training images: ImageNet scale, the paper's recipe"
        return values, reason
    base = _TIERS["large" if name == "paper" else name]
    values = {**_COMMON, **base}
    wide = stats.img_size >= PAPER_CROPS_FROM  # at 64 px a crop of 8% is still 18 px a side
    if name == "small" and wide:
        values["crop_scale"] = _COMMON["crop_scale"]
    values["lr_batch"] = _batch_for(n, base["batch_size"])
    values["batch_size"] = batch = batch_size or values["lr_batch"]
    if finetune:
        values.update(_FINETUNE)
        if trained_here:  # docs/training.md, "Fine-tuning from a checkpoint trained here"
            values["lr"] = base["lr"]
    if finetune:
        least = MIN_UPDATES_FINETUNE
    else:  # an update at 32 px is cheap, and there twice as many gained 5 points
        least = MIN_UPDATES if wide else MIN_UPDATES_SMALL_SIDE
    planned = epochs is None and not finetune and name == "small"
    epochs, updates, length = _run_length(
        values, n // (batch * accum_steps * world), epochs, least, values["epochs"]
    )
    if planned and not wide:
        length += f"; {MIN_UPDATES} from {PAPER_CROPS_FROM} px"
    augment = (
        f"folder crops >= {values['crop_scale']:.0%} of the area "
        f"({base['crop_scale'] if wide else _COMMON['crop_scale']:.0%} "
        f"{'below' if wide else 'from'} {PAPER_CROPS_FROM} px), "
        "no mixup/cutmix/RandAugment/erasing"
        if name == "small"
        else f"mixup {values['mixup']}, cutmix {values['cutmix']}, "
        f"RandAugment {values['rand_augment']}, erasing {values['random_erasing']}"
    )
    start = "fine-tuning" if finetune else "from scratch"
    reason = (
        f"{n:,} training images ({name} data), {stats.classes} classes, "
        f"{stats.img_size} px, {start}: {augment}; lr {values['lr']:.0e} at batch "
        f"{values['lr_batch']} (not the paper's 4e-3 at 4096, which scales to "
        f"{4e-3 * batch / 4096:.1e} here); {epochs} epochs = {updates} updates "
        f"({length}); EMA {values['ema_decay']:.5f} (horizon {EMA_SHARE:.0%} of the run)"
    )
    if finetune:
        reason += f"; layer decay {values['layer_decay']}"
    if finetune and trained_here:
        reason += (
            f"; the tier's lr, not fine-tuning's {_FINETUNE['lr']:.0e}: weights of a variant "
            "with no published weights were trained on small data, where 1e-4 stalls near 40%"
        )
    return values, reason


def _run_length(
    values: dict[str, Any],
    updates_per_epoch: int,
    epochs: int | None,
    least: int,
    tier_epochs: int = 0,
) -> tuple[int, int, str]:
    """Fill ``values``' epochs, warm-up and EMA decay for a run of ``epochs`` (None: the
    tier's, but at least ``least`` updates and ``MIN_EPOCHS``); returns the epochs, the
    updates and the words for the recipe line."""
    updates_per_epoch = max(updates_per_epoch, 1)
    length = "--epochs given"
    if epochs is None:
        floor = max(tier_epochs, MIN_EPOCHS)
        epochs = max(floor, math.ceil(least / updates_per_epoch))
        length = f">= {least} updates and {floor} epochs"
    updates = epochs * updates_per_epoch
    values["epochs"] = epochs
    values["warmup_epochs"] = round(epochs * _WARMUP_SHARE, 2)
    values["ema_decay"] = min(_PAPER_EMA, 1 - 1 / max(EMA_SHARE * updates, 1))
    return epochs, updates, length


def choose_segment(
    stats: DataStats,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    accum_steps: int = 1,
    world: int = 1,
    finetune: bool = False,
) -> tuple[dict[str, Any], str]:
    """Every recipe field of a segmentation run on data like ``stats``, and one line
    saying why (the rules are in this module's docstring)."""
    n, side = stats.train_images, stats.img_size
    lr_batch = min(64, max(4, 2 ** round(math.log2(64 * (64 / side) ** 2))))
    lr_batch = _batch_for(n, lr_batch)
    batch = batch_size or lr_batch
    values: dict[str, Any] = {
        **_COMMON,
        "batch_size": batch, "lr_batch": lr_batch, "lr": 2e-3, "drop_path": 0.0,
        "label_smoothing": 0.0, "mixup": 0.0, "cutmix": 0.0, "rand_augment": 0,
        "random_erasing": 0.0, "crop_scale": 0.25,
    }  # fmt: skip
    least = MIN_UPDATES_SEGMENT
    if finetune:
        values.update(lr=1e-4, layer_decay=0.8)
        least = MIN_UPDATES_FINETUNE
    given = epochs is not None
    epochs, updates, length = _run_length(values, n // (batch * accum_steps * world), epochs, least)
    if not given:
        length += ": the heads call every pixel background for the first hundred or so"
    start = "fine-tuning (layer decay 0.8)" if finetune else "from scratch"
    reason = (
        f"segmentation, {n:,} training images, {stats.classes} classes, {side} px, {start}: "
        "per-pixel cross-entropy, no label smoothing/mixup/cutmix (a pixel's class is not "
        "a blend), the data's own flips and crops; "
        f"lr {values['lr']:.0e} at batch {lr_batch} (the batch shrinks with the pixels "
        f"of an input); {epochs} epochs = {updates} updates ({length}); "
        f"EMA {values['ema_decay']:.5f}"
    )
    return values, reason
