"""The report notebooks hold no logic (issue 24): short cells that call the package.

Every code cell but the papermill ``parameters`` cell (one cell: papermill injects after it)
is under 10 lines and defines no function, class or loop; outputs are stripped.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
THIN = ("latency", "incident", "capacity", "memory", "cost", "explore")
MAX_LINES = 9


def code_cells(name: str) -> list[dict]:
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", THIN)
def test_cells_are_short_and_hold_no_logic(name: str) -> None:
    cells = code_cells(name)
    assert sum("parameters" in c["metadata"].get("tags", []) for c in cells) == 1
    for cell in cells:
        source = "".join(cell["source"])
        if "parameters" in cell["metadata"].get("tags", []):
            assert all(isinstance(n, ast.Assign) for n in ast.parse(source).body), source
            continue
        assert len(source.splitlines()) <= MAX_LINES, f"{name}: {cell['id']}\n{source}"
        logic = (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.AsyncFunctionDef)
        found = [type(n).__name__ for n in ast.walk(ast.parse(source)) if isinstance(n, logic)]
        assert not found, f"{name}: {cell['id']} has {found}\n{source}"


@pytest.mark.parametrize("name", THIN)
def test_outputs_are_stripped(name: str) -> None:
    for cell in code_cells(name):
        assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


def test_the_check_would_catch_a_loop() -> None:
    loop = ast.parse("for x in range(3):\n    print(x)")
    assert any(isinstance(n, ast.For) for n in ast.walk(loop))
