"""Render notebooks: papermill executes, nbconvert exports self-contained HTML, findings out.

Per notebook NAME, into the output directory, each written atomically (temp file + rename)::

    NAME.ipynb          the executed notebook (parameters in clear text: never secrets)
    NAME.html           the report: header, findings table, outputs (code hidden by default)
    NAME.findings.json  the findings the notebook published (README.md, "Findings")
    NAME.meta.json      what the index shows: window covered, source, status (report_meta)

A failing cell still yields the executed notebook and an HTML report showing the error; the
result says which cell failed, and the other notebooks of the same run still render.
"""

from __future__ import annotations

import copy
import dataclasses
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

from dwcp_diag.analysis.findings import (
    FINDINGS_MIMETYPE,
    SEVERITY_RANK,
    WINDOW_MIMETYPE,
    Finding,
    findings_file_text,
    findings_table_html,
    impact_key,
)
from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.report import compare
from dwcp_diag.report.figures import embed_figures, plotly_script
from dwcp_diag.report.parameters import notebook_parameters
from dwcp_diag.sources.snapshot import atomic_write_bytes
from dwcp_diag.version import __version__

log = logging.getLogger("dwcp_diag.render")

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_CELL_TIMEOUT_S = 600
# The exit status contract (README.md, "Rendering reports") of render, demo, due and postmortem.
EXIT_OK = 0  # every report rendered and every source it needed answered
EXIT_FAILED = 1  # at least one report failed (a cell raised, the kernel died)
EXIT_USAGE = 2  # bad usage, refused before anything ran
EXIT_PARTIAL = 3  # every report rendered, but a source was unavailable or data came back empty
# Findings that mean a report rendered without seeing everything it needed.
PARTIAL_CHECKS = ("source_unavailable", "no_data")
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
    failed_cell: int | None = None  # its execution count: Jupyter's "In [N]"
    execute_s: float = 0.0
    export_s: float = 0.0
    window: str | None = None  # the window the notebook reported it covers
    failure: CellFailure | None = None

    @property
    def worst_severity(self) -> str | None:
        if not self.findings:
            return None
        return min((f["severity"] for f in self.findings), key=SEVERITY_RANK.__getitem__)

    @property
    def status(self) -> str:
        """``failed``, ``partial`` (rendered, but blind somewhere: exit status 3) or ``ok``."""
        return "failed" if not self.ok else "partial" if self.blind_spots else "ok"

    @property
    def blind_spots(self) -> list[str]:
        """What the report could not see: the summaries of its ``source_unavailable`` and
        ``no_data`` findings (a non-empty list makes the exit status 3)."""
        return [f.get("summary", "") for f in self.findings if f.get("check") in PARTIAL_CHECKS]


@dataclass(frozen=True)
class CellFailure:
    """Where and why a notebook stopped: the cell as Jupyter numbers it (``In [N]``, the
    executed notebook's execution count, the same in the CLI, the HTML and the findings).

    >>> CellFailure(5, "x = 1 / 0", "ZeroDivisionError", "division by zero").text()
    'cell In [5] failed: ZeroDivisionError: division by zero'
    """

    cell: int | None
    first_line: str
    error_type: str
    message: str

    def text(self) -> str:
        where = f"cell In [{self.cell}]" if self.cell is not None else "the notebook"
        return f"{where} failed: {self.error_type}: {self.message}".rstrip(": ")

    def finding(self, notebook: str) -> dict[str, Any]:
        """The ``report_failed`` finding: critical, about the notebook, naming the cell."""
        evidence = {"cell": self.cell, "first_line": self.first_line} if self.first_line else None
        return Finding(
            "report_failed",
            "critical",
            {"notebook": notebook},
            f"The report is incomplete: {self.text()}",
            unit="",
            evidence=evidence,
        ).to_dict()


def _one_line(text: str, limit: int = 400) -> str:
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


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
    if executed is None:  # nothing ran: the report still says so, in its findings and HTML
        executed = nbformat.read(str(path), as_version=4)
    result.findings = collect_findings(executed)
    job = compare.after_execute(job, result, executed, out_dir)  # status, resolved, trend data
    result.window = covered_window(executed)
    if result.failure is not None:  # what was published before the failure is partial
        partial = [{**f, "partial": True} for f in result.findings]
        result.findings = [result.failure.finding(name), *partial]
    started = time.perf_counter()
    page = export_html(executed, name, job, result)
    result.export_s = time.perf_counter() - started
    result.ipynb = _write(out_dir / f"{name}.ipynb", nbformat.writes(executed).encode())
    result.html = _write(out_dir / f"{name}.html", page.encode())
    findings_text = findings_file_text(result.findings)
    result.findings_json = _write(out_dir / f"{name}.findings.json", findings_text.encode())
    meta = json.dumps(report_meta(executed, job, result), indent=1)
    _write(out_dir / f"{name}.meta.json", meta.encode())
    return result


def report_meta(
    notebook: nbformat.NotebookNode, job: RenderJob, result: RenderResult
) -> dict[str, Any]:
    """What the index page shows of a report besides its findings: the window the data
    covers (not the render time), the source, and ``status``: ``failed`` (a cell raised or a
    ``report_failed`` finding), ``findings`` or ``ok``."""
    window = next(
        (
            output["data"][WINDOW_MIMETYPE]
            for cell in notebook.cells
            for output in cell.get("outputs", [])
            if WINDOW_MIMETYPE in output.get("data", {})
        ),
        None,
    )
    failed = not result.ok or any(f.get("check") == "report_failed" for f in result.findings)
    return {
        "name": result.name,
        "status": "failed" if failed else "findings" if result.findings else "ok",
        "error": result.error,
        "window": window,
        "source": job.header.get("source"),
        "profile": job.header.get("profile"),
        "rendered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dwcp_diag": __version__,
    }


def _write(path: Path, data: bytes) -> str:
    atomic_write_bytes(path, data)
    return str(path)


def _execute(path: Path, job: RenderJob, result: RenderResult) -> nbformat.NotebookNode | None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from dwcp_diag.report.progress import CellProgress

    with tempfile.TemporaryDirectory(prefix="dwcp-render-") as tmp:
        output = Path(tmp) / path.name
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            try:
                with CellProgress(path.stem, updating=job.progress) as progress:
                    papermill.execute_notebook(
                        str(path),
                        str(output),
                        parameters=job.parameters,
                        kernel_name=_kernel_name(),
                        progress_bar=progress.options(),
                        execution_timeout=job.cell_timeout_s,
                        start_timeout=KERNEL_START_TIMEOUT_S,
                        cwd=str(path.parent),
                    )
            except PapermillExecutionError as exc:
                failure = CellFailure(exc.exec_count, _one_line(exc.source), exc.ename, exc.evalue)
            except Exception as exc:  # kernel death, timeout, bad notebook: report, don't crash
                if attempt < KERNEL_START_ATTEMPTS and _died_starting(exc, output):
                    log.warning(
                        "%s: the kernel died before it ran a cell (%s); starting it again",
                        path.stem,
                        _one_line(f"{type(exc).__name__}: {exc}", 200),
                    )
                    continue
                failure = CellFailure(None, "", type(exc).__name__, str(exc))
            else:
                failure = None
            break
        executed = nbformat.read(str(output), as_version=4) if output.is_file() else None
        if failure is not None:
            if failure.cell is None and executed is not None:  # e.g. a timeout: which cell
                failure = _running_cell(executed, failure)
            failure = dataclasses.replace(failure, message=_one_line(failure.message))
            result.ok = False
            result.failure = failure
            result.failed_cell = failure.cell
            result.error = f"{path.stem}: {failure.text()}"
        return executed


# A kernel that dies or does not answer before it runs a cell is started again (twice at
# most): nothing ran, so nothing is repeated. The causes no render controls: the kernel's TCP
# ports, chosen free, taken by another process before the kernel binds them; a machine so
# loaded that a kernel needs more than KERNEL_START_TIMEOUT_S to answer.
KERNEL_START_ATTEMPTS = 3
KERNEL_START_TIMEOUT_S = 120  # papermill's default is 60
_STARTUP_DEATHS = (
    "Kernel died before replying to kernel_info",
    "Address already in use",
    "Kernel didn't respond in",
)


def _died_starting(exc: Exception, output: Path) -> bool:
    """Whether ``exc`` is a kernel that died while starting, before any cell started."""
    if not any(sign in f"{type(exc).__name__}: {exc}" for sign in _STARTUP_DEATHS):
        return False
    if not output.is_file():
        return True
    executed = nbformat.read(str(output), as_version=4)
    return not any(c.get("metadata", {}).get("papermill", {}).get("start_time")
                   for c in executed.cells if c.cell_type == "code")  # fmt: skip


def _running_cell(notebook: nbformat.NotebookNode, failure: CellFailure) -> CellFailure:
    """The failure located at the cell running when the kernel died or timed out: the last
    code cell papermill started. A kernel that died at once never numbered it: it gets the
    number it would have had (papermill runs the code cells in order)."""
    started = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code"
        and cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if not started:
        return failure
    counts = [cell.get("execution_count") or 0 for cell in started]
    number = counts[-1] or max(counts[:-1], default=0) + 1
    return dataclasses.replace(failure, cell=number, first_line=_one_line(started[-1].source))


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
    found.sort(key=impact_key)
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
    figures = embed_figures(page)
    page.cells.insert(0, nbformat.v4.new_markdown_cell(_header_html(name, job, result)))
    exporter = HTMLExporter(
        template_name="dwcp_report",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=not job.show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    page.metadata["title"] = f"dwcp-diag {name}"
    # plotly.js once in the page's head, only when a figure needs it
    resources = {"dwcp_plotly_js": plotly_script() if figures else ""}
    body, _ = exporter.from_notebook_node(page, resources=resources)
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
        return _failed_outside_the_notebook(job, CellFailure(None, "", "WorkerDied", repr(exc)))


def _render_safely(job: RenderJob) -> RenderResult:
    log.info("rendering %s", job.notebook)
    try:
        result = render(job)
    except Exception as exc:  # an export or disk failure must not stop the other reports
        log.debug("rendering %s failed", job.notebook, exc_info=True)  # -v shows the traceback
        failure = CellFailure(None, "", type(exc).__name__, _one_line(str(exc)))
        result = _failed_outside_the_notebook(job, failure)
    status = "ok" if result.ok else "FAILED"
    print(
        f"{status:6} {result.name:<12} {len(result.findings):3} finding(s)  "
        f"execute {result.execute_s:5.1f}s  export {result.export_s:4.1f}s"
        + (f"  {result.error}" if result.error else ""),
        file=sys.stderr,
        flush=True,
    )
    return result


def _failed_outside_the_notebook(job: RenderJob, failure: CellFailure) -> RenderResult:
    """A report that failed before or after its cells ran (export, disk, a dead worker): its
    findings file still says so (best effort), so the index never shows an older, green one."""
    name = Path(job.notebook).stem
    result = RenderResult(name=name, ok=False, error=f"{name}: {failure.text()}", failure=failure)
    result.findings = [failure.finding(name)]
    try:
        text = findings_file_text(result.findings).encode()
        result.findings_json = _write(Path(job.out_dir) / f"{name}.findings.json", text)
    except OSError as exc:
        log.debug("cannot write the findings of failed report %s: %s", name, exc)
    return result


def exit_status(results: Sequence[RenderResult]) -> int:
    """The exit status of a run: :data:`EXIT_FAILED` if a report failed, else
    :data:`EXIT_PARTIAL` if one could not see a source or data, else :data:`EXIT_OK`.

    >>> exit_status([RenderResult("a", ok=True), RenderResult("b", ok=False)])
    1
    >>> exit_status([RenderResult("a", ok=True, findings=[{"check": "no_data"}])])
    3
    """
    if any(not result.ok for result in results):
        return EXIT_FAILED
    if any(result.blind_spots for result in results):
        return EXIT_PARTIAL
    return EXIT_OK


def _meta_path(findings_json: Path) -> Path:
    return findings_json.with_name(findings_json.name.replace(".findings.json", ".meta.json"))


def copy_reports(results: Sequence[RenderResult], root: Path, url: str) -> list[str]:
    """Copy each rendered report (and ``root/index.html``) below ``url``, mirroring ``root``.

    Uses papermill's I/O layer, so ``url`` may be a local path or any scheme papermill has a
    handler for (``s3://`` with boto3, ``gs://`` with gcsfs, ``abs://``, ...). Returns the
    destinations written.
    """
    from papermill.iorw import papermill_io

    root = root.resolve()
    paths = [Path(p) for r in results for p in (r.ipynb, r.html, r.findings_json) if p]
    metas = [_meta_path(Path(r.findings_json)) for r in results if r.findings_json]
    paths += [m for m in metas if m.is_file()]
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
