"""MkDocs hook: publish the repository's notebooks/*.ipynb as pages under notebooks/.

The notebooks live at the repository root (where Colab and nbmake find them),
outside docs/. This hook adds each one to the site's files as
``notebooks/<name>.ipynb``, so a notebook joins the site with a single nav line
(``- notebooks/01_gnconv_from_scratch.ipynb``) and mkdocs-jupyter renders it.
``mkdocs serve`` also rebuilds when a notebook changes.

Each notebook's "Open in Colab" badge links to Colab and shows Colab's image; on the
site the link stays and the image is our own docs/assets/open-in-colab.svg, so that
the pages load nothing from another host.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

_FOLDER = "notebooks"
_LOCAL_BADGE = "assets/open-in-colab.svg"


def _colab_badge_image() -> str:
    """The badge image URL that notebooks/set_repo_url.py writes into the notebooks."""
    path = Path(__file__).resolve().parents[2] / _FOLDER / "set_repo_url.py"
    spec = importlib.util.spec_from_file_location("_set_repo_url", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BADGE_IMAGE


_COLAB_BADGE = _colab_badge_image()


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


def on_post_page(output: str, page, config) -> str:
    """Show the local badge image on notebook pages (the link still opens Colab)."""
    local = get_relative_url(_LOCAL_BADGE, page.url)
    return output.replace(f'src="{_COLAB_BADGE}"', f'src="{local}"')
