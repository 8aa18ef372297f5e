"""Real Prometheus and VictoriaMetrics servers holding the demo simulator's series.

Used by the test fixtures (``tests/fixtures/prometheus.py``), the benchmarks and
``dwcp-diag sandbox``. Prometheus: the simulator's OpenMetrics are backfilled into TSDB
blocks with ``promtool tsdb create-blocks-from openmetrics`` once, cached under
``<repo>/.cache/prom-tsdb-<hash>/`` in a source checkout, else under the user's cache
directory (the hash covers the simulator's sources, its arguments and promtool's version),
and hard-linked into a fresh data directory for each server. VictoriaMetrics gets the same
series through its ``/api/v1/import`` endpoint. Servers listen on 127.0.0.1 only and are
stopped by PID.

No pytest needed to call the functions::

    blocks = build_tsdb_blocks()
    with PrometheusServer(blocks, Path(tempfile.mkdtemp())) as server:
        print(server.url)

Debian/Ubuntu: ``apt-get install prometheus victoria-metrics`` provides the binaries.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import requests

from dwcp_diag.sandbox.ports import free_port

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# In a source checkout the blocks are cached in <repo>/.cache (the tests, the benchmarks and
# the sandbox share them); an installed package caches them in the user's cache directory.
# DWCP_TEST_CACHE_DIR moves the cache (e.g. to a CI cache directory, or elsewhere to time a
# cold start).
_CHECKOUT = PACKAGE_DIR.parent
_USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dwcp-diag"
CACHE_ROOT = Path(
    os.environ.get("DWCP_TEST_CACHE_DIR")
    or (_CHECKOUT / ".cache" if (_CHECKOUT / "pyproject.toml").is_file() else _USER_CACHE)
)
DEMO_SOURCES = PACKAGE_DIR / "demo"
# Bump when the way blocks are built changes, so stale caches are not reused.
TSDB_FORMAT = 1
# promtool parses its whole input once per block window; one window covers the demo's 28 days.
BLOCK_DURATION = "8760h"
READY_TIMEOUT_S = 90.0
PROMETHEUS_CONFIG = (
    "global:\n  scrape_interval: 2m\n  evaluation_interval: 2m\nscrape_configs: []\n"
)

log = logging.getLogger("dwcp_diag.sandbox.prometheus")


class ServerError(RuntimeError):
    """A server could not be prepared (missing binary, failed start, failed import)."""


# Searched after $PATH (Debian's packages install there).
SYSTEM_BIN = Path("/usr/bin")


def require_binary(name: str, package: str) -> str:
    """The path of executable ``name``, or a ServerError saying which package provides it."""
    path = shutil.which(name) or (str(SYSTEM_BIN / name) if (SYSTEM_BIN / name).exists() else None)
    if path is None:
        raise ServerError(f"{name} is not installed: apt-get install {package}")
    return path


def simulator_args() -> dict[str, Any]:
    """The arguments the fixtures pass to ``simulate()`` (the demo's defaults)."""
    from dwcp_diag.demo import DEMO_DAYS, DEMO_END, DEMO_SCRAPE_INTERVAL_S, DEMO_SEED

    return {
        "seed": DEMO_SEED,
        "end": str(DEMO_END),
        "days": DEMO_DAYS,
        "scrape_interval_s": DEMO_SCRAPE_INTERVAL_S,
    }


def simulate_demo() -> Any:
    """The simulated cluster the servers hold (deterministic: same args, same series)."""
    from dwcp_diag.demo import simulate

    return simulate(**simulator_args())


def tsdb_cache_key(args: dict[str, Any], promtool: str) -> str:
    """A hash of the simulator's source files, its arguments and promtool's version."""
    digest = hashlib.sha256(f"format {TSDB_FORMAT}\n{json.dumps(args, sort_keys=True)}".encode())
    for path in sorted(DEMO_SOURCES.rglob("*.py")):
        digest.update(path.relative_to(DEMO_SOURCES).as_posix().encode())
        digest.update(path.read_bytes())
    version = subprocess.run([promtool, "--version"], capture_output=True, text=True, check=False)
    digest.update(version.stdout.encode())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another pytest run may be building the same blocks
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_tsdb_blocks(cache_root: Path = CACHE_ROOT) -> Path:
    """The directory of TSDB blocks holding the demo series, built on first use and cached.

    ``build.json`` inside records how long the cold build took.
    """
    promtool = require_binary("promtool", "prometheus")
    args = simulator_args()

    def write(openmetrics: Path) -> dict[str, Any]:
        from dwcp_diag.demo.openmetrics import write_cluster_openmetrics

        started = time.perf_counter()
        cluster = simulate_demo()
        simulated = time.perf_counter()
        samples = write_cluster_openmetrics(cluster, openmetrics)
        return {
            "simulate_s": round(simulated - started, 2),
            "write_openmetrics_s": round(time.perf_counter() - simulated, 2),
            "samples": samples,
            "series": len(cluster.series),
            "simulator_args": args,
        }

    return cached_blocks(cache_root / f"prom-tsdb-{tsdb_cache_key(args, promtool)}", write)


def cached_blocks(target: Path, write: Callable[[Path], dict[str, Any]]) -> Path:
    """``target``: TSDB blocks backfilled by promtool from the OpenMetrics file ``write(path)``
    writes (returning notes for ``build.json``), built once under a file lock and kept."""
    if (target / "build.json").exists():
        return target
    with _file_lock(target.with_name(f"{target.name}.lock")):
        if (target / "build.json").exists():
            return target
        _build_blocks_into(target, require_binary("promtool", "prometheus"), write)
    return target


def _build_blocks_into(
    target: Path, promtool: str, write: Callable[[Path], dict[str, Any]]
) -> None:
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
    ram = Path("/dev/shm") if Path("/dev/shm").is_dir() else scratch
    openmetrics = Path(tempfile.mkdtemp(prefix="dwcp-om-", dir=ram)) / "series.om"
    try:
        notes = write(openmetrics)
        written = time.perf_counter()
        command = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
        command += [f"--max-block-duration={BLOCK_DURATION}", str(openmetrics), str(scratch)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServerError(f"promtool failed ({result.returncode}): {result.stderr[-2000:]}")
        timings = {
            **notes,
            "promtool_s": round(time.perf_counter() - written, 2),
            "total_s": round(time.perf_counter() - started, 2),
        }
        (scratch / "build.json").write_text(json.dumps(timings, indent=1))
        os.replace(scratch, target)
        log.warning("built Prometheus TSDB blocks in %s: %s", target, timings)
        _prune_old_caches(target)
    finally:
        shutil.rmtree(openmetrics.parent, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _prune_old_caches(keep: Path, others_kept: int = 1) -> None:
    """Remove block caches of older simulator versions (servers hold hard links, not them)."""
    prefix = keep.name.rsplit("-", 1)[0]  # older builds of the same kind of blocks only
    finished = [p for p in keep.parent.glob(f"{prefix}-*") if (p / "build.json").is_file()]
    older = sorted((p for p in finished if p != keep), key=lambda p: p.stat().st_mtime)
    for old in older[: max(0, len(older) - others_kept)]:
        shutil.rmtree(old, ignore_errors=True)
        old.with_name(f"{old.name}.lock").unlink(missing_ok=True)


def link_blocks(blocks: Path, data_dir: Path) -> None:
    """Hard-link the cached blocks into ``data_dir`` (copy where linking is impossible).

    Blocks are immutable and Prometheus replaces files by rename, so links stay safe;
    ``meta.json`` is copied anyway because it is tiny.
    """
    for block in blocks.iterdir():
        if not (block / "meta.json").exists():
            continue
        for source in block.rglob("*"):
            destination = data_dir / block.name / source.relative_to(block)
            if source.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                if source.name == "meta.json":
                    raise OSError("copy")
                os.link(source, destination)
            except OSError:
                shutil.copy2(source, destination)


class _Server:
    """A child process listening on 127.0.0.1:port; restartable on the same port and data."""

    name = "server"
    ready_path = "/"

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.{self.name}.log"
        self.started_s: float | None = None  # how long the last start took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> _Server:
        if self.process is not None and self.process.poll() is None:
            return self
        began = time.perf_counter()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command(), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        atexit.register(self.stop)  # also when a script using this module dies of an error
        self._wait_ready()
        self.started_s = time.perf_counter() - began
        return self

    def detach(self) -> int:
        """Leave the process running after this Python process exits (the sandbox's servers
        outlive ``dwcp-diag sandbox up``); returns its PID, which leads its process group."""
        if self.process is None:
            raise ServerError(f"{self.name} is not running")
        pid = self.process.pid
        atexit.unregister(self.stop)
        self.process.returncode = 0  # no "still running" warning when the Popen is collected
        self.process = None
        return pid

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"{self.name} exited at start: {self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"{self.name} not ready in {READY_TIMEOUT_S:g}s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the process we started (by PID): SIGTERM, then SIGKILL after 20 s."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def kill(self) -> None:
        """Kill the process at once (a crash, for fault tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        atexit.unregister(self.stop)

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> _Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url}, pid={self.pid}, data_dir={self.data_dir})"


class PrometheusServer(_Server):
    """``prometheus`` on a copy of the cached blocks, with no scrape targets."""

    name = "prometheus"
    ready_path = "/-/ready"

    def __init__(
        self,
        blocks: Path,
        data_dir: Path,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(data_dir, port)
        self.binary = require_binary("prometheus", "prometheus")
        self.blocks = blocks
        self.extra_args = extra_args
        self.data_dir.mkdir(parents=True, exist_ok=True)
        link_blocks(blocks, self.data_dir)
        self.config_path = self.data_dir.parent / f"{self.data_dir.name}.prometheus.yml"
        self.config_path.write_text(PROMETHEUS_CONFIG)

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
            *self.extra_args,
        ]


class VictoriaMetricsServer(_Server):
    """Single-node ``victoria-metrics`` with an empty store; fill it with :meth:`import_series`."""

    name = "victoria-metrics"
    ready_path = "/health"

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        super().__init__(data_dir, port)
        self.binary = require_binary("victoria-metrics", "victoria-metrics")

    def command(self) -> list[str]:
        return [
            self.binary,
            f"-storageDataPath={self.data_dir}",
            "-retentionPeriod=100y",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-search.disableCache",  # answers straight from storage: what a fresh query sees
            "-loggerLevel=ERROR",
        ]

    def import_series(self, cluster: Any) -> int:
        """Import every series of ``cluster`` (JSON lines, millisecond timestamps); flush."""
        total = 0

        def lines() -> Iterator[bytes]:
            nonlocal total
            for name, labels, timestamps_s, values in cluster.iter_series():
                total += len(values)
                record = {
                    "metric": {"__name__": name, **labels},
                    "values": values,
                    "timestamps": timestamps_s * 1000,
                }
                yield orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"

        answer = requests.post(f"{self.url}/api/v1/import", data=lines(), timeout=600)
        if answer.status_code >= 300:
            raise ServerError(f"VictoriaMetrics import failed: {answer.status_code} {answer.text}")
        requests.get(f"{self.url}/internal/force_flush", timeout=60).raise_for_status()
        return total
