"""The index page: every rendered report under a directory, worst severity first in each row.

>>> import tempfile; p = write_index(tempfile.mkdtemp()); p.name
'index.html'
"""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path

from dwcp_diag.analysis.findings import SEVERITY_RANK
from dwcp_diag.sources.snapshot import atomic_write_bytes

_COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0", "ok": "#2e7d32"}
_COLOURS["failed"] = _COLOURS["critical"]


def report_rows(root: Path) -> list[dict[str, object]]:
    """One row per ``NAME.findings.json`` below ``root``: suite/period from the folders."""
    rows = []
    for findings_path in sorted(root.rglob("*.findings.json")):
        name = findings_path.name.removesuffix(".findings.json")
        relative = findings_path.parent.relative_to(root)
        try:
            findings = json.loads(findings_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            findings = []
        if not isinstance(findings, list):
            findings = []
        findings = [f for f in findings if isinstance(f, dict)]
        severities = [f.get("severity") for f in findings if f.get("severity") in SEVERITY_RANK]
        worst = min(severities, key=SEVERITY_RANK.__getitem__) if severities else None
        failed = any(f.get("check") == "report_failed" for f in findings)
        rows.append(
            {
                "folder": str(relative) if str(relative) != "." else "",
                "name": name,
                "html": str(relative / f"{name}.html"),
                "findings": len(findings),
                "worst": worst,
                # failed (a cell raised: the report is incomplete), else the worst severity
                "status": "failed" if failed else worst or "ok",
                "rendered": time.strftime(
                    "%Y-%m-%d %H:%M UTC", time.gmtime(findings_path.stat().st_mtime)
                ),
            }
        )
    return rows


def write_index(root: str | os.PathLike[str]) -> Path:
    """(Re)generate ``ROOT/index.html``; returns its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    body = []
    for row in sorted(report_rows(root), key=lambda r: (r["folder"], r["name"])):
        colour = _COLOURS[str(row["status"])]
        link = f'<a href="{html.escape(str(row["html"]))}">{html.escape(str(row["name"]))}</a>'
        body.append(
            f"<tr><td>{html.escape(str(row['folder']))}</td><td>{link}</td>"
            f'<td style="color:{colour};font-weight:600">{row["status"]}</td>'
            f"<td>{row['findings']}</td><td>{row['rendered']}</td></tr>"
        )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>dwcp-diag reports"
        "</title><style>body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:"
        "collapse}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}</style></head>"
        "<body><h1>dwcp-diag reports</h1><table><tr><th>suite / period</th><th>report</th>"
        "<th>worst</th><th>findings</th><th>rendered</th></tr>"
        + "".join(body)
        + "</table></body></html>"
    )
    path = root / "index.html"
    atomic_write_bytes(path, page.encode())
    return path
