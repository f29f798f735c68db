"""Tests of hornet_ref/cli/_install.py: a torch that does not import is told in one line.

The broken torchvision cases go through the CLI in tests/test_cli.py; here torch
itself fails, in a fresh process whose ``import torch`` finds a stand-in package
(torch is already imported in this one).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hornet_ref

_REPO = Path(hornet_ref.__file__).resolve().parents[1]


def _cli_with_torch(tmp_path: Path, torch_init: str, *argv: str) -> subprocess.CompletedProcess:
    """``python -m hornet_ref.cli ARGV`` where ``import torch`` runs ``torch_init``."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(torch_init)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(_REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "hornet_ref.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    "torch_init, detail",
    [
        # torch/__init__.py loads its shared libraries with ctypes first: OSError
        ('import ctypes\nctypes.CDLL("libtorch_gone.so")\n', "libtorch_gone.so"),
        # a half-written install: the extension module is missing
        ("from torch._C import *\n", "No module named 'torch._C'"),
    ],
)
def test_a_torch_that_does_not_import_is_one_line_with_the_reinstall_command(
    tmp_path, torch_init, detail
):
    out = tmp_path / "run"
    done = _cli_with_torch(tmp_path, torch_init, "train", "--out", str(out), "--epochs", "1")
    version = importlib.metadata.version("torch")  # the real install's metadata
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"hornet-ref train: error: torch {version} does not import (")
    assert detail in done.stderr
    assert f"reinstall it: pip install --force-reinstall torch=={version.split('+')[0]}" in (
        done.stderr
    )
    assert not out.exists()


def test_a_missing_optional_package_inside_torch_is_not_called_a_broken_install(tmp_path):
    from hornet_ref.cli._install import broken_install

    # torch.onnx without onnx: an ImportError naming onnx, raised while importing a
    # torch module; the caller reports it, not as a broken torch
    (tmp_path / "torch").mkdir()
    module = tmp_path / "torch" / "onnx.py"
    module.write_text("import hornet_ref_no_such_package\n")
    code = compile(module.read_text(), str(module), "exec")
    with pytest.raises(ImportError) as caught:
        exec(code, {"__name__": "torch.onnx"})
    assert caught.value.name == "hornet_ref_no_such_package"
    assert broken_install(caught.value) is None


def test_torch_not_installed_says_so(monkeypatch):
    from hornet_ref.cli._install import broken_install

    def version(package):
        raise importlib.metadata.PackageNotFoundError(package)

    monkeypatch.setattr(importlib.metadata, "version", version)
    error = ModuleNotFoundError("No module named 'torch'", name="torch")
    fix = "fix: pip install torch torchvision"
    assert broken_install(error) == f"torch is not installed (No module named 'torch'); {fix}"
