"""Refresh the numbers in the docs that come from running our code.

    python docs/scripts/regenerate.py           # rewrite every generated block
    python docs/scripts/regenerate.py --check   # exit 1 if any block is stale

A page marks such a block with two HTML comments (invisible on the site):

    <!-- generated: python docs/scripts/cost_table.py -->
    ...the command's output...
    <!-- end generated -->

``<!-- generated: hornet-ref info | text -->`` wraps the output in a ```text
fence. Commands are ``python SCRIPT [ARGS]`` or ``hornet-ref ARGS``; they run inside
this process, from the repository root. tests/test_docs_examples.py runs the
check, so a table in the docs cannot drift from what the code computes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import runpy
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<command>[^|>]+?)(?: \| (?P<fence>\w+))? -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- end generated -->)",
    re.DOTALL,
)


@dataclass
class Block:
    page: Path
    command: str
    fence: str | None
    body: str


def _run(command: str) -> str:
    """Run a block's command in this process (no new interpreter) and return its stdout."""
    words = shlex.split(command)
    if words[0] not in ("python", "hornet-ref"):
        raise ValueError(f"a generated block runs 'python ...' or 'hornet-ref ...': {command!r}")
    out, cwd, argv = io.StringIO(), os.getcwd(), sys.argv
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out):
            if words[0] == "python":
                sys.argv = words[1:]
                runpy.run_path(words[1], run_name="__main__")
            else:
                from hornet_ref.cli import main as cli

                if cli(words[1:]):
                    raise RuntimeError(f"{command!r} failed")
    finally:
        os.chdir(cwd)
        sys.argv = argv
    return out.getvalue()


def find_blocks(docs: Path = DOCS) -> list[Block]:
    """Every generated block of every page under ``docs``."""
    blocks = []
    for page in sorted(docs.rglob("*.md")):
        for m in BLOCK.finditer(page.read_text()):
            blocks.append(Block(page, m["command"].strip(), m["fence"], m["body"]))
    return blocks


def render(block: Block) -> str:
    """What the block should hold now: its command's output, fenced if asked."""
    out = _run(block.command).rstrip("\n") + "\n"
    return f"```{block.fence}\n{out}```\n" if block.fence else out


def regenerate(check: bool) -> list[str]:
    """Rewrite stale blocks (or, with ``check``, only list them); returns their descriptions."""
    stale = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()

        def refresh(m: re.Match, page: Path = page) -> str:
            block = Block(page, m["command"].strip(), m["fence"], m["body"])
            body = render(block)
            if body != block.body:
                stale.append(f"{page.relative_to(ROOT)}: {block.command}")
            return m["open"] + body + m["close"]

        new = BLOCK.sub(refresh, text)
        if new != text and not check:
            page.write_text(new)
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    args = parser.parse_args()
    stale = regenerate(args.check)
    for line in stale:
        print(("stale: " if args.check else "updated: ") + line)
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
