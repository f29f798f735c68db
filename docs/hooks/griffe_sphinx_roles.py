"""Griffe extension: turn Sphinx cross-reference roles in docstrings into API links.

hornet-ref's docstrings refer to other objects the way ``help()`` readers expect,
``:func:`depthwise_conv``` or ``:class:`~hornet_ref.HorNet```. Markdown does not
know these roles, so before mkdocstrings renders a docstring this extension
rewrites each one as a mkdocs-autorefs link,
``[`depthwise_conv`][hornet_ref.gnconv.depthwise_conv]``, resolving the name in the
docstring's own scope. A name that does not resolve
inside the package (``:func:`torch.roll```) becomes plain code, so nothing breaks.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|obj|data|exc):`(~?)([\w.]+)(?:\(\))?`")


def _resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path of ``name`` as seen from ``obj``, or None outside the package."""
    package = obj.package
    if name.split(".")[0] == package.name:
        try:
            # canonical_path: hornet_ref.HorNet is documented as hornet_ref.hornet.HorNet.
            return package.modules_collection.get_member(name).canonical_path
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    head, _, rest = name.partition(".")
    try:
        path = obj.resolve(head)
    except griffe.NameResolutionError:
        return None
    path = f"{path}.{rest}" if rest else path
    # Only our own objects have pages to link to (torch.roll resolves to torch.roll).
    return path if path.split(".")[0] == package.name else None


def _rewrite(obj: griffe.Object, text: str) -> str:
    def link(match: re.Match) -> str:
        short, name = match[1] == "~", match[2]
        shown = name.rsplit(".", 1)[-1] if short else name
        target = _resolve(obj, name)
        return f"[`{shown}`][{target}]" if target else f"`{shown}`"

    return _ROLE.sub(link, text)


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias and member.parent is obj:
            yield from _walk(member)


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`name``` in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj, obj.docstring.value)
