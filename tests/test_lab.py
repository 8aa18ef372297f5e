"""``dwcp-diag lab``: a working copy of the notebooks, loopback only, the project's kernel, a
tokenised URL, and nothing left running once it is stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from dwcp_diag.lab import KERNEL_NAME, working_copy
from dwcp_diag.report.render import notebook_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api(url: str, method: str = "GET") -> dict | list:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _wait_for_url(proc: subprocess.Popen, stderr_path: Path, deadline_s: float = 120) -> str:
    """The tokenised URL the command prints, once JupyterLab answers on it."""
    deadline = time.monotonic() + deadline_s
    url = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"http://127\.0\.0\.1:\d+/lab\?token=\w+", stderr_path.read_text())
        if found:
            url = found.group(0)
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return url
            except OSError:
                pass
        time.sleep(0.5)
    raise AssertionError(f"lab did not answer (url={url}): {stderr_path.read_text()[-2000:]}")


@pytest.mark.server  # starts JupyterLab and a kernel
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_lab_serves_a_working_copy_and_stops_its_whole_process_group(tmp_path, stop_signal):
    workdir, port = tmp_path / "my-notebooks", free_port()
    tracked = {p.name: p.read_bytes() for p in notebook_dir().glob("*.ipynb")}
    stderr_path = tmp_path / "lab.stderr"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dwcp_diag.cli", "lab", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "DWCP_LAB_DIR": str(workdir)},
        )
    try:
        url = _wait_for_url(proc, stderr_path)
        token = url.rsplit("token=", 1)[1]
        base = f"http://127.0.0.1:{port}/api"
        specs = _api(f"{base}/kernelspecs?token={token}")
        assert specs["default"] == KERNEL_NAME and KERNEL_NAME in specs["kernelspecs"]
        without_token = urllib.request.Request(f"{base}/contents")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(without_token, timeout=5)
        listed = {item["name"] for item in _api(f"{base}/contents?token={token}")["content"]}
        assert set(tracked) <= listed, listed
        # the server's root is the working copy, not the repository
        assert (workdir / "explore.ipynb").is_file()
        saved = _api(f"{base}/contents/explore.ipynb?token={token}")
        assert saved["content"]["metadata"]["kernelspec"]["name"] == KERNEL_NAME
        kernel = _api(f"{base}/kernels?token={token}", method="POST")
        assert kernel["name"] == KERNEL_NAME
        listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        bound = [line for line in listening.splitlines() if f":{port} " in line]
        assert bound and all("127.0.0.1" in line for line in bound), bound
        # everything `lab` started: JupyterLab and the kernel it launched
        descendants = psutil.Process(proc.pid).children(recursive=True)
        kernels = [p for p in descendants if "ipykernel" in " ".join(p.cmdline())]
        assert kernels, [p.cmdline() for p in descendants]
        proc.send_signal(stop_signal)
        proc.wait(timeout=60)
        _, alive = psutil.wait_procs(descendants, timeout=30)
        assert alive == [], f"outlived `lab`: {[p.cmdline() for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert {p.name: p.read_bytes() for p in notebook_dir().glob("*.ipynb")} == tracked


def test_working_copy_keeps_the_users_notebooks(tmp_path):
    workdir = tmp_path / "nb"
    copied, _ = working_copy(notebook_dir(), workdir)
    assert sorted(copied) == sorted(p.name for p in notebook_dir().glob("*.ipynb"))
    (workdir / "memory.ipynb").write_text('{"cells": [], "edited": "by the user"}')
    copied, kept = working_copy(notebook_dir(), workdir)
    assert copied == [] and "memory.ipynb" in kept
    assert "edited" in (workdir / "memory.ipynb").read_text()
    (workdir / "latency.ipynb").unlink()
    assert working_copy(notebook_dir(), workdir)[0] == ["latency.ipynb"]


def test_working_copy_refuses_a_file_as_directory(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        working_copy(notebook_dir(), target)


def test_every_tracked_notebook_names_the_project_kernel():
    for path in notebook_dir().glob("*.ipynb"):
        spec = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert spec["name"] == KERNEL_NAME, path.name
        assert spec["display_name"] == "Python (dwcp-diag)", path.name
