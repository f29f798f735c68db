"""Lazy module attributes (PEP 562): a package's public names import their module on use.

A package lists which submodule defines each name; ``import package`` then costs
nothing, and ``package.name`` imports that one submodule the first time.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_attributes(
    package: str, sources: Mapping[str, Iterable[str]], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``.

    Args:
        package: the package's ``__name__``.
        sources: submodule name -> the public names it defines.
        submodules: further submodules to import when accessed as attributes.
    """
    module_of = {name: module for module, names in sources.items() for name in names}
    modules = frozenset({*sources, *submodules})

    def __getattr__(name: str) -> Any:
        if name in module_of:
            value = getattr(importlib.import_module(f".{module_of[name]}", package), name)
        elif name in modules:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of, *modules})

    return __getattr__, __dir__
