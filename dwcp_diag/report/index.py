"""The index page: a dashboard of every rendered report below a directory.

One row per report: its status (failed reports first, in red), worst severity, counts per
severity and the change since the previous period of the same suite, the window its data
covers, its source, and the summary of its most urgent finding. Rows are sorted failed
first, then by worst severity, then newest period first.

>>> import tempfile; p = write_index(tempfile.mkdtemp()); p.name
'index.html'
"""

from __future__ import annotations

import html
import itertools
import json
import os
from pathlib import Path
from typing import Any

from dwcp_diag.analysis.findings import SEVERITIES, SEVERITY_RANK, impact_key
from dwcp_diag.checks import notebook_checks
from dwcp_diag.sources.snapshot import atomic_write_bytes

_COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0", None: "#2e7d32"}
STATUSES = ("failed", "findings", "ok")  # a row's status, most alarming first


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def report_rows(root: Path) -> list[dict[str, Any]]:
    """One row per ``NAME.findings.json`` below ``root``; suite/period from the folders,
    window, source and status from ``NAME.meta.json`` when the renderer wrote one."""
    rows = []
    for findings_path in sorted(root.rglob("*.findings.json")):
        name = findings_path.name.removesuffix(".findings.json")
        relative = findings_path.parent.relative_to(root)
        findings = _read_json(findings_path, [])
        findings = (
            [f for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []
        )
        meta = _read_json(findings_path.with_name(f"{name}.meta.json"), {})
        meta = meta if isinstance(meta, dict) else {}
        counts = {s: sum(f.get("severity") == s for f in findings) for s in SEVERITIES}
        worst = next((s for s in SEVERITIES if counts[s]), None)
        failed = meta.get("status") == "failed" or any(
            f.get("check") == "report_failed" for f in findings
        )
        top = min(findings, key=impact_key) if findings else None
        window = meta.get("window") if isinstance(meta.get("window"), dict) else {}
        rows.append(
            {
                "folder": "" if str(relative) == "." else relative.as_posix(),
                "name": name,
                "html": (relative / f"{name}.html").as_posix(),
                "status": "failed" if failed else "findings" if findings else "ok",
                "error": meta.get("error"),
                "findings": len(findings),
                "counts": counts,
                "worst": worst,
                "top": top.get("summary", "") if top else "",
                "window": window.get("label") or "",
                "source": meta.get("source") or "",
            }
        )
    _add_changes(rows)
    return rows


def _add_changes(rows: list[dict[str, Any]]) -> None:
    """``change``: counts minus those of the same report in the previous period folder of
    the same suite (``suite/period``, periods sort as text), None without one."""
    by_report: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        suite, _, period = row["folder"].rpartition("/")
        row["change"] = None
        if period and suite:
            by_report.setdefault((suite, row["name"]), []).append(row)
    for history in by_report.values():
        history.sort(key=lambda r: r["folder"])
        for previous, row in itertools.pairwise(history):
            row["change"] = {s: row["counts"][s] - previous["counts"][s] for s in SEVERITIES}


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed first, then worst severity (more of them first), then the newest period, then
    the name."""
    ordered = sorted(rows, key=lambda r: (r["folder"], r["name"]))
    ordered.sort(key=lambda r: r["folder"].rpartition("/")[2], reverse=True)
    return sorted(
        ordered,
        key=lambda r: (
            STATUSES.index(r["status"]),
            SEVERITY_RANK.get(r["worst"], len(SEVERITIES)),
            -r["counts"].get(r["worst"], 0),
        ),
    )


def _counts_html(row: dict[str, Any]) -> str:
    chips = []
    for severity in SEVERITIES:
        count = row["counts"][severity]
        style = f"background:{_COLOURS[severity]}" if count else "background:#e0e0e0;color:#757575"
        change = (row["change"] or {}).get(severity)
        delta = f" <small>({change:+d})</small>" if change else ""
        chips.append(f'<span class="chip" style="{style}" title="{severity}">{count}{delta}</span>')
    return "".join(chips)


def _no_findings(notebook: str) -> str:
    """What a report without findings says: that its checks passed, if it has any (an
    exploration notebook, or one of yours not in the check registry, checks nothing).

    >>> _no_findings("capacity"), _no_findings("explore")
    ('every check passed', 'no findings (this notebook runs no registered check)')
    """
    if notebook_checks(notebook):
        return "every check passed"
    return "no findings (this notebook runs no registered check)"


def _row_html(row: dict[str, Any]) -> str:
    e = html.escape
    if row["status"] == "failed":
        state = '<span class="state failed">FAILED</span>'
        detail = e(row["error"] or "the report is incomplete")
    else:
        label = row["worst"] or "ok"
        state = f'<span class="state" style="color:{_COLOURS[row["worst"]]}">{label}</span>'
        detail = e(row["top"]) if row["top"] else _no_findings(row["name"])
    change = "" if row["change"] is not None else ' title="no previous period"'
    return (
        f'<tr class="{row["status"]}"><td>{state}</td>'
        f'<td><a href="{e(row["html"])}">{e(row["name"])}</a>'
        f'<div class="folder">{e(row["folder"])}</div></td>'
        f"<td{change}>{_counts_html(row)}</td>"
        f'<td title="{detail}"><div class="top">{detail}</div></td>'
        f"<td>{' →<br>'.join(e(part) for part in row['window'].split('..'))}</td>"
        f"<td>{e(row['source'])}</td></tr>"
    )


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#212121}
table{border-collapse:collapse;width:100%;max-width:1400px;table-layout:fixed}
td,th{border-bottom:1px solid #e0e0e0;padding:6px 10px;text-align:left;vertical-align:top;
  font-size:14px;overflow-wrap:anywhere}
th{font-weight:600;color:#616161}
.state{font-weight:700;text-transform:uppercase;font-size:13px}
tr.failed{background:#ffebee}.state.failed{color:#fff;background:#c62828;padding:2px 6px}
.chip{display:inline-block;min-width:22px;margin-right:4px;padding:1px 6px;border-radius:10px;
  color:#fff;text-align:center;font-size:13px}
.folder{color:#757575;font-size:12px}
div.top{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}
"""


def write_index(root: str | os.PathLike[str]) -> Path:
    """(Re)generate ``ROOT/index.html``; returns its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = sort_rows(report_rows(root))
    head = (
        '<col style="width:110px"><col style="width:170px"><col style="width:190px"><col>'
        '<col style="width:230px"><col style="width:110px">'
        "<tr><th>status</th><th>report</th><th>critical / warning / info (change)</th>"
        "<th>most urgent finding</th><th>window (data covered)</th><th>source</th></tr>"
    )
    failed = sum(r["status"] == "failed" for r in rows)
    summary = (
        f"{len(rows)} report(s); {failed} failed"
        if failed
        else f"{len(rows)} report(s); none failed"
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>dwcp-diag reports</title><style>{_STYLE}</style></head>"
        f"<body><h1>dwcp-diag reports</h1><p>{summary}</p><table>{head}"
        + "".join(_row_html(r) for r in rows)
        + "</table></body></html>"
    )
    path = root / "index.html"
    atomic_write_bytes(path, page.encode())
    return path
