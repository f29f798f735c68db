"""Importing the package is cheap: the root loads nothing heavy, the model stack loads alone,
and ``hornet-ref --help`` (and every subcommand's ``--help``) imports no torch.

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hornet_ref
from hornet_ref.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]

# Loaded by none of the model stack: the other layers, and the libraries only they use.
_NOT_FOR_THE_MODEL = ("hornet_ref.train", "hornet_ref.analysis", "hornet_ref.plotting")
_NOT_FOR_THE_MODEL_LIBS = ("matplotlib", "torchvision")


def _fresh_modules(code: str) -> set[str]:
    """sys.modules after running ``code`` in a fresh interpreter importing this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def _under(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_import_hornet_ref_imports_no_torch_nor_any_other_layer():
    modules = _fresh_modules("import hornet_ref")
    heavy = ("torch", "numpy", "tqdm", "einops", *_NOT_FOR_THE_MODEL_LIBS, *_NOT_FOR_THE_MODEL)
    assert _under(modules, *heavy) == []


def test_model_names_load_the_model_stack_without_torchvision_matplotlib_or_other_layers():
    modules = _fresh_modules(
        "import sys, torch\n"
        "torch_own = set(sys.modules)\n"
        "import hornet_ref\n"
        "model = hornet_ref.create_model('hornet_mini_gf').eval()\n"
        "with hornet_ref.InteractionRecorder(model) as rec, torch.no_grad():\n"
        "    model(torch.randn(1, 3, 224, 224))\n"
        "assert len(rec) == 5 and hornet_ref.GnConv and hornet_ref.load_pretrained\n"
        "assert hornet_ref.count_flops(model, 64) > 0\n"
        "for name in set(sys.modules) - torch_own:\n"
        "    sys.modules['NEW:' + name] = sys.modules[name]"
    )
    new = {m.removeprefix("NEW:") for m in modules if m.startswith("NEW:")}
    assert {"hornet_ref.gnconv", "hornet_ref.hornet", "hornet_ref.recorder"} <= new
    assert _under(modules, *_NOT_FOR_THE_MODEL, *_NOT_FOR_THE_MODEL_LIBS) == []
    assert _under(new, "tqdm") == []  # none beyond what torch itself loads


_MODULE_OF = {name: module for module, names in hornet_ref._SOURCES.items() for name in names}


def test_all_lists_exactly_the_lazy_names():
    assert sorted(hornet_ref.__all__) == sorted(_MODULE_OF)


@pytest.mark.parametrize("name", hornet_ref.__all__)
def test_every_public_name_is_its_modules_object(name):
    module = importlib.import_module(f"hornet_ref.{_MODULE_OF[name]}")
    assert getattr(hornet_ref, name) is getattr(module, name)
    assert name in dir(hornet_ref)


def test_the_analysis_packages_lazy_table_is_each_modules_all():
    analysis = importlib.import_module("hornet_ref.analysis")
    for module, names in analysis._SOURCES.items():
        assert set(names) == set(importlib.import_module(f"hornet_ref.analysis.{module}").__all__)
    assert sorted(analysis.__all__) == sorted(
        n for names in analysis._SOURCES.values() for n in names
    )


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'GnKonv'"):
        hornet_ref.GnKonv  # noqa: B018
    assert hornet_ref.plotting.__name__ == "hornet_ref.plotting"


def _subcommands() -> list[str]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize(
    "argv", [["--help"]] + [[c, "--help"] for c in _subcommands()], ids=" ".join
)
def test_help_imports_no_torch(argv):
    """``python -m hornet_ref.cli ... --help``, with Python's import log: no torch in it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hornet_ref.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage: hornet-ref")
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert _under(imported, "torch", "numpy", "matplotlib", "torchvision") == []
