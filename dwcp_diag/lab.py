"""``dwcp-diag lab``: JupyterLab from this environment, safe defaults for a shared machine.

Registers this interpreter as the kernel ``dwcp-diag`` ("Python (dwcp-diag)") inside the
environment (``--sys-prefix``: no user-wide change), then starts JupyterLab bound to
127.0.0.1, without opening a browser, in the ``notebooks/`` directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KERNEL_NAME = "dwcp-diag"
KERNEL_DISPLAY_NAME = "Python (dwcp-diag)"


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


def run_lab(notebook_dir: Path, port: int = 8888) -> int:
    register_kernel()
    print(
        f"JupyterLab on http://127.0.0.1:{port}/ (kernel {KERNEL_DISPLAY_NAME!r}); Ctrl-C stops it",
        file=sys.stderr,
    )
    return subprocess.call(lab_command(notebook_dir, port))
