"""The documentation's code runs, its quotes of our code are current, its numbers regenerate.

Three kinds of Python blocks appear in docs/**/*.md:

- ```` ```python ````: an example. Each page's examples run top to bottom in one
  namespace (as a reader would paste them), in a temporary directory.
- ```` ```{.python .excerpt title="hornet_ref/x.py: where"} ````: lines quoted from a
  source file; every quoted line must still be a line of that file (``...`` elides).
- ```` ```{.python .no-run} ````: shown, not run (it needs a file or a GPU the tests
  do not have). Use sparingly.

Blocks between ``<!-- generated: COMMAND -->`` and ``<!-- end generated -->`` must equal
what COMMAND prints now (see docs/scripts/regenerate.py, which also rewrites them).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARKERS = {"excerpt", "no-run"}

_FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass
class CodeBlock:
    page: Path
    line: int  # line of the first code line in the page, 1-based
    lang: str
    classes: set[str]
    title: str | None
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _parse_info(info: str) -> tuple[str, set[str], str | None]:
    """Language, extra classes and title of a fence's info string."""
    info = info.strip()
    title = re.search(r'title="([^"]*)"', info)
    if info.startswith("{"):
        classes = re.findall(r"\.([\w-]+)", info.split('title="')[0])
        lang, extra = (classes[0], set(classes[1:])) if classes else ("", set())
    else:
        lang, extra = (info.split()[0] if info else ""), set()
    return lang, extra, title[1] if title else None


def code_blocks(page: Path) -> list[CodeBlock]:
    text = page.read_text()
    blocks = []
    for m in _FENCE.finditer(text):
        lang, classes, title = _parse_info(m["info"])
        indent = len(m["indent"])
        code = "\n".join(line[indent:] for line in m["body"].splitlines())
        line = text.count("\n", 0, m.start("body")) + 1
        blocks.append(CodeBlock(page, line, lang, classes, title, code))
    return blocks


PAGES = sorted(DOCS.rglob("*.md"))
PYTHON = [b for page in PAGES for b in code_blocks(page) if b.lang in ("python", "py")]
RUNNABLE_PAGES = sorted({b.page for b in PYTHON if not b.classes & MARKERS})
EXCERPTS = [b for b in PYTHON if "excerpt" in b.classes]


def _rel(path: Path) -> str:
    return str(path.relative_to(DOCS))


def test_the_extractor_finds_the_examples():
    """Guard against a regex that silently finds nothing: the core pages have examples."""
    found = {_rel(p) for p in RUNNABLE_PAGES}
    assert {"index.md", "concepts.md", "model-zoo.md", "extending.md"} <= found, found
    assert EXCERPTS, "the Concepts page quotes hornet_ref/gnconv.py"


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.where)
def test_python_blocks_use_known_markers(block: CodeBlock):
    """A typo in a marker (.no-rnu) would quietly turn an example into a shown-only block."""
    unknown = block.classes - MARKERS
    assert not unknown, f"{block.where}: unknown class(es) {unknown}; known: {sorted(MARKERS)}"


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=_rel)
def test_page_examples_run(page: Path, tmp_path, monkeypatch):
    """Run every example of a page, in order, in one namespace."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs_example__"}
    torch.manual_seed(0)
    # The examples use tiny tensors: one thread is faster than two that wait on each other
    # (on a busy 2-core machine, a float64 depthwise conv took 0.5 s with two threads).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for block in code_blocks(page):
            if block.lang not in ("python", "py") or block.classes & MARKERS:
                continue
            # Pad with newlines so a traceback's line number is the line in the page.
            source = "\n" * (block.line - 1) + block.code
            exec(compile(source, str(page.relative_to(ROOT)), "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
        plt.close("all")


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda b: b.where)
def test_excerpts_quote_the_current_source(block: CodeBlock):
    """Each quoted line (stripped of indentation) is a line of the file named in the title."""
    assert block.title, f'{block.where}: an excerpt needs title="path/to/file.py: where"'
    source = ROOT / block.title.split(":")[0].strip()
    assert source.is_file(), f"{block.where}: no file {source}"
    lines = {line.strip() for line in source.read_text().splitlines()}
    quoted = [ln.strip() for ln in block.code.splitlines() if ln.strip() not in ("", "...")]
    missing = [ln for ln in quoted if ln not in lines]
    assert not missing, f"{block.where}: no longer in {source.name}: {missing}"


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate", DOCS / "scripts" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


_REGEN = _regenerate_module()
BLOCKS = _REGEN.find_blocks(DOCS)


def test_generated_blocks_exist():
    """Guard the block regex: the pages' computed tables are found."""
    commands = {b.command for b in BLOCKS}
    assert "python docs/scripts/cost_table.py" in commands, commands
    assert "python docs/scripts/model_zoo_table.py" in commands, commands


@pytest.mark.parametrize(
    "block",
    BLOCKS,
    ids=lambda b: f"{b.page.name}:{b.command.split('/')[-1]}",
)
def test_generated_blocks_are_current(block):
    """The page holds exactly what its command prints now (run regenerate.py to update)."""
    assert _REGEN.render(block) == block.body, (
        f"{block.page.relative_to(ROOT)}: the block from {block.command!r} is stale; "
        "run python docs/scripts/regenerate.py"
    )
