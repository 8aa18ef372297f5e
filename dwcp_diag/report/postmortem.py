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
from dwcp_diag.units import human_value
from dwcp_diag.version import __version__

DEFAULT_NOTEBOOKS = ("incident", "latency", "database", "memory")
# What each file a report leaves in the bundle is, by its suffix.
REPORT_FILES = {
    ".html": "the report (plotly.js embedded: opens offline)",
    ".ipynb": "the executed notebook (figures as plotly JSON)",
    ".findings.json": "its findings (the findings contract)",
    ".meta.json": "status, window, source and version of the render",
}
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
        held_by_zip = f" and in `{directory.name}.zip`, README included"
    else:
        provenance = [
            f"These reports were replayed from `--source {replayed_from}`, so nothing new was",
            "recorded: there is no `data/` folder and no zip. To render them again:",
        ]
        source = replayed_from
        held_by_zip = ""
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
        f"Every file in this folder{held_by_zip}, with its size unpacked:",
        "",
        *bundle_contents(directory),
        "",
    ]
    path = directory / "README.md"
    atomic_write_bytes(path, "\n".join(lines).encode())
    return path


def bundle_contents(directory: Path) -> list[str]:
    """README lines listing every file under ``directory`` (the zip holds exactly these, and
    the README): the reports' files one by one, ``data/`` per folder with counts and sizes.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = Path(tmp)
    ...     _ = (root / "memory.html").write_text("x" * 2048)
    ...     (root / "data" / "data" / "kubernetes").mkdir(parents=True)
    ...     _ = (root / "data" / "data" / "kubernetes" / "a.parquet").write_bytes(b"p" * 10)
    ...     print("\\n".join(bundle_contents(root)))
    | file | size | what |
    |---|---|---|
    | `memory.html` | 2.0 KiB | the report (plotly.js embedded: opens offline) |
    | `data/data/kubernetes/` | 10 B | 1 .parquet file(s), recorded: the re-render replays them |
    """
    lines = ["| file | size | what |", "|---|---|---|"]
    folders: dict[str, list[Path]] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path == directory / "README.md":
            continue
        relative = path.relative_to(directory)
        if len(relative.parts) > 1:
            folders.setdefault(relative.parent.as_posix(), []).append(path)
            continue
        what = next(
            (text for suffix, text in REPORT_FILES.items() if path.name.endswith(suffix)), ""
        )
        size = human_value(path.stat().st_size, "bytes")
        lines.append(f"| `{relative.as_posix()}` | {size} | {what} |")
    for folder, paths in folders.items():
        size = human_value(sum(p.stat().st_size for p in paths), "bytes")
        kinds = ", ".join(
            f"{sum(p.suffix == suffix for p in paths)} {suffix}"
            for suffix in sorted({p.suffix for p in paths})
        )
        lines.append(
            f"| `{folder}/` | {size} | {kinds} file(s), recorded: the re-render replays them |"
        )
    return lines


def zip_directory(directory: Path, zip_path: Path) -> Path:
    """Zip ``directory`` (entries under its own name) atomically to ``zip_path``."""
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, Path(directory.name) / path.relative_to(directory))
    tmp.replace(zip_path)
    return zip_path
