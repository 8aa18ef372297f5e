"""What changed since an earlier period: new, persisting and resolved findings.

A finding's identity is its ``(check, subject)``. Comparing this period's findings of a report
with an earlier period's (``dwcp-diag due``: the suite's previous period on disk;
``dwcp-diag render --compare DIR``: any earlier output folder) gives each current finding a
``status`` (``new`` or ``persisting``); a persisting one also gets ``persisting``: the number of
consecutive periods it has been found, since when, and how its value changed. The earlier
findings that are gone are written to ``NAME.resolved.json``. The report's header says it in
one line: ``3 new, 2 persisting, 1 resolved since 2026-W47``.

>>> old = [{"check": "oom_killed", "subject": {"pod": "a"}, "value": 3.0},
...        {"check": "no_memory_limit", "subject": {"pod": "b"}, "value": None}]
>>> new = [{"check": "oom_killed", "subject": {"pod": "a"}, "value": 5.0},
...        {"check": "memory_leak", "subject": {"pod": "c"}, "value": 2.0}]
>>> c = compare_findings(new, old, "2026-W47")
>>> c.summary_line(), [f["status"] for f in c.current], c.current[0]["persisting"]["value_change"]
('1 new, 1 persisting, 1 resolved since 2026-W47', ['persisting', 'new'], 2.0)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.report.parameters import notebook_parameters
from dwcp_diag.sources.snapshot import atomic_write_bytes

log = logging.getLogger("dwcp_diag.compare")

STATUS_NEW = "new"
STATUS_PERSISTING = "persisting"
FINDINGS_SUFFIX = ".findings.json"
RESOLVED_SUFFIX = ".resolved.json"
# Period folders of a suite: a UTC day (2026-11-15) or an ISO week (2026-W47); both sort as text.
PERIOD_LABEL = re.compile(r"^\d{4}-(W\d{2}|\d{2}-\d{2})$")
HISTORY_PERIODS = 8  # how many earlier periods trends look back over by default


class CompareError(DwcpDiagError):
    """An earlier folder to compare with is not usable."""


def finding_key(finding: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A finding's identity: its check and its subject's labels (order does not matter)."""
    subject = finding.get("subject") or {}
    return str(finding.get("check")), tuple(sorted((str(k), str(v)) for k, v in subject.items()))


@dataclass
class Comparison:
    """The current findings annotated with ``status``, and the earlier ones now resolved."""

    since: str
    current: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(f.get("status") == status for f in self.current)

    def summary_line(self) -> str:
        """``"3 new, 2 persisting, 1 resolved since 2026-W47"``."""
        return (
            f"{self.count(STATUS_NEW)} new, {self.count(STATUS_PERSISTING)} persisting, "
            f"{len(self.resolved)} resolved since {self.since}"
        )


def compare_findings(
    current: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]], since: str
) -> Comparison:
    """Annotate copies of ``current`` with ``status`` against ``previous`` (see module doc)."""
    earlier = {finding_key(f): f for f in previous if isinstance(f, Mapping)}
    annotated = []
    for finding in current:
        record = {k: v for k, v in finding.items() if k not in ("status", "persisting")}
        before = earlier.get(finding_key(finding))
        if before is None:
            record["status"] = STATUS_NEW
        else:
            record["status"] = STATUS_PERSISTING
            record["persisting"] = _persistence(record, before, since)
        annotated.append(record)
    seen = {finding_key(f) for f in current}
    resolved = [
        {
            **{k: v for k, v in f.items() if k not in ("status", "persisting")},
            "resolved_since": since,
        }
        for key, f in earlier.items()
        if key not in seen
    ]
    return Comparison(since, annotated, resolved)


def _persistence(record: Mapping[str, Any], before: Mapping[str, Any], since: str) -> dict:
    earlier = before.get("persisting") or {}
    periods = int(earlier.get("periods", 1)) + 1
    value, previous_value = record.get("value"), before.get("value")
    numeric = all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (value, previous_value)
    )
    return {
        "periods": periods,
        "first_seen": earlier.get("first_seen", since),
        "previous_value": previous_value,
        "value_change": round(value - previous_value, 6) if numeric else None,
    }


def read_findings(path: Path) -> list[dict[str, Any]] | None:
    """The findings list in ``path``, or None when it is missing or unreadable (logged)."""
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot compare with %s: %s", path, exc)
        return None
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else None


def compare_report(
    name: str, findings: Sequence[Mapping[str, Any]], earlier_dir: Path, out_dir: Path
) -> Comparison | None:
    """Compare report ``name`` with the same report in ``earlier_dir``; write the resolved list.

    Returns None (and writes nothing) when ``earlier_dir`` holds no findings of ``name``:
    a first period has no ``status``.
    """
    previous = read_findings(earlier_dir / f"{name}{FINDINGS_SUFFIX}")
    if previous is None:
        return None
    comparison = compare_findings(findings, previous, period_label(earlier_dir))
    text = json.dumps(comparison.resolved, indent=1)
    atomic_write_bytes(out_dir / f"{name}{RESOLVED_SUFFIX}", text.encode())
    return comparison


def period_label(folder: Path) -> str:
    """How an earlier folder is named in "since ...": its period label, else its path."""
    folder = Path(folder)
    return folder.name if PERIOD_LABEL.match(folder.name) else str(folder)


def earlier_periods(suite_dir: Path, label: str, limit: int = HISTORY_PERIODS) -> list[Path]:
    """The suite's period folders on disk before ``label``, oldest first, at most ``limit``.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> for p in ("2026-W45", "2026-W46", "2026-W47", "notes"): (root / p).mkdir()
    >>> [p.name for p in earlier_periods(root, "2026-W47", limit=1)]
    ['2026-W46']
    """
    if not suite_dir.is_dir():
        return []
    weekly = "W" in label  # weeks compare with weeks, days with days
    folders = sorted(
        p
        for p in suite_dir.iterdir()
        if p.is_dir() and PERIOD_LABEL.match(p.name) and ("W" in p.name) == weekly
        if p.name < label
    )
    return folders[-limit:] if limit else []


def attach_history(jobs: Sequence[Any], history: Sequence[Path]) -> list[Any]:
    """Render jobs that compare with the last of ``history`` (oldest first).

    Each job gets ``compare_dir`` (the findings diff happens in the renderer) and, when its
    notebook declares a ``history`` parameter, the folders' paths for its trend charts.
    """
    if not history:
        return list(jobs)
    folders = [str(Path(p).resolve()) for p in history]
    attached = []
    for job in jobs:
        parameters = dict(job.parameters)
        if "history" in notebook_parameters(Path(job.notebook)):
            parameters["history"] = folders
        attached.append(replace(job, compare_dir=folders[-1], parameters=parameters))
    return attached


def after_execute(job: Any, result: Any, notebook: Any, out_dir: Path) -> Any:
    """The renderer's hook once a notebook ran: store its trend data (``NAME.trend.json``),
    annotate ``result.findings`` with ``status``, write ``NAME.resolved.json``, and return the
    job with the "N new, M resolved since P" line in its header (the top of the report).

    A report that failed is left alone: its missing findings are not "resolved", and its
    partial figures are no period's trend."""
    from dwcp_diag.report.trends import write_period_data

    if getattr(result, "failure", None) is not None:
        return job
    write_period_data(notebook, result.name, out_dir)
    if not getattr(job, "compare_dir", None):
        return job
    comparison = compare_report(result.name, result.findings, Path(job.compare_dir), out_dir)
    if comparison is None:
        return job
    result.findings = comparison.current
    return replace(job, header={**job.header, "changes": comparison.summary_line()})


def check_folder(path: str | Path) -> Path:
    """``render --compare DIR``: DIR must be an earlier output folder holding findings."""
    folder = Path(path).expanduser()
    if not folder.is_dir() or not any(folder.glob(f"*{FINDINGS_SUFFIX}")):
        raise CompareError(
            f"--compare {path}: not a folder of rendered reports (no *.findings.json)"
        )
    return folder


def history_until(path: str | Path) -> list[Path]:
    """``render --compare DIR``: DIR, preceded by its suite's earlier periods when DIR is one
    (``reports/weekly/2026-W46``), for the trends; oldest first.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> for p in ("2026-W45", "2026-W46"):
    ...     (root / p).mkdir(); (root / p / "a.findings.json").touch()
    >>> [p.name for p in history_until(root / "2026-W46")]
    ['2026-W45', '2026-W46']
    """
    folder = check_folder(path)
    if not PERIOD_LABEL.match(folder.name):
        return [folder]
    return [*earlier_periods(folder.parent, folder.name, HISTORY_PERIODS - 1), folder]
