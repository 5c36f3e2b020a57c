"""The package's layers: no import cycle among its modules (imports inside functions count too, so a
lazy import cannot hide one), and each layer imports only the layers below it."""
import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stages"
# Each layer may import itself and the layers after it in this list; the top-level modules
# (config, plan, draw, elsewhere) sit between the commands and judging.
LAYERS = ("commands", "fake", "top", "judging", "transport", "storage", "errors")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every module of the package that `path` imports, wherever the import stands."""
    name = module_name(path)
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            stem = node.module or ""
            if node.level:
                stem = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            found |= {stem} | {f"{stem}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {module for module in found & modules if module != name and not module.endswith("__main__")}


def import_graph() -> dict[str, set[str]]:
    paths = list(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path of imports from `start` back to itself, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        module, path = stack.pop()
        for target in graph[module]:
            if target == start:
                return path + [start]
            if target not in seen:
                seen.add(target)
                stack.append((target, path + [target]))
    return None


def layer_of(module: str) -> str:
    part = module.split(".")[1]
    return part if part in LAYERS else "top"


def test_no_module_imports_itself_back():
    graph = import_graph()
    cycles = [" -> ".join(cycle) for cycle in map(lambda m: cycle_through(graph, m), sorted(graph)) if cycle]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_each_layer_imports_only_the_layers_below_it():
    upward = [f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
              for module, targets in import_graph().items() if module != "stages"
              for target in targets
              if LAYERS.index(layer_of(target)) < LAYERS.index(layer_of(module))]
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize("source, cycle", [
    ({"a": "from . import b\n", "b": "def f():\n    from .a import x\n"}, True),
    ({"a": "from .b import x\n", "b": "import json\n"}, False),
])
def test_the_cycle_search_sees_imports_inside_functions(tmp_path, monkeypatch, source, cycle):
    package = tmp_path / "stages"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in source.items():
        (package / f"{name}.py").write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    graph = import_graph()
    assert (cycle_through(graph, "stages.a") is not None) is cycle
