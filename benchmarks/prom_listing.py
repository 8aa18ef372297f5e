"""Benchmark: listing 200,000 series (``PrometheusLoader.series``) against the anchor,
prometheus-api-client's ``get_series`` + ``pd.DataFrame``, on a real Prometheus.

Each side runs in a fresh process (peak RSS is per process: Linux's VmHWM), against the same
Prometheus holding 200,000 series of ``dwcp_listing_probe`` (the test fixture's cached
blocks). Reported: seconds (best of ``--repeat`` inside the child), peak RSS and the frame's
memory, and the ratios ours/anchor (target: frame memory <= 0.5; time and peak RSS reported).
Also the time of the refusal above ``max_series`` (default 100,000), which refuses the answer
before decoding it.

Prints a table and one JSON line ``{"benchmark": "prom_listing", ...}``.

    .venv/bin/python benchmarks/prom_listing.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.prom_loader import best_of, frame_mb, peak_rss_mb  # noqa: E402

MATCH = "dwcp_listing_probe"
# The frame is the bound that lasts (categoricals, not object columns); time and peak RSS are
# dominated by Prometheus writing ~18 MB of JSON and by the answer itself, and are reported.
TARGETS = {"frame_memory_ratio": (0.5, False)}


def ours(url: str) -> Any:
    from dwcp_diag.config import PrometheusSettings
    from dwcp_diag.demo import DEMO_END
    from dwcp_diag.sources.prometheus import PrometheusLoader

    settings = PrometheusSettings(url=url, max_series=0)
    return PrometheusLoader(settings, now=DEMO_END).series(MATCH, window="1d")


def anchor(url: str) -> Any:
    import pandas as pd
    from prometheus_api_client import PrometheusConnect

    from dwcp_diag.demo import DEMO_END

    client = PrometheusConnect(url=url)
    found = client.get_series(DEMO_END - pd.Timedelta("1d"), DEMO_END, params={"match[]": MATCH})
    return pd.DataFrame(found)


def child(side: str, url: str, repeat: int) -> None:
    """In a fresh process: list the series ``repeat`` times; print time, rows, memory."""
    call = {"ours": ours, "anchor": anchor}[side]
    before = peak_rss_mb()
    seconds, frame = best_of(repeat, lambda: call(url))
    result = {
        "seconds": seconds,
        "rows": len(frame),
        "frame_mb": frame_mb(frame),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
    }
    if side == "ours":
        from dwcp_diag.config import PrometheusSettings
        from dwcp_diag.demo import DEMO_END
        from dwcp_diag.errors import QueryError
        from dwcp_diag.sources.prometheus import PrometheusLoader

        started = time.perf_counter()
        try:
            PrometheusLoader(PrometheusSettings(url=url), now=DEMO_END).series(MATCH, window="1d")
        except QueryError:
            result["refusal_s"] = time.perf_counter() - started
    print(json.dumps(result))


def run_child(side: str, url: str, repeat: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", side, url, "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.repeat)
        return
    from dwcp_diag.sandbox.prometheus import PrometheusServer
    from tests.fixtures.prometheus import build_many_series_blocks

    blocks = build_many_series_blocks()
    with (
        tempfile.TemporaryDirectory() as scratch,
        PrometheusServer(blocks, Path(scratch) / "d") as server,
    ):
        results = {side: run_child(side, server.url, args.repeat) for side in ("ours", "anchor")}
    mine, theirs = results["ours"], results["anchor"]
    assert mine["rows"] == theirs["rows"], (mine["rows"], theirs["rows"])
    ratios = {
        "time_ratio": mine["seconds"] / theirs["seconds"],
        "peak_rss_ratio": mine["peak_rss_mb"] / theirs["peak_rss_mb"],
        "frame_memory_ratio": mine["frame_mb"] / theirs["frame_mb"],
    }
    print(f"{mine['rows']:,} series        seconds  peak RSS MB  (before)  frame MB")
    for side, row in results.items():
        print(
            f"  {side:<18}{row['seconds']:>8.2f}{row['peak_rss_mb']:>13.0f}"
            f"{row['rss_before_mb']:>10.0f}{row['frame_mb']:>10.1f}"
        )
    print(f"  refusal above max_series: {mine.get('refusal_s', float('nan')):.2f} s")
    for name, value in ratios.items():
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            ok = value >= target[0] if target[1] else value <= target[0]
            verdict = (
                f"  target {'>=' if target[1] else '<='} {target[0]}: {'ok' if ok else 'MISSED'}"
            )
        print(f"  {name:<20}{value:>8.3f}{verdict}")
    summary = {k: round(v, 3) for k, v in ratios.items()}
    print(json.dumps({"benchmark": "prom_listing", "rows": mine["rows"], **summary}))


if __name__ == "__main__":
    main()
