"""The benchmark scripts run end to end (tiny settings) and print their tables."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, tmp_path: Path) -> tuple[str, dict]:
    out = tmp_path / "table.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / script),
            *args,
            "--rounds",
            "1",
            "--min-time",
            "0.01",
            "--device",
            "cpu",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, json.loads(out.read_text())


def test_timing_uses_torchs_thread_count(monkeypatch):
    """torch.utils.benchmark.Timer defaults to one thread; ours must time with all of torch's."""
    monkeypatch.syspath_prepend(str(BENCH))
    from _common import time_rounds

    seen = []
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        samples = time_rounds(
            {"probe": lambda: seen.append(torch.get_num_threads())}, rounds=2, min_time=0.001
        )
    finally:
        torch.set_num_threads(previous)
    assert len(samples["probe"]) == 2
    assert set(seen) == {2}


def test_ratio_quartiles_bracket_the_median_ratio(monkeypatch):
    """The spread of per-round ratios: quartiles around the median, one value for one round."""
    monkeypatch.syspath_prepend(str(BENCH))
    from _common import median_ratio, ratio_quartiles

    a = [1.0, 2.2, 3.0, 4.8, 5.0]
    b = [1.0, 2.0, 3.0, 4.0, 5.0]  # per-round ratios 1.0, 1.1, 1.0, 1.2, 1.0
    q1, q3 = ratio_quartiles(a, b)
    assert q1 == pytest.approx(1.0) and q3 == pytest.approx(1.1)
    assert q1 <= median_ratio(a, b) <= q3
    assert ratio_quartiles([2.0], [4.0]) == (0.5, 0.5)


def test_gnconv_bench_growth_table_and_plot(tmp_path):
    plot = tmp_path / "growth.png"
    stdout, table = _run(
        "gnconv_bench.py",
        "--tables",
        "growth",
        "--sides",
        "8",
        "16",
        "--plot",
        str(plot),
        tmp_path=tmp_path,
    )
    assert "Growth with map size" in stdout
    assert {r["module"] for r in table["by_size"]} == {"gnconv 7x7", "gnconv GF", "attention"}
    assert all(math.isfinite(r["fwd ms"]) and r["fwd ms"] > 0 for r in table["by_size"])
    assert plot.stat().st_size > 1000


def test_gnconv_bench_readability_table_has_a_control(tmp_path):
    stdout, table = _run(
        "gnconv_bench.py", "--tables", "readability", "--batch", "1", tmp_path=tmp_path
    )
    assert "What readability costs" in stdout
    rows = table["readability"]
    assert [(r["shape"], r["module"]) for r in rows[:3]] == [
        ("64x56x56", "ours"),
        ("64x56x56", "einops.unpack"),
        ("64x56x56", "plain again"),
    ]
    assert [r["order"] for r in rows[::3]] == [2, 3, 4, 5]  # HorNet-T's orders by stage
    figures = [r[key] for r in rows for key in ("fwd+bwd x plain", "fwd x plain")]
    assert all(math.isfinite(x) and x > 0 for x in figures)  # speed bounds stay in the script
    assert "by_size" not in table and "by_order" not in table


@pytest.mark.slow
def test_network_bench_reports_ratios_to_convnext(tmp_path):
    stdout, table = _run(
        "network_bench.py",
        "--models",
        "hornet_tiny_7x7",
        "convnext_tiny",
        "--batch",
        "1",
        "--img-size",
        "32",
        tmp_path=tmp_path,
    )
    rows = {r["model"]: r for r in table["rows"]}
    assert rows["convnext_tiny"]["train x convnext"] == 1.0
    assert rows["hornet_tiny_7x7"]["train x fp32 IQR"] == "1.00-1.00"  # against itself
    assert rows["hornet_tiny_7x7"]["train ms"] > 0
    assert "hornet_tiny_7x7" in stdout


def test_dense_bench_prints_decoder_costs(tmp_path):
    """Tiny settings: the cost table's rows for both pairs, gnConv decoders cheaper."""
    stdout, table = _run("dense_bench.py", "--size", "32", "--batch", "2", "--no-train",
                         tmp_path=tmp_path)  # fmt: skip
    assert "machine:" in stdout and "time_vs_conv" in stdout
    rows = {r["decoder"]: r for r in table["costs"]}
    assert set(rows) == {"fpn", "horfpn", "uper", "gnuper"}
    for conv, gn in (("fpn", "horfpn"), ("uper", "gnuper")):
        assert rows[gn]["params_M"] < rows[conv]["params_M"]
        assert rows[gn]["GMACs"] < rows[conv]["GMACs"]


def _script(monkeypatch, name: str):
    """benchmarks/NAME.py imported as a module (its folder on sys.path, for _common)."""
    import importlib.util

    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dense_bench(monkeypatch):
    return _script(monkeypatch, "dense_bench")


def test_the_digit_scenes_as_a_coco_folder_read_back_as_drawn(monkeypatch, tmp_path):
    """write_digit_coco's folder, read by the detection loader, gives each scene's own
    boxes, labels and masks back (RLE written by pycocotools, decoded by torchvision)."""
    from hornet_ref.datasets.coco import CocoInstances
    from hornet_ref.datasets.scenes import make_digit_scenes

    root = _dense_bench(monkeypatch).write_digit_coco(tmp_path / "coco", counts=(3, 2))
    for split, n, seed in (("train", 3, 0), ("val", 2, 1)):
        folder = CocoInstances(root, split)
        drawn = make_digit_scenes(n, 64, seed, split=split)
        assert len(folder) == n and folder.classes == [str(d) for d in range(10)]
        for i in range(n):
            image, target = folder[i]
            expected = drawn.targets(i)
            torch.testing.assert_close(image, drawn.images[i].float() / 255)
            assert target["labels"].tolist() == expected["labels"].tolist()
            torch.testing.assert_close(target["boxes"], expected["boxes"])
            assert torch.equal(target["masks"], expected["masks"])


def test_dense_bench_plans_every_cell_but_the_skipped(monkeypatch):
    """The grid: 4 segmentation heads x 2 scene sets + 2 detection necks x 2 scene sets,
    each seed; --skip leaves a (task, scenes, head) out; each task reads its own digit
    folder (ADE20K layout to segment, COCO to detect)."""
    import argparse

    bench = _dense_bench(monkeypatch)
    args = argparse.Namespace(
        tasks=["segment", "detect"], scenes=["shapes", "digits"],
        heads=["fpn", "horfpn", "uper", "gnuper"], seeds=[0, 1], skip=[],
        epochs={"segment": 2, "detect": 1}, device="cpu", runs=None, workers=2,
        resume=False,
    )  # fmt: skip
    folders = {"segment": "ade", "detect": "coco"}
    cells = bench.plan_cells(args, folders, (8, 4))
    assert {c["workers"] for c in cells} == {2}  # --workers reaches every cell's loader
    names = {(c["task"], c["scenes"], c["head"]) for c in cells}
    assert len(cells) == 2 * len(names) and len(names) == 4 * 2 + 2 * 2
    assert {c["folder"] for c in cells if c["task"] == "detect"} == {"coco"}
    assert {c["folder"] for c in cells if c["task"] == "segment"} == {"ade"}
    args.skip = ["segment-shapes-fpn", "segment-shapes-horfpn"]
    kept = {(c["task"], c["scenes"], c["head"]) for c in bench.plan_cells(args, folders, (8, 4))}
    assert kept == names - {("segment", "shapes", "fpn"), ("segment", "shapes", "horfpn")}


def test_a_stopped_cell_goes_on_from_its_checkpoint(monkeypatch, tmp_path):
    """--resume: a cell whose run folder holds a run stopped after its first epoch trains
    only the second, and its curve is that of the same cell trained unbroken; without a
    checkpoint the cell starts afresh."""
    from hornet_ref.train import TrainConfig, fit

    bench = _dense_bench(monkeypatch)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the cell's, not ours
    cell = dict(task="segment", scenes="shapes", head="fpn", seed=0, epochs=2, device="cpu",
                folder="", counts=(16, 8), runs=str(tmp_path / "runs"), workers=0,
                resume=True)  # fmt: skip
    whole = bench._cell(cell | {"runs": str(tmp_path / "whole")})  # no checkpoint there
    assert not whole["resumed"] and len(whole["curve"]) == 2
    fit(TrainConfig(task="segment", head="fpn", data="builtin", epochs=2, seed=0,
                    out=str(tmp_path / "runs" / "segment-shapes-fpn-seed0"), progress=False,
                    train_samples=16, val_samples=8, stop_after=1))  # fmt: skip
    row = bench._cell(cell)
    assert row["resumed"]
    assert row["curve"] == whole["curve"]
    assert row["train_seconds"] > 0


def test_dense_bench_resume_needs_the_run_folders():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "dense_bench.py"), "--quick", "--no-costs", "--resume"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--resume continues the run folders that --runs keeps" in proc.stderr


def test_dense_bench_says_so_when_no_cell_finished(tmp_path):
    """Every cell failing (here: its run folder already holds a run) ends in one line, not
    a traceback from the empty table; each cell's own error is printed before it."""
    runs = tmp_path / "runs"
    (runs / "segment-shapes-fpn-seed0").mkdir(parents=True)
    (runs / "segment-shapes-fpn-seed0" / "checkpoint.pt").write_bytes(b"a run")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "dense_bench.py"), "--quick", "--no-costs",
         "--scenes", "shapes", "--heads", "fpn", "--runs", str(runs),
         "--cache", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "segment shapes fpn seed 0: failed" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == (
        "no cell finished (each cell's error is printed above)"
    )


def _cells(head: str, seeds: dict[int, list[float]]) -> dict:
    """A --json file's content as dense_bench writes it: one cell a seed with its curve."""
    return {"cells": [
        {"task": "segment", "scenes": "digits", "head": head, "seed": seed, "curve": curve,
         "score": curve[-1], "flat": abs(max(curve[-1:]) - max(curve[-2:-1])) < 0.5,
         "images_per_s": 100.0, "params_M": 1.8, "GMACs": 0.1}
        for seed, curve in seeds.items()
    ]}  # fmt: skip


def test_dense_bench_tables_cells_run_apart(monkeypatch, tmp_path):
    """--table gives one row a head and schedule from cells run a seed at a time; a seed
    twice or a foreign file each stop with one line naming the file."""
    files = {
        "a": _cells("uper", {0: [10.0, 20.0, 30.0, 30.2]}),
        "b": _cells("uper", {1: [10.0, 20.0, 30.0, 34.0]}) | {"machine": "x"},
        "c": _cells("gnuper", {0: [12.0, 25.0, 40.0, 40.1], 1: [11.0, 24.0, 38.0, 38.1]}),
    }
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
    out = tmp_path / "table.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "dense_bench.py"), "--table",
         *(str(tmp_path / f"{n}.json") for n in files), "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["head"]: r for r in json.loads(out.read_text())["summary"]}
    assert rows["uper"]["seeds"] == 2 and rows["uper"]["mean"] == pytest.approx(32.1)
    assert rows["uper"]["sd"] == pytest.approx(math.sqrt(2 * 1.9**2))
    assert (rows["uper"]["flat"], rows["gnuper"]["flat"]) == (1, 2)
    assert rows["gnuper"]["mean"] == pytest.approx(39.1)
    assert "costs" not in json.loads(out.read_text())  # --table trains and times nothing

    bench = _dense_bench(monkeypatch)
    (tmp_path / "again.json").write_text(json.dumps(_cells("uper", {1: [1.0, 2.0, 3.0, 4.0]})))
    (tmp_path / "short.json").write_text(json.dumps(_cells("uper", {2: [1.0, 2.0]})))
    (tmp_path / "foreign.json").write_text(json.dumps({"summary": []}))
    with pytest.raises(
        SystemExit, match=r"again.json: segment digits uper seed 1 \(4 epochs\) is also in"
    ):
        bench.read_cells([tmp_path / "b.json", tmp_path / "again.json"])
    # A schedule of another length is a row of its own, and the longer row says how much
    # the longer schedule gained: what tells "learnt all it can" from "flat as lr -> 0".
    cells = bench.read_cells([tmp_path / "a.json", tmp_path / "b.json", tmp_path / "short.json"])
    rows = {r["epochs"]: r for r in bench.summarise(cells)}
    assert (rows[2]["seeds"], rows[4]["seeds"]) == (1, 2)
    assert rows[2]["gain"] is None and rows[4]["gain"] == pytest.approx(32.1 - 2.0)
    with pytest.raises(SystemExit, match=r"foreign.json: expected a dense_bench --json file"):
        bench.read_cells([tmp_path / "foreign.json"])


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, exited but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_dense_bench_workers_end_when_the_benchmark_is_killed():
    """A cell's worker stops training once the benchmark is gone, even killed with -9
    (no handler of ours runs then): before, workers trained on, unwatched."""
    import time

    script = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "import dense_bench\n"
        "pool = dense_bench.cell_pool(1)\n"
        "print(pool.submit(os.getpid).result(), flush=True)\n"
        "pool.submit(time.sleep, 300)\n"
        "time.sleep(300)\n"
    )
    bench = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(bench.stdout.readline())
        assert _alive(worker)
        bench.kill()
        bench.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(worker), f"worker {worker} outlived the benchmark"
    finally:
        bench.kill()


def _small_probes(monkeypatch):
    return _script(monkeypatch, "small_probes")


def test_stopping_the_benchmark_ends_its_running_cells():
    """Ctrl-C or SIGTERM of the benchmark alone (a background run gets no SIGINT of its
    own) terminates the cells already training, which then save their checkpoints."""
    script = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "import dense_bench\n"
        "pool = dense_bench.cell_pool(1)\n"
        "pool.submit(os.getpid).result()\n"
        "worker = next(iter(pool._processes.values()))\n"
        "pool.submit(time.sleep, 300)\n"
        "time.sleep(1)\n"
        "dense_bench.stop_pool(pool)\n"
        # The sentinel, not join() and is_alive(): the pool's own thread also reaps the
        # worker, and is_alive() can read 'alive' in between (seen once in CI).
        "from multiprocessing.connection import wait\n"
        "print('ended' if wait([worker.sentinel], 30) else 'running', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "ended", proc.stderr[-2000:]


def test_each_probe_changes_only_what_it_names(monkeypatch):
    """depth doubles every stage's blocks; order-n sets every gnConv's order; layer-scale-1
    starts every gamma at 1; batch-norm swaps each channels-first LayerNorm (4 + blocks of
    them) for a BatchNorm2d; conv-stem keeps the stem's stride 4; none builds the variant
    as it is. The named variant's config is not touched."""
    from torch import nn

    from hornet_ref import create_model, model_config
    from hornet_ref.gnconv import LayerNorm2d

    probes = _small_probes(monkeypatch)
    name, x = "hornet_nano_s4_7x7", torch.randn(2, 3, 64, 64)
    before = model_config(name)

    def build(change):
        torch.manual_seed(0)
        return probes.changed(create_model, change)(name, num_classes=10)

    def count(net, kind):
        return sum(type(m) is kind for m in net.modules())

    plain = build("none")
    blocks = sum(plain.config.depths)
    assert [len(s) for s in build("depth").stages] == [2 * d for d in plain.config.depths]
    bn = build("batch-norm")
    assert count(bn, nn.BatchNorm2d) == 4 + blocks and count(bn, LayerNorm2d) == 0
    assert count(bn, nn.LayerNorm) == blocks + 1  # norm2 and the head's, kept
    stem = build("conv-stem")
    assert len(stem.downsample_layers[0]) == 5
    dense = build("dense-conv")
    gnconvs = [m for m in dense.modules() if type(m).__name__ == "GnConv"]
    assert len(gnconvs) == blocks
    for g in gnconvs:  # f: S -> S channels, 3x3, every channel mixed (groups 1)
        s = sum(g.dims)
        assert (g.dwconv.in_channels, g.dwconv.out_channels, g.dwconv.groups) == (s, s, 1)
        assert g.dwconv.kernel_size == (3, 3)
    lows = [build(f"order-{n}") for n in (1, 2, 5)]  # every gnConv of order n
    for n, low in zip((1, 2, 5), lows, strict=True):
        orders = [m.order for m in low.modules() if type(m).__name__ == "GnConv"]
        assert low.config.orders == (n,) * 4 and orders == [n] * blocks
    gammas = [p for k, p in build("layer-scale-1").named_parameters() if ".gamma" in k]
    assert len(gammas) == 2 * blocks and all(bool((g == 1).all()) for g in gammas)
    assert all(bool((p == 1e-6).all()) for k, p in plain.named_parameters() if ".gamma" in k)
    for net in (plain, bn, stem, dense, *lows):
        assert net.eval()(x).shape == (2, 10)
        assert net.forward_intermediates(x, intermediates_only=True)[0].shape == (2, 32, 16, 16)
    assert model_config(name) == before
    with pytest.raises(ValueError, match="replaces a 4x4 stem; 2x2 given"):
        probes.changed(create_model, "conv-stem")("hornet_nano_7x7")
    with pytest.raises(ValueError, match="unknown change 'wider'"):
        probes.changed(create_model, "wider")


def test_a_probe_trains_through_fit_and_puts_the_task_back(monkeypatch, tmp_path):
    """One epoch of the batch-norm probe on a tiny patches folder: a finite top-1 from the
    changed network, and the task builds the plain variant again afterwards."""
    pytest.importorskip("skimage")
    from hornet_ref.train import task

    probes = _small_probes(monkeypatch)
    from own_data import make_patches_folder

    data = str(make_patches_folder(tmp_path / "patches", train=4, val=2))
    original = task.create_model
    result = probes.probe(data, "hornet_nano_7x7", "batch-norm", seed=0, epochs=1)
    assert task.create_model is original
    assert math.isfinite(result["top1"]) and len(result["curve"]) == 1
    assert result["img_size"] == 32 and result["change"] == "batch-norm"
    assert result["data"] == data  # each JSON line names its folder


def test_probe_recipe_values_are_typed_and_bad_ones_named(monkeypatch):
    """The probe's other flags are hornet-ref train's recipe flags, typed as the CLI types
    them; a flag the CLI lacks, one the probe sets itself, or a bad number raises one line."""
    probes = _small_probes(monkeypatch)
    values = probes.recipe_values(["--rand-augment", "5", "--mixup", "0.2", "--lr", "1e-3"])
    assert values == {"rand_augment": 5, "mixup": 0.2, "lr": 1e-3}
    assert type(values["rand_augment"]) is int and type(values["mixup"]) is float
    bad_flags = [(["--colour", "1"], "--colour"), (["--model", "x"], "--model")]
    for bad, said in bad_flags + [(["--mixup", "lots"], "lots")]:
        with pytest.raises(ValueError, match=said):
            probes.recipe_values(bad)
