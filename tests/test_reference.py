"""The reference pages (notebooks/reference/) match the notebooks and the check registry;
the READMEs' tables of checks match the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK
from dwcp_diag.checks import CHECKS
from dwcp_diag.report.parameters import notebook_parameters
from dwcp_diag.report.reference import (
    checks_page,
    reference_page,
    with_readme_checks,
    write_reference_pages,
)
from dwcp_diag.report.render import available_notebooks, resolve_notebook

COMMITTED = Path(__file__).resolve().parents[1] / "notebooks" / "reference"


def test_committed_pages_are_the_generated_ones(tmp_path):
    written = write_reference_pages(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in COMMITTED.glob("*.md"))
    for page in written:
        committed = (COMMITTED / page.name).read_text(encoding="utf-8")
        assert committed == page.read_text(encoding="utf-8"), (
            f"notebooks/reference/{page.name} is stale: run `make docs`"
        )


def test_every_page_lists_every_parameter_and_check():
    for name in available_notebooks():
        page = reference_page(name)
        for parameter in notebook_parameters(resolve_notebook(name)):
            assert f"| `{parameter}` |" in page, (name, parameter)
        for check in CHECKS_BY_NOTEBOOK.get(name, ()):
            assert f"| `{check}` |" in page, (name, check)
        assert "| `source_unavailable` |" in page
        assert "| `` |" not in page and "|  |\n" not in page, f"{name}: a parameter has no comment"


ROOT = COMMITTED.parents[1]


def test_readme_table_of_checks_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_readme_checks(readme) == readme, "README.md's table of checks is stale: make docs"
    for check in CHECKS.values():
        assert f"| `{check.id}` | {check.notebook} |" in readme, check.id


def test_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="lacks the markers"):
        with_readme_checks("# a README without the table\n")


def test_checks_page_indexes_every_check_function_query_and_threshold():
    page = checks_page()
    for check in CHECKS.values():
        function = check.emitter.partition(":")[2]
        row = next(line for line in page.splitlines() if line.startswith(f"| `{check.id}` |"))
        assert f"[`{function}`]" in row, (check.id, row)
        for query in check.queries:
            assert f"`{query.removeprefix('sql/')}`" in row, (check.id, query)
        for key, threshold in check.thresholds.items():
            assert f"| `{check.id}` | `{key}` |" in page, (check.id, key)
            assert threshold.source in page
    assert "| `rollup` | `above` | 30 |" in page


def test_notebooks_readme_lists_each_notebooks_checks():
    """notebooks/README.md's table names exactly the registry's checks of each notebook."""
    text = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| `")]
    seen = set()
    for row in rows:
        notebook = row[0].strip("|` ")
        named = set(re.findall(r"`(\w+)`", row[-1])) - {"latency"}
        seen.add(notebook)
        if notebook == "explore":
            assert named <= set(CHECKS_BY_NOTEBOOK["all"]), named
            continue
        assert named == set(CHECKS_BY_NOTEBOOK[notebook]), (notebook, named)
    assert seen == set(available_notebooks())
