"""MkDocs hook: publish the repository's notebooks/*.ipynb as pages under notebooks/.

The notebooks live at the repository root (where Colab and nbmake find them),
outside docs/. This hook adds each one to the site's files as
``notebooks/<name>.ipynb``, so a notebook joins the site with a single nav line
(``- notebooks/01_gnconv_from_scratch.ipynb``) and mkdocs-jupyter renders it.
``mkdocs serve`` also rebuilds when a notebook changes.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

_FOLDER = "notebooks"


def _notebook_dir(config) -> Path:
    return Path(config.config_file_path).parent / _FOLDER


# Run before mkdocs-jupyter's on_files, which wraps every .ipynb it is given.
@event_priority(100)
def on_files(files: Files, config) -> Files:
    folder = _notebook_dir(config)
    for path in sorted(folder.glob("*.ipynb")):
        files.append(
            File(
                f"{_FOLDER}/{path.name}",
                src_dir=str(folder.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


def on_serve(server, config, builder):
    folder = _notebook_dir(config)
    if folder.is_dir():
        server.watch(str(folder))
    return server
