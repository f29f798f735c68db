"""Training throughput: images/s and peak memory of full training steps, HorNet-T vs ConvNeXt-T.

    python benchmarks/train_throughput.py                     # CPU: batch 4, eager, ~2 minutes
    python benchmarks/train_throughput.py --settings all      # CPU, compiled too (slow)
    python benchmarks/train_throughput.py --batch 128 --json train_throughput.json  # a GPU

One step is what ``hornet-ref train`` does per update with the paper's ImageNet
recipe: mixup/cutmix, forward under autocast, label-smoothed cross-entropy,
backward (through a GradScaler with fp16), gradient clipping, an AdamW step over
the recipe's parameter groups, and the EMA update. It is built from the training
code's own parts (hornet_ref.train.recipe / precision), so it measures that code.
torchvision's convnext_tiny, the nearest well-known peer of HorNet-T (same size
class, same macro design), runs the same step in the same rounds.

Settings: ``eager-fp32``, ``eager-amp``, ``compiled-fp32``, ``compiled-amp``. AMP
is bf16 where supported (fp16 with a gradient scaler on older GPUs; bf16 on CPU).
Tensors are channels_last on CUDA and contiguous on CPU, as in training.

Timing: ``--warmup`` steps (compilation happens there), then ``--rounds``
interleaved rounds of ``--steps`` steps per candidate, the median round reported,
so a busy spell on a shared machine slows every candidate alike. Memory: on CUDA
the peak allocated during one step above what was allocated before the candidate
was built (its weights, optimiser state, EMA and activations); on CPU, where torch
keeps no allocator statistics, the tensors saved for backward in one step (see
_common.py).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from _common import machine, print_table, step_memory_mb, sync, write_json
from torch import nn

import hornet_ref
from hornet_ref.train import TrainConfig
from hornet_ref.train.config import resolve
from hornet_ref.train.precision import amp_dtype, autocast
from hornet_ref.train.recipe import build_ema, build_mixing, build_optimizer

MODELS: dict[str, Callable[[float], nn.Module]] = {
    "hornet_tiny_7x7": lambda dp: hornet_ref.create_model("hornet_tiny_7x7", drop_path_rate=dp),
    "hornet_tiny_gf": lambda dp: hornet_ref.create_model("hornet_tiny_gf", drop_path_rate=dp),
    "convnext_tiny": lambda dp: torchvision.models.convnext_tiny(stochastic_depth_prob=dp),
}
SETTINGS = ["eager-fp32", "eager-amp", "compiled-fp32", "compiled-amp"]


def _training_step(name: str, setting: str, batch: int, size: int, device: torch.device):
    """One training update of ``name`` as the training loop performs it."""
    config = resolve(TrainConfig(data="/imagenet", model="hornet_tiny_7x7", batch_size=batch))
    dtype = amp_dtype("auto" if device.type == "cuda" else "bf16", device)
    if setting.endswith("fp32"):
        dtype = torch.float32
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    torch.manual_seed(0)
    net = MODELS[name](config.drop_path).to(device, memory_format=memory_format)
    ema = build_ema(net, config.ema_decay)
    optimizer = build_optimizer(net, config, lr=config.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    mixing = build_mixing(config, num_classes=1000)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    model = torch.compile(net) if setting.startswith("compiled") else net
    images = torch.randn(batch, 3, size, size, device=device).contiguous(
        memory_format=memory_format
    )
    labels = torch.randint(0, 1000, (batch,), device=device)

    def step() -> None:
        x, y = mixing(images, labels)
        with autocast(device, dtype):
            loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(net.parameters(), config.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        ema.update_parameters(net)

    return step


def _time(step: Callable[[], None], steps: int, device: torch.device) -> float:
    sync(str(device))
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(str(device))
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=None, help="default: 128 on CUDA, 4 on CPU")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--settings",
        nargs="+",
        default=None,
        choices=SETTINGS + ["all"],
        help="default: all four on CUDA; eager-fp32 and eager-amp on CPU, where compiling "
        "HorNet-T takes minutes",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compile here)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--json", type=Path, default=None, help="write the table here as JSON")
    args = parser.parse_args()

    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    batch = args.batch or (128 if on_gpu else 4)
    steps = args.steps or (10 if on_gpu else 2)
    settings = args.settings or (SETTINGS if on_gpu else SETTINGS[:2])
    if "all" in settings:
        settings = SETTINGS
    print(f"machine: {machine()}; batch {batch} at {args.img_size}, {steps} steps x {args.rounds}")

    rows = []
    for setting in settings:
        candidates, memory = {}, {}
        for name in args.models:
            base = torch.cuda.memory_allocated(device) if on_gpu else 0
            step = candidates[name] = _training_step(name, setting, batch, args.img_size, device)
            for _ in range(args.warmup):
                step()
            if on_gpu:  # this candidate's own weights, optimiser state, EMA and activations
                torch.cuda.reset_peak_memory_stats(device)
                _time(step, 1, device)
                memory[name] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
            else:
                memory[name] = step_memory_mb(step, str(device))
        seconds: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(args.rounds):
            for name, step in candidates.items():
                seconds[name].append(_time(step, steps, device))
        peer = statistics.median(seconds["convnext_tiny"]) if "convnext_tiny" in seconds else None
        for name in candidates:
            median = statistics.median(seconds[name])
            row = {
                "setting": setting,
                "model": name,
                "step ms": median * 1e3,
                "img/s": batch / median,
                "peak MB" if on_gpu else "saved MB": memory[name],
            }
            if peer is not None:
                row["x convnext img/s"] = peer / median
            rows.append(row)
        del candidates, step
        if on_gpu:
            torch.cuda.empty_cache()

    memory_column = "peak MB" if on_gpu else "saved MB"
    columns = ["setting", "model", "step ms", "img/s", memory_column, "x convnext img/s"]
    print_table(rows, columns, "Training steps (the ImageNet recipe's update)")
    write_json(
        args.json,
        {
            "machine": machine(),
            "batch": batch,
            "img_size": args.img_size,
            "steps": steps,
            "rounds": args.rounds,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
