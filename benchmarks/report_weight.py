"""Benchmark: how heavy the demo reports are, now and the 0.1 way, from one render.

Renders every notebook from the demo, then measures per report the ``.html`` and ``.ipynb``
as written, and the same executed notebooks exported the 0.1 way (plotly.py's full
plotly.min.js inline in the notebook's first figure, so in both the ``.ipynb`` and the
HTML). Then the zip of the four postmortem reports both ways. Targets (issue #18): HTML
<= 2.5 MB per report, postmortem zip of four reports <= 6 MB (the zip a live postmortem
writes also holds its recorded data; tests/test_postmortem.py checks that whole zip).

    .venv/bin/python benchmarks/report_weight.py
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import plotly.io as pio

from dwcp_diag.report import render as rendering
from dwcp_diag.report.figures import PLOTLY_MIMETYPE
from dwcp_diag.report.postmortem import DEFAULT_NOTEBOOKS

MB = 1_000_000
HTML_TARGET, ZIP_TARGET = 2.5 * MB, 6 * MB


def old_way(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The executed notebook as 0.1 stored it: each figure as plotly.py's notebook HTML,
    the first one carrying the whole plotly.min.js."""
    old = copy.deepcopy(notebook)
    first = True
    for cell in old.cells:
        for output in cell.get("outputs", []):
            figure = output.get("data", {}).get(PLOTLY_MIMETYPE)
            if figure is None:
                continue
            page = pio.to_html(figure, include_plotlyjs=first, full_html=False)
            output["data"] = {"text/html": page, "text/plain": "Figure"}
            first = False
    return old


def zipped(paths: list[Path], target: Path) -> int:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, path.name)
    return target.stat().st_size


def main() -> int:
    os.environ.setdefault("DWCP_NO_CACHE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        out, old_dir = Path(tmp) / "now", Path(tmp) / "old"
        old_dir.mkdir()
        jobs = [
            rendering.RenderJob(name, str(out), {"source": "demo"}, header={"source": "demo"})
            for name in rendering.available_notebooks()
        ]
        results = rendering.render_all(jobs)
        rows = []
        for result in results:
            if not result.ok:
                print(f"{result.name} failed: {result.error}", file=sys.stderr)
                return 1
            executed = nbformat.read(result.ipynb, as_version=4)
            before = old_way(executed)
            old_ipynb = old_dir / f"{result.name}.ipynb"
            old_ipynb.write_text(nbformat.writes(before))
            job = rendering.RenderJob(result.name, str(old_dir), header={"source": "demo"})
            page = rendering.export_html(before, result.name, job, result)
            old_html = old_dir / f"{result.name}.html"
            old_html.write_text(page)
            rows.append(
                {
                    "report": result.name,
                    "html_now": Path(result.html).stat().st_size,
                    "ipynb_now": Path(result.ipynb).stat().st_size,
                    "html_before": old_html.stat().st_size,
                    "ipynb_before": old_ipynb.stat().st_size,
                }
            )
        four = [n for n in DEFAULT_NOTEBOOKS]
        zip_now = zipped([p for n in four for p in out.glob(f"{n}.*")], Path(tmp) / "now.zip")
        zip_before = zipped(
            [p for n in four for p in (old_dir / f"{n}.html", old_dir / f"{n}.ipynb")]
            + [p for n in four for p in out.glob(f"{n}.findings.json")],
            Path(tmp) / "before.zip",
        )
    print(f"{'report':<10} {'HTML MB':>8} {'0.1 way':>8} {'ipynb MB':>9} {'0.1 way':>8}")
    for r in rows:
        print(
            f"{r['report']:<10} {r['html_now'] / MB:8.2f} {r['html_before'] / MB:8.2f} "
            f"{r['ipynb_now'] / MB:9.2f} {r['ipynb_before'] / MB:8.2f}"
        )
    now = sum(r["html_now"] + r["ipynb_now"] for r in rows)
    before = sum(r["html_before"] + r["ipynb_before"] for r in rows)
    largest = max(r["html_now"] for r in rows)
    print(f"\nall reports (html + ipynb): {now / MB:.1f} MB, the 0.1 way {before / MB:.1f} MB "
          f"({before / now:.1f}x)")  # fmt: skip
    print(f"postmortem zip of {', '.join(four)}: {zip_now / MB:.2f} MB, "
          f"the 0.1 way {zip_before / MB:.2f} MB (without recorded data)")  # fmt: skip
    print(
        f"targets: HTML <= 2.5 MB per report {'met' if largest <= HTML_TARGET else 'NOT MET'} "
        f"(largest {largest / MB:.2f} MB), zip <= 6 MB "
        f"{'met' if zip_now <= ZIP_TARGET else 'NOT MET'}"
    )
    print(
        json.dumps(
            {
                "benchmark": "report_weight",
                "reports": rows,
                "zip_now_bytes": zip_now,
                "zip_before_bytes": zip_before,
                "total_now_bytes": now,
                "total_before_bytes": before,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
