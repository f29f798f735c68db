"""Benchmark gnConv in decoders: FPN vs HorFPN, UPerNet vs the gnConv UPerNet head.

    python benchmarks/dense_bench.py --no-train               # costs and CPU times only
    python benchmarks/dense_bench.py --no-train --no-costs --defaults   # images/s, then and now
    python benchmarks/dense_bench.py --jobs 2                 # + every pair trained, 3 seeds
    python benchmarks/dense_bench.py --device cuda --jobs 12 --no-costs   # the training on a GPU
    python benchmarks/dense_bench.py --skip segment-shapes-fpn --runs RUNS  # leave a cell out;
                                                      # keep every run's metrics.jsonl
    python benchmarks/dense_bench.py --runs RUNS --resume ...  # go on from the checkpoints
                                                      # of a run stopped part-way
    python benchmarks/dense_bench.py --table A.json B.json   # cells run apart, one table
                                                             # (two schedules: the gain)

**Costs.** Each pair on the same backbone maps at the same input size: the decoder's
parameters, its MACs (hornet_ref.flops.count_flops of the whole segmenter minus the
backbone's), and one forward+backward of the decoder on the CPU, timed in
interleaved rounds and reported as the median per-round ratio to the conv decoder
(see _common.py). The costs use the authors' widths (256 channels for the FPNs, 512
for UPerNet) on HorNet-T's stage widths.

**Training to convergence.** Every head is trained through ``hornet_ref.train.fit``
exactly as ``hornet-ref train --task segment --head H`` trains it with no other
flags (the default model for 64 px, the decoder width that follows it, the
segmentation recipe), but for ``--epochs`` epochs, long enough that the validation
curve flattens, from ``--seeds`` seeds, on two scene sets of 64 px: the built-in
shapes and the digit scenes (scikit-learn's handwritten digits pasted on
scikit-image's photographs, written to an ADE20K-layout folder, the format users
have). ``--tasks detect`` adds FPN vs HorFPN in Mask R-CNN (``--task detect``) on both scene
sets (the digit scenes written as a COCO-layout folder), scored by box mAP (mask mAP
kept beside it). Each row gives the mean
and sample standard deviation over seeds of the final score, whether the curve
flattened (its best over the last quarter of the epochs within ``FLAT`` points of its
best over the quarter before),
the parameters and MACs of the trained model, and the images/s of its training on
the machine that ran it. A head trained at two schedules (``--table`` of both runs' files)
gets a row each, the longer with its gain over the shorter: under the cosine schedule a
curve flattens whenever the learning rate reaches zero, so the gain when the schedule
doubles, not the flat test, says whether a head has learnt what it can.

``--jobs`` cells train at once (one thread each), each loading its scenes in-process
(``--workers 0``, the default: the CPU runs) or in ``--workers`` loader processes of its
own (on a GPU, where decoding and cropping the digit scenes would otherwise leave the GPU
waiting; the random crops then differ from an in-process run's, so compare such cells
among themselves).

Ctrl-C or a kill (SIGTERM) stops the benchmark with its cells: each running cell stops
at its next update and saves a checkpoint (under ``--runs``), and the finished ones are
tabled; after a ``kill -9`` the workers notice their parent is gone and end within a
second. The same command with ``--resume`` continues each stopped cell from its checkpoint
(a cell longer than a session, over several; ``train_seconds`` in the --json sums the
training of every session).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch
from _common import machine, median_ratio, print_table, time_rounds, write_json
from PIL import Image

from hornet_ref import count_flops, count_params, create_model
from hornet_ref.dense import create_segmenter

PAIRS = (("fpn", "horfpn", 256), ("uper", "gnuper", 512))
SCENES = ("shapes", "digits")
#: A curve has flattened when its last quarter's best is within this many points of
#: the quarter before's best.
FLAT = 0.5
_SIZE = 64  # the scenes' side
_COUNTS = (2_000, 400)  # train / val scenes, the built-in segmentation default


def _costs(args: argparse.Namespace) -> list[dict]:
    """Parameters, MACs and forward+backward time of each decoder on HorNet-T's maps."""
    backbone = create_model("hornet_tiny_7x7", num_classes=0).eval()
    backbone_macs = count_flops(backbone, args.size)
    x = torch.randn(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        maps = backbone.forward_intermediates(x, intermediates_only=True)
    rows = []
    for conv, gn, channels in PAIRS:
        heads = {}
        for head in (conv, gn):
            torch.manual_seed(0)
            heads[head] = create_segmenter(backbone, 150, head=head, channels=channels).head

        def step(h=None):
            def run() -> None:
                h.zero_grad(set_to_none=True)
                h([m.detach().requires_grad_(False) for m in maps]).float().mean().backward()

            return run

        samples = time_rounds(
            {name: step(h) for name, h in heads.items()},
            rounds=args.rounds,
            min_time=args.min_time,
        )
        for name, head in heads.items():
            segmenter = create_segmenter(backbone, 150, head=head, channels=channels)
            rows.append(
                {
                    "decoder": name,
                    "channels": channels,
                    "params_M": count_params(head) / 1e6,
                    "GMACs": (count_flops(segmenter.eval(), args.size) - backbone_macs) / 1e9,
                    "fwd_bwd_ms": 1e3 * statistics.median(samples[name]),
                    "time_vs_conv": median_ratio(samples[name], samples[conv]),
                }
            )
    return rows


#: ``hornet-ref train --task segment`` with no flags: the model and decoder it built.
DEFAULTS = {
    "issue 21's start (nano, gnuper 512)": ("hornet_nano_7x7", 512),
    "width following the backbone (nano, gnuper 256)": ("hornet_nano_7x7", 256),
    "now (mini for 64 px, gnuper 128)": ("hornet_mini_7x7", 128),
}


def _default_steps(args: argparse.Namespace) -> list[dict]:
    """Images/s of one training step (forward, cross-entropy, backward, AdamW) of each
    default segmenter the project has had, batch 64 of 64-px scenes, interleaved rounds."""
    from hornet_ref.datasets.scenes import SceneSegmentation

    data = SceneSegmentation(64, 64, seed=0, classes=("disk", "square", "triangle", "plus"))
    images = torch.stack([data[i][0] for i in range(64)])  # (64, 3, 64, 64)
    masks = torch.stack([data[i][1] for i in range(64)])  # (64, 64, 64)
    steps, nets = {}, {}
    for name, (model, channels) in DEFAULTS.items():
        torch.manual_seed(0)
        net = create_segmenter(model, 5, head="gnuper", channels=channels)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

        def step(net=net, opt=opt) -> None:
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(images), masks).backward()
            opt.step()

        steps[name], nets[name] = step, net
    samples = time_rounds(steps, rounds=args.rounds, min_time=args.min_time)
    first = next(iter(DEFAULTS))
    return [
        {
            "default": name,
            "params_M": count_params(nets[name]) / 1e6,
            "GMACs": count_flops(nets[name].eval(), 64) / 1e9,
            "step_s": statistics.median(samples[name]),
            "images_per_s": 64 / statistics.median(samples[name]),
            "speedup": 1 / median_ratio(samples[name], samples[first]),
        }
        for name in DEFAULTS
    ]


def write_digit_folder(root: Path, counts: tuple[int, int] = _COUNTS, seed: int = 0) -> Path:
    """The digit scenes as an ADE20K-layout folder: images/{training,validation}/*.png
    and annotations/ with 0 = background, k + 1 = digit k (train with
    ``reduce_zero_label=False``). Written once; a complete folder is reused."""
    from hornet_ref.datasets.scenes import make_digit_scenes

    done = root / "complete"
    if done.is_file():
        return root
    for split, folder, n, s in (
        ("train", "training", counts[0], seed),
        ("val", "validation", counts[1], seed + 1),
    ):
        scenes = make_digit_scenes(n, _SIZE, s, split=split)
        for sub in ("images", "annotations"):
            (root / sub / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = scenes.images[i].permute(1, 2, 0).numpy()  # (S, S, 3) uint8
            Image.fromarray(image).save(root / "images" / folder / f"{i:05d}.png")
            label = scenes.semantic[i].numpy().astype(np.uint8)  # (S, S)
            Image.fromarray(label, mode="L").save(root / "annotations" / folder / f"{i:05d}.png")
    done.write_text("ok\n")
    return root


def write_digit_coco(root: Path, counts: tuple[int, int] = _COUNTS, seed: int = 0) -> Path:
    """The same digit scenes as :func:`write_digit_folder`, as a COCO-layout folder for
    ``--task detect``: train/*.png, val/*.png and annotations/instances_{train,val}.json,
    one annotation per visible digit (category k + 1 named "k", its box and its mask as
    COCO RLE, encoded by pycocotools). Written once; a complete folder is reused."""
    from pycocotools import mask as coco_mask

    from hornet_ref.datasets.scenes import make_digit_scenes

    done = root / "complete"
    if done.is_file():
        return root
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", counts[0], seed), ("val", counts[1], seed + 1)):
        scenes = make_digit_scenes(n, _SIZE, s, split=split)
        (root / split).mkdir(exist_ok=True)
        images, annotations = [], []
        for i in range(n):
            name = f"{i:05d}.png"
            Image.fromarray(scenes.images[i].permute(1, 2, 0).numpy()).save(root / split / name)
            images.append({"id": i + 1, "file_name": name, "width": _SIZE, "height": _SIZE})
            target = scenes.targets(i)  # boxes (M, 4) XYXY, labels (M,), masks (M, S, S)
            for box, label, mask in zip(target["boxes"], target["labels"], target["masks"]):
                rle = coco_mask.encode(np.asfortranarray(mask.numpy()))
                x0, y0, x1, y1 = box.tolist()
                annotations.append(
                    {"id": len(annotations) + 1, "image_id": i + 1,
                     "category_id": int(label), "iscrowd": 0,
                     "bbox": [x0, y0, x1 - x0, y1 - y0], "area": float(mask.sum()),
                     "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}}
                )  # fmt: skip
        categories = [{"id": k + 1, "name": c} for k, c in enumerate(scenes.classes)]
        coco = {"images": images, "annotations": annotations, "categories": categories}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco))
    done.write_text("ok\n")
    return root


def _cell(cell: dict) -> dict:
    """Train one (task, scenes, head, seed) cell; returns its scores and curve."""
    torch.set_num_threads(1)
    if cell["workers"] and "fork" in multiprocessing.get_all_start_methods():
        # This spawned cell would spawn its loader processes too, anew every epoch (a
        # few seconds each); forked ones start at once and never touch CUDA.
        multiprocessing.set_start_method("fork", force=True)
    from hornet_ref.train import TrainConfig, fit
    from hornet_ref.train.engine import CHECKPOINT

    data = "builtin" if cell["scenes"] == "shapes" else cell["folder"]
    if data == "builtin":
        extra = {"train_samples": cell["counts"][0], "val_samples": cell["counts"][1]}
    elif cell["task"] == "segment":
        extra = {"img_size": _SIZE, "reduce_zero_label": False}  # 0 = background, scored
    else:
        extra = {"img_size": _SIZE}
    metric = "val_miou" if cell["task"] == "segment" else "val_box_map"
    name = f"{cell['task']}-{cell['scenes']}-{cell['head']}-seed{cell['seed']}"
    with tempfile.TemporaryDirectory() as tmp:
        # --runs keeps each run folder: its metrics.jsonl holds the curve so far even
        # when the benchmark is stopped before the cell ends.
        out = Path(cell["runs"]) / name if cell["runs"] else Path(tmp) / "run"
        # --resume: a cell stopped part-way (Ctrl-C, a session's end) goes on from its
        # last checkpoint; the engine puts back its schedule and generators, so the
        # curve is the one an unbroken run draws.
        resume = bool(cell.get("resume")) and (out / CHECKPOINT).is_file()
        start = time.perf_counter()
        # eval_every=1: every epoch on the curve, which "flat" reads.
        config = TrainConfig(
            task=cell["task"], head=cell["head"], data=data, epochs=cell["epochs"],
            seed=cell["seed"], workers=cell["workers"], out=str(out), progress=False,
            device=cell["device"], resume=resume, eval_every=1, **extra,
        )  # fmt: skip
        result = fit(config)
        seconds = time.perf_counter() - start
        net = result.model.float().cpu().eval()
    history = result.history
    row = {k: cell[k] for k in ("task", "scenes", "head", "seed")}
    curve = [h[metric] for h in history]
    q = max(len(curve) // 4, 1)
    last, before = max(curve[-q:]), max(curve[-2 * q : -q] or curve[:1])
    row |= {
        "score": curve[-1],
        "curve": curve,
        "flat": abs(last - before) < FLAT,
        "seconds": seconds,  # this session's wall time, validation included
        "train_seconds": sum(h["seconds"] for h in history),  # every session's training
        "resumed": resume,
        "images_per_s": statistics.median(h["images_per_sec"] for h in history),
        "params_M": count_params(net) / 1e6,
        "model": result.config.model,
    }
    for key in ("val_mask_map", "val_box_map50", "val_box_map75"):
        if key in history[-1]:
            row[key] = history[-1][key]
    if cell["task"] == "segment":
        row["GMACs"] = count_flops(net, _SIZE) / 1e9
    return row


def plan_cells(
    args: argparse.Namespace, folders: dict[str, str], counts: tuple[int, int]
) -> list[dict]:
    """One dict per (task, scenes, head, seed) to train: ``args.tasks`` x ``args.scenes`` x
    the pairs' heads in ``args.heads`` x ``args.seeds``, less ``args.skip``. ``folders``
    maps a task to its digit-scene folder (ADE20K layout to segment, COCO to detect)."""
    cells = []
    for task in args.tasks:
        pairs = PAIRS if task == "segment" else PAIRS[:1]
        folder = folders[task]
        for scenes in args.scenes:
            for conv, gn, _ in pairs:
                for head in (h for h in (conv, gn) if h in args.heads):
                    if f"{task}-{scenes}-{head}" in args.skip:
                        continue
                    for seed in args.seeds:
                        cells.append(
                            dict(task=task, scenes=scenes, head=head, seed=seed,
                                 epochs=args.epochs[task], device=args.device,
                                 folder=str(folder), counts=counts, runs=args.runs,
                                 workers=args.workers, resume=args.resume)
                        )  # fmt: skip
    return cells


def _exit_with(parent: int) -> None:
    """A worker's initializer: a thread that ends this worker once ``parent`` (the
    benchmark) is gone, even killed with -9, so no cell trains on unwatched."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def cell_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` worker processes (spawned: each cell starts CUDA afresh, which a fork
    cannot) that exit when the benchmark does."""
    return ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with, initargs=(os.getpid(),),
    )  # fmt: skip


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the cells not started and end the running ones now (shutdown alone would
    wait for each to finish its training)."""
    # Taken before shutdown, which forgets them (Python 3.11 sets _processes to None).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def _train(args: argparse.Namespace) -> tuple[list[dict], bool]:
    """Every cell, ``args.jobs`` at a time: the rows as they finish (also to --json), and
    whether a Ctrl-C or SIGTERM stopped the benchmark first."""
    counts = (128, 32) if args.quick else _COUNTS
    name = "digit_scenes_quick" if args.quick else "digit_scenes"
    folders = {}
    if "digits" in args.scenes:
        writers = {"segment": write_digit_folder, "detect": write_digit_coco}
        for task in args.tasks:
            suffix = "" if task == "segment" else "_coco"
            folders[task] = str(writers[task](Path(args.cache) / f"{name}{suffix}", counts))
    cells = plan_cells(args, {t: folders.get(t, "") for t in args.tasks}, counts)
    rows, stopped = [], False
    # Ctrl-C or a kill (SIGTERM) ends the running cells too; --runs keeps their curves.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    pool = cell_pool(args.jobs)
    try:
        futures = {pool.submit(_cell, cell): cell for cell in cells}
        for future in as_completed(futures):
            if future.exception() is not None:  # one failed cell does not lose the others
                cell = futures[future]
                print(f"{cell['task']} {cell['scenes']} {cell['head']} seed {cell['seed']}: "
                      f"failed: {future.exception()!r}", flush=True)  # fmt: skip
                continue
            row = future.result()
            rows.append(row)
            print(
                f"{row['task']} {row['scenes']} {row['head']} seed {row['seed']}: "
                f"{row['score']:.2f} (flat {row['flat']}, {row['seconds']:.0f} s)",
                flush=True,
            )
            if args.json:
                args.json.write_text(json.dumps({"cells": rows}, indent=1))
    except KeyboardInterrupt:
        stopped = True
        print(f"stopped: {len(rows)} of {len(cells)} cells finished; the running ones stop "
              "at their next update, saving a checkpoint", flush=True)  # fmt: skip
        stop_pool(pool)
    except BaseException:
        stop_pool(pool)
        raise
    else:
        # Every cell has ended: a plain shutdown, since terminating idle workers left the
        # executor's exit hook writing to a closed pipe (a traceback after the table).
        pool.shutdown(wait=True)
    return rows, stopped


def summarise(cells: list[dict]) -> list[dict]:
    """One row per (task, scenes, head, epochs): mean, sd, min-max over seeds, flat seeds,
    and ``gain``, the mean's change from the same head's next shorter schedule in
    ``cells`` (None where there is none). Under a cosine schedule every curve flattens as
    the learning rate reaches zero, so "flat" alone does not say that the head has learnt
    all it can: a gain within the spread when the schedule doubles does."""
    groups: dict[tuple, list[dict]] = {}
    for c in cells:
        groups.setdefault((c["task"], c["scenes"], c["head"], len(c["curve"])), []).append(c)
    first = {}  # the heads in the order they come, each head's schedules shortest first
    for key in groups:
        first.setdefault(key[:3], len(first))
    rows, shorter = [], None  # shorter: the previous row's head and mean
    order = sorted(groups.items(), key=lambda kv: (first[kv[0][:3]], kv[0][3]))
    for (task, scenes, head, epochs), cs in order:
        scores = [c["score"] for c in cs]
        row = {
            "task": task,
            "scenes": scenes,
            "head": head,
            "epochs": epochs,
            "seeds": len(cs),
            "mean": statistics.mean(scores),
            "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "min": min(scores),
            "max": max(scores),
            "flat": sum(c["flat"] for c in cs),
            "gain": None,
            "params_M": cs[0]["params_M"],
            "GMACs": cs[0].get("GMACs", float("nan")),
            "images_per_s": statistics.median(c["images_per_s"] for c in cs),
        }
        if "val_mask_map" in cs[0]:
            row["mask_mean"] = statistics.mean(c["val_mask_map"] for c in cs)
        if shorter and shorter[0] == (task, scenes, head):  # its next shorter schedule
            row["gain"] = row["mean"] - shorter[1]
        shorter = ((task, scenes, head), row["mean"])
        rows.append(row)
    return rows


def read_cells(paths: list[Path]) -> list[dict]:
    """The cells of earlier runs' ``--json`` files, to be tabled together (a head, a seed
    or a schedule run at a time). Each (task, scenes, head, seed, epochs) may come once;
    anything else stops with one line."""
    cells, seen = [], {}
    for path in paths:
        try:
            found = json.loads(Path(path).read_text())["cells"]
            keys = [(c["task"], c["scenes"], c["head"], c["seed"], len(c["curve"])) for c in found]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"{path}: expected a dense_bench --json file with trained cells "
                             f"({type(error).__name__}: {error})") from None  # fmt: skip
        for cell, key in zip(found, keys, strict=True):
            if key in seen:
                *name, seed, epochs = key
                raise SystemExit(
                    f"{path}: {' '.join(name)} seed {seed} ({epochs} epochs) is also in {seen[key]}"
                )
            seen[key] = path
            cells.append(cell)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="where the training runs")
    parser.add_argument("--size", type=int, default=128, help="input side for costs and times")
    parser.add_argument("--batch", type=int, default=2, help="images per timed step")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--no-costs", action="store_true", help="skip the CPU costs")
    parser.add_argument("--no-train", action="store_true", help="skip the training")
    parser.add_argument(
        "--defaults", action="store_true", help="time the segmentation defaults, then and now"
    )
    parser.add_argument("--tasks", nargs="+", default=["segment"], choices=["segment", "detect"])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES), choices=SCENES)
    heads = [h for pair in PAIRS for h in pair[:2]]
    parser.add_argument("--heads", nargs="+", default=heads, choices=heads, help="heads trained")
    parser.add_argument(
        "--skip", nargs="*", default=[], metavar="TASK-SCENES-HEAD",
        help="cells not to train, e.g. segment-shapes-fpn (measured before)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--segment-epochs", type=int, default=60)
    parser.add_argument("--detect-epochs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1, help="cells trained at once")
    parser.add_argument(
        "--workers", type=int, default=0, help="loader processes per cell (0: in-process)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a dry run: 128 / 32 scenes, 1 epoch, seed 0"
    )
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "dense_bench"))
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--runs", default=None, help="keep each cell's run folder (metrics.jsonl) under this folder"
    )
    parser.add_argument(
        "--resume", action="store_true",
        help="continue each cell whose run folder under --runs holds a checkpoint "
        "(a benchmark stopped part-way); the others start afresh",
    )  # fmt: skip
    parser.add_argument(
        "--table", nargs="+", type=Path, default=None, metavar="JSON",
        help="no training: table the cells of earlier runs' --json files together",
    )  # fmt: skip
    args = parser.parse_args()
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    if args.resume and not args.runs:
        parser.error("--resume continues the run folders that --runs keeps: pass --runs too")
    if args.table:  # only the table of cells trained before
        args.no_costs, args.defaults = True, False
    if args.quick:
        args.segment_epochs = args.detect_epochs = 1
        args.seeds = [0]
    args.epochs = {"segment": args.segment_epochs, "detect": args.detect_epochs}

    print(f"machine: {machine()}, {os.cpu_count()} CPUs")
    payload: dict = {"machine": machine(), "command": " ".join(os.sys.argv)}
    if not args.no_costs:
        costs = _costs(args)
        print_table(
            costs,
            ["decoder", "channels", "params_M", "GMACs", "fwd_bwd_ms", "time_vs_conv"],
            f"decoders on HorNet-T maps, {args.size}x{args.size} input, 150 classes; "
            f"forward+backward of batch {args.batch}, ratio to the conv decoder of the pair",
        )
        payload["costs"] = costs
    if args.defaults:
        defaults = _default_steps(args)
        print_table(
            defaults,
            ["default", "params_M", "GMACs", "step_s", "images_per_s", "speedup"],
            "hornet-ref train --task segment, no flags: one training step of batch 64 at "
            "64 px; speedup over the first, median of per-round ratios",
        )
        payload["defaults"] = defaults
    if args.table or not args.no_train:
        if args.table:
            cells = read_cells(args.table)
            seeds = sorted({c["seed"] for c in cells})
        else:
            cells, stopped = _train(args)
            if not cells:
                raise SystemExit(
                    "stopped before any cell finished"
                    if stopped
                    else "no cell finished (each cell's error is printed above)"
                )
            seeds = args.seeds
        table = summarise(cells)
        print_table(
            table,
            ["task", "scenes", "head", "epochs", "seeds", "mean", "sd", "min", "max", "flat"]
            + ["gain", "params_M", "GMACs", "images_per_s"],
            f"val mIoU / box mAP (%) at the end, seeds {seeds}; flat: seeds whose curve "
            f"flattened (last quarter's best within {FLAT} of the quarter before's); gain: "
            "the mean's change from the same head's next shorter schedule",
        )
        payload |= {"cells": cells, "summary": table}
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
