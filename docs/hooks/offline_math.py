"""MkDocs hook: serve MathJax from the site itself, so that equations render offline.

MathJax 3 comes from the docs extra's ``django-static-mathjax`` wheel, which holds
the ``mathjax-full`` npm package's built files as they are (Django itself is not
needed or imported). This hook adds the CommonHTML build that the pages load
(``tex-mml-chtml.js``, see ``extra_javascript`` in mkdocs.yml), its fonts, and the
components it may load at run time (extensions, menu, accessibility) to the built
site under ``assets/mathjax/``. Nothing is copied into the repository.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

DEST = "assets/mathjax"
ENTRY = "tex-mml-chtml.js"


def mathjax_dir() -> Path:
    """The installed MathJax 3 distribution (the folder holding ``tex-mml-chtml.js``)."""
    spec = find_spec("mathjax")
    folder = None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if folder is None or not (folder / ENTRY).is_file():
        raise PluginError(
            "MathJax is not installed: the docs need the django-static-mathjax package "
            '(pip install -e ".[docs]")'
        )
    return folder


def _needed(relative: Path) -> bool:
    """Our one combined build and what it loads; not the other builds or the SVG output."""
    if len(relative.parts) == 1:
        return relative.name == ENTRY
    return relative.parts[0] != "output" or relative.parts[1].startswith("chtml")


def on_files(files: Files, config) -> Files:
    folder = mathjax_dir()
    sources = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    sources = [p for p in sources if _needed(p.relative_to(folder))]
    sources.append(folder.parent / "LICENSE")  # Apache-2.0: the licence travels with the copy
    for path in sources:
        relative = path.relative_to(folder) if path.is_relative_to(folder) else path.name
        files.append(File.generated(config, f"{DEST}/{relative}", abs_src_path=str(path)))
    return files
