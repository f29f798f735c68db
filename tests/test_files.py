"""The one atomic writer: a file is the old one or the new one, never a part, and a
temporary left by a killed writer is removed by the next write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hornet_ref.files import remove_stale_temporaries, write_atomic

ROOT = Path(__file__).resolve().parents[1]


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.tmp-*"))


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "metrics.jsonl"
    assert write_atomic(path, lambda f: f.write(b"one\n")) == path
    write_atomic(path, lambda f: f.write(b"two\n"))
    assert path.read_bytes() == b"two\n"
    assert _temporaries(path) == []


def test_a_failing_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")

    def fail(file):
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, fail)
    assert path.read_text() == "old" and _temporaries(path) == []


def test_a_writer_killed_mid_save_leaves_a_temporary_the_next_save_removes(tmp_path):
    """SIGKILL (no cleanup can run) during a checkpoint save: the checkpoint is intact,
    the temporary names the dead writer, and the next save of that file deletes it."""
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"epoch 1")
    writer = textwrap.dedent(
        f"""
        import sys, time, types
        root = types.ModuleType("hornet_ref")  # the writer alone, without the package root
        root.__path__ = [{str(ROOT / "hornet_ref")!r}]
        sys.modules["hornet_ref"] = root
        from hornet_ref.files import write_atomic

        def slow(file):
            file.write(b"epoch 2, half")
            file.flush()
            print("writing", flush=True)
            time.sleep(60)

        write_atomic({str(path)!r}, slow)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "writing\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    (left,) = _temporaries(path)
    assert left.name.startswith(f".checkpoint.pt.tmp-{proc.pid}-")
    assert path.read_bytes() == b"epoch 1"

    write_atomic(path, lambda f: f.write(b"epoch 2"))
    assert path.read_bytes() == b"epoch 2" and _temporaries(path) == []


def test_a_live_writers_temporary_and_other_files_are_kept(tmp_path):
    path = tmp_path / "curves.png"
    live = tmp_path / f".curves.png.tmp-{os.getpid()}-abc"
    other = tmp_path / ".curves.png.tmp-notapid"
    for p in (live, other):
        p.write_bytes(b"x")
    assert remove_stale_temporaries(path) == []
    assert live.exists() and other.exists()
