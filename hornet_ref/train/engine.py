"""The training loop: :func:`fit` runs a :class:`TrainConfig` from start (or checkpoint) to end.

The loop, as ``_train`` writes it on one screen (``accum`` micro-batches per update)::

    data, model, opt, task = build_data(), build_model(), build_optimisation(), build_task()
    for epoch in range(start, epochs):
        for batch in batches(epoch, start=position):              # resumes mid-epoch
            images, labels = task.batch(batch)                    # mixup: labels (B, K)
            with autocast(dtype):  loss = task.loss(model(images), labels)
            scaler.scale(loss / accum).backward()                 # DDP syncs on the last one
            if last micro-batch:
                scaler.unscale_(opt); clip_grad_norm_(params, clip)
                scaler.step(opt); scaler.update(); scheduler.step(); ema.update(model)
                every log_every updates: check the loss, stop on Ctrl-C (saving first)
        if validated(epoch): metrics = task.evaluate(model, val_loader)   # and the EMA
        save checkpoint (and curves.png after a validation)

Setup is four build steps, each returning a small dataclass: :func:`build_data`
(datasets, loaders, the epoch's size), :func:`build_model` (the network, its DDP /
compiled wrappers, dtype and memory format), :func:`build_optimisation` (AdamW,
schedule, gradient scaler, EMA) and :func:`build_task` (what is learned: loss,
validation metrics, what a batch is; see :mod:`hornet_ref.train.task`). The task is
picked by name from :mod:`hornet_ref.train.tasks`, the one place a new task plugs in.

Never losing work (the helpers are in :mod:`hornet_ref.train.safeguards`):

- a checkpoint is written atomically after every epoch, and on Ctrl-C (SIGINT)
  or SIGTERM at the next update, with the position inside the epoch;
- ``--resume`` continues from it. Every epoch seeds the generators from
  ``(seed, epoch, rank)`` and the data order from ``(seed, epoch)``, and a
  mid-epoch checkpoint keeps the generator states, so a resumed CPU run with
  in-process loading (``--workers 0``) repeats the uninterrupted run exactly;
- the loss is checked every ``log_every`` updates (one host sync, not one per
  step); a non-finite loss stops the run with the step named and the last good
  checkpoint untouched.

Validation follows the first epoch, the last, and every ``eval_every`` epochs
between (:func:`validation_interval`); an epoch's row in ``metrics.jsonl`` has the
``val_*`` keys only when it was validated.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..checkpoint import CheckpointError, gnconv_orders, read_state_dict
from ..flops import count_params
from ..hornet import list_models, model_config
from .auto import ema_horizon
from .checkpointing import FORMAT, capture_rng, restore_rng, save_atomic
from .config import DEFAULT_MODEL, ConfigError, TrainConfig, explain, resolve
from .data import Datasets, build_loaders, default_workers
from .distributed import Process, all_reduce_sum, setup, teardown
from .history import save_curves, write_metrics
from .precision import amp_dtype, autocast
from .recipe import build_ema, build_optimizer, build_scheduler, scaled_lr
from .safeguards import (
    EpochMeter,
    NonFiniteLossError,
    Position,
    RunLock,
    StopRequest,
    epoch_seed,
    open_run,
)
from .task import Task
from .tasks import get_task

__all__ = [
    "EVAL_UPDATES",
    "Data",
    "Model",
    "NonFiniteLossError",
    "Optimisation",
    "TrainResult",
    "build_data",
    "build_model",
    "build_optimisation",
    "build_task",
    "fit",
    "validation_interval",
]

CHECKPOINT, METRICS, CURVES, CONFIG = "checkpoint.pt", "metrics.jsonl", "curves.png", "config.json"


@dataclass
class TrainResult:
    """What :func:`fit` returns: the resolved config, per-epoch metrics, the trained
    network (on its device, unwrapped from DDP and torch.compile; the EMA, if kept,
    is in the checkpoint) and the run folder."""

    config: TrainConfig
    history: list[dict[str, Any]]
    out: Path
    model: nn.Module  # the trained network: the task's model (a HorNet to classify)

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT


# -- setup: four build steps ----------------------------------------------------------


@dataclass
class Data:
    """The datasets and this process's loaders; an epoch trains ``batches`` of them."""

    datasets: Datasets
    train_loader: DataLoader
    val_loader: DataLoader
    sampler: Any  # the train sampler: ``set_epoch`` and ``skip`` (to start mid-epoch)
    img_size: int
    batches: int  # per epoch: a whole number of updates
    updates_per_epoch: int

    @property
    def num_classes(self) -> int:
        return self.datasets.num_classes


def build_data(config: TrainConfig, proc: Process, state: dict | None) -> Data:
    """Datasets and loaders for ``config``; raises ConfigError / DataError when they
    cannot work, or when the data's classes are not those of the resumed checkpoint."""
    spec = get_task(config.task)
    img_size = spec.img_size(config)
    stride = model_config(config.model).stem_patch * 8
    if img_size % stride:
        raise ConfigError(f"--img-size must be a multiple of {stride} for {config.model}")
    datasets = spec.datasets(config, img_size)
    head = state["model"].get(spec.head_key) if state is not None else None
    if head is not None and head.shape[0] != datasets.num_classes:
        raise ConfigError(
            f"the checkpoint in {config.out} classifies {head.shape[0]} classes, "
            f"but {config.data} has {datasets.num_classes}"
        )
    workers = config.workers
    if workers is None:
        workers = default_workers(datasets.kind, proc.device)
    train_loader, val_loader, sampler = build_loaders(
        datasets,
        batch_size=config.batch_size,
        workers=workers,
        seed=config.seed,
        rank=proc.rank,
        world=proc.world,
        pin_memory=proc.device.type == "cuda",
    )
    batches = len(train_loader) // config.accum_steps * config.accum_steps
    if batches == 0:
        raise ConfigError(
            f"{len(datasets.train)} training images give no full update of "
            f"{config.batch_size} x {config.accum_steps} per process x {proc.world} "
            "processes; lower --batch-size or --accum-steps"
        )
    updates = batches // config.accum_steps
    return Data(datasets, train_loader, val_loader, sampler, img_size, batches, updates)


@dataclass
class Model:
    """The network and the forms the loop calls it in."""

    net: nn.Module  # the task's model: saved, averaged by the EMA, returned by fit
    train_net: nn.Module  # what a training step calls: net, wrapped by DDP and/or compiled
    eval_net: nn.Module  # what validation calls: net, compiled or not
    dtype: torch.dtype  # autocast dtype
    memory_format: torch.memory_format


def build_model(config: TrainConfig, proc: Process, num_classes: int, state: dict | None) -> Model:
    """The network (fresh, fine-tuned from ``--finetune`` or the checkpoint's), placed
    on the device in its memory format, wrapped for DDP and torch.compile."""
    device = proc.device
    torch.manual_seed(config.seed)  # the same initial weights in every process
    # --finetune NAME: the variant is built once, with its published weights.
    published = state is None and config.finetune is not None and _names_variant(config.finetune)
    spec = get_task(config.task)
    net = spec.build_model(config, num_classes, pretrained=published)
    if state is not None:
        net.load_state_dict(state["model"])
    elif published:
        if proc.is_main:
            _say(f"fine-tuning {config.finetune}'s published weights; new {num_classes}-class head")
    elif config.finetune:
        note = spec.load_finetune(net, config.finetune, num_classes)
        if note and proc.is_main:
            _say(note)
    net.set_grad_checkpointing(config.grad_checkpointing)
    # channels_last feeds tensor cores on CUDA, and lets inductor keep the depthwise
    # conv's backward in its fast layout when compiled on CPU.
    channels_last = config.channels_last
    if channels_last is None:
        channels_last = device.type == "cuda" or config.compile
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net.to(device, memory_format=memory_format)
    train_net: nn.Module = net
    if proc.world > 1:
        train_net = DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    eval_net: nn.Module = net
    if config.compile:
        # Static shapes: one graph per input size (symbolic sizes fail in inductor here).
        train_net = torch.compile(train_net, dynamic=False)
        eval_net = torch.compile(net, dynamic=False)
    return Model(net, train_net, eval_net, amp_dtype(config.precision, device), memory_format)


def _names_variant(finetune: str) -> bool:
    """``--finetune`` names a variant (not a file): its published weights are wanted."""
    return finetune in list_models() and not Path(finetune).exists()


def _finetune_model(config: TrainConfig) -> TrainConfig:
    """``--finetune NAME`` trains the variant NAME: ``--model`` may only agree with it.
    A ``--finetune`` file trained at other gnConv orders (a run's ``--orders``) is
    fine-tuned at those orders unless ``--orders`` is given."""
    if config.finetune is None:
        return config
    if not _names_variant(config.finetune):
        return _file_orders(config)
    if config.model not in (None, config.finetune):
        raise ConfigError(
            f"--finetune {config.finetune} fine-tunes that variant, but --model is "
            f"{config.model}; drop --model or pass a weights file to --finetune"
        )
    return replace(config, model=config.finetune)


def _file_orders(config: TrainConfig) -> TrainConfig:
    if config.orders is not None or not Path(config.finetune).is_file():
        return config
    try:
        orders = gnconv_orders(read_state_dict(config.finetune))
    except CheckpointError:  # reported in one line when the weights are loaded
        return config
    model = config.model if config.model in list_models() else DEFAULT_MODEL  # bad: told later
    if orders is None or orders == model_config(model).orders:
        return config
    return replace(config, orders=",".join(map(str, orders)))


@dataclass
class Optimisation:
    """Everything that changes the weights: the optimiser and what drives it."""

    lr: float  # the peak lr, scaled to the total batch
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    scaler: torch.amp.GradScaler
    ema: AveragedModel | None

    def state_dict(self) -> dict[str, Any]:
        return {
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def current_lr(self) -> float:
        return max(group["lr"] for group in self.optimizer.param_groups)


def build_optimisation(
    config: TrainConfig, model: Model, proc: Process, data: Data, state: dict | None
) -> Optimisation:
    """AdamW over the network, warm-up + cosine per update, the fp16 gradient scaler
    and the EMA; restored from the checkpoint when resuming."""
    lr = scaled_lr(config, proc.world)
    optimizer = build_optimizer(model.net, config, lr)
    opt = Optimisation(
        lr=lr,
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, config, lr, data.updates_per_epoch),
        scaler=torch.amp.GradScaler(proc.device.type, enabled=model.dtype == torch.float16),
        ema=build_ema(model.net, config.ema_decay),
    )
    if state is not None:
        if opt.ema is not None and state["ema"] is not None:
            opt.ema.load_state_dict(state["ema"])
        opt.optimizer.load_state_dict(state["optimizer"])
        opt.scheduler.load_state_dict(state["scheduler"])
        opt.scaler.load_state_dict(state["scaler"])
    return opt


def build_task(config: TrainConfig, proc: Process, data: Data, model: Model) -> Task:
    """What the run learns (see :mod:`hornet_ref.train.task`)."""
    return get_task(config.task).task(
        config,
        data.num_classes,
        device=proc.device,
        dtype=model.dtype,
        memory_format=model.memory_format,
    )


# -- the loop -------------------------------------------------------------------------


def fit(config: TrainConfig) -> TrainResult:
    """Train as ``config`` says; returns the metrics of every epoch.

    Prints a progress bar per epoch and a summary line (rank 0 only), writes
    ``checkpoint.pt``, ``config.json``, ``metrics.jsonl`` and ``curves.png`` into
    ``config.out`` after every epoch, and when Ctrl-C stops the run. Runs under
    ``torchrun`` as one process of many. Raises ConfigError / DataError before
    anything is written when the settings or data are wrong, NonFiniteLossError when
    the loss diverges, and KeyboardInterrupt (after saving a checkpoint) on Ctrl-C. The run holds
    ``.lock`` in ``config.out`` throughout (see :class:`~.safeguards.RunLock`): a
    second run on the same folder raises ConfigError.
    """
    main_process = int(os.environ.get("RANK", 0)) == 0  # torchrun's rank 0 holds the lock
    with RunLock(config.out, enabled=main_process) as lock:
        if lock.note:
            _say(lock.note)
        return _fit_locked(config)


def _fit_locked(config: TrainConfig) -> TrainResult:
    config, state = open_run(config, Path(config.out) / CHECKPOINT)
    config = _finetune_model(config)
    if config.model is not None and config.model not in list_models():
        raise ConfigError(
            f"unknown model {config.model!r}; expected one of {', '.join(list_models())}"
        )
    spec = get_task(config.task)
    config, chosen = spec.prepare(config)
    stats = spec.stats(config)
    world = int(os.environ.get("WORLD_SIZE", 1))  # set by torchrun
    reason = "; ".join(filter(None, (explain(config, stats, world), chosen)))
    notes = _run_notes(config, state, reason if state is None else "")
    config = resolve(config, stats, world)
    proc = setup(config.device)
    try:
        if proc.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.set_float32_matmul_precision("high")
        return _train(config, proc, state, notes)
    finally:
        teardown()


def _train(config: TrainConfig, proc: Process, state: dict | None, notes: dict) -> TrainResult:
    data = build_data(config, proc, state)
    config = replace(config, img_size=data.img_size)
    model = build_model(config, proc, data.num_classes, state)
    opt = build_optimisation(config, model, proc, data, state)
    task = build_task(config, proc, data, model)
    pos, out, say = Position.from_state(state, proc.world), Path(config.out), _printer(proc)
    say(_describe(config, proc, data, model, opt))
    for note in data.datasets.notes:
        say(note)
    say(notes["recipe_reason"] if state is None else "recipe: the stored run's values")
    if pos.epoch or pos.batch:
        say(f"resuming at epoch {pos.epoch + 1}, batch {pos.batch}/{data.batches}")
    last = config.epochs if config.stop_after is None else min(config.stop_after, config.epochs)
    every = validation_interval(config, data.updates_per_epoch)
    with StopRequest() as stop:
        while pos.epoch < last:
            model.net.train()
            with EpochMeter(config, proc, pos, data.batches, data.updates_per_epoch) as meter:
                for b, (inputs, targets) in _batches(data, pos, config.seed, proc.rank):
                    inputs, targets = task.batch(inputs, targets)
                    last_micro = (b + 1) % config.accum_steps == 0
                    with _grad_sync(model.train_net, last_micro):
                        with autocast(proc.device, model.dtype):
                            loss = task.loss(model.train_net(inputs), targets)
                        opt.scaler.scale(loss / config.accum_steps).backward()
                    meter.add(loss)
                    if not last_micro:
                        continue
                    _update(opt, model.net, config.clip_grad)
                    pos.batch = b + 1
                    if meter.due(stop) and meter.sync(stop, opt.current_lr(), out / CHECKPOINT):
                        _save(out, config, model, opt, pos, proc, notes)
                        say(
                            f"stopped at epoch {pos.epoch + 1}, batch {pos.batch}/{data.batches}; "
                            + _saved(out)
                        )
                        raise KeyboardInterrupt
            done = pos.epoch + 1  # the epoch just trained, counted from 1
            validate = done in (1, last) or not done % every or _agree(stop.requested, proc)
            row = _epoch_row(proc, data, model, opt, task, pos, validate=validate)
            pos.finish_epoch(row)
            ema_note = _ema_note(opt.ema, config.ema_decay) if validate else ""
            say(_epoch_line(row, config.epochs, task) + ema_note)
            _save(out, config, model, opt, pos, proc, notes, curves=validate)
            if _agree(stop.requested, proc) and pos.epoch < last:
                say(f"stopped after epoch {pos.epoch}; " + _saved(out))
                raise KeyboardInterrupt
    if pos.epoch < config.epochs:
        say(f"paused after epoch {pos.epoch} (--stop-after); " + _saved(out))
    else:
        say(
            f"done: metrics in {out / METRICS}, curves in {out / CURVES}, weights in "
            + str(out / CHECKPOINT)
        )
    if dist.is_initialized():
        dist.barrier()
    return TrainResult(config=config, history=pos.history, out=out, model=model.net)


# -- the loop's helpers ---------------------------------------------------------------

#: Without ``eval_every`` a run validates about this often, in updates: every epoch once
#: an epoch has this many. Only runs of short epochs validate less often: a 1,500-image
#: folder's epoch is 23 updates, and validating its weights and EMA after each took
#: about a sixth of the run.
EVAL_UPDATES = 100


def validation_interval(config: TrainConfig, updates_per_epoch: int) -> int:
    """Epochs between validations: ``config.eval_every`` when given, else the fewest
    epochs that hold ``EVAL_UPDATES`` (100) updates (1 for epochs that long)."""
    if config.eval_every is not None:
        return config.eval_every
    return -(-EVAL_UPDATES // updates_per_epoch)  # ceil(EVAL_UPDATES / updates_per_epoch)


def _batches(data: Data, pos: Position, seed: int, rank: int) -> Iterator[tuple[int, Any]]:
    """The rest of this epoch's batches, numbered, with the generators where they must be.

    A fresh epoch seeds them from (seed, epoch, rank). A resumed one puts back the
    saved states only after the loader's iterator exists, because creating it
    draws a number (its workers' base seed) from the global generator. (Several
    processes resumed inside an epoch seed from their position instead.)
    """
    data.sampler.set_epoch(pos.epoch)
    data.sampler.skip = pos.batch * data.train_loader.batch_size
    if pos.rng is None:
        torch.manual_seed(epoch_seed(seed, pos.epoch, rank, pos.batch))
    iterator = iter(data.train_loader)
    if pos.rng is not None:
        restore_rng(pos.rng)
        pos.rng = None
    for b, batch in enumerate(iterator, start=pos.batch):
        if b >= data.batches:
            return
        yield b, batch


def _grad_sync(model: nn.Module, last_micro: bool) -> contextlib.AbstractContextManager:
    """DDP's gradient all-reduce only on an update's last micro-batch."""
    no_sync = getattr(model, "no_sync", None)
    return no_sync() if no_sync is not None and not last_micro else contextlib.nullcontext()


def _update(opt: Optimisation, net: nn.Module, clip_grad: float) -> None:
    """One optimiser update from the accumulated gradients, then schedule and EMA."""
    if clip_grad > 0:
        opt.scaler.unscale_(opt.optimizer)
        nn.utils.clip_grad_norm_(net.parameters(), clip_grad)
    opt.scaler.step(opt.optimizer)
    opt.scaler.update()
    opt.optimizer.zero_grad(set_to_none=True)
    opt.scheduler.step()
    if opt.ema is not None:
        opt.ema.update_parameters(net)


def _epoch_row(
    proc: Process,
    data: Data,
    model: Model,
    opt: Optimisation,
    task: Task,
    pos: Position,
    *,
    validate: bool = True,
) -> dict[str, Any]:
    """The epoch's metrics; with ``validate``, also those of the weights on the
    validation set (``val_*``) and of the EMA if kept (``val_*_ema``)."""
    row: dict[str, Any] = {
        "epoch": pos.epoch + 1,
        "train_loss": pos.partial["loss_sum"] / max(pos.partial["losses"], 1),
    }
    if validate:
        scores = task.evaluate(model.eval_net, data.val_loader)
        row |= {f"val_{k}": v for k, v in scores.items()}
    row |= {
        "lr": opt.current_lr(),
        "images_per_sec": pos.partial["images"] / max(pos.partial["seconds"], 1e-9),
        "peak_mem_mb": _peak_memory_mb(proc.device),
        "seconds": pos.partial["seconds"],
    }
    if validate and opt.ema is not None:
        ema = task.evaluate(opt.ema.module, data.val_loader)
        row |= {f"val_{k}_ema": v for k, v in ema.items()}
    return row


def _save(
    out: Path,
    config: TrainConfig,
    model: Model,
    opt: Optimisation,
    pos: Position,
    proc: Process,
    notes: dict[str, Any],
    *,
    curves: bool = True,
) -> None:
    """Write the checkpoint (and, with it, config.json, metrics.jsonl and, when
    ``curves``, curves.png) on rank 0."""
    if not proc.is_main:
        return
    out.mkdir(parents=True, exist_ok=True)
    stored = config.to_dict() | notes
    save_atomic(None, out / CONFIG, text=json.dumps(stored, indent=2))
    state = {
        "format": FORMAT,
        "config": config.to_dict(),
        "model": model.net.state_dict(),
        **opt.state_dict(),
        **pos.to_state(),
        "rng": capture_rng(),
        **notes,
    }
    save_atomic(state, out / CHECKPOINT)
    write_metrics(pos.history, out / METRICS)
    if curves and pos.history:
        save_curves(pos.history, out / CURVES, title=_curves_title(config), epochs=config.epochs)


def _curves_title(config: TrainConfig) -> str:
    """The run and the weights it started from, for curves.png."""
    if config.finetune is None:
        start = "from random init"
    elif _names_variant(config.finetune):
        start = f"fine-tuned from {config.finetune}'s published weights"
    else:
        start = f"fine-tuned from {Path(config.finetune).name}"
    return f"{config.model} on {config.data}, seed {config.seed}, {start}"


def _run_notes(config: TrainConfig, state: dict | None, reason: str) -> dict[str, Any]:
    """What config.json (and the checkpoint) say about the run besides its settings:
    ``recipe_reason``, why the recipe chose its values, kept from the run's start, and
    ``resumed``, one entry (epoch, batch, time) per ``--resume``."""
    if state is None:
        return {"recipe_reason": reason, "resumed": []}
    stored = state.get("recipe_reason")
    if stored is None:  # a checkpoint from before the notes were kept in it
        with contextlib.suppress(OSError, ValueError):
            stored = json.loads((Path(config.out) / CONFIG).read_text()).get("recipe_reason")
    resume = {
        "epoch": state["epoch"] + 1,
        "batch": state["batch"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return {
        "recipe_reason": stored or "(not recorded)",
        "resumed": [*state.get("resumed", []), resume],
    }


def _agree(flag: bool, proc: Process) -> bool:
    """True on every process if ``flag`` is true on any."""
    return bool(all_reduce_sum(torch.tensor([float(flag)], device=proc.device)) > 0)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # Linux: KiB


def _say(text: str) -> None:
    """Print above any progress bar, at once (also when stdout is a log file)."""
    tqdm.write(text)
    sys.stdout.flush()


def _printer(proc: Process):
    return _say if proc.is_main else (lambda *_: None)


def _describe(
    config: TrainConfig, proc: Process, data: Data, model: Model, opt: Optimisation
) -> str:
    c, d = config, data
    return (
        f"{c.model} ({count_params(model.net) / 1e6:.2f} M params) on {c.data}: "
        f"{len(d.datasets.train)} train / {len(d.datasets.val)} val images, "
        f"{d.num_classes} classes, {d.img_size} px\n"
        f"recipe {c.recipe}: {c.epochs} epochs x {d.updates_per_epoch} updates of "
        f"{c.batch_size} x {c.accum_steps} accum x {proc.world} process(es), "
        f"peak lr {opt.lr:.2e}; {_validation_plan(validation_interval(c, d.updates_per_epoch))}\n"
        f"{proc.device}, {str(model.dtype).removeprefix('torch.')}"
        f"{', compiled' if c.compile else ''}; run folder {c.out}"
    )


def _ema_note(ema: AveragedModel | None, decay: float) -> str:
    """Why the EMA's metric does not mean much yet, or ``""``."""
    if ema is None:
        return ""
    seen, horizon = int(ema.n_averaged), ema_horizon(decay)
    if seen >= horizon:
        return ""
    return f"  (EMA not meaningful yet: {seen} of its {horizon:.0f}-update horizon)"


def _saved(out: Path) -> str:
    return f"checkpoint saved in {out / CHECKPOINT} (continue with --resume)"


def _validation_plan(every: int) -> str:
    if every == 1:
        return "validated every epoch"
    return f"validated after epoch 1, every {every} epochs and the last (--eval-every)"


def _epoch_line(row: dict[str, Any], epochs: int, task: Task) -> str:
    scores = f"{task.summary(row)}  " if "val_loss" in row else ""
    return (
        f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f}  "
        f"{scores}lr {row['lr']:.2e}  {row['images_per_sec']:.0f} img/s  "
        f"peak {row['peak_mem_mb']:.0f} MB  {row['seconds']:.0f} s"
    )
