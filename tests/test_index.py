"""index.html as a dashboard: failed first, worst severity, counts and their change, the
window the data covers, the source and the most urgent finding."""

from __future__ import annotations

import json
from pathlib import Path

from dwcp_diag.analysis.findings import Finding
from dwcp_diag.report.index import report_rows, sort_rows, write_index


def write_report(folder: Path, name: str, findings: list[Finding], **meta: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    records = [f.to_dict() for f in findings]
    (folder / f"{name}.findings.json").write_text(json.dumps(records))
    window = {"label": "2026-11-15T00:00Z..2026-11-16T00:00Z"}
    (folder / f"{name}.meta.json").write_text(
        json.dumps({"status": "findings" if findings else "ok", "window": window, **meta})
    )


def leak(pod: str, hours: float, severity: str = "critical") -> Finding:
    return Finding("memory_leak", severity, {"pod": pod}, f"{pod} leaks, {hours} h to its limit",
                   1.0, 0, "MiB/h", {"hours_to_limit": hours})  # fmt: skip


def test_failed_reports_first_then_worst_severity_newest_period_first(tmp_path):
    daily = tmp_path / "daily"
    write_report(daily / "2026-11-14", "latency", [leak("a", 50, "warning")], source="live")
    write_report(daily / "2026-11-15", "latency", [leak("a", 50, "warning")] * 3, source="live")
    write_report(daily / "2026-11-15", "database", [], source="live")
    write_report(daily / "2026-11-15", "memory", [leak("slow", 90), leak("fast", 3)])
    write_report(daily / "2026-11-15", "cost", [], status="failed", error="cell 4 failed: boom")
    rows = sort_rows(report_rows(tmp_path))
    assert [(r["name"], r["folder"][-5:], r["status"]) for r in rows] == [
        ("cost", "11-15", "failed"),
        ("memory", "11-15", "findings"),
        ("latency", "11-15", "findings"),
        ("latency", "11-14", "findings"),
        ("database", "11-15", "ok"),
    ]
    memory, latency, older = rows[1], rows[2], rows[3]
    assert memory["top"] == "fast leaks, 3 h to its limit"  # the most urgent, not the first
    assert memory["counts"] == {"critical": 2, "warning": 0, "info": 0}
    assert latency["change"] == {"critical": 0, "warning": 2, "info": 0}
    assert older["change"] is None  # no earlier period
    assert latency["window"].startswith("2026-11-15") and latency["source"] == "live"

    page = write_index(tmp_path).read_text()
    assert page.index("cost.html") < page.index("memory.html") < page.index("database.html")
    assert "FAILED" in page and "cell 4 failed: boom" in page
    assert "(+2)" in page  # two more warnings than the day before
    assert "2026-11-15T00:00Z →<br>2026-11-16T00:00Z" in page


def test_a_report_failed_finding_marks_the_row_failed_without_meta(tmp_path):
    records = [{"check": "report_failed", "severity": "critical", "summary": "cell 3 raised"}]
    (tmp_path / "latency.findings.json").write_text(json.dumps(records))
    (row,) = report_rows(tmp_path)
    assert row["status"] == "failed" and row["window"] == "" and row["change"] is None


def test_a_report_without_findings_says_every_check_passed_only_if_it_has_checks(tmp_path):
    write_report(tmp_path, "database", [], source="demo")
    write_report(tmp_path, "explore", [], source="demo")  # an exploration notebook: no checks
    page = write_index(tmp_path).read_text()
    database = page[page.index("database.html") :].split("</tr>")[0]
    explore = page[page.index("explore.html") :].split("</tr>")[0]
    assert "every check passed" in database
    assert "every check passed" not in explore and "runs no registered check" in explore
