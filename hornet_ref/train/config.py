"""What a training run is: one typed dataclass, its recipes, and its command-line flags.

:class:`TrainConfig` holds every setting. Recipe fields default to ``None``,
meaning "the recipe's value": :func:`resolve` fills them from a named recipe
(``--recipe NAME``), or, with ``recipe="auto"`` (the default), from rules
that look at the data's size (``hornet_ref.train.auto``). The named ones:

- ``shapes``: the built-in 32x32 dataset, a short run that fits a few CPU minutes;
- ``cifar``: CIFAR-10/100 from scratch, a longer run with the same 32x32 pipeline;
- ``imagenet``: the paper's ImageNet-1K recipe, to the letter;
- ``detect``: Mask R-CNN (``--task detect``, which takes it for ``auto``).

:func:`add_arguments` turns every field into a flag (``--batch-size``,
``--channels-last/--no-channels-last`` ...) from the dataclass itself, so the
command line and the Python API cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .auto import NANO, DataStats, choose, choose_input

__all__ = [
    "DEFAULT_MODEL",
    "MOVABLE_FIELDS",
    "RECIPES",
    "SESSION_FIELDS",
    "ConfigError",
    "TrainConfig",
    "add_arguments",
    "config_from_args",
    "explain",
    "model_overrides",
    "parse_orders",
    "resolve",
]


#: What a run can learn, and the decoders of ``task="segment"`` (hornet_ref.dense.HEADS);
#: ``task="detect"`` takes the FPN ones as Mask R-CNN's neck.
TASKS = ("classify", "segment", "detect")
SEGMENT_HEADS = ("fpn", "horfpn", "uper", "gnuper")


class ConfigError(ValueError):
    """A setting that cannot work, with what was expected."""


def _opt(help: str, **metadata: Any) -> dict[str, Any]:
    return {"help": help, **metadata}


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run. ``None`` means "the recipe's value" (see RECIPES)."""

    # One field per setting, each carrying its flag's help: the declarations look alike
    # by design (`duplicates` pairs them), and add_arguments turns each into a flag.
    # What to train, on what.
    data: str = field(
        default="builtin",
        metadata=_opt(
            "'builtin' (generated shapes, no download), 'cifar10', 'cifar100', or an "
            "ImageFolder root holding train/ and val/ class folders"
        ),
    )
    data_cache: str = field(
        default="~/.cache/hornet-ref", metadata=_opt("where CIFAR is downloaded and kept")
    )
    train_samples: int | None = field(
        default=None,
        metadata=_opt("training images: how many to generate (builtin) or a seeded subset size"),
    )
    val_samples: int | None = field(default=None, metadata=_opt("validation images, likewise"))
    model: str | None = field(
        default=None,
        metadata=_opt(
            "a name from `hornet-ref info` (default: hornet_nano_7x7; for a folder with "
            "--recipe auto, nano or nano_s4 by its images' sizes; for --task segment, nano or "
            "mini by the input side)"
        ),
    )
    orders: str | None = field(
        default=None,
        metadata=_opt(
            "gnConv order n of every stage ('3') or of each stage ('2,3,4,5') "
            "(default: the model's)"
        ),
    )
    task: str = field(
        default="classify",
        metadata=_opt(
            "'classify' (one class per image), 'segment' (one class per pixel: built-in "
            "scenes, or a folder in ADE20K's layout) or 'detect' (boxes and instance masks, "
            "Mask R-CNN: built-in scenes, or a folder in COCO's layout)",
            choices=TASKS,
        ),
    )
    head: str = field(
        default="gnuper",
        metadata=_opt(
            "--task segment: the decoder on the HorNet; --task detect: Mask R-CNN's neck, "
            "fpn or horfpn (default: gnuper to segment, horfpn to detect)",
            choices=SEGMENT_HEADS,
        ),
    )
    decoder_channels: int | None = field(
        default=None,
        metadata=_opt(
            "--task segment / detect: decoder width (default: follows the backbone: its last "
            "stage's width for uper/gnuper, half that for fpn/horfpn, a quarter for detect's "
            "neck and heads, at most the authors' 512 / 256)"
        ),
    )
    num_classes: int | None = field(
        default=None,
        metadata=_opt(
            "--task segment on a folder: classes of its label maps (ADE20K: 150) "
            "(default: read from the label maps, one pass)"
        ),
    )
    reduce_zero_label: bool = field(
        default=True,
        metadata=_opt(
            "--task segment on a folder: a stored 0 is ignored and k is class k-1 (ADE20K, "
            "whose 0 is 'other'); --no-reduce-zero-label when 0 is a class (background)"
        ),
    )
    img_size: int | None = field(
        default=None,
        metadata=_opt(
            "input side (default: the model's; for a folder with --recipe auto, its "
            "images' median side)"
        ),
    )
    finetune: str | None = field(
        default=None,
        metadata=_opt("weights to start from; the head is kept fresh when classes differ"),
    )
    recipe: str = field(
        default="auto",
        metadata=_opt(
            "hyper-parameter defaults (auto: chosen from the data's size and the run's length; "
            "--task detect: the detect recipe)",
            choices=("auto", "shapes", "cifar", "imagenet", "detect"),
        ),
    )

    # Schedule and optimiser (AdamW).
    epochs: int | None = field(default=None, metadata=_opt("epochs the schedule is planned for"))
    stop_after: int | None = field(
        default=None,
        metadata=_opt("end this session after this epoch (checkpoint kept; --resume continues)"),
    )
    batch_size: int | None = field(default=None, metadata=_opt("images per device per step"))
    accum_steps: int = field(default=1, metadata=_opt("gradient accumulation: steps per update"))
    lr: float | None = field(
        default=None, metadata=_opt("peak learning rate at a total batch of --lr-batch")
    )
    lr_batch: int | None = field(
        default=None, metadata=_opt("the total batch --lr is given for; lr scales linearly")
    )
    min_lr: float | None = field(default=None, metadata=_opt("learning rate at the cosine's end"))
    warmup_epochs: float | None = field(default=None, metadata=_opt("linear warm-up length"))
    weight_decay: float | None = field(
        default=None, metadata=_opt("AdamW decay (never on norms, biases, layer-scale)")
    )
    layer_decay: float | None = field(
        default=None, metadata=_opt("layer-wise lr decay for fine-tuning (1: off)")
    )
    clip_grad: float | None = field(default=None, metadata=_opt("max gradient norm (0: off)"))

    # Regularisation and augmentation.
    drop_path: float | None = field(default=None, metadata=_opt("stochastic depth, last block"))
    label_smoothing: float | None = field(default=None, metadata=_opt("label smoothing"))
    mixup: float | None = field(default=None, metadata=_opt("mixup alpha (0: off)"))
    cutmix: float | None = field(default=None, metadata=_opt("cutmix alpha (0: off)"))
    crop_scale: float | None = field(
        default=None,
        metadata=_opt("folder data: the smallest area share a random resized crop keeps"),
    )
    hflip: float | None = field(
        default=None,
        metadata=_opt("horizontal flip probability (0 where mirroring changes a class: text)"),
    )
    rand_augment: int | None = field(
        default=None, metadata=_opt("RandAugment magnitude, 2 ops (0: off)")
    )
    random_erasing: float | None = field(default=None, metadata=_opt("random erasing probability"))
    ema_decay: float | None = field(
        default=None, metadata=_opt("EMA of weights per update, evaluated alongside (0: off)")
    )

    # Speed.
    device: str = field(default="auto", metadata=_opt("'auto' (CUDA if present), 'cpu', 'cuda'"))
    precision: str = field(
        default="auto",
        metadata=_opt(
            "autocast dtype; auto: bf16 on CUDA that has it, else fp16 with a gradient scaler; "
            "fp32 on CPU",
            choices=("auto", "fp32", "bf16", "fp16"),
        ),
    )
    channels_last: bool | None = field(
        default=None,
        metadata=_opt(
            "channels-last memory format (default: on CUDA, or with --compile, where it is faster)"
        ),
    )
    compile: bool = field(default=False, metadata=_opt("torch.compile the model"))
    grad_checkpointing: bool = field(
        default=False, metadata=_opt("recompute blocks in backward: less memory, more time")
    )
    workers: int | None = field(
        default=None, metadata=_opt("data loader processes per device (default: by data)")
    )

    # Bookkeeping.
    out: str = field(default="runs/train", metadata=_opt("run folder: checkpoint, metrics, plot"))
    resume: bool = field(default=False, metadata=_opt("continue the run in --out"))
    seed: int = field(default=0, metadata=_opt("seed of weights, data order and augmentation"))
    log_every: int = field(
        default=10, metadata=_opt("updates between progress refreshes and loss checks")
    )
    eval_every: int | None = field(
        default=None,
        metadata=_opt(
            "validate after every N epochs, and after the first and the last (default: about "
            "every 100 updates, so every epoch once an epoch has 100)"
        ),
    )
    progress: bool = field(default=True, metadata=_opt("show a progress bar per epoch"))

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (str, int, float, bool, None): safe for JSON and weights_only."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


#: The model of a run that names none, where the data does not choose one.
DEFAULT_MODEL = NANO

#: Settings that belong to one session, not to the run: they may change on --resume.
SESSION_FIELDS = (
    "stop_after",
    "device",
    "workers",
    "compile",
    "out",
    "resume",
    "log_every",
    "eval_every",
    "progress",
)

#: Where the data lives may change on --resume (given: this session's; else the run's).
MOVABLE_FIELDS = ("data", "data_cache")

#: The paper's ImageNet-1K recipe (shared/spec/HORNET.md, "Training recipe"). Its
#: drop path is the model's: ``None`` takes the variant's ``train_drop_path``
#: (HorNet-T 0.2, S 0.4, B 0.5).
_PAPER: dict[str, Any] = dict(
    epochs=300,
    batch_size=128,
    lr=4e-3,
    lr_batch=4096,
    min_lr=1e-6,
    warmup_epochs=20,
    weight_decay=0.05,
    layer_decay=1.0,
    clip_grad=5.0,
    drop_path=None,
    label_smoothing=0.1,
    crop_scale=0.08,
    hflip=0.5,
    mixup=0.8,
    cutmix=1.0,
    rand_augment=9,
    random_erasing=0.25,
    ema_decay=0.9999,
)

#: CIFAR from scratch: the paper's augmentation, a shorter schedule at a smaller batch.
_CIFAR = _PAPER | dict(
    epochs=100, lr=2e-3, lr_batch=128, min_lr=1e-5, warmup_epochs=5, drop_path=0.1, ema_decay=0.999
)

#: The built-in shapes: a few CPU minutes, so no augmentation beyond crop and flip.
_SHAPES = _CIFAR | dict(
    epochs=6, batch_size=64, lr_batch=64, warmup_epochs=0.5, drop_path=0.0, ema_decay=0.0,
    mixup=0.0, cutmix=0.0, rand_augment=0, random_erasing=0.0,
)  # fmt: skip

#: ``--task detect``'s own (auto's rules are for classifiers): Mask R-CNN from scratch on
#: small images, a run that fits the CPU budget on the built-in scenes (docs/training.md,
#: "Detection"); no augmentation but the flip, no EMA (its validation would double).
_DETECT = _SHAPES | dict(
    epochs=5, batch_size=8, lr=2e-3, lr_batch=8, min_lr=1e-5, warmup_epochs=0.3,
    label_smoothing=0.0, crop_scale=1.0,
)  # fmt: skip

#: The recipes, each the paper's with what differs from it overridden.
RECIPES: dict[str, dict[str, Any]] = {
    "shapes": _SHAPES,
    "cifar": _CIFAR,
    "imagenet": _PAPER,
    "detect": _DETECT,
}


def _recipe_for(config: TrainConfig) -> str:
    if config.recipe != "auto":
        return config.recipe
    if config.data == "builtin":
        return "shapes"
    if config.data in ("cifar10", "cifar100"):
        return "cifar"
    return "imagenet"


def _input(
    config: TrainConfig, stats: DataStats | None
) -> tuple[TrainConfig, DataStats | None, str]:
    """``config`` with its model (and, for a folder under ``--recipe auto``, its input side)
    filled in, ``stats`` at that side, and what was chosen from the images ("" if nothing).
    A fine-tuning run keeps its model's side unless ``--img-size`` is given."""
    if config.recipe != "auto" or stats is None or stats.sides is None:
        return replace(config, model=config.model or DEFAULT_MODEL), stats, ""
    if config.finetune is None:
        model, img_size, words = choose_input(
            stats.sides, model=config.model, img_size=config.img_size
        )
    else:  # the weights were trained at their model's side
        from ..hornet import model_config  # the model stack loads torch

        model = config.model or DEFAULT_MODEL
        img_size = config.img_size or model_config(model).img_size
        words = f"{stats.sides}: {model} at its own {img_size} px (fine-tuning)"
    config = replace(config, model=model, img_size=img_size)
    return config, replace(stats, img_size=img_size), words


def _auto_values(config: TrainConfig, stats: DataStats, world: int) -> tuple[dict, str]:
    """``hornet_ref.train.auto.choose`` for this config's data and given settings (its
    model and input already filled in by :func:`_input`)."""
    from ..hornet import PUBLISHED, model_config  # the model stack loads torch

    paper = dict(RECIPES["imagenet"], drop_path=model_config(config.model).train_drop_path)
    return choose(
        stats,
        epochs=config.epochs,
        batch_size=config.batch_size,
        accum_steps=config.accum_steps,
        world=world,
        finetune=config.finetune is not None,
        trained_here=config.finetune is not None and config.model not in PUBLISHED,
        paper=paper,
    )


def explain(config: TrainConfig, stats: DataStats, world: int = 1) -> str:
    """One line: the recipe ``config`` resolves to, why, and which values the user gave."""
    if config.recipe != "auto":
        return f"recipe {config.recipe}" + ("" if config.recipe == "detect" else ", as asked")
    given = [
        f"{k}={getattr(config, k)}" for k in RECIPES["shapes"] if getattr(config, k) is not None
    ]
    config, stats, chosen = _input(config, stats)
    _, reason = _auto_values(config, stats, world)
    reason = f"{chosen}; {reason}" if chosen else reason
    return f"recipe auto: {reason}" + (f"; given: {', '.join(given)}" if given else "")


def resolve(config: TrainConfig, stats: DataStats | None = None, world: int = 1) -> TrainConfig:
    """``config`` with every ``None`` recipe field filled in and the values checked.

    With ``recipe="auto"`` and ``stats`` (what the data looks like), the fields come
    from ``hornet_ref.train.auto.choose``, and a folder's model and input side that
    were not given from ``choose_input``; without ``stats``, auto picks a named
    recipe from ``config.data``. A named recipe's warm-up keeps its share of the run
    when ``epochs`` is given (the paper's 20 of 300 epochs become 2 of 30). Raises
    ConfigError naming the field and what it accepts.
    """
    from ..hornet import list_models, model_config  # the model stack loads torch

    if config.model is not None and config.model not in list_models():
        raise ConfigError(
            f"unknown model {config.model!r}; expected one of {', '.join(list_models())}"
        )
    config, stats, _ = _input(config, stats)
    if config.recipe == "auto" and stats is not None:
        auto, _ = _auto_values(config, stats, world)
        values = {k: v for k, v in auto.items() if getattr(config, k) is None}
        config = replace(config, **values)
        _check(config)
        return config
    recipe = _recipe_for(config)
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
    variant = model_config(config.model)
    values = {}
    for name, default in RECIPES[recipe].items():
        if getattr(config, name) is not None:
            continue
        if name == "drop_path" and default is None:
            default = variant.train_drop_path
        if name == "warmup_epochs" and config.epochs is not None:
            default = default * config.epochs / RECIPES[recipe]["epochs"]
        values[name] = default
    config = replace(config, recipe=recipe, **values)
    _check(config)
    return config


def _check(c: TrainConfig) -> None:
    positive = ("epochs", "batch_size", "accum_steps", "lr_batch", "log_every")
    for name in positive:
        if getattr(c, name) < 1:
            raise ConfigError(f"--{_flag(name)} must be >= 1, got {getattr(c, name)}")
    if c.task not in TASKS or c.head not in SEGMENT_HEADS:
        raise ConfigError(
            f"--task must be one of {', '.join(TASKS)} and --head one of "
            f"{', '.join(SEGMENT_HEADS)}; got {c.task!r}, {c.head!r}"
        )
    for name in (
        "train_samples", "val_samples", "img_size", "stop_after", "decoder_channels", "eval_every"
    ):  # fmt: skip
        value = getattr(c, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{_flag(name)} must be >= 1 when given, got {value}")
    non_negative = ("lr", "min_lr", "warmup_epochs", "weight_decay", "clip_grad", "mixup", "cutmix")
    for name in non_negative + ("label_smoothing", "rand_augment", "random_erasing", "ema_decay"):
        if getattr(c, name) < 0:
            raise ConfigError(f"--{_flag(name)} must be >= 0, got {getattr(c, name)}")
    for name in ("drop_path", "label_smoothing", "random_erasing", "ema_decay"):
        if not getattr(c, name) < 1:
            raise ConfigError(f"--{_flag(name)} must be in [0, 1), got {getattr(c, name)}")
    if not 0 < c.crop_scale <= 1:
        raise ConfigError(f"--crop-scale must be in (0, 1], got {c.crop_scale}")
    if not 0 <= c.hflip <= 1:
        raise ConfigError(f"--hflip must be in [0, 1], got {c.hflip}")
    if not 0 < c.layer_decay <= 1:
        raise ConfigError(f"--layer-decay must be in (0, 1], got {c.layer_decay}")
    if c.workers is not None and c.workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {c.workers}")
    if c.warmup_epochs > c.epochs:
        raise ConfigError(f"--warmup-epochs ({c.warmup_epochs}) exceeds --epochs ({c.epochs})")
    _check_orders(c)
    if c.device not in ("auto", "cpu") and not c.device.startswith("cuda"):
        raise ConfigError(f"--device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {c.device!r}")


def parse_orders(text: str | None) -> tuple[int, ...] | None:
    """``--orders`` as a tuple: '3' -> (3, 3, 3, 3), '2,3,4,5' -> (2, 3, 4, 5); None stays."""
    if text is None:
        return None
    try:
        orders = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        orders = ()
    if len(orders) not in (1, 4) or min(orders) < 1:
        raise ConfigError(
            f"--orders takes one gnConv order >= 1 for every stage ('3') or four ('2,3,4,5'), "
            f"got {text!r}"
        )
    return orders * 4 if len(orders) == 1 else orders


def model_overrides(config: TrainConfig) -> dict[str, Any]:
    """The :func:`~hornet_ref.create_model` options the run sets on its variant."""
    orders = parse_orders(config.orders)
    return {} if orders is None else {"orders": orders}


def _check_orders(c: TrainConfig) -> None:
    from ..hornet import model_config  # the model stack loads torch

    overrides = model_overrides(c)
    if not overrides:
        return
    variant = model_config(c.model, **overrides)
    for dim, order in zip(variant.dims, variant.orders):
        if dim % 2 ** (order - 1):
            raise ConfigError(
                f"--orders {c.orders}: {c.model}'s stage widths {variant.dims} must each be "
                f"divisible by 2**(order-1) (order {order} needs {2 ** (order - 1)}; width {dim})"
            )


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _base_type(annotation: Any) -> type:
    """``int`` for ``int`` or ``int | None``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner
    return annotation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`TrainConfig` field, typed and documented from the dataclass.

    Every flag defaults to ``argparse.SUPPRESS``, so :func:`config_from_args` sees
    only what was given and the dataclass stays the one place defaults live. Each
    help states its default once: the recipe's, the dataclass's, or its own words.
    """
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        kind = _base_type(hints[f.name])
        help_text = f.metadata["help"]
        if "(default:" in help_text:
            pass  # the help says its own default
        elif f.name in RECIPES["shapes"]:
            help_text += " (default: the recipe's)"
        elif f.default is not None:
            help_text += f" (default: {f.default})"
        if kind is bool:
            parser.add_argument(
                f"--{_flag(f.name)}",
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parser.add_argument(
                f"--{_flag(f.name)}",
                type=kind,
                choices=f.metadata.get("choices"),
                default=argparse.SUPPRESS,
                help=help_text,
            )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of the flags given (others keep their defaults)."""
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
