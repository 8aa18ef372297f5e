"""Benchmark: the memory and cost reports at fleet scale, push-down vs client-side (issue 23).

A fleet of N single-container pods over D days (``dwcp_diag.demo.simulator.fleet_series``:
the series those two reports read, at a 5-minute scrape) is backfilled with promtool into a
real Prometheus (blocks cached under .cache/). Then ``dwcp-diag render memory cost --source
live --jobs 1`` runs twice against it, with ``prometheus.pushdown`` true and false, each in
its own process: wall time, peak RSS of the process tree (the notebook kernels), Prometheus'
peak RSS (restarted between runs), findings JSON size and counts. The two paths' findings
are compared (same checks and subjects). Targets at 10,000 containers, 7 days: render under
60 s, kernel peak under 1.5 GiB, findings JSON under 100 KB.

``--dry-run 50000`` computes, without backfilling, what the queries of both paths would
return for a fleet that size, from answer sizes measured on the first fleet.

Timings are noisy on a shared machine: ratios against the client-side path measured in the
same run are what counts. Prints a table and one JSON line ``{"benchmark": "scale", ...}``.

    .venv/bin/python benchmarks/scale.py --containers 1000 [--containers 10000] [--days 7]
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import requests  # noqa: E402

from dwcp_diag.demo import DEMO_END  # noqa: E402
from dwcp_diag.demo.openmetrics import write_openmetrics  # noqa: E402
from dwcp_diag.demo.simulator import fleet_series  # noqa: E402
from dwcp_diag.sandbox.prometheus import (  # noqa: E402
    CACHE_ROOT,
    PROMETHEUS_CONFIG,
    PrometheusServer,
    cached_blocks,
    require_binary,
)

SCRAPE_S = 300
FORMAT = 1  # bump when the fleet changes in a way the source hash does not see
# What one answer element costs in JSON, measured on the first fleet (see measure_sizes).
MEASURE_QUERIES = {
    "pushdown_element": "max by (namespace, pod, container) (max_over_time("
    'container_memory_working_set_bytes{container!="",container!="POD"}[{range}]))',
    "range_series": 'container_memory_working_set_bytes{container!="",container!="POD"}',
}
# Range queries the client-side path runs per container (memory: 5, cost: 7, two weeks for
# cpu and memory in cost) and the instant queries the push-down runs for memory + cost over
# a week, by how Prometheus evaluates them: range functions over raw samples (never split),
# subqueries of the CPU rate at the step (split to SAMPLES_PER_QUERY), the leak screen's
# subqueries at 30 minutes (see dwcp_diag.collect.pushdown; the query log confirms them).
CLIENT_SERIES_WEEKS = {"memory": 5, "cost": 2 * 2 + 5}
PUSHDOWN_QUERIES = {"raw": 17, "cpu_subquery": 9, "screen_subquery": 3}
SAMPLES_PER_QUERY = 25_000_000


def fleet_blocks(containers: int, days: float) -> Path:
    """Cached TSDB blocks of the fleet (built on first use: minutes for 10,000 containers)."""
    source = inspect.getsource(fleet_series)
    key = hashlib.sha256(f"{FORMAT} {containers} {days} {DEMO_END} {source}".encode())
    target = CACHE_ROOT / f"prom-fleet-{containers}-{days:g}d-{key.hexdigest()[:12]}"

    def write(openmetrics: Path) -> dict[str, Any]:
        started = time.perf_counter()
        grid, series, truth = fleet_series(containers, days, scrape_interval_s=SCRAPE_S)
        samples = write_openmetrics(openmetrics, series, grid)
        return {"samples": samples, "write_s": round(time.perf_counter() - started, 1), **truth}

    if containers <= 2000:
        return cached_blocks(target, write)  # the fixtures' builder: OpenMetrics in /dev/shm
    return _blocks_on_disk(target, write)  # ~1 GB of text per 1,000 containers: not in RAM


def _blocks_on_disk(target: Path, write: Any) -> Path:
    """As ``cached_blocks``, with the OpenMetrics file on disk (a big fleet's is many GB)."""
    if (target / "build.json").exists():
        return target
    promtool = require_binary("promtool", "prometheus")
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=CACHE_ROOT))
    openmetrics = scratch / "series.om"
    try:
        notes = write(openmetrics)
        started = time.perf_counter()
        command = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
        command += ["--max-block-duration=8760h", str(openmetrics), str(scratch / "blocks")]
        subprocess.run(command, check=True, capture_output=True)
        openmetrics.unlink()
        notes["promtool_s"] = round(time.perf_counter() - started, 1)
        (scratch / "blocks" / "build.json").write_text(json.dumps(notes, indent=1))
        os.replace(scratch / "blocks", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _vm_hwm_mib(pid: int | None) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


RUNNER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:]).returncode
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"RESULT {code} {wall:.2f} {peak:.1f}")
"""


def render(server: PrometheusServer, pushdown: bool, out: Path, days: float) -> dict[str, Any]:
    """One ``dwcp-diag render memory cost`` in its own process tree; its figures."""
    config = out / "dwcp-diag.toml"
    out.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[profiles.bench.prometheus]\nurl = "{server.url}"\nscrape_interval_s = {SCRAPE_S}\n'
        f"pushdown = {'true' if pushdown else 'false'}\ntimeout_s = 600\n"
    )
    command = [str(ROOT / ".venv" / "bin" / "dwcp-diag"), "render", "memory", "cost"]
    command += ["--source", "live", "--end", DEMO_END.isoformat(), "--window", f"{days:g}d"]
    command += ["--config", str(config), "--profile", "bench", "--jobs", "1", "--no-cache"]
    command += ["--out", str(out), "--cell-timeout", "3600"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DWCP_", "KUBECONFIG"))}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *command], capture_output=True, text=True, env=env
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"render failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    code, wall, peak = line.split()[1:]
    findings = {
        name: json.loads((out / f"{name}.findings.json").read_text()) for name in ("memory", "cost")
    }
    size = sum((out / f"{name}.findings.json").stat().st_size for name in findings)
    return {
        "exit_code": int(code),
        "wall_s": float(wall),
        "peak_rss_mib": float(peak),
        "findings_bytes": size,
        "findings": findings,
    }


def query_log_figures(path: Path) -> dict[str, Any]:
    """How many queries Prometheus answered and the seconds it spent evaluating them (its
    query log: summed over queries, so concurrent ones count each)."""
    entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    timings = [e.get("stats", {}).get("timings", {}) for e in entries]
    return {
        "queries": len(entries),
        "prometheus_eval_s": round(sum(t.get("evalTotalTime", 0.0) for t in timings), 1),
    }


def finding_keys(findings: dict[str, list[dict]]) -> set[tuple]:
    return {
        (name, f["check"], f["severity"], tuple(sorted(f["subject"].items())))
        for name, items in findings.items()
        for f in items
        if f["check"] != "source_unavailable"
    }


def measure_sizes(server: PrometheusServer, containers: int, days: float) -> dict[str, float]:
    """JSON bytes per push-down answer element and per range-query sample, measured."""
    end = DEMO_END.timestamp()
    range_s = int(days * 86400 + SCRAPE_S / 2)
    query = MEASURE_QUERIES["pushdown_element"].replace("{range}", f"{range_s}s:{SCRAPE_S}s")
    instant = requests.get(f"{server.url}/api/v1/query", params={"query": query, "time": end})
    ranged = requests.get(
        f"{server.url}/api/v1/query_range",
        params={
            "query": MEASURE_QUERIES["range_series"],
            "start": end - days * 86400,
            "end": end,
            "step": SCRAPE_S,
        },
    )
    points = int(days * 86400 / SCRAPE_S) + 1
    return {
        "bytes_per_element": len(instant.content) / containers,
        "bytes_per_sample": len(ranged.content) / (containers * points),
    }


def dry_run(containers: int, days: float, sizes: dict[str, float]) -> dict[str, Any]:
    """What each path's queries would return for ``containers``, from measured sizes."""
    points = int(days * 86400 / SCRAPE_S) + 1
    client = sum(CLIENT_SERIES_WEEKS.values()) * containers * points * sizes["bytes_per_sample"]
    subwindows = -(-containers * points // SAMPLES_PER_QUERY)
    screen_windows = -(-containers * (points * SCRAPE_S // 1800) // SAMPLES_PER_QUERY)
    queries = (
        PUSHDOWN_QUERIES["raw"]
        + PUSHDOWN_QUERIES["cpu_subquery"] * subwindows
        + PUSHDOWN_QUERIES["screen_subquery"] * screen_windows
    )
    push = queries * containers * sizes["bytes_per_element"]
    return {
        "containers": containers,
        "client_side_json_mb": round(client / 1e6, 1),
        "largest_client_query_mb": round(
            containers * 2 * points * sizes["bytes_per_sample"] / 1e6, 1
        ),
        "pushdown_queries": queries,
        "pushdown_json_mb": round(push / 1e6, 1),
        "cpu_subwindows": subwindows,
        "samples_per_cpu_subquery_m": round(containers * points / subwindows / 1e6, 1),
        "raw_samples_per_raw_query_m": round(containers * points / 1e6, 1),
        "leak_candidates_fetched_max": 200 + 2 * 15,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, action="append")
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--dry-run", type=int, default=50_000)
    parser.add_argument("--pushdown-only", action="store_true", help="skip the client-side path")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"benchmark": "scale", "days": args.days, "fleets": []}
    sizes = None
    with tempfile.TemporaryDirectory(prefix="dwcp-scale-") as tmp_name:
        tmp = Path(tmp_name)
        for containers in args.containers or [1000]:
            started = time.perf_counter()
            blocks = fleet_blocks(containers, args.days)
            build = (
                json.loads((blocks / "build.json").read_text())
                if (blocks / "build.json").exists()
                else {}
            )
            row: dict[str, Any] = {
                "containers": containers,
                "blocks_s": round(time.perf_counter() - started, 1),
            }
            row["samples"] = build.get("samples")
            for pushdown in (True, False) if not args.pushdown_only else (True,):
                server = PrometheusServer(blocks, tmp / f"prom-{containers}-{pushdown}" / "data")
                query_log = tmp / f"queries-{containers}-{pushdown}.log"
                logged = f"global:\n  query_log_file: {query_log}\n"
                server.config_path.write_text(PROMETHEUS_CONFIG.replace("global:\n", logged))
                server.start()
                try:
                    run = render(server, pushdown, tmp / f"out-{containers}-{pushdown}", args.days)
                    run["prometheus_peak_rss_mib"] = round(_vm_hwm_mib(server.pid), 1)
                    run |= query_log_figures(query_log)
                    if sizes is None and pushdown:
                        sizes = measure_sizes(server, containers, args.days)
                finally:
                    server.stop()
                row["pushdown" if pushdown else "client_side"] = run
            push, client = row["pushdown"], row.get("client_side")
            row["same_findings"] = (
                finding_keys(push["findings"]) == finding_keys(client["findings"])
                if client
                else None
            )
            if client:
                only = finding_keys(push["findings"]) ^ finding_keys(client["findings"])
                row["differing_findings"] = sorted(map(str, only))[:10]
            for run in (push, client):
                if run:
                    run["finding_counts"] = {k: len(v) for k, v in run.pop("findings").items()}
            results["fleets"].append(row)
            print(_table_row(row), flush=True)
    if sizes is not None and args.dry_run:
        results["dry_run"] = dry_run(args.dry_run, args.days, sizes)
        results["measured_sizes"] = {k: round(v, 1) for k, v in sizes.items()}
        print(f"dry run: {results['dry_run']}")
    print(json.dumps(results, default=str))
    return 0


def _table_row(row: dict[str, Any]) -> str:
    parts = [f"{row['containers']:>6} containers ({row['samples']} samples)"]
    for name in ("pushdown", "client_side"):
        run = row.get(name)
        if run:
            parts.append(
                f"{name}: {run['wall_s']:.1f} s ({run['queries']} queries, Prometheus "
                f"{run['prometheus_eval_s']:.0f} s), kernel peak {run['peak_rss_mib']:.0f} MiB, "
                f"Prometheus peak {run['prometheus_peak_rss_mib']:.0f} MiB, findings "
                f"{run['findings_bytes'] / 1e3:.0f} KB {run['finding_counts']}, "
                f"exit {run['exit_code']}"
            )
    if row.get("client_side"):
        p, c = row["pushdown"], row["client_side"]
        wall, peak = c["wall_s"] / p["wall_s"], c["peak_rss_mib"] / p["peak_rss_mib"]
        same = row["same_findings"]
        parts.append(f"ratio: wall x{wall:.1f} faster, peak x{peak:.1f} smaller; same: {same}")
    return "\n  ".join(parts)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    sys.exit(main())
