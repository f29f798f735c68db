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
            target = package.modules_collection.get_member(name)
        except (KeyError, griffe.AliasResolutionError):
            return None
        return target.path
    try:
        return obj.resolve(name)
    except griffe.NameResolutionError:
        head, _, rest = name.partition(".")
        if not rest:
            return None
        try:
            return f"{obj.resolve(head)}.{rest}"
        except griffe.NameResolutionError:
            return None


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
