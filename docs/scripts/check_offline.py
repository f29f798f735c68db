"""Fail when a built page would load a script, stylesheet, image or frame from another host.

    python docs/scripts/check_offline.py site     # after mkdocs build; CI runs it

Links to other sites (``<a href="https://...">``) are fine: following one is the
reader's choice. What a page loads by itself is not: offline it would be missing
(raw LaTeX instead of equations, a broken image). Prints one line per remote load
and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# Attributes through which each tag loads something when the page is shown.
_LOADING = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "object": ("data",),
    "input": ("src",),
}
# <link rel=...> values that fetch their href.
_LINK_LOADS = {"stylesheet", "icon", "preload", "modulepreload", "prefetch", "manifest"}
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"""(?:@import\s+|url\(\s*)["']?((?:https?:)?//[^"')\s]+)""", re.I)
_SCRIPT_REMOTE = re.compile(r"""import\(\s*["']((?:https?:)?//[^"']+)""")
# mkdocs-jupyter's notebook pages carry an inline loader that imports Mermaid from a CDN
# only when the page holds a Mermaid diagram; without one it loads nothing.
_MERMAID_CLASS = "jp-Mermaid"


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline_imports: list[str] = []
        self.has_mermaid = False
        self._in = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if _MERMAID_CLASS in values.get("class", "").split():
            self.has_mermaid = True
        names = _LOADING.get(tag, ())
        if tag == "link" and _LINK_LOADS & set(values.get("rel", "").lower().split()):
            names = ("href",)
        for name in names:
            value = values.get(name, "")
            urls = [value]
            if name == "srcset":  # "url 2x, url 3x"
                urls = [c.split()[0] for c in value.split(",") if c.split()]
            for url in urls:
                if _REMOTE.match(url):
                    self.loads.append(f"<{tag} {name}={url}>")
        if "style" in values:
            self.loads += [f"<{tag} style> {u}" for u in _CSS_REMOTE.findall(values["style"])]
        self._in = tag if tag in ("script", "style") else ""

    def handle_endtag(self, tag: str) -> None:
        self._in = ""

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.loads += [f"<style> {u}" for u in _CSS_REMOTE.findall(data)]
        elif self._in == "script":
            self.inline_imports += _SCRIPT_REMOTE.findall(data)


def remote_loads(html: str) -> list[str]:
    """What the page would fetch from another host when shown, one description each."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    loads = list(scanner.loads)
    imports = scanner.inline_imports
    if not scanner.has_mermaid:
        imports = [u for u in imports if "mermaid" not in u]
    return loads + [f"<script> import({u})" for u in imports]


def check_site(site: Path) -> list[str]:
    """``page: load`` lines for every remote load of every page and stylesheet of ``site``."""
    problems = []
    for page in sorted(site.rglob("*.html")):
        problems += [f"{page.relative_to(site)}: {load}" for load in remote_loads(page.read_text())]
    for sheet in sorted(site.rglob("*.css")):
        for url in _CSS_REMOTE.findall(sheet.read_text(errors="replace")):
            problems.append(f"{sheet.relative_to(site)}: {url}")
    return problems


def main(argv: list[str]) -> int:
    site = Path(argv[0] if argv else "site")
    if not site.is_dir() or not any(site.rglob("*.html")):
        print(f"check_offline: no built site at {site} (run mkdocs build first)", file=sys.stderr)
        return 2
    problems = check_site(site)
    for line in problems:
        print(f"loads from another host: {line}")
    pages = sum(1 for _ in site.rglob("*.html"))
    print(f"check_offline: {pages} pages, {len(problems)} remote loads")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
