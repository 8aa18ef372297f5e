"""Benchmark: the whole demo suite rendered serially and in parallel (`dwcp-diag demo`).

Prints a table of per-notebook execute and export times, the wall time of the suite with one
worker and with one per CPU, and one JSON line. Targets (issue #8): the whole demo suite in
under 60 s on 2 cores, parallel at least 1.6x faster than serial.

    .venv/bin/python benchmarks/render.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from dwcp_diag.report import render as rendering


def suite(workers: int, out_dir: Path) -> tuple[float, list[rendering.RenderResult]]:
    jobs = [
        rendering.RenderJob(notebook=name, out_dir=str(out_dir), parameters={"source": "demo"})
        for name in rendering.available_notebooks()
    ]
    started = time.perf_counter()
    results = rendering.render_all(jobs, workers)
    return time.perf_counter() - started, results


def main() -> int:
    os.environ.setdefault("DWCP_NO_CACHE", "1")
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        serial_s, serial = suite(1, Path(tmp) / "serial")
        parallel_s, _ = suite(cpus, Path(tmp) / "parallel")
    failed = [r.name for r in serial if not r.ok]
    print(f"{'notebook':<10} {'execute s':>10} {'export s':>9}")
    for r in serial:
        print(f"{r.name:<10} {r.execute_s:>10.1f} {r.export_s:>9.1f}")
    speedup = serial_s / parallel_s
    print(f"\nserial (1 worker): {serial_s:6.1f} s")
    print(f"parallel ({cpus} workers): {parallel_s:6.1f} s   speedup {speedup:.2f}x")
    print(
        f"targets: suite < 60 s {'met' if parallel_s < 60 else 'NOT MET'}, "
        f"speedup >= 1.6x {'met' if speedup >= 1.6 else 'NOT MET'}"
    )
    print(
        json.dumps(
            {
                "benchmark": "render",
                "cpus": cpus,
                "serial_s": round(serial_s, 2),
                "parallel_s": round(parallel_s, 2),
                "speedup": round(speedup, 3),
                "failed": failed,
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
