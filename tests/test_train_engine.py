"""The training loop: it learns, resumes exactly, survives Ctrl-C, runs on two processes,
and stops with a clear message (and nothing half-written) on bad input or a diverging loss."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from hornet_ref import create_model
from hornet_ref.cli import main
from hornet_ref.train import ConfigError, NonFiniteLossError, TrainConfig, engine, fit, task
from hornet_ref.train.checkpointing import load_checkpoint

TIMING = ("images_per_sec", "peak_mem_mb", "seconds")


def _tiny(out: Path, **overrides) -> TrainConfig:
    """A run of about a second per epoch: hornet_mini at 32 px, 8 updates per epoch."""
    base = TrainConfig(
        model="hornet_mini_7x7",
        img_size=32,
        train_samples=128,
        val_samples=64,
        batch_size=16,
        epochs=2,
        out=str(out),
        progress=False,
        workers=0,
    )
    return replace(base, **overrides)


# Every source of randomness the loop has: data order, crops and flips, RandAugment,
# random erasing, mixup/cutmix, drop path; plus an EMA and gradient clipping.
_RANDOM = dict(
    rand_augment=5,
    random_erasing=0.25,
    mixup=0.8,
    cutmix=1.0,
    drop_path=0.1,
    ema_decay=0.9,
    clip_grad=1.0,
)


def _metrics(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.slow
def test_the_default_command_learns_the_builtin_data(tmp_path, capsys):
    """The default model and recipe, on a test-sized slice (300 updates): the loss falls
    and validation accuracy climbs far above chance (10%)."""
    argv = [
        "train",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "--train-samples",
        "6400",
        "--val-samples",
        "500",
        "--epochs",
        "3",
    ]
    assert main(argv) == 0
    rows = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 0.15
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] - 0.15
    assert rows[-1]["val_acc1"] > 20.0 and rows[-1]["val_acc5"] > 65.0
    assert all(r["images_per_sec"] > 0 and r["lr"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "hornet_nano_7x7" in out and "recipe auto: 6,400 training images" in out
    assert "epoch 3/3" in out
    assert _files(tmp_path / "run") == {
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "curves.png",
    }


def test_a_resumed_run_repeats_the_uninterrupted_run_exactly(tmp_path):
    """2 epochs, stop, --resume for 2 more == 4 straight epochs: same metrics, same weights.
    (Every epoch validated: a paused run validates its last epoch, a straight one would
    skip epoch 2.)"""
    straight = fit(_tiny(tmp_path / "straight", epochs=4, eval_every=1, **_RANDOM))
    first = fit(_tiny(tmp_path / "split", epochs=4, stop_after=2, **_RANDOM))
    assert len(first.history) == 2
    assert load_checkpoint(tmp_path / "split" / "checkpoint.pt")["epoch"] == 2
    again = TrainConfig(out=str(tmp_path / "split"), resume=True, progress=False, eval_every=1)
    rest = fit(again)
    assert _metrics(rest.history) == _metrics(straight.history)
    _assert_same_weights(rest.model, straight.model)
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]


def test_validation_comes_about_every_100_updates_unless_eval_every_says():
    """A 1,500-image folder's 23-update epochs: every 5th; 100 or more updates: every
    epoch; --eval-every wins both ways."""
    interval = engine.validation_interval
    assert engine.EVAL_UPDATES == 100
    assert [interval(TrainConfig(), n) for n in (1, 23, 25, 31, 99, 100, 187)] == [
        100, 5, 4, 4, 2, 1, 1,
    ]  # fmt: skip
    assert interval(TrainConfig(eval_every=1), 23) == 1
    assert interval(TrainConfig(eval_every=3), 187) == 3


def test_a_run_validates_the_first_epoch_every_nth_and_the_last(tmp_path, capsys):
    """--eval-every 2 over 5 epochs: epochs 1, 2, 4 and 5 are validated (weights and
    EMA); epoch 3's row and line keep the training figures only. The checkpoint is
    written after every epoch; curves.png is drawn from the validated epochs."""
    out = tmp_path / "run"
    result = fit(_tiny(out, epochs=5, eval_every=2, ema_decay=0.9))
    validated = [row["epoch"] for row in result.history if "val_acc1" in row]
    assert validated == [1, 2, 4, 5]
    assert all("val_acc1_ema" in row for row in result.history if row["epoch"] != 3)
    third = result.history[2]
    assert not any(key.startswith("val_") for key in third)
    assert {"train_loss", "lr", "seconds"} <= third.keys()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == result.history
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 5
    assert (out / "curves.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "validated after epoch 1, every 2 epochs and the last (--eval-every)" in printed
    epoch3 = next(line for line in printed.splitlines() if line.startswith("epoch 3/5"))
    assert "top-1" not in epoch3 and "train loss" in epoch3
    assert "top-1" in next(line for line in printed.splitlines() if line.startswith("epoch 4/5"))


def test_validating_less_often_trains_the_same_weights(tmp_path):
    """Validation draws nothing the training uses: auto (epochs 1 and 3 validated) and
    --eval-every 1 end with the same weights and the same losses."""
    every = fit(_tiny(tmp_path / "every", epochs=3, eval_every=1, **_RANDOM))
    auto = fit(_tiny(tmp_path / "auto", epochs=3, **_RANDOM))
    assert [row["epoch"] for row in auto.history if "val_loss" in row] == [1, 3]
    assert [r["train_loss"] for r in auto.history] == [r["train_loss"] for r in every.history]
    assert auto.history[-1]["val_acc1"] == every.history[-1]["val_acc1"]
    _assert_same_weights(auto.model, every.model)


def test_resuming_inside_an_epoch_repeats_the_run_exactly(tmp_path, monkeypatch):
    """A stop request after update 11 (epoch 2, step 3) saves the position and the RNG
    states; resuming finishes the run as if nothing happened."""
    straight = fit(_tiny(tmp_path / "straight", epochs=3, **_RANDOM))

    original, updates = engine._update, []

    def update_then_signal(*args):
        original(*args)
        updates.append(1)
        if len(updates) == 11:
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C would

    monkeypatch.setattr(engine, "_update", update_then_signal)
    with pytest.raises(KeyboardInterrupt):
        fit(_tiny(tmp_path / "split", epochs=3, **_RANDOM))
    state = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert (state["epoch"], state["batch"]) == (1, 3)
    monkeypatch.setattr(engine, "_update", original)

    rest = fit(TrainConfig(out=str(tmp_path / "split"), resume=True, progress=False))
    assert _metrics(rest.history) == _metrics(straight.history)
    _assert_same_weights(rest.model, straight.model)


def test_sigint_mid_epoch_leaves_a_loadable_checkpoint(tmp_path):
    """The real command, interrupted by SIGINT while training: exit status 130, a
    checkpoint inside the first epoch that loads with weights_only=True, no temp files."""
    out = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "hornet_ref.cli",
        "train",
        "--model",
        "hornet_mini_7x7",
        "--img-size",
        "32",
        "--train-samples",
        "1200",
        "--val-samples",
        "32",
        "--batch-size",
        "8",
        "--epochs",
        "2",
        "--log-every",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "run folder" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        time.sleep(1.5)  # inside epoch 1 (150 updates)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stdout
    assert "stopped at epoch 1" in stdout and "--resume" in stdout
    assert _files(out) == {"checkpoint.pt", "config.json", "metrics.jsonl"}
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 0 and 0 < state["batch"] < 150 and state["history"] == []
    model = create_model("hornet_mini_7x7", num_classes=10)
    model.load_state_dict(state["model"])
    assert load_checkpoint(out / "checkpoint.pt")["config"]["epochs"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, config: TrainConfig, folder: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    result = fit(config)
    torch.save(result.model.state_dict(), Path(folder) / f"rank{rank}.pt")
    (Path(folder) / f"rank{rank}.json").write_text(json.dumps(result.history))


def test_two_gloo_processes_train_one_model_and_agree(tmp_path):
    """DistributedDataParallel on CPU (gloo): both processes end with identical weights
    and metrics; only rank 0 writes the run folder."""
    config = _tiny(tmp_path / "run", epochs=2, batch_size=8, **_RANDOM)
    mp.spawn(_ddp_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2)
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    h0 = json.loads((tmp_path / "rank0.json").read_text())
    h1 = json.loads((tmp_path / "rank1.json").read_text())
    assert _metrics(h0) == _metrics(h1) and len(h0) == 2
    assert h0[-1]["train_loss"] < h0[0]["train_loss"] + 0.5
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    for key in w0:
        assert torch.equal(state["model"][key], w0[key]), key
    # Each process trains on half of every epoch: 128 images / (2 x 8) = 8 updates.
    assert _files(tmp_path / "run") == {
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "curves.png",
    }


def _image_folder(
    root: Path, classes: tuple[str, ...], splits=("train", "val"), images: int = 2
) -> Path:
    for split in splits:
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(images):
                Image.new("RGB", (32, 32), (i * 100, 30, 60)).save(root / split / name / f"{i}.png")
    return root


def test_a_missing_data_path_fails_clearly_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "hornet-ref train: error: no dataset at" in err and "train/<class>" in err
    assert not out.exists()


def test_an_image_folder_without_val_fails_clearly_and_writes_nothing(tmp_path, capsys):
    root = _image_folder(tmp_path / "data", ("a", "b"), splits=("train",))
    out = tmp_path / "run"
    assert main(["train", "--data", str(root), "--out", str(out)]) == 2
    assert "has no val/ folder" in capsys.readouterr().err
    assert not out.exists()


def test_a_checkpoint_with_other_classes_is_refused_clearly(tmp_path, capsys):
    """A 10-class run evaluated on, or resumed with, 3-class data: a message naming both
    counts, and the run folder left exactly as it was."""
    run = tmp_path / "run"
    fit(_tiny(run, epochs=1))
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    data = _image_folder(tmp_path / "data", ("a", "b", "c"))

    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--data", str(data)]) == 2
    assert "classifies 10 classes but" in capsys.readouterr().err

    assert main(["train", "--resume", "--out", str(run), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "classifies 10 classes" in err and "has 3" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_finetuning_starts_from_the_given_weights_with_a_fresh_head(tmp_path, capsys):
    """--finetune from a 10-class run onto 3-class data, with layer decay and lr 0 (so
    the weights cannot move): the backbone is the source's, the head is new."""
    source = fit(_tiny(tmp_path / "source", epochs=1)).model.state_dict()
    data = _image_folder(tmp_path / "data", ("a", "b", "c"), images=8)
    config = _tiny(
        tmp_path / "tuned",
        data=str(data),
        epochs=1,
        batch_size=4,
        lr=0.0,
        layer_decay=0.7,
        finetune=str(tmp_path / "source" / "checkpoint.pt"),
    )
    tuned = fit(config).model.state_dict()
    assert "fine-tuning from" in capsys.readouterr().out
    assert tuned["head.weight"].shape == (3, source["head.weight"].shape[1])
    for key in source:
        if not key.startswith("head."):
            assert torch.equal(tuned[key].cpu(), source[key].cpu()), key


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path, capsys):
    fit(_tiny(tmp_path / "run", epochs=1))
    last_line = capsys.readouterr().out.splitlines()[-1]
    assert last_line.startswith("done:") and str(tmp_path / "run" / "checkpoint.pt") in last_line
    with pytest.raises(ConfigError, match="already holds a run.*--resume"):
        fit(_tiny(tmp_path / "run", epochs=1))
    with pytest.raises(ConfigError, match="trained with lr=.*asks for 0.5"):
        fit(TrainConfig(out=str(tmp_path / "run"), resume=True, lr=0.5))


def _write_lock(out: Path, pid: int) -> Path:
    out.mkdir(parents=True)
    lock = out / ".lock"
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": 0}))
    return lock


def test_a_second_run_on_a_locked_folder_is_refused_naming_the_holder(tmp_path, capsys):
    """A live process (a sleeping child) holds the folder: the run is refused in one
    line, and the other run's lock and files are left alone."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        out = tmp_path / "run"
        lock = _write_lock(out, holder.pid)
        before = lock.read_text()
        argv = ["train", "--model", "hornet_mini_7x7", "--train-samples", "64", "--out", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"is in use by process {holder.pid} on " in err
        assert lock.read_text() == before and _files(out) == {".lock"}
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_run_is_taken_over_and_released(tmp_path, capsys):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # reaped: its pid no longer runs
    out = tmp_path / "run"
    _write_lock(out, finished.pid)
    fit(_tiny(out, epochs=1))
    printed = capsys.readouterr().out
    assert f"took over the lock {out / '.lock'} of process {finished.pid}" in printed
    assert ".lock" not in _files(out) and "checkpoint.pt" in _files(out)


def test_two_runs_started_together_on_one_folder_one_is_refused(tmp_path):
    """Two processes race for the lock (O_CREAT | O_EXCL): one trains, one is refused.
    Both import first and start together on a signal file, so neither can finish before
    the other asks for the lock (a slow start let both train in turn)."""
    out, go = tmp_path / "run", tmp_path / "go"
    args = ["train", "--model", "hornet_mini_7x7", "--train-samples", "64", "--val-samples"]
    args += ["32", "--epochs", "1", "--no-progress", "--out", str(out), "--threads", "1"]
    start = (
        "import pathlib, sys, time; import torch; from hornet_ref.cli import main\n"
        f"pathlib.Path({str(tmp_path)!r}, sys.argv[1]).touch()\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
        f"sys.exit(main({args!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", start, f"ready{i}"], stderr=subprocess.PIPE, text=True, env=env
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "the two runs did not start"
        time.sleep(0.05)
    go.touch()
    codes, errors = zip(*[(p.wait(timeout=300), p.stderr.read()) for p in runs], strict=True)
    assert sorted(codes) == [0, 2], errors
    refused = errors[codes.index(2)]
    assert "is in use by process" in refused and refused.count("\n") == 1
    assert len(load_checkpoint(out / "checkpoint.pt")["history"]) == 1


def test_resume_keeps_the_recipe_reason_and_records_the_resume_beside_it(tmp_path):
    out = tmp_path / "run"
    fit(_tiny(out, epochs=2, stop_after=1))
    first = json.loads((out / "config.json").read_text())
    assert first["recipe_reason"].startswith("recipe auto:") and first["resumed"] == []
    fit(_tiny(out, epochs=2, resume=True))
    stored = json.loads((out / "config.json").read_text())
    assert stored["recipe_reason"] == first["recipe_reason"]
    assert [(r["epoch"], r["batch"]) for r in stored["resumed"]] == [(2, 0)]
    # the notes beside the settings do not get in the way of reading them back
    assert TrainConfig.from_dict(stored) == replace(
        TrainConfig.from_dict(first), stop_after=None, resume=True
    )
    assert load_checkpoint(out / "checkpoint.pt")["recipe_reason"] == first["recipe_reason"]


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch
):
    """The 11th training forward (epoch 2, step 3 of 8) returns NaN logits."""
    forwards = []

    def poisoned_model(*args, **kwargs):
        model = create_model(*args, **kwargs)
        clean = model.forward

        def forward(x):
            logits = clean(x)
            if model.training:
                forwards.append(1)
                if len(forwards) == 11:
                    return logits * float("nan")
            return logits

        model.forward = forward
        return model

    monkeypatch.setattr(task, "create_model", poisoned_model)  # the classify task builds it
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, step 3/8"):
        fit(_tiny(out, epochs=3))
    # curves.png of the finished epoch, and no .lock: the run let go of its folder
    assert _files(out) == {"checkpoint.pt", "config.json", "metrics.jsonl", "curves.png"}
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_loss_that_diverges_in_the_first_epoch_leaves_no_run_folder(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match="no epoch had finished"):
        fit(_tiny(out, lr=1e6, clip_grad=0.0, label_smoothing=0.0, warmup_epochs=0.0))
    assert not out.exists()


def test_evaluate_prints_the_runs_own_top1_for_weights_and_ema(tmp_path, capsys):
    """`hornet-ref evaluate` on the run's val images repeats the run's own figures."""
    run = fit(_tiny(tmp_path / "run", epochs=1, ema_decay=0.5))
    checkpoint = str(tmp_path / "run" / "checkpoint.pt")
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", checkpoint, "--val-samples", "64"]) == 0
    out = capsys.readouterr().out
    row = run.history[-1]
    assert f"top-1 {row['val_acc1']:.2f}%" in out and f"top-5 {row['val_acc5']:.2f}%" in out
    assert main(["evaluate", "--checkpoint", checkpoint, "--val-samples", "64", "--ema"]) == 0
    assert f"top-1 {row['val_acc1_ema']:.2f}%" in capsys.readouterr().out


def test_evaluate_reads_bare_weights_given_the_model(tmp_path, capsys):
    path = tmp_path / "weights.pth"
    torch.save({"model": create_model("hornet_mini_7x7").state_dict()}, path)
    argv = ["evaluate", "--checkpoint", str(path), "--img-size", "32", "--val-samples", "20"]
    assert main(argv) == 2
    assert "pass --model" in capsys.readouterr().err
    assert main([*argv, "--model", "hornet_mini_7x7"]) == 0
    assert "(20 images of builtin" in capsys.readouterr().out


@pytest.mark.slow
def test_compiled_training_on_cpu_uses_channels_last_and_matches_eager(tmp_path):
    """--compile on CPU: inductor code, channels_last by default (faster there when
    compiled), and the same losses as the eager run up to float rounding; also after
    this process traced HorNet at another size (dynamo would then make sizes symbolic)."""
    torch.compile(create_model("hornet_mini_7x7"), fullgraph=True, backend="eager")(
        torch.randn(2, 3, 64, 64)
    )
    eager = fit(_tiny(tmp_path / "eager", epochs=1))
    compiled = fit(_tiny(tmp_path / "compiled", epochs=1, compile=True))
    stem_weight = compiled.model.downsample_layers[0][0].weight  # the stem conv
    assert stem_weight.is_contiguous(memory_format=torch.channels_last)
    assert not stem_weight.is_contiguous()
    assert eager.model.downsample_layers[0][0].weight.is_contiguous()
    for key in ("train_loss", "val_loss"):
        assert compiled.history[0][key] == pytest.approx(eager.history[0][key], rel=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_training_on_cuda_with_mixed_precision_and_channels_last(tmp_path, precision):
    """bf16 (or fp16 with a GradScaler) autocast and channels_last: finite, learning,
    and the checkpoint holds the scaler's state."""
    config = _tiny(tmp_path / "run", epochs=2, device="cuda", precision=precision, **_RANDOM)
    result = fit(config)
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert next(result.model.parameters()).is_cuda
    assert result.history[-1]["peak_mem_mb"] > 0
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ("scale" in state["scaler"]) == (precision == "fp16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_compiled_training_with_gradient_checkpointing_on_cuda(tmp_path):
    config = _tiny(
        tmp_path / "run",
        model="hornet_mini_gf",
        img_size=64,
        epochs=1,
        device="cuda",
        compile=True,
        grad_checkpointing=True,
    )
    result = fit(config)
    assert math.isfinite(result.history[0]["train_loss"])
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
