"""Never losing work: the stop request, the position inside an epoch, resuming, loss checks.

- :class:`RunLock` holds ``.lock`` in the run folder while a run writes there, so a
  second run on the same ``--out`` is refused instead of overwriting the first.
- :class:`StopRequest` turns the first Ctrl-C (SIGINT) or SIGTERM into a flag the
  loop reads at its next update, so the loop can save before it leaves.
- :class:`Position` is where a run stands (epoch, batches of it done, running sums,
  history, the generator states to put back); it goes into the checkpoint whole.
- :func:`open_run` decides between a fresh run and ``--resume``, and
  :func:`merge_for_resume` combines the stored config with this session's flags.
- :func:`epoch_seed` gives every (seed, epoch, rank) its own generator seed, so an
  epoch's random draws do not depend on how the run got there.
- :class:`EpochMeter` watches the losses: every ``log_every`` updates one host sync
  averages them over the processes, stops the run on a NaN or infinite loss
  (:class:`NonFiniteLossError`, naming the step) and shares the stop flag.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..files import process_alive
from .checkpointing import load_checkpoint
from .config import MOVABLE_FIELDS, SESSION_FIELDS, ConfigError, TrainConfig
from .distributed import Process, all_reduce_sum

__all__ = [
    "EpochMeter",
    "NonFiniteLossError",
    "Position",
    "RunLock",
    "StopRequest",
    "epoch_seed",
    "merge_for_resume",
    "open_run",
]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


class RunLock:
    """``.lock`` in the run folder while a run writes there (rank 0 only).

    The file is created with O_CREAT | O_EXCL, so of two runs started together on one
    folder exactly one gets it; it holds the owner's pid, host and start time. A
    second run is refused with a ConfigError naming that process. A lock whose
    process no longer runs on this host (a run that was killed) is taken over, with a
    note. The lock is removed when the run ends, also on Ctrl-C or an error; a folder
    the lock alone created is removed with it.
    """

    NAME = ".lock"

    def __init__(self, out: str | os.PathLike, *, enabled: bool = True) -> None:
        self.folder, self.enabled = Path(out), enabled
        self.path, self.note, self._made_folder = self.folder / self.NAME, "", False

    def __enter__(self) -> RunLock:
        if not self.enabled:
            return self
        self._made_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(2):  # a second try after taking over a stale lock
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_or_refuse()
                continue
            with os.fdopen(handle, "w") as file:
                json.dump(owner, file)
            return self
        raise ConfigError(f"could not take the lock {self.path}; another run took it first")

    def _take_over_or_refuse(self) -> None:
        """Remove a stale lock (its process gone from this host), else raise ConfigError."""
        try:
            holder = json.loads(self.path.read_text())
            pid, host = int(holder["pid"]), str(holder["host"])
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(holder["started"])))
        except FileNotFoundError:
            return  # released between our two calls: try again
        except (ValueError, KeyError, TypeError):  # half-written by a process killed at once
            pid, host, started = None, socket.gethostname(), "?"
        if host == socket.gethostname() and (pid is None or not process_alive(pid)):
            self.path.unlink(missing_ok=True)
            self.note = f"took over the lock {self.path} of process {pid}, which no longer runs"
            return
        raise ConfigError(
            f"{self.folder} is in use by process {pid} on {host} (started {started}, lock "
            f"{self.path}); wait for it to end, pass another --out, or delete the lock if "
            "that process is gone"
        )

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        self.path.unlink(missing_ok=True)
        if self._made_folder:
            with contextlib.suppress(OSError):  # not empty: the run wrote there
                self.folder.rmdir()


class StopRequest:
    """Turns the first SIGINT / SIGTERM into ``requested = True``; a second SIGINT
    interrupts at once. Handlers are installed only in the main thread."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _fresh_partial() -> dict[str, float]:
    return {"loss_sum": 0.0, "losses": 0, "images": 0, "seconds": 0.0}


@dataclass
class Position:
    """Where a run stands; saved in every checkpoint.

    Attributes:
        epoch: the epoch in progress (0-based).
        batch: batches of that epoch already trained (0 at an epoch boundary).
        history: one metrics dict per finished epoch.
        partial: running sums of the epoch in progress (loss_sum, losses, images, seconds).
        rng: generator states to restore before the next batch (a resume inside an
            epoch), else None.
    """

    epoch: int = 0
    batch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[str, float] = field(default_factory=_fresh_partial)
    rng: dict[str, Any] | None = None

    @classmethod
    def from_state(cls, state: dict | None, world: int) -> Position:
        """The position a checkpoint saved (a fresh one for None).

        Rank 0's generator states are saved; with several processes a resume inside
        an epoch re-seeds from its position instead (see :func:`epoch_seed`).
        """
        if state is None:
            return cls()
        rng = state["rng"] if state["batch"] and world == 1 else None
        return cls(
            state["epoch"], state["batch"], list(state["history"]), dict(state["partial"]), rng
        )

    def to_state(self) -> dict[str, Any]:
        """The checkpoint entries for this position (the RNG states are captured apart)."""
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "partial": dict(self.partial),
            "history": list(self.history),
        }

    def account(self, images: int, seconds: float) -> None:
        """Add a session's images and seconds to the epoch's throughput sums."""
        self.partial["images"] += images
        self.partial["seconds"] += seconds

    def finish_epoch(self, row: dict[str, Any]) -> None:
        """Record the epoch's metrics and move to the start of the next epoch."""
        self.history.append(row)
        self.epoch, self.batch, self.partial = self.epoch + 1, 0, _fresh_partial()


def epoch_seed(seed: int, epoch: int, rank: int, batch: int = 0) -> int:
    """The generator seed of ``rank`` starting ``epoch`` at ``batch``."""
    return (seed * 1_000_003 + epoch) * 1_009 + rank + 7_919 * batch


def merge_for_resume(given: TrainConfig, stored: TrainConfig) -> TrainConfig:
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


def open_run(config: TrainConfig, checkpoint: Path) -> tuple[TrainConfig, dict | None]:
    """``(config, stored state)`` for ``--resume``, or ``(config, None)`` for a new run.

    Raises ConfigError when ``--resume`` finds no checkpoint, or when a new run
    would overwrite one.
    """
    if config.resume:
        if not checkpoint.is_file():
            raise ConfigError(f"--resume: no {checkpoint.name} in {config.out} to continue from")
        state = load_checkpoint(checkpoint)
        return merge_for_resume(config, TrainConfig.from_dict(state["config"])), state
    if checkpoint.exists():
        raise ConfigError(
            f"{config.out} already holds a run ({checkpoint.name}); pass --resume to continue it "
            "or --out to start a new one"
        )
    return config, None


class EpochMeter:
    """One session's share of an epoch: the progress bar, the window of losses since
    the last sync, the images trained. :meth:`sync` averages the window over the
    processes, checks it is finite and shares the stop flag (one host sync).

    Args:
        config: the run's config (batch size, accumulation, log_every, progress).
        proc: this process's rank, world and device.
        pos: the run's position; its batch is advanced by the loop, its sums here.
        batches: batches per epoch (a whole number of updates).
        updates_per_epoch: updates per epoch.
    """

    def __init__(
        self,
        config: TrainConfig,
        proc: Process,
        pos: Position,
        batches: int,
        updates_per_epoch: int,
    ) -> None:
        self.config, self.proc, self.pos = config, proc, pos
        self.batches, self.updates_per_epoch = batches, updates_per_epoch
        if proc.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(proc.device)
        self.bar = tqdm(
            total=updates_per_epoch,
            initial=pos.batch // config.accum_steps,
            desc=f"epoch {pos.epoch + 1}/{config.epochs}",
            disable=not (config.progress and proc.is_main),
            dynamic_ncols=True,
            leave=True,
        )
        self.start, self.window, self.images = time.perf_counter(), [], 0

    def __enter__(self) -> EpochMeter:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:  # the epoch's end: count this session's time
            if self.proc.device.type == "cuda":
                torch.cuda.synchronize(self.proc.device)
            self.pos.account(self.images, time.perf_counter() - self.start)
        self.bar.close()

    def add(self, loss: torch.Tensor) -> None:
        self.window.append(loss.detach())
        self.images += self.config.batch_size * self.proc.world

    def due(self, stop: StopRequest) -> bool:
        """Sync now: every ``log_every`` updates, at the epoch's end, or (one process) on a stop."""
        update = self.pos.batch // self.config.accum_steps
        alone_stopping = stop.requested and self.proc.world == 1
        return not update % self.config.log_every or self.done or alone_stopping

    @property
    def done(self) -> bool:
        return self.pos.batch == self.batches

    def sync(self, stop: StopRequest, lr: float, checkpoint: Path) -> bool:
        """Average and check the window's losses; True when every process must stop
        now, inside the epoch (the time so far is then counted). Raises
        NonFiniteLossError naming the step, and whether ``checkpoint`` holds a good run."""
        flag = torch.tensor([float(stop.requested)], device=self.proc.device)
        packed = all_reduce_sum(torch.cat([torch.stack(self.window).float(), flag]))
        packed = packed.cpu().double()  # float64 sums: the same however windows split an epoch
        losses, stopping = packed[:-1] / self.proc.world, bool(packed[-1] > 0)
        self.window = []
        self._check_finite(losses, checkpoint)
        seconds = time.perf_counter() - self.start
        self.pos.partial["loss_sum"] += float(losses.sum())
        self.pos.partial["losses"] += len(losses)
        self.bar.update(self.pos.batch // self.config.accum_steps - self.bar.n)
        rate = (self.pos.partial["images"] + self.images) / (self.pos.partial["seconds"] + seconds)
        self.bar.set_postfix(
            loss=f"{float(losses.mean()):.3f}", lr=f"{lr:.2e}", img_s=f"{rate:.0f}"
        )
        if stopping and not self.done:
            self.pos.account(self.images, seconds)
            return True
        return False

    def _check_finite(self, losses: torch.Tensor, checkpoint: Path) -> None:
        """Raise NonFiniteLossError naming the first bad step of the window that just ended."""
        config, pos = self.config, self.pos
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad) == 0:
            return
        # The window ends at the batch just trained; its losses are one per micro-batch.
        batch = pos.batch - len(losses) + int(bad[0])  # 0-based batch of this epoch
        step = batch // config.accum_steps + 1
        overall = pos.epoch * self.updates_per_epoch + step
        kept = (
            f"the last good checkpoint is kept in {checkpoint}"
            if checkpoint.exists()
            else "no epoch had finished, so there is no checkpoint"
        )
        raise NonFiniteLossError(
            f"loss became {float(losses[bad[0]].squeeze())} at epoch {pos.epoch + 1}, "
            f"step {step}/{self.updates_per_epoch} (update {overall} overall); training "
            f"stopped, {kept}. Lower --lr, raise --warmup-epochs or check the data"
        )
