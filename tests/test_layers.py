"""The package's imports run one way: down the layers of ``hornet_ref.LAYERS``, in no circle.

Every ``import`` of every module is read with :mod:`ast` (those inside functions and
``if TYPE_CHECKING:`` blocks too), each resolved to the module it loads. A module may
import its own layer and those below; no set of modules may import each other round a
circle; and no module takes a leading-underscore name from another package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hornet_ref

ROOT = Path(hornet_ref.__file__).parent


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((package, *parts))] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it) for each import of the package's own modules;
    the name is None where the module does not exist."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name in modules]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, ""))
                elif source in modules:
                    found.append((source, alias.name))
                elif node.level or source.split(".")[0] == name.split(".")[0]:
                    found.append((source, None))  # the package's own, but no such module
    return found


def _layer_of(module: str, package: str, layers) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for index, (_, names) in enumerate(layers):
        if top in names:
            return index
    raise AssertionError(f"{module} is in no layer of {package}.LAYERS; add it to one")


def _package_of(module: str, modules: dict[str, Path]) -> str:
    return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]


def problems(root: Path, package: str, layers) -> list[str]:
    """Every upward import, circle and cross-package private name under ``root``."""
    modules = _modules(root, package)
    graph = {m: set() for m in modules}
    found = []
    for module, path in modules.items():
        layer = _layer_of(module, package, layers)
        for target, taken in _imports(module, path, modules):
            if taken is None:
                found.append(f"{module} imports {target}, which is no module")
                continue
            if target != module:
                graph[module].add(target)
            above = _layer_of(target, package, layers)
            if above > layer:
                found.append(f"{module} ({layers[layer][0]}) imports {target} ({layers[above][0]})")
            other = _package_of(target, modules) != _package_of(module, modules)
            private = taken.startswith("_") or any(
                part.startswith("_") for part in target.split(".")[1:]
            )
            if other and private:
                what = f"{target}.{taken}" if taken else target
                found.append(f"{module} imports the private {what} of another package")
    found += [f"circle: {' -> '.join(c)}" for c in _circles(graph)]
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_imports_run_down_the_layers_in_no_circle():
    assert problems(ROOT, "hornet_ref", hornet_ref.LAYERS) == []


def test_every_layer_names_only_modules_that_exist():
    tops = {
        p.stem if p.is_file() else p.name
        for p in ROOT.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    listed = [name for _, names in hornet_ref.LAYERS for name in names]
    assert len(listed) == len(set(listed))
    assert set(listed) == tops


_FAKE = {
    "__init__.py": "",
    "low.py": "def f():\n    from .high import g  # inside a function: still counted\n",
    "high.py": "from .low import f\nfrom .sub._hidden import x\nfrom .gone import y\n",
    "sub/__init__.py": "",
    "sub/_hidden.py": "from .. import low\nx = 1\n",
}


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    for name, text in _FAKE.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_check_finds_upward_imports_circles_and_private_names(fake):
    layers = (("bottom", ("low", "sub")), ("top", ("high", "__init__")))
    found = problems(fake, "fake", layers)
    assert "fake.low (bottom) imports fake.high (top)" in found
    assert "circle: fake.high -> fake.low -> fake.sub._hidden" in found
    assert "fake.high imports the private fake.sub._hidden.x of another package" in found
    assert "fake.high imports fake.gone, which is no module" in found
    assert len(found) == 4


def test_the_check_fails_on_a_module_in_no_layer(fake):
    with pytest.raises(AssertionError, match="fake.high is in no layer"):
        problems(fake, "fake", (("all", ("low", "sub", "__init__")),))
