"""Headless Chromium driven over the DevTools protocol: what a reader's browser would do.

Used by the report tests to open rendered HTML with no network, count the plotly figures that
actually drew, list every request the page tried to make, and save a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket  # websocket-client, a dependency of the kubernetes client

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--hide-scrollbars",
]
WINDOW = (1400, 900)  # the width the reports must fit without scrolling sideways
# Count figures whose SVG has drawn content (plotly renders data into .main-svg layers).
COUNT_FIGURES_JS = """
(() => {
  // every figure's div is in the HTML from the start; plotly marks it once it draws
  const plots = Array.from(document.querySelectorAll('.plotly-graph-div'));
  const drawn = plots.filter(p => {
    const svg = p.querySelector('svg.main-svg');
    return svg && svg.querySelectorAll('path, rect, text').length > 5;
  });
  return JSON.stringify({plots: plots.length, drawn: drawn.length,
                         loaded: document.readyState === 'complete'});
})()
"""


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("chromium is not installed: apt-get install -y chromium (make test does)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PageReport:
    def __init__(
        self,
        plots: int,
        drawn: int,
        requests: list[str],
        screenshot: Path | None,
        checks: dict[str, Any] | None = None,
    ):
        self.plots, self.drawn, self.requests, self.screenshot = plots, drawn, requests, screenshot
        self.checks = checks or {}  # name -> the JSON value of each ``evaluate`` expression


def open_report(
    html: Path,
    screenshot: Path | None = None,
    settle_s: float = 60.0,
    evaluate: dict[str, str] | None = None,
) -> PageReport:
    """Load ``html`` in headless Chromium at :data:`WINDOW`; return figure counts, the page's
    requests and, per name of ``evaluate``, the value of its JavaScript expression (it must
    return a JSON string) once every figure has drawn."""
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="dwcp-chromium-")
    proc = subprocess.Popen(
        [
            chromium_binary(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--remote-debugging-address=127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ws_url = _page_websocket(port)
        conn = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        ids = itertools.count(1)
        requests: list[str] = []

        def call(method: str, **params: Any) -> dict[str, Any]:
            msg_id = next(ids)
            conn.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                message = json.loads(conn.recv())
                if message.get("method") == "Network.requestWillBeSent":
                    requests.append(message["params"]["request"]["url"])
                if message.get("id") == msg_id:
                    return message.get("result", {})

        call("Network.enable")
        call("Page.enable")
        call(
            "Emulation.setDeviceMetricsOverride",
            width=WINDOW[0],
            height=WINDOW[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        call("Page.navigate", url=html.resolve().as_uri())
        deadline = time.monotonic() + settle_s
        counts = {"plots": 0, "drawn": 0}
        while time.monotonic() < deadline:  # wait until every figure has drawn
            result = call("Runtime.evaluate", expression=COUNT_FIGURES_JS)
            counts = json.loads(result["result"]["value"])
            if counts["loaded"] and counts["drawn"] == counts["plots"]:
                break
            time.sleep(0.5)
        checks = {
            name: json.loads(
                call("Runtime.evaluate", expression=expression)["result"].get("value", "null")
            )
            for name, expression in (evaluate or {}).items()
        }
        if screenshot is not None:
            shot = call("Page.captureScreenshot", format="png")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        conn.close()
        return PageReport(counts["plots"], counts["drawn"], requests, screenshot, checks)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _page_websocket(port: int, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"chromium did not open its DevTools port {port} in {timeout_s} s")
