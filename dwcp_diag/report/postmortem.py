"""Postmortem bundles: the incident's reports, the data they used, and how to re-render them.

Layout of ``reports/postmortems/INC-ID/`` (zipped to ``reports/postmortems/INC-ID.zip``)::

    README.md            what this is and the command that re-renders it offline
    incident.html ...    the reports (ipynb, html, findings.json per notebook)
    data/                every frame the reports loaded (a record/replay bundle)

A postmortem replayed from ``--source demo`` or ``snapshot:DIR`` records nothing new: its
README says so and names the source that renders it again (no ``data/``, no zip).

>>> check_incident_id("INC-2026-042")
'INC-2026-042'
"""

from __future__ import annotations

import re
import shlex
import zipfile
from pathlib import Path

import pandas as pd

from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.sources.snapshot import atomic_write_bytes
from dwcp_diag.version import __version__

DEFAULT_NOTEBOOKS = ("incident", "latency", "database", "memory")
_INCIDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_incident_id(incident_id: str) -> str:
    """An incident id becomes a directory name: letters, digits, dot, dash, underscore."""
    if not _INCIDENT_ID.fullmatch(incident_id):
        raise DwcpDiagError(
            f"incident id {incident_id!r} must be 1-64 letters, digits, '.', '-' or '_' "
            "(e.g. INC-2026-042)"
        )
    return incident_id


def rerender_command(
    incident_id: str, start: pd.Timestamp, end: pd.Timestamp, source: str = "snapshot:data"
) -> str:
    """The command that renders the bundle again: run inside the unzipped bundle, from
    ``data/`` (or from the replayed ``source`` it was rendered from)."""
    args = [
        "dwcp-diag",
        "postmortem",
        incident_id,
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--source",
        source,
        "--out",
        "rerendered",
    ]
    return shlex.join(args)


def write_readme(
    directory: Path,
    incident_id: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    notebooks: list[str],
    statuses: dict[str, str],
    replayed_from: str | None = None,
) -> Path:
    """The bundle's README; ``statuses`` per notebook: ``ok``, ``partial`` (rendered, but a
    source was unavailable or data came back empty) or ``failed``. ``replayed_from`` names
    the demo/snapshot source of a replayed run, which writes no ``data/`` and no zip."""
    if replayed_from is None:
        provenance = [
            "`data/` holds every frame these reports loaded. To render them again offline (no",
            "access to Prometheus, PostgreSQL or Kubernetes needed), inside this directory:",
        ]
        source = "snapshot:data"
    else:
        provenance = [
            f"These reports were replayed from `--source {replayed_from}`, so nothing new was",
            "recorded: there is no `data/` folder and no zip. To render them again:",
        ]
        source = replayed_from
    lines = [
        f"# Postmortem bundle {incident_id}",
        "",
        f"- window: {start.isoformat()} .. {end.isoformat()} (UTC)",
        f"- generated: {pd.Timestamp.now(tz='UTC').strftime('%Y-%m-%d %H:%M UTC')} "
        f"by dwcp-diag {__version__}",
        "",
        "| report | rendered |",
        "|---|---|",
        *[f"| [{name}]({name}.html) | {statuses.get(name, 'failed')} |" for name in notebooks],
        "",
        *provenance,
        "",
        "```bash",
        rerender_command(incident_id, start, end, source),
        "```",
        "",
    ]
    path = directory / "README.md"
    atomic_write_bytes(path, "\n".join(lines).encode())
    return path


def zip_directory(directory: Path, zip_path: Path) -> Path:
    """Zip ``directory`` (entries under its own name) atomically to ``zip_path``."""
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, Path(directory.name) / path.relative_to(directory))
    tmp.replace(zip_path)
    return zip_path
