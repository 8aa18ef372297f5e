"""JupyterLab starts from the venv, answers on loopback and lists the project's kernel."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
import urllib.request

import pytest

from dwcp_diag.lab import KERNEL_NAME, lab_command, register_kernel
from dwcp_diag.report.render import notebook_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.server  # starts a notebook kernel or another process
def test_lab_starts_on_loopback_and_lists_the_project_kernel(tmp_path):
    register_kernel()
    port, token = free_port(), secrets.token_hex(8)
    proc = subprocess.Popen(
        lab_command(notebook_dir(), port, token),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/kernelspecs?token={token}"
        deadline, specs = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    specs = json.load(response)
                break
            except OSError:
                time.sleep(0.5)
        assert specs is not None, f"JupyterLab did not answer: {proc.stderr.read()[-2000:]}"
        assert KERNEL_NAME in specs["kernelspecs"]
        assert specs["default"] == KERNEL_NAME
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5) as r:
            assert r.status == 200
        listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        bound = [line for line in listening.splitlines() if f":{port} " in line]
        assert bound and all("127.0.0.1" in line for line in bound), bound
    finally:
        proc.terminate()
        proc.wait(timeout=30)
