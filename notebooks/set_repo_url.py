"""Write the repository's URL into every notebook's "Open in Colab" badge and install cell.

    python notebooks/set_repo_url.py           # rewrite the notebooks that disagree
    python notebooks/set_repo_url.py --check   # only report them (exit 1): what the tests run

The URL lives in one place, ``[project.urls] Repository`` in pyproject.toml. A fork
edits that line and runs this script. Each notebook's first markdown cell holds the
badge, a link to the notebook on Colab, and its first code cell a line
``REPOSITORY = "..."`` from which Colab installs the package. Only those two lines
change; the notebooks' outputs are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own TOML reader
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
PYPROJECT = HERE.parent / "pyproject.toml"
BRANCH = "main"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\([^)\s]*\)")
_REPOSITORY = re.compile(r'^REPOSITORY = "[^"\n]*"$', re.MULTILINE)
_GITHUB = re.compile(r"https://github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?")


def repository_url(pyproject: Path = PYPROJECT) -> str:
    """``[project.urls] Repository`` from pyproject.toml: https://github.com/OWNER/REPO."""
    url = tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
    if not _GITHUB.fullmatch(url):
        raise ValueError(f"Repository in {pyproject} must be https://github.com/OWNER/REPO: {url}")
    return url.removesuffix("/").removesuffix(".git")


def badge(url: str, notebook: str) -> str:
    """The markdown of the badge that opens ``notebooks/<notebook>`` of ``url`` on Colab."""
    owner, repo = _GITHUB.fullmatch(url).group("owner", "repo")
    colab = f"https://colab.research.google.com/github/{owner}/{repo}/blob/{BRANCH}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab}/notebooks/{notebook})"


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def rewrite(notebook: dict, name: str, url: str) -> list[str]:
    """Point ``notebook``'s badge and install cell at ``url`` (in place).

    Returns what was changed (empty when it already agreed); raises ValueError when
    the notebook has no badge in its first markdown cell or no ``REPOSITORY = ...``
    line in its first code cell.
    """
    first = {
        kind: next((c for c in notebook["cells"] if c["cell_type"] == kind), None)
        for kind in ("markdown", "code")
    }
    changed = []
    targets = (
        ("markdown", _BADGE, badge(url, name), "badge"),
        ("code", _REPOSITORY, f'REPOSITORY = "{url}"', "install cell"),
    )
    for kind, pattern, wanted, what in targets:
        cell = first[kind]
        text = _source(cell) if cell else ""
        if len(pattern.findall(text)) != 1:
            raise ValueError(f"{name}: the first {kind} cell needs exactly one {what} line")
        new = pattern.sub(lambda _, line=wanted: line, text)  # no backslash escapes
        if new != text:
            _set_source(cell, new)
            changed.append(what)
    return changed


def _write(path: Path, notebook: dict) -> None:
    """The layout nbformat writes (indent 1, sorted keys, UTF-8), so diffs stay small."""
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def update(folder: Path = HERE, url: str | None = None, *, check: bool = False) -> list[str]:
    """Rewrite (or, with ``check``, only list) the notebooks in ``folder`` that disagree."""
    url = url or repository_url()
    stale = []
    for path in sorted(folder.glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        changed = rewrite(notebook, path.name, url)
        if changed:
            stale.append(f"{path.name}: {', '.join(changed)}")
            if not check:
                _write(path, notebook)
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report, exit 1 if stale")
    args = parser.parse_args()
    stale = update(check=args.check)
    for line in stale:
        print(("stale: " if args.check else "updated: ") + line)
    if not stale:
        print(f"every notebook points at {repository_url()}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
