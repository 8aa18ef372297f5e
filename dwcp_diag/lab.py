"""``dwcp-diag lab``: JupyterLab from this environment, safe defaults for a shared machine.

Registers this interpreter as the kernel ``dwcp-diag`` ("Python (dwcp-diag)") inside the
environment (``--sys-prefix``: no user-wide change), copies the packaged notebooks into a
working directory (``~/dwcp-notebooks`` by default: saving a notebook never writes into the
repository or the installed package), then starts JupyterLab there, bound to 127.0.0.1
with a fresh token, without opening a browser. SIGINT/SIGTERM stop JupyterLab and every
kernel it started (its whole process group).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from dwcp_diag.sandbox.stack import describe_for_lab

KERNEL_NAME = "dwcp-diag"
KERNEL_DISPLAY_NAME = "Python (dwcp-diag)"
KERNELSPEC = {"display_name": KERNEL_DISPLAY_NAME, "language": "python", "name": KERNEL_NAME}
DEFAULT_WORKDIR = Path("~/dwcp-notebooks")


def register_kernel() -> None:
    """Install the kernel spec for this interpreter into the environment (idempotent)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--sys-prefix",
            "--name",
            KERNEL_NAME,
            "--display-name",
            KERNEL_DISPLAY_NAME,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def working_copy(packaged: Path, workdir: Path) -> tuple[list[str], list[str]]:
    """Copy the packaged notebooks (and their README/reference pages) into ``workdir``.

    A notebook already in ``workdir`` is the user's and is never overwritten. Copies get the
    project kernel in their metadata. Returns (copied, kept) notebook names.

    >>> import tempfile
    >>> from dwcp_diag.report.render import notebook_dir
    >>> work = Path(tempfile.mkdtemp()) / "nb"
    >>> copied, kept = working_copy(notebook_dir(), work)
    >>> "explore.ipynb" in copied, kept
    (True, [])
    >>> json.loads((work / "explore.ipynb").read_text())["metadata"]["kernelspec"]["name"]
    'dwcp-diag'
    >>> working_copy(notebook_dir(), work)[0]
    []
    """
    if workdir.exists() and not workdir.is_dir():
        raise NotADirectoryError(f"lab: {workdir} exists and is not a directory")
    workdir.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for source in sorted(packaged.glob("*.ipynb")):
        target = workdir / source.name
        if target.exists():
            kept.append(source.name)
            continue
        notebook = json.loads(source.read_text())
        notebook.setdefault("metadata", {})["kernelspec"] = dict(KERNELSPEC)
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        copied.append(source.name)
    for extra in ("README.md", "reference"):
        source, target = packaged / extra, workdir / extra
        if source.is_file() and not target.exists():
            shutil.copy2(source, target)
        elif source.is_dir() and not target.exists():
            shutil.copytree(source, target)
    return copied, kept


def lab_command(notebook_dir: Path, port: int = 8888, token: str | None = None) -> list[str]:
    """The JupyterLab command line: loopback only, no browser, this environment's Jupyter."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--no-browser",
        f"--ServerApp.root_dir={notebook_dir}",
        f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
    ]
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses it without this
        command.append("--allow-root")
    return command


def lab_url(port: int, token: str) -> str:
    """The URL to open: loopback, with the token (JupyterLab's own banner may scroll away).

    >>> lab_url(8888, "abc")
    'http://127.0.0.1:8888/lab?token=abc'
    """
    return f"http://127.0.0.1:{port}/lab?token={token}"


def run_lab(packaged: Path, port: int = 8888, workdir: Path | None = None) -> int:
    """Start JupyterLab on a working copy of ``packaged``; returns its exit status.

    The child runs in its own process group; SIGINT/SIGTERM to this process stop the whole
    group (JupyterLab and its kernels), so nothing is left running.
    """
    workdir = (workdir or Path(os.environ.get("DWCP_LAB_DIR", DEFAULT_WORKDIR))).expanduser()
    copied, kept = working_copy(packaged, workdir)
    register_kernel()
    token = secrets.token_hex(24)
    if copied:
        print(f"lab: copied {', '.join(copied)} into {workdir}", file=sys.stderr)
    if kept:
        print(f"lab: kept your copies of {', '.join(kept)} in {workdir}", file=sys.stderr)
    print(
        f"JupyterLab on {lab_url(port, token)} (kernel {KERNEL_DISPLAY_NAME!r}, notebooks in "
        f"{workdir}); Ctrl-C stops it",
        file=sys.stderr,
    )
    print(describe_for_lab(), file=sys.stderr)
    child = subprocess.Popen(lab_command(workdir, port, token), start_new_session=True)

    def stop(signum: int, _frame: object) -> None:
        _stop_group(child)
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_group(child)


def _stop_group(child: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM JupyterLab's process group and its kernels (jupyter_client starts each kernel
    in a session of its own, so the group alone would miss them); SIGKILL what outlives
    the grace period."""
    import psutil

    try:
        survivors = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        survivors = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)  # JupyterLab shuts its kernels down on SIGTERM
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=grace_s)
    _, alive = psutil.wait_procs(survivors, timeout=grace_s)
    for process in alive:  # kernels that ignored SIGTERM or were orphaned
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
