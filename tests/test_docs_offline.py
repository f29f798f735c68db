"""The site's offline check (docs/scripts/check_offline.py) flags every remote load and no link.

CI runs the script over the built site after ``mkdocs build``; these tests pin what it
counts as loading from another host, on small pages.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "check_offline", ROOT / "docs" / "scripts" / "check_offline.py"
)
check_offline = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = check_offline
_spec.loader.exec_module(check_offline)


@pytest.mark.parametrize(
    "html",
    [
        '<script src="https://unpkg.com/mathjax@3/es5/tex-mml-chtml.js"></script>',
        '<img alt="Open In Colab" src="https://colab.research.google.com/assets/colab-badge.svg">',
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto:300,400">',
        '<link rel="icon" href="//cdn.example.org/favicon.png">',
        '<img src="a.png" srcset="a.png 1x, https://cdn.example.org/a@2x.png 2x">',
        "<style>@import url('https://fonts.googleapis.com/css2?family=Roboto');</style>",
        '<div style="background: url(https://example.org/bg.png)"></div>',
        '<iframe src="https://www.youtube.com/embed/x"></iframe>',
        '<script type="module">await import("https://cdn.example.org/lib.mjs")</script>',
    ],
)
def test_a_remote_script_stylesheet_image_or_frame_is_flagged(html):
    assert len(check_offline.remote_loads(f"<html><body>{html}</body></html>")) == 1


def test_local_assets_and_plain_links_pass():
    html = """<html><head>
    <link rel="stylesheet" href="../assets/stylesheets/main.css">
    <link rel="canonical" href="https://hornet-ref.example.org/concepts/">
    <script src="../assets/mathjax/tex-mml-chtml.js"></script></head><body>
    <a href="https://colab.research.google.com/x"><img src="../assets/open-in-colab.svg"></a>
    <a href="https://arxiv.org/abs/2207.14284">the paper</a></body></html>"""
    assert check_offline.remote_loads(html) == []


def test_the_notebook_pages_mermaid_loader_counts_only_with_a_diagram():
    loader = (
        '<script type="module">const d = document.querySelectorAll(".jp-Mermaid > pre");'
        'if (d.length) { await import("https://cdnjs.cloudflare.com/ajax/libs/mermaid/'
        '11.10.0/mermaid.esm.min.mjs"); }</script>'
    )
    assert check_offline.remote_loads(loader) == []
    diagram = '<div class="jp-Mermaid"><pre class="mermaid">graph LR; a-->b</pre></div>'
    assert len(check_offline.remote_loads(diagram + loader)) == 1


def test_the_script_fails_on_a_site_with_a_remote_load_and_passes_without(tmp_path, capsys):
    (tmp_path / "index.html").write_text('<img src="local.svg">')
    assert check_offline.main([str(tmp_path)]) == 0
    (tmp_path / "page").mkdir()
    (tmp_path / "page" / "index.html").write_text('<script src="http://x.org/a.js"></script>')
    (tmp_path / "extra.css").write_text("body { background: url(https://x.org/b.png) }")
    assert check_offline.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "page/index.html: <script src=http://x.org/a.js>" in out
    assert "extra.css: https://x.org/b.png" in out
    assert check_offline.main([str(tmp_path / "missing")]) == 2
