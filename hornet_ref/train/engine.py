"""The training loop: :func:`fit` runs a :class:`TrainConfig` from start (or checkpoint) to end.

One update, as the code does it (``accum`` micro-batches per update)::

    images, labels = mixup_or_cutmix(images, labels)          # soft labels (B, K)
    with autocast(dtype):  loss = cross_entropy(model(images), labels, smoothing)
    scaler.scale(loss / accum).backward()                     # DDP syncs on the last one
    scaler.unscale_(opt); clip_grad_norm_(params, clip)
    scaler.step(opt); scaler.update(); scheduler.step(); ema.update(model)

Never losing work:

- a checkpoint is written atomically after every epoch, and on Ctrl-C (SIGINT)
  or SIGTERM at the next update, with the position inside the epoch;
- ``--resume`` continues from it. Every epoch seeds the generators from
  ``(seed, epoch, rank)`` and the data order from ``(seed, epoch)``, and a
  mid-epoch checkpoint keeps the generator states, so a resumed CPU run with
  in-process loading (``--workers 0``) repeats the uninterrupted run exactly;
- the loss is checked every ``log_every`` updates (one host sync, not one per
  step); a non-finite loss stops the run with the step named and the last good
  checkpoint untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.checkpoint import checkpoint
from tqdm.auto import tqdm

from ..checkpoint import load_pretrained, read_state_dict
from ..flops import count_params
from ..hornet import HorNet, create_model, list_models, model_config
from .auto import ema_horizon
from .checkpointing import FORMAT, capture_rng, load_checkpoint, restore_rng, save_atomic
from .config import MOVABLE_FIELDS, SESSION_FIELDS, ConfigError, TrainConfig, explain, resolve
from .data import Datasets, build_datasets, build_loaders, data_stats, default_workers
from .distributed import Process, all_reduce_sum, setup, teardown
from .evaluate import evaluate
from .history import plot_curves, write_metrics
from .precision import amp_dtype, autocast
from .recipe import build_ema, build_mixing, build_optimizer, build_scheduler, scaled_lr

__all__ = ["NonFiniteLossError", "TrainResult", "fit"]

CHECKPOINT, METRICS, CURVES, CONFIG = "checkpoint.pt", "metrics.jsonl", "curves.png", "config.json"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


@dataclass
class TrainResult:
    """What :func:`fit` returns: the resolved config, per-epoch metrics, the trained
    network (on its device, unwrapped from DDP and torch.compile; the EMA, if kept,
    is in the checkpoint) and the run folder."""

    config: TrainConfig
    history: list[dict[str, Any]]
    out: Path
    model: HorNet

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT


class _CheckpointedStage(nn.Sequential):
    """A stage whose blocks are recomputed in the backward pass (activation checkpointing).

    Same children, so the same state_dict keys as the plain ``nn.Sequential``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self:
            x = checkpoint(block, x, use_reentrant=False) if self.training else block(x)
        return x


class _StopRequest:
    """Turns the first SIGINT / SIGTERM into a flag the loop checks; a second SIGINT
    interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (seed * 1_000_003 + epoch) * 1_009 + rank


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # Linux: KiB


def _merge_for_resume(given: TrainConfig, stored: TrainConfig) -> TrainConfig:
    """The stored run's config, with this session's settings; a run setting given
    explicitly that contradicts the stored one is an error."""
    defaults = TrainConfig()
    merged = {}
    for f in fields(TrainConfig):
        mine, theirs = getattr(given, f.name), getattr(stored, f.name)
        if f.name in SESSION_FIELDS:
            merged[f.name] = mine
        elif f.name in MOVABLE_FIELDS:
            merged[f.name] = mine if mine != getattr(defaults, f.name) else theirs
        elif mine != getattr(defaults, f.name) and mine != theirs:
            raise ConfigError(
                f"--resume: the run in {given.out} was trained with {f.name}={theirs!r}, "
                f"but this session asks for {mine!r}; drop the flag or start a new --out"
            )
        else:
            merged[f.name] = theirs
    return TrainConfig(**merged)


class _Run:
    """The state of one training run in this process, built in dependency order."""

    def __init__(
        self, config: TrainConfig, proc: Process, state: dict | None, why: str = ""
    ) -> None:
        self.proc, self.out, self.why = proc, Path(config.out), why
        self.img_size = config.img_size or model_config(config.model).img_size
        stride = model_config(config.model).stem_patch * 8
        if self.img_size % stride:
            raise ConfigError(f"--img-size must be a multiple of {stride} for {config.model}")
        self.data: Datasets = build_datasets(config, self.img_size)
        head = state["model"].get("head.weight") if state is not None else None
        if head is not None and head.shape[0] != self.data.num_classes:
            raise ConfigError(
                f"the checkpoint in {self.out} classifies {head.shape[0]} classes, "
                f"but {config.data} has {self.data.num_classes}"
            )
        self.config = config = replace(config, img_size=self.img_size)
        device = proc.device
        self.dtype = amp_dtype(config.precision, device)
        # channels_last feeds tensor cores on CUDA. On CPU, eager HorNet-T trains no
        # faster with it (1.06x the step time), but compiled it does: inductor runs the
        # depthwise conv's backward in the slow contiguous layout otherwise (HorNet-T's
        # compiled step 1.17x eager's time contiguous, 1.09x channels_last; see
        # docs/benchmarks.md).
        channels_last = config.channels_last
        if channels_last is None:
            channels_last = device.type == "cuda" or config.compile
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

        workers = config.workers
        if workers is None:
            workers = default_workers(self.data.kind, device)
        self.train_loader, self.val_loader, self.sampler = build_loaders(
            self.data,
            batch_size=config.batch_size,
            workers=workers,
            seed=config.seed,
            rank=proc.rank,
            world=proc.world,
            pin_memory=device.type == "cuda",
        )
        self.batches = len(self.train_loader) // config.accum_steps * config.accum_steps
        if self.batches == 0:
            raise ConfigError(
                f"{len(self.data.train)} training images give no full update of "
                f"{config.batch_size} x {config.accum_steps} per process x {proc.world} "
                "processes; lower --batch-size or --accum-steps"
            )
        self.updates_per_epoch = self.batches // config.accum_steps

        torch.manual_seed(config.seed)  # the same initial weights in every process
        self.net: HorNet = create_model(
            config.model, num_classes=self.data.num_classes, drop_path_rate=config.drop_path
        )
        if config.finetune and state is None and _names_variant(config.finetune):
            self.net = self._pretrained(config.finetune)
        elif config.finetune and state is None:
            self._load_finetune(config.finetune)
        if config.grad_checkpointing:
            for i, stage in enumerate(self.net.stages):
                self.net.stages[i] = _CheckpointedStage(*stage)
        self.net.to(device, memory_format=self.memory_format)
        self.ema = build_ema(self.net, config.ema_decay)

        self.lr = scaled_lr(config, proc.world)
        self.optimizer = build_optimizer(self.net, config, self.lr)
        self.scheduler = build_scheduler(self.optimizer, config, self.lr, self.updates_per_epoch)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.mixing = build_mixing(config, self.data.num_classes)

        self.model: nn.Module = self.net
        if proc.world > 1:
            self.model = DistributedDataParallel(
                self.net, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.eval_net: nn.Module = self.net
        if config.compile:
            # Static shapes: one graph per input shape, never symbolic sizes. When a
            # process has already run HorNet's forward at another size, dynamo would
            # otherwise make H and W symbolic, and inductor (torch 2.14, CPU,
            # channels_last) then fails on the strides ("cannot determine truth value
            # of Relational").
            self.model = torch.compile(self.model, dynamic=False)
            self.eval_net = torch.compile(self.net, dynamic=False)

        self.epoch, self.batch, self.history = 0, 0, []
        self.partial = {"loss_sum": 0.0, "losses": 0, "images": 0, "seconds": 0.0}
        self.rng: dict | None = None
        if state is not None:
            self._restore(state)

    def _load_finetune(self, path: str) -> None:
        weights = read_state_dict(path)
        head = weights.get("head.weight")
        fresh_head = head is not None and head.shape[0] != self.data.num_classes
        load_pretrained(self.net, weights, skip_head=fresh_head)
        if self.proc.is_main:
            note = f"; new {self.data.num_classes}-class head" if fresh_head else ""
            _say(f"fine-tuning from {path}{note}")

    def _pretrained(self, name: str) -> HorNet:
        """The published weights of ``name`` with a fresh head for this data's classes."""
        net = create_model(
            name,
            pretrained=True,
            num_classes=self.data.num_classes,
            drop_path_rate=self.config.drop_path,
        )
        if self.proc.is_main:
            _say(f"fine-tuning {name}'s published weights; new {self.data.num_classes}-class head")
        return net

    def ema_note(self) -> str:
        """Why the EMA's metric does not mean much yet, or ``""``."""
        if self.ema is None:
            return ""
        seen, horizon = int(self.ema.n_averaged), ema_horizon(self.config.ema_decay)
        if seen >= horizon:
            return ""
        return f"  (EMA not meaningful yet: {seen} of its {horizon:.0f}-update horizon)"

    def _restore(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.history, self.partial = list(state["history"]), dict(state["partial"])
        # Rank 0's generator states are saved; other ranks re-seed (see _batches).
        self.rng = state["rng"] if self.batch and self.proc.world == 1 else None

    # -- saving ---------------------------------------------------------------------------

    def save(self) -> None:
        """Write the checkpoint (and, with it, config.json and metrics.jsonl) on rank 0."""
        if not self.proc.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        stored = {**self.config.to_dict(), "recipe_reason": self.why}
        save_atomic(None, self.out / CONFIG, text=json.dumps(stored, indent=2))
        state = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "model": self.net.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batch": self.batch,
            "partial": dict(self.partial),
            "history": list(self.history),
            "rng": capture_rng(),
        }
        save_atomic(state, self.out / CHECKPOINT)
        write_metrics(self.history, self.out / METRICS)

    # -- one epoch ------------------------------------------------------------------------

    def _batches(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """The rest of this epoch's batches, with the generators where they must be.

        A fresh epoch seeds them from (seed, epoch, rank). A resumed one puts back the
        saved states only after the loader's iterator exists, because creating it
        draws a number (its workers' base seed) from the global generator. (Several
        processes resumed inside an epoch seed from their position instead.)
        """
        self.sampler.set_epoch(self.epoch)
        self.sampler.skip = self.batch * self.config.batch_size
        if self.rng is None:
            seed = _epoch_seed(self.config.seed, self.epoch, self.proc.rank)
            torch.manual_seed(seed + 7_919 * self.batch)
        iterator = iter(self.train_loader)
        if self.rng is not None:
            restore_rng(self.rng)
            self.rng = None
        for b, (images, labels) in enumerate(iterator, start=self.batch):
            if b >= self.batches:
                return
            yield b, images, labels

    def _sync(self, window: list[torch.Tensor], stop: bool) -> tuple[torch.Tensor, bool]:
        """Losses since the last sync (averaged over processes) and the shared stop flag."""
        flag = torch.tensor([float(stop)], device=self.proc.device)
        packed = all_reduce_sum(torch.cat([torch.stack(window).float(), flag]))
        packed = packed.cpu().double()  # float64 sums: the same however windows split an epoch
        return packed[:-1] / self.proc.world, bool(packed[-1] > 0)

    def train_epoch(self, stop: _StopRequest) -> bool:
        """Train the rest of the current epoch; False when stopped by a signal."""
        config, device = self.config, self.proc.device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        self.net.train()
        images_per_batch = config.batch_size * self.proc.world
        bar = tqdm(
            total=self.updates_per_epoch,
            initial=self.batch // config.accum_steps,
            desc=f"epoch {self.epoch + 1}/{config.epochs}",
            disable=not (config.progress and self.proc.is_main),
            dynamic_ncols=True,
            leave=True,
        )
        start, window = time.perf_counter(), []
        session_images = 0
        try:
            for b, images, labels in self._batches():
                images = images.to(device, non_blocking=True, memory_format=self.memory_format)
                labels = labels.to(device, non_blocking=True)
                if self.mixing is not None:
                    images, labels = self.mixing(images, labels)  # labels: (B, K) soft
                last_micro = (b + 1) % config.accum_steps == 0
                no_sync = getattr(self.model, "no_sync", None)
                quiet = (
                    no_sync()
                    if no_sync is not None and not last_micro
                    else contextlib.nullcontext()
                )
                with quiet:
                    with autocast(device, self.dtype):
                        loss = self.criterion(self.model(images), labels)
                    self.scaler.scale(loss / config.accum_steps).backward()
                window.append(loss.detach())
                session_images += images_per_batch
                if not last_micro:
                    continue
                self._update()
                self.batch = b + 1
                update = self.batch // config.accum_steps
                done = self.batch == self.batches
                if (
                    update % config.log_every
                    and not done
                    and not (stop.requested and self.proc.world == 1)
                ):
                    continue
                losses, stopping = self._sync(window, stop.requested)
                window = []
                self._check_finite(losses, b)
                seconds = time.perf_counter() - start
                self.partial["loss_sum"] += float(losses.sum())
                self.partial["losses"] += len(losses)
                bar.update(update - bar.n)
                rate = (self.partial["images"] + session_images) / (
                    self.partial["seconds"] + seconds
                )
                bar.set_postfix(
                    loss=f"{float(losses.mean()):.3f}",
                    lr=f"{self._current_lr():.2e}",
                    img_s=f"{rate:.0f}",
                )
                if stopping and not done:
                    self._account(session_images, seconds)
                    return False
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            self._account(session_images, time.perf_counter() - start)
            return True
        finally:
            bar.close()

    def agree(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any."""
        return bool(all_reduce_sum(torch.tensor([float(flag)], device=self.proc.device)) > 0)

    def _account(self, images: int, seconds: float) -> None:
        self.partial["images"] += images
        self.partial["seconds"] += seconds

    def _update(self) -> None:
        config = self.config
        if config.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.net.parameters(), config.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.net)

    def _current_lr(self) -> float:
        return max(group["lr"] for group in self.optimizer.param_groups)

    def _check_finite(self, losses: torch.Tensor, last_batch: int) -> None:
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad) == 0:
            return
        batch = last_batch - len(losses) + 1 + int(bad[0])  # 0-based batch of this epoch
        step = batch // self.config.accum_steps + 1
        overall = self.epoch * self.updates_per_epoch + step
        kept = (
            f"the last good checkpoint is kept in {self.out / CHECKPOINT}"
            if (self.out / CHECKPOINT).exists()
            else "no epoch had finished, so there is no checkpoint"
        )
        raise NonFiniteLossError(
            f"loss became {float(losses[bad[0]].squeeze())} at epoch {self.epoch + 1}, "
            f"step {step}/{self.updates_per_epoch} (update {overall} overall); training "
            f"stopped, {kept}. Lower --lr, raise --warmup-epochs or check the data"
        )

    def finish_epoch(self) -> dict[str, Any]:
        """Validate, record the epoch's metrics, and move to the next epoch."""
        device = self.proc.device
        val = evaluate(
            self.eval_net,
            self.val_loader,
            device=device,
            dtype=self.dtype,
            channels_last=self.memory_format == torch.channels_last,
        )
        row = {
            "epoch": self.epoch + 1,
            "train_loss": self.partial["loss_sum"] / max(self.partial["losses"], 1),
            "val_loss": val["loss"],
            "val_acc1": val["acc1"],
            "val_acc5": val["acc5"],
            "lr": self._current_lr(),
            "images_per_sec": self.partial["images"] / max(self.partial["seconds"], 1e-9),
            "peak_mem_mb": _peak_memory_mb(device),
            "seconds": self.partial["seconds"],
        }
        if self.ema is not None:
            ema = evaluate(
                self.ema.module,
                self.val_loader,
                device=device,
                dtype=self.dtype,
                channels_last=self.memory_format == torch.channels_last,
            )
            row["val_loss_ema"], row["val_acc1_ema"] = ema["loss"], ema["acc1"]
        self.history.append(row)
        self.epoch, self.batch = self.epoch + 1, 0
        self.partial = {"loss_sum": 0.0, "losses": 0, "images": 0, "seconds": 0.0}
        return row


def _describe(run: _Run) -> str:
    c, p = run.config, run.proc
    return (
        f"{c.model} ({count_params(run.net) / 1e6:.2f} M params) on {c.data}: "
        f"{len(run.data.train)} train / {len(run.data.val)} val images, "
        f"{run.data.num_classes} classes, {run.img_size} px\n"
        f"recipe {c.recipe}: {c.epochs} epochs x {run.updates_per_epoch} updates of "
        f"{c.batch_size} x {c.accum_steps} accum x {p.world} process(es), peak lr {run.lr:.2e}\n"
        f"{p.device}, {str(run.dtype).removeprefix('torch.')}"
        f"{', compiled' if c.compile else ''}; run folder {run.out}"
    )


def _summary(row: dict[str, Any], epochs: int) -> str:
    text = (
        f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f}  "
        f"val loss {row['val_loss']:.4f}  top-1 {row['val_acc1']:.2f}%  "
        f"top-5 {row['val_acc5']:.2f}%"
    )
    if "val_acc1_ema" in row:
        text += f"  EMA top-1 {row['val_acc1_ema']:.2f}%"
    return (
        text + f"  lr {row['lr']:.2e}  {row['images_per_sec']:.0f} img/s  "
        f"peak {row['peak_mem_mb']:.0f} MB  {row['seconds']:.0f} s"
    )


def fit(config: TrainConfig) -> TrainResult:
    """Train as ``config`` says; returns the metrics of every epoch.

    Prints a progress bar per epoch and a summary line (rank 0 only), writes
    ``checkpoint.pt``, ``config.json``, ``metrics.jsonl`` and, at the end,
    ``curves.png`` into ``config.out``. Runs under ``torchrun`` as one process of
    many. Raises ConfigError / DataError before anything is written when the
    settings or data are wrong, NonFiniteLossError when the loss diverges, and
    KeyboardInterrupt (after saving a checkpoint) on Ctrl-C.
    """
    out = Path(config.out)
    state = None
    if config.resume:
        if not (out / CHECKPOINT).is_file():
            raise ConfigError(f"--resume: no {CHECKPOINT} in {out} to continue from")
        state = load_checkpoint(out / CHECKPOINT)
        config = _merge_for_resume(config, TrainConfig.from_dict(state["config"]))
    elif (out / CHECKPOINT).exists():
        raise ConfigError(
            f"{out} already holds a run ({CHECKPOINT}); pass --resume to continue it "
            "or --out to start a new one"
        )
    config = _finetune_model(config)
    img_size = config.img_size or model_config(config.model).img_size
    stats = data_stats(config, img_size)
    world = int(os.environ.get("WORLD_SIZE", 1))  # set by torchrun
    why = explain(config, stats, world) if state is None else "recipe: the stored run's values"
    config = resolve(config, stats, world)
    proc = setup(config.device)
    try:
        if proc.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.set_float32_matmul_precision("high")
        return _train(_Run(config, proc, state, why))
    finally:
        teardown()


def _names_variant(finetune: str) -> bool:
    """``--finetune`` names a variant (not a file): its published weights are wanted."""
    return finetune in list_models() and not Path(finetune).exists()


def _finetune_model(config: TrainConfig) -> TrainConfig:
    """``--finetune NAME`` trains the variant NAME: ``--model`` may only agree with it."""
    if config.finetune is None or not _names_variant(config.finetune):
        return config
    if config.model not in (TrainConfig.model, config.finetune):
        raise ConfigError(
            f"--finetune {config.finetune} fine-tunes that variant, but --model is "
            f"{config.model}; drop --model or pass a weights file to --finetune"
        )
    return replace(config, model=config.finetune)


def _say(text: str) -> None:
    """Print above any progress bar, at once (also when stdout is a log file)."""
    tqdm.write(text)
    sys.stdout.flush()


def _train(run: _Run) -> TrainResult:
    config, main = run.config, run.proc.is_main
    say = _say if main else (lambda *_: None)
    say(_describe(run))
    say(run.why)
    if run.epoch or run.batch:
        say(f"resuming at epoch {run.epoch + 1}, batch {run.batch}/{run.batches}")
    last = config.epochs if config.stop_after is None else min(config.stop_after, config.epochs)
    with _StopRequest() as stop:
        while run.epoch < last:
            if not run.train_epoch(stop):
                run.save()
                say(
                    f"stopped at epoch {run.epoch + 1}, batch {run.batch}/{run.batches}; "
                    f"checkpoint saved in {run.out / CHECKPOINT} (continue with --resume)"
                )
                raise KeyboardInterrupt
            say(_summary(run.finish_epoch(), config.epochs) + run.ema_note())
            run.save()
            if run.agree(stop.requested) and run.epoch < last:
                say(f"stopped after epoch {run.epoch}; continue with --resume")
                raise KeyboardInterrupt
    if main and run.history:
        plot_curves(run.history, run.out / CURVES)
    if run.epoch < config.epochs:
        say(f"paused after epoch {run.epoch} (--stop-after); continue with --resume")
    elif main:
        say(f"done: metrics in {run.out / METRICS}, curves in {run.out / CURVES}")
    if dist.is_initialized():
        dist.barrier()
    return TrainResult(config=config, history=run.history, out=run.out, model=run.net)
