"""Render notebooks: papermill executes, nbconvert exports self-contained HTML, findings out.

Per notebook NAME, into the output directory, each written atomically (temp file + rename)::

    NAME.ipynb          the executed notebook (parameters in clear text: never secrets)
    NAME.html           the report: header, findings table, outputs (code hidden by default)
    NAME.findings.json  the findings the notebook published (DESIGN.md contract)

A failing cell still yields the executed notebook and an HTML report showing the error; the
result says which cell failed, and the other notebooks of the same run still render.
"""

from __future__ import annotations

import copy
import html
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from dwcp_diag import __version__
from dwcp_diag.analysis.findings import (
    FINDINGS_MIMETYPE,
    SEVERITY_RANK,
    WINDOW_MIMETYPE,
    findings_table_html,
)
from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.report import compare
from dwcp_diag.sources.snapshot import atomic_write_bytes

log = logging.getLogger("dwcp_diag.render")

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_CELL_TIMEOUT_S = 600
# Names that must never be notebook parameters: papermill stores parameters in clear text.
_SECRET_WORDS = ("password", "passwd", "token", "secret", "dsn", "apikey", "api_key")


class RenderError(DwcpDiagError):
    """A notebook cannot be rendered as asked (unknown notebook or parameter)."""


INSTALLED_NOTEBOOKS = Path("share") / "dwcp-diag" / "notebooks"


def notebook_dir() -> Path:
    """Where the suite's notebooks live: ``$DWCP_NOTEBOOK_DIR``, else the source tree's, else
    an installed copy's (``PREFIX/share/dwcp-diag/notebooks``, from the wheel's data files)."""
    configured = os.environ.get("DWCP_NOTEBOOK_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    source_tree = here.parents[2] / "notebooks"
    if source_tree.is_dir():
        return source_tree
    # PREFIX/lib/pythonX.Y/site-packages/dwcp_diag/report/render.py, or the running prefix
    for prefix in (here.parents[5], Path(sys.prefix)):
        if (prefix / INSTALLED_NOTEBOOKS).is_dir():
            return prefix / INSTALLED_NOTEBOOKS
    return source_tree


def available_notebooks() -> list[str]:
    return sorted(p.stem for p in notebook_dir().glob("*.ipynb"))


def resolve_notebook(name: str) -> Path:
    """A notebook by name (``latency``) or path (``notebooks/latency.ipynb``)."""
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.is_file():
        return candidate
    path = notebook_dir() / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(available_notebooks()) or "none"
        raise RenderError(f"unknown notebook {name!r}; available: {known}")
    return path


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its cell tagged ``parameters``."""
    import papermill

    try:
        return dict(papermill.inspect_notebook(str(path)))
    except Exception as exc:  # not JSON, not a notebook: name the file, no traceback
        raise RenderError(f"{path} is not a readable notebook: {exc}") from None


def check_parameters(path: Path, parameters: Mapping[str, Any]) -> None:
    """Refuse unknown parameters (listing the valid ones) and anything that looks secret."""
    for key in parameters:
        if any(word in key.lower() for word in _SECRET_WORDS):
            raise RenderError(
                f"parameter {key!r} looks like a secret; secrets are never notebook parameters "
                "(papermill stores them in clear text). Reference it from the config file or an "
                "environment variable instead."
            )
    declared = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RenderError(
            f"notebook {path.stem!r} has no parameter(s) {unknown}; valid: {sorted(declared)}"
        )


def check_parameter_values(parameters: Mapping[str, Any], secrets: Sequence[str]) -> None:
    """Refuse a parameter whose value holds one of the profile's secret values (by name only).

    >>> try:
    ...     check_parameter_values({"note": "pw is Pw0rd-x"}, ["Pw0rd-x"])
    ... except RenderError as exc:
    ...     print(str(exc).split(";")[0])
    parameter 'note' holds the value of a configured secret
    """
    for key, value in parameters.items():
        text = str(value)
        if any(secret in text for secret in secrets):
            raise RenderError(
                f"parameter {key!r} holds the value of a configured secret; secrets are never "
                "notebook parameters (papermill stores them in clear text in the report)"
            )


@dataclass
class RenderJob:
    """One notebook to render, with everything the worker process needs (no secrets)."""

    notebook: str
    out_dir: str
    parameters: dict[str, Any] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)
    show_code: bool = False
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S
    progress: bool = False
    compare_dir: str | None = None  # an earlier output folder: status/resolved (report.compare)


@dataclass
class RenderResult:
    name: str
    ok: bool
    ipynb: str | None = None
    html: str | None = None
    findings_json: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failed_cell: int | None = None
    execute_s: float = 0.0
    export_s: float = 0.0
    window: str | None = None  # the window the notebook reported it covers

    @property
    def worst_severity(self) -> str | None:
        if not self.findings:
            return None
        return min((f["severity"] for f in self.findings), key=SEVERITY_RANK.__getitem__)


def render(job: RenderJob) -> RenderResult:
    """Execute one notebook and write its three outputs. Never raises for a failing cell."""
    path = resolve_notebook(job.notebook)
    name = path.stem
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = RenderResult(name=name, ok=True)
    started = time.perf_counter()
    executed = _execute(path, job, result)
    result.execute_s = time.perf_counter() - started
    if executed is None:
        return result
    result.findings = collect_findings(executed)
    job = compare.after_execute(job, result, executed, out_dir)  # status, resolved, trend data
    result.window = covered_window(executed)
    started = time.perf_counter()
    page = export_html(executed, name, job, result)
    result.export_s = time.perf_counter() - started
    result.ipynb = _write(out_dir / f"{name}.ipynb", nbformat.writes(executed).encode())
    result.html = _write(out_dir / f"{name}.html", page.encode())
    findings_text = json.dumps(result.findings, indent=1, sort_keys=False)
    result.findings_json = _write(out_dir / f"{name}.findings.json", findings_text.encode())
    return result


def _write(path: Path, data: bytes) -> str:
    atomic_write_bytes(path, data)
    return str(path)


def _execute(path: Path, job: RenderJob, result: RenderResult) -> nbformat.NotebookNode | None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with tempfile.TemporaryDirectory(prefix="dwcp-render-") as tmp:
        output = Path(tmp) / path.name
        try:
            papermill.execute_notebook(
                str(path),
                str(output),
                parameters=job.parameters,
                kernel_name=_kernel_name(),
                progress_bar=job.progress,
                execution_timeout=job.cell_timeout_s,
                cwd=str(path.parent),
            )
        except PapermillExecutionError as exc:
            result.ok = False
            result.failed_cell = exc.cell_index
            result.error = f"{path.stem}: cell {exc.cell_index} failed: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # kernel death, timeout, bad notebook: report, don't crash
            result.ok = False
            result.error = f"{path.stem}: {type(exc).__name__}: {exc}"
        if not output.is_file():
            return None
        return nbformat.read(str(output), as_version=4)


def _kernel_name() -> str:
    """The kernel of the interpreter running dwcp-diag (avoids NoSuchKernel in a venv)."""
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    return os.environ.get("DWCP_KERNEL", NATIVE_KERNEL_NAME)


def collect_findings(notebook: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Every finding the notebook published (display outputs of the findings mimetype)."""
    found: list[dict[str, Any]] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if FINDINGS_MIMETYPE in data:
                found.extend(data[FINDINGS_MIMETYPE])
    found.sort(key=lambda f: (SEVERITY_RANK.get(f.get("severity"), 9), f.get("check", "")))
    return found


def covered_window(notebook: nbformat.NotebookNode) -> str | None:
    """The window label the notebook published through ``open_session`` (None if it did not)."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            window = output.get("data", {}).get(WINDOW_MIMETYPE)
            if window:
                return f"{window['label']} (UTC)"
    return None


def export_html(
    notebook: nbformat.NotebookNode, name: str, job: RenderJob, result: RenderResult
) -> str:
    """HTML with a header (window, source, profile, time, version) and findings first."""
    from nbconvert import HTMLExporter

    page = copy.deepcopy(notebook)
    page.cells.insert(0, nbformat.v4.new_markdown_cell(_header_html(name, job, result)))
    exporter = HTMLExporter(
        template_name="dwcp_report",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=not job.show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    page.metadata["title"] = f"dwcp-diag {name}"
    body, _ = exporter.from_notebook_node(page)
    return body


def _header_html(name: str, job: RenderJob, result: RenderResult) -> str:
    meta = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "dwcp-diag": __version__,
        **job.header,
        **({"window": result.window} if result.window else {}),
    }
    spans = "".join(
        f"<span><b>{html.escape(k)}</b>: {html.escape(str(v))}</span>" for k, v in meta.items()
    )
    failed = ""
    if not result.ok:
        reason = html.escape(result.error or "")
        failed = f'<div class="dwcp-failed"><b>Report incomplete</b>: {reason}</div>'
    return (
        f'<div class="dwcp-header"><h1>{html.escape(name)}</h1>'
        f'<div class="dwcp-meta">{spans}</div>{failed}'
        f"<h2>Findings</h2>{findings_table_html(result.findings)}</div>"
    )


def render_all(jobs: Sequence[RenderJob], workers: int | None = None) -> list[RenderResult]:
    """Render several notebooks, in parallel processes when there is more than one."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        return [_render_safely(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_render_safely, job) for job in jobs]
        return [_result_of(future, job) for future, job in zip(futures, jobs, strict=True)]


def _result_of(future: Any, job: RenderJob) -> RenderResult:
    """A worker that died (OOM-killed, BrokenProcessPool) is one failed report, not a crash."""
    try:
        return future.result()
    except Exception as exc:
        name = Path(job.notebook).stem
        return RenderResult(name=name, ok=False, error=f"{name}: worker died: {exc!r}")


def _render_safely(job: RenderJob) -> RenderResult:
    log.info("rendering %s", job.notebook)
    try:
        result = render(job)
    except DwcpDiagError as exc:
        result = RenderResult(name=Path(job.notebook).stem, ok=False, error=str(exc))
    except Exception as exc:  # an export or disk failure must not stop the other reports
        log.exception("rendering %s failed", job.notebook)
        result = RenderResult(
            name=Path(job.notebook).stem, ok=False, error=f"{type(exc).__name__}: {exc}"
        )
    status = "ok" if result.ok else "FAILED"
    print(
        f"{status:6} {result.name:<12} {len(result.findings):3} finding(s)  "
        f"execute {result.execute_s:5.1f}s  export {result.export_s:4.1f}s"
        + (f"  {result.error}" if result.error else ""),
        file=sys.stderr,
        flush=True,
    )
    return result


def copy_reports(results: Sequence[RenderResult], root: Path, url: str) -> list[str]:
    """Copy each rendered report (and ``root/index.html``) below ``url``, mirroring ``root``.

    Uses papermill's I/O layer, so ``url`` may be a local path or any scheme papermill has a
    handler for (``s3://`` with boto3, ``gs://`` with gcsfs, ``abs://``, ...). Returns the
    destinations written.
    """
    from papermill.iorw import papermill_io

    root = root.resolve()
    paths = [Path(p) for r in results for p in (r.ipynb, r.html, r.findings_json) if p]
    if (root / "index.html").is_file():
        paths.append(root / "index.html")
    written = []
    for path in paths:
        relative = path.resolve().relative_to(root).as_posix()
        target = f"{url.rstrip('/')}/{relative}"
        if "://" not in url:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        papermill_io.write(
            path.read_text(encoding="utf-8"), target, extensions=[".ipynb", ".json", ".html"]
        )
        written.append(target)
    return written
