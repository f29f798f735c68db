"""benchmarks/train_throughput.py runs end to end (tiny settings) and reports every candidate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"


def test_the_throughput_table_has_every_model_and_setting(tmp_path):
    out = tmp_path / "throughput.json"
    argv = [
        sys.executable,
        str(SCRIPT),
        "--device",
        "cpu",
        "--img-size",
        "32",
        "--batch",
        "2",
        "--warmup",
        "1",
        "--steps",
        "1",
        "--rounds",
        "1",
        "--json",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny ops: one thread, no spinning partner
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Training steps" in proc.stdout and "convnext_tiny" in proc.stdout
    table = json.loads(out.read_text())
    pairs = {(row["setting"], row["model"]) for row in table["rows"]}
    models = {"hornet_tiny_7x7", "hornet_tiny_gf", "convnext_tiny"}
    assert pairs == {(s, m) for s in ("eager-fp32", "eager-amp") for m in models}
    assert all(row["img/s"] > 0 and row["saved MB"] > 0 for row in table["rows"])
    peers = [row for row in table["rows"] if row["model"] == "convnext_tiny"]
    assert all(row["x convnext img/s"] == 1.0 for row in peers)
