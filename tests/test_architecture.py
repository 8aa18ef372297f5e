"""The layout's direction, read from the source: sources -> analysis -> collect -> report.

Every ``import`` of every module under ``dwcp_diag/`` counts (top level, inside functions and
under ``TYPE_CHECKING`` alike: a cycle "only for a type" is still a cycle for the reader).

>>> sorted(imports_of("from dwcp_diag.analysis import findings\\nimport pandas", "dwcp_diag.x"))
['dwcp_diag.analysis.findings']
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dwcp_diag"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


def _resolve(name: str) -> str | None:
    """The dwcp_diag module ``name`` refers to (a name inside a module: that module)."""
    while name.startswith("dwcp_diag"):
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(source: str, importer: str) -> set[str]:
    """The dwcp_diag modules ``source`` (the text of module ``importer``) imports."""
    found: set[str] = set()
    package = importer if importer in MODULES and MODULES[importer].stem == "__init__" else None
    package = package or importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # ``from pkg import module`` imports the module; ``from module import name`` the module
            names = [_resolve(f"{base}.{alias.name}") or base for alias in node.names]
        else:
            continue
        found |= {resolved for name in names if (resolved := _resolve(name)) is not None}
    found.discard(importer)
    return found


def import_graph() -> dict[str, set[str]]:
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name) for name, path in MODULES.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def crossings(graph: dict[str, set[str]], layer: str, forbidden: tuple[str, ...]) -> list[str]:
    """``importer -> imported`` for each module of ``layer`` importing one of ``forbidden``."""

    def within(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    return sorted(
        f"{importer} -> {imported}"
        for importer, targets in graph.items()
        if within(importer, layer)
        for imported in targets
        if any(within(imported, f) for f in forbidden)
    )


def test_the_reader_finds_the_imports():
    graph = import_graph()
    assert "dwcp_diag.analysis.findings" in graph["dwcp_diag.collect.area"]
    assert "dwcp_diag.sources.prometheus" in graph["dwcp_diag.collect.area"]  # TYPE_CHECKING
    assert "dwcp_diag.collect.latency" in graph["dwcp_diag.session"]  # inside a method
    relative = imports_of("from . import area\nfrom .area import X", "dwcp_diag.collect.memory")
    assert relative == {"dwcp_diag.collect.area"}


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("dwcp_diag.sources", ("dwcp_diag.analysis", "dwcp_diag.collect", "dwcp_diag.report")),
        ("dwcp_diag.analysis", ("dwcp_diag.collect", "dwcp_diag.report")),
    ],
)
def test_layers_import_downwards_only(layer, forbidden):
    found = crossings(import_graph(), layer, forbidden)
    assert not found, f"{layer} imports what builds on it: " + ", ".join(found)
