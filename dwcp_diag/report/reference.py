"""Reference pages: one markdown page per notebook, made from the notebook itself.

Each page holds the notebook's title and introduction (its first markdown cell), how to run
it, its parameters (the cell tagged ``parameters``: name, default, comment) and the checks
it can report (:data:`~dwcp_diag.analysis.findings.CHECKS_BY_NOTEBOOK`). ``make docs``
writes them to ``notebooks/reference/``; a test keeps the committed pages in sync.

>>> page = reference_page("memory")
>>> "| `namespaces` | `None` |" in page and "| `memory_leak` |" in page
True
"""

from __future__ import annotations

import json
from pathlib import Path

from dwcp_diag.analysis.findings import CHECK_DESCRIPTIONS, CHECKS_BY_NOTEBOOK, IMPACT, impact_rank
from dwcp_diag.report.parameters import notebook_parameters
from dwcp_diag.report.render import available_notebooks, resolve_notebook

# How each notebook is run besides `dwcp-diag render`: its window, the session's facade.
INTERACTIVE = {
    "latency": ('s.window("24h")', 's.findings.latency(window="24h")'),
    "database": ('s.window("7d")', "s.findings.database()"),
    "memory": ('s.window("7d")', 's.findings.memory(window="7d")'),
    "cost": ('s.window("7d")', 's.findings.cost(window="7d")'),
    "capacity": ('s.window("28d")', 's.findings.capacity(window="28d")'),
    "incident": (
        's.window(start="2026-11-12T14:00Z", end="2026-11-12T14:45Z")',
        's.findings.incident("2026-11-12T14:00Z", "2026-11-12T14:45Z")',
    ),
}


def _cell_text(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _title_and_intro(path: Path) -> tuple[str, str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if first is None:
        return path.stem, ""
    title, _, intro = _cell_text(first).partition("\n")
    return title.lstrip("# ").strip(), intro.strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_page(name: str) -> str:
    """The markdown reference page of notebook ``name``."""
    path = resolve_notebook(name)
    title, intro = _title_and_intro(path)
    parameters = notebook_parameters(path)
    if name == "incident":
        span = "--start 2026-11-12T14:00Z --end 2026-11-12T14:45Z"
    else:
        span = f"--window {parameters['window']['default'].strip(chr(34))}"
    lines = [f"# `{name}`: {title}", "", intro, "", "## Run it", "", "```bash"]
    lines += [f"dwcp-diag render {name} --source live {span} --out reports/"]
    lines += [f"dwcp-diag render {name} --source demo -p KEY=VALUE  # the parameters below"]
    lines += ["```", ""]
    if name in INTERACTIVE:
        window, facade = INTERACTIVE[name]
        lines += ["In a notebook (`import dwcp_diag as dd; s = dd.session(...)`):", "", "```python"]
        lines += [f"from dwcp_diag.collect.{name} import collect_{name}", ""]
        lines += [f"{facade}  # the findings, as a table", f"w = {window}"]
        lines += [f"{name} = collect_{name}(s, w)  # frames, report tables, findings", "```", ""]
    lines += ["## Parameters", "", "| parameter | default | meaning |", "|---|---|---|"]
    for parameter in parameters.values():
        lines.append(
            f"| `{parameter['name']}` | `{_cell(parameter['default'])}` | "
            f"{_cell(parameter['help'])} |"
        )
    lines += [
        "",
        "## Findings",
        "",
        "Most severe first; within a severity, checks in the order below (what breaks",
        "production soonest first), each check's findings by its impact measure.",
        "",
        "| check | flags | ordered by |",
        "|---|---|---|",
    ]
    checks = [*CHECKS_BY_NOTEBOOK.get(name, ()), *CHECKS_BY_NOTEBOOK["all"]]
    if name == "incident":  # the latency checks, evaluated on the window, then its own
        checks = [*CHECKS_BY_NOTEBOOK["latency"], *checks]
    impact = {check: how for check, how, _ in IMPACT}
    for check in sorted(dict.fromkeys(checks), key=lambda c: impact_rank(c)):
        lines.append(f"| `{check}` | {CHECK_DESCRIPTIONS[check]} | {impact.get(check, 'value')} |")
    return "\n".join(lines) + "\n"


def write_reference_pages(directory: Path) -> list[Path]:
    """Write ``NAME.md`` for every notebook into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in available_notebooks():
        path = directory / f"{name}.md"
        path.write_text(reference_page(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m dwcp_diag.report.reference [DIR]
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "notebooks/reference")
    for written in write_reference_pages(target):
        print(written)
