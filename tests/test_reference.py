"""The per-notebook reference pages (notebooks/reference/NAME.md) match the notebooks."""

from __future__ import annotations

from pathlib import Path

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK
from dwcp_diag.report.parameters import notebook_parameters
from dwcp_diag.report.reference import reference_page, write_reference_pages
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
