"""The notebooks as files: Colab badge and install cell from pyproject.toml, stored outputs.

Running them is CI's job (``HORNET_REF_SMALL=1 python -m pytest --nbmake notebooks/``, see
.ci/run); these checks read the committed JSON only, so they take milliseconds and
need no Jupyter.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = [
    "01_gnconv_from_scratch.ipynb",
    "02_high_order_interactions.ipynb",
    "03_effective_receptive_fields.ipynb",
    "04_train_on_gpu.ipynb",
    "05_gnconv_in_decoders.ipynb",
    "06_does_the_order_matter.ipynb",
]
PRESENT = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def _load_script():
    spec = importlib.util.spec_from_file_location("set_repo_url", NOTEBOOKS / "set_repo_url.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


set_repo_url = _load_script()


def _notebook(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _first(nb: dict, kind: str) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == kind)


def _python(source: str) -> str:
    """A cell's code with IPython's %magic lines blanked, so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith("%") else line for line in source.splitlines())


def test_the_six_notebooks_are_there_in_reading_order():
    assert PRESENT == EXPECTED


def test_badges_and_install_cells_agree_with_pyproject():
    """What `python notebooks/set_repo_url.py --check` checks: nothing would change."""
    stale = set_repo_url.update(check=True)
    assert not stale, f"run python notebooks/set_repo_url.py: {stale}"


def test_the_repository_url_is_read_from_pyproject():
    url = set_repo_url.repository_url()
    assert url.startswith("https://github.com/")
    assert f'Repository = "{url}"' in (ROOT / "pyproject.toml").read_text()


def test_a_fork_rewrites_every_badge_and_install_cell(tmp_path):
    """A fork's URL reaches each notebook's badge (Colab link to itself) and install cell."""
    for name in PRESENT:
        (tmp_path / name).write_bytes((NOTEBOOKS / name).read_bytes())
    fork = "https://github.com/someone/my-fork"
    changed = set_repo_url.update(tmp_path, fork)
    assert len(changed) == len(PRESENT)
    for name in PRESENT:
        nb = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        colab = (
            f"https://colab.research.google.com/github/someone/my-fork/blob/main/notebooks/{name}"
        )
        assert f"]({colab})" in _source(_first(nb, "markdown"))
        assert f'REPOSITORY = "{fork}"' in _source(_first(nb, "code"))
        # Only those two lines changed: cells and outputs are as they were.
        old = _notebook(name)
        assert [c["cell_type"] for c in nb["cells"]] == [c["cell_type"] for c in old["cells"]]
        assert [c.get("outputs") for c in nb["cells"]] == [c.get("outputs") for c in old["cells"]]
    assert set_repo_url.update(tmp_path, fork, check=True) == []


def test_a_notebook_without_a_badge_is_refused():
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "# title"},
            _first(_notebook(PRESENT[0]), "code"),
        ]
    }
    with pytest.raises(ValueError, match="badge"):
        set_repo_url.rewrite(nb, "x.ipynb", "https://github.com/a/b")


def _is_colab_test(node: ast.expr) -> bool:
    """``"google.colab" in sys.modules``."""
    return (
        isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Constant)
        and node.left.value == "google.colab"
        and isinstance(node.ops[0], ast.In)
        and ast.unparse(node.comparators[0]) == "sys.modules"
    )


@pytest.mark.parametrize("name", PRESENT)
def test_first_code_cell_installs_only_on_colab_and_picks_the_device(name):
    code = _python(_source(_first(_notebook(name), "code")))
    tree = ast.parse(code)
    colab = [n for n in tree.body if isinstance(n, ast.If) and _is_colab_test(n.test)]
    assert len(colab) == 1, 'the first code cell needs one `if "google.colab" in sys.modules:`'
    inside = ast.unparse(ast.Module(body=colab[0].body, type_ignores=[]))
    assert "pip" in inside and "REPOSITORY" in inside
    outside = [n for n in tree.body if n is not colab[0]]
    assert "pip" not in ast.unparse(ast.Module(body=outside, type_ignores=[])), (
        "pip may only run on Colab"
    )
    assert "torch.cuda.is_available()" in code
    assert 'os.environ.get("HORNET_REF_SMALL"' in code


@pytest.mark.parametrize("name", PRESENT)
def test_small_settings_are_documented_before_the_first_code_cell(name):
    nb = _notebook(name)
    first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    intro = "".join(_source(c) for c in nb["cells"][:first_code])
    assert "HORNET_REF_SMALL=1" in intro


@pytest.mark.parametrize("name", PRESENT)
def test_stored_outputs_come_from_one_clean_run(name):
    """Every code cell ran, in order, in one kernel, without an error; figures are stored."""
    cells = [c for c in _notebook(name)["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "re-run with python notebooks/execute.py"
    outputs = [o for c in cells for o in c["outputs"]]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, errors[0].get("ename") if errors else None
    stderr = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stderr")
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr[:500]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure stored"


def test_readme_and_docs_nav_name_every_notebook():
    readme = (NOTEBOOKS / "README.md").read_text()
    nav = (ROOT / "mkdocs.yml").read_text()
    assert "HORNET_REF_SMALL=1" in readme
    for name in PRESENT:
        assert name in readme, name
        assert f"notebooks/{name}" in nav, name
