"""Benchmark: the Prometheus loader against prometheus-api-client (the anchor).

1. decode: a recorded ``query_range`` answer of 500 series x 2,880 points (generated here)
   into a frame: this loader's decoder vs ``json.loads`` + ``MetricRangeDataFrame``, and vs a
   bare ``orjson.loads`` of the same bytes. Targets: >= 5x faster than the anchor, frame
   memory <= 1/10 of the anchor's, time <= 1.5x the bare orjson parse.
2. end to end against a real Prometheus (started here, holding the demo simulator's data):
   7 days of ``rate(http_request_duration_seconds_bucket[5m])`` at 60 s, this loader vs
   ``PrometheusConnect.custom_query_range`` + ``MetricRangeDataFrame`` (target >= 2x); then
   27 days at 30 s (77,761 points per series), which Prometheus refuses in one call, answered
   by the loader in concurrent chunks (row count checked; peak RSS measured in a subprocess).
3. the same 7-day query from the disk cache: target >= 20x faster than the cold call (fetch
   and store, into an empty cache).

Prints a table and one JSON line ``{"benchmark": "prom_loader", ...}``.

    .venv/bin/python benchmarks/prom_loader.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pandas as pd  # noqa: E402

from dwcp_diag.config import PrometheusSettings  # noqa: E402
from dwcp_diag.demo import DEMO_END, DEMO_SCRAPE_INTERVAL_S  # noqa: E402
from dwcp_diag.sources.prometheus import PrometheusLoader  # noqa: E402
from dwcp_diag.sources.prometheus_decode import parse_result, to_frame  # noqa: E402

RATE_QUERY = "rate(http_request_duration_seconds_bucket[5m])"
WEEK = {"start": DEMO_END - pd.Timedelta(days=7), "end": DEMO_END, "step": 60}
LONG = {"start": DEMO_END - pd.Timedelta(days=27), "end": DEMO_END, "step": 30}
# name: (target, True when the ratio must be at least the target, False: at most)
TARGETS = {
    "decode_speedup": (5.0, True),
    "memory_ratio": (0.1, False),
    "decode_vs_orjson": (1.5, False),
    "e2e_speedup": (2.0, True),
    "cache_speedup": (20.0, True),
}


def best_of(repeat: int, call: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def frame_mb(frame: pd.DataFrame) -> float:
    return frame.memory_usage(deep=True).sum() / 1e6


# ---------------------------------------------------------------------- 1. decode


def _metric(index: int) -> dict[str, str]:
    """kube-prometheus labels of a request-duration bucket: 10 pods x 5 paths x 10 bounds."""
    pod, path, bound = index // 50, (index // 10) % 5, index % 10
    bounds = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")
    paths = ("/api/v1/tasks", "/api/v1/users", "/api/v1/orders", "/api/v1/search", "/healthz")
    return {
        "__name__": "http_request_duration_seconds_bucket",
        "container": "api",
        "endpoint": "http-metrics",
        "instance": f"10.42.{pod}.{17 + pod}:8080",
        "job": "dwcp-api",
        "le": bounds[bound],
        "method": "GET",
        "namespace": "production",
        "path": paths[path],
        "pod": f"dwcp-api-cbrtsbvtb5-{'kgd8x42qwhk7zsqtdxfg'[pod : pod + 5]}",
        "service": "dwcp-api",
    }


def recorded_answer(series: int = 500, points: int = 2880, step_s: int = 60) -> bytes:
    """A ``query_range`` answer as Prometheus writes it: counter values as decimal strings."""
    rng = np.random.default_rng(7)
    start_s = int(DEMO_END.timestamp()) - (points - 1) * step_s
    times = (start_s + step_s * np.arange(points)).tolist()
    result = []
    for index in range(series):
        counts = np.cumsum(rng.integers(0, 500, points)).astype(str).tolist()
        values = [list(pair) for pair in zip(times, counts, strict=True)]
        result.append({"metric": _metric(index), "values": values})
    return orjson.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})


def anchor_decode(body: bytes) -> pd.DataFrame:
    from prometheus_api_client import MetricRangeDataFrame

    return MetricRangeDataFrame(json.loads(body)["data"]["result"])


def bench_decode(repeat: int) -> dict[str, Any]:
    body = recorded_answer()
    ours_s, ours = best_of(repeat, lambda: to_frame(parse_result(body)))
    orjson_s, _ = best_of(repeat, lambda: orjson.loads(body))
    anchor_s, anchor = best_of(max(1, repeat // 2), lambda: anchor_decode(body))
    assert len(ours) == len(anchor) == 500 * 2880
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated; it shows pandas 2 strings
        with pd.option_context("future.infer_string", False):
            anchor_objects = anchor_decode(body)
    return {
        "body_mb": len(body) / 1e6,
        "ours_s": ours_s,
        "orjson_s": orjson_s,
        "anchor_s": anchor_s,
        "ours_mb": frame_mb(ours),
        "anchor_mb": frame_mb(anchor),
        "anchor_object_strings_mb": frame_mb(anchor_objects),
    }


# ---------------------------------------------------------------------- 2, 3. live


def loader_for(url: str, **options: Any) -> PrometheusLoader:
    settings = PrometheusSettings(url=url, scrape_interval_s=DEMO_SCRAPE_INTERVAL_S)
    return PrometheusLoader(settings, now=DEMO_END, **options)


def anchor_range(url: str, window: dict[str, Any], **options: Any) -> pd.DataFrame:
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    client = PrometheusConnect(url=url, **options)
    start, end = window["start"].to_pydatetime(), window["end"].to_pydatetime()
    answer = client.custom_query_range(RATE_QUERY, start, end, str(window["step"]))
    return MetricRangeDataFrame(answer)


def anchor_long_answer(url: str) -> str:
    from prometheus_api_client import PrometheusApiClientException

    try:
        anchor_range(url, LONG)
    except PrometheusApiClientException as exc:
        return "refused: " + str(exc).split('"error":"')[-1].split(".")[0]
    return "answered"


def bench_live(url: str, repeat: int) -> dict[str, Any]:
    ours_s, ours = best_of(repeat, lambda: loader_for(url).range(RATE_QUERY, **WEEK))
    anchor_s, anchor = best_of(repeat, lambda: anchor_range(url, WEEK))
    identity = {"headers": {"Accept-Encoding": "identity"}}  # the anchor without gzip too
    anchor_identity_s, _ = best_of(repeat, lambda: anchor_range(url, WEEK, **identity))
    assert len(ours) == len(anchor)
    child = [sys.executable, __file__, "--chunked-child", url]
    chunked = json.loads(subprocess.run(child, capture_output=True, check=True).stdout)

    def cold() -> pd.DataFrame:
        with tempfile.TemporaryDirectory() as empty:
            return loader_for(url, cache_dir=empty).range(RATE_QUERY, **WEEK)

    with tempfile.TemporaryDirectory() as cache_dir:
        loader_for(url, cache_dir=cache_dir).range(RATE_QUERY, **WEEK)
        warm_s, warm = best_of(
            repeat, lambda: loader_for(url, cache_dir=cache_dir).range(RATE_QUERY, **WEEK)
        )
    cold_s, _ = best_of(repeat, cold)
    pd.testing.assert_frame_equal(warm, ours, check_exact=True)
    return {
        "rows_7d": len(ours),
        "ours_s": ours_s,
        "anchor_s": anchor_s,
        "anchor_identity_s": anchor_identity_s,
        "anchor_long": anchor_long_answer(url),
        "cache_cold_s": cold_s,
        "cache_warm_s": warm_s,
        **chunked,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec, whereas
    ``ru_maxrss`` of a child starts at its parent's peak."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) / 1024


def chunked_child(url: str) -> None:
    """In a fresh process: the 27-day, 30 s query; print its time, rows and peak RSS."""
    before_mb = peak_rss_mb()
    loader = loader_for(url)
    plan = loader.plan(**LONG)
    started = time.perf_counter()
    frame = loader.range(RATE_QUERY, **LONG)
    seconds = time.perf_counter() - started
    per_series = frame.groupby(["le", "path"], observed=True).size()
    result = {
        "long_s": seconds,
        "long_rows": len(frame),
        "long_series": len(per_series),
        "long_points_per_series": plan.points,
        "long_chunks": len(plan.chunks(loader.max_points_per_request)),
        "long_rows_ok": bool(len(frame) == len(per_series) * plan.points),
        "long_peak_rss_mb": peak_rss_mb(),
        "long_rss_before_mb": before_mb,
        "long_frame_mb": frame_mb(frame),
    }
    print(json.dumps(result))


# ---------------------------------------------------------------------- report


def ratios_of(decode: dict[str, Any], live: dict[str, Any]) -> dict[str, float]:
    return {
        "decode_speedup": decode["anchor_s"] / decode["ours_s"],
        "memory_ratio": decode["ours_mb"] / decode["anchor_mb"],
        "memory_ratio_vs_object_strings": decode["ours_mb"] / decode["anchor_object_strings_mb"],
        "decode_vs_orjson": decode["ours_s"] / decode["orjson_s"],
        "e2e_speedup": live["anchor_s"] / live["ours_s"],
        "e2e_speedup_vs_identity_anchor": live["anchor_identity_s"] / live["ours_s"],
        "cache_speedup": live["cache_cold_s"] / live["cache_warm_s"],
    }


def print_table(decode: dict[str, Any], live: dict[str, Any], ratios: dict[str, float]) -> None:
    d, v = decode, live
    rows = [
        (f"1. decode 500 series x 2,880 points ({d['body_mb']:.1f} MB of JSON)", "", ""),
        ("   anchor: json.loads + MetricRangeDataFrame", d["anchor_s"], f"{d['anchor_mb']:.1f} MB"),
        ("   anchor, strings as objects (pandas 2)", "", f"{d['anchor_object_strings_mb']:.1f} MB"),
        ("   bare orjson.loads", d["orjson_s"], ""),
        ("   this loader", d["ours_s"], f"{d['ours_mb']:.1f} MB"),
        (f"2. 7 days of rate(...bucket[5m]) at 60 s, {v['rows_7d']:,} rows", "", ""),
        ("   anchor: custom_query_range + MetricRangeDataFrame", v["anchor_s"], ""),
        ("   anchor with Accept-Encoding: identity", v["anchor_identity_s"], ""),
        ("   this loader", v["ours_s"], ""),
        (f"   27 days at 30 s ({v['long_points_per_series']:,} points per series)", "", ""),
        ("   anchor, one call", "", v["anchor_long"]),
        (f"   this loader, {v['long_chunks']} chunks, {v['long_rows']:,} rows", v["long_s"],
         f"peak RSS {v['long_peak_rss_mb']:.0f} MB (idle {v['long_rss_before_mb']:.0f} MB)"),
        ("3. the 7-day query again", "", ""),
        ("   cold: empty cache, fetch and store", v["cache_cold_s"], ""),
        ("   warm: from the disk cache", v["cache_warm_s"], ""),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows) + 2
    for name, seconds, note in rows:
        shown = f"{seconds:.4f} s" if isinstance(seconds, float) else seconds
        print(f"{name:<{width}}{shown:>10}  {note}".rstrip())
    print()
    for key, (target, at_least) in TARGETS.items():
        met = ratios[key] >= target if at_least else ratios[key] <= target
        sign = ">=" if at_least else "<="
        print(
            f"{key:<18}{ratios[key]:9.3f}   target {sign} {target:<6}{'met' if met else 'NOT MET'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--chunked-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chunked_child:
        chunked_child(args.chunked_child)
        return
    from dwcp_diag.sandbox.prometheus import PrometheusServer, build_tsdb_blocks

    decode = bench_decode(args.repeat)
    blocks = build_tsdb_blocks()
    with (
        tempfile.TemporaryDirectory() as scratch,
        PrometheusServer(blocks, Path(scratch) / "d") as server,
    ):
        live = bench_live(server.url, args.repeat)
    ratios = ratios_of(decode, live)
    print_table(decode, live, ratios)
    summary = {k: round(value, 3) for k, value in ratios.items()}
    extra = {
        "long_rows_ok": live["long_rows_ok"],
        "long_peak_rss_mb": round(live["long_peak_rss_mb"]),
    }
    print(json.dumps({"benchmark": "prom_loader", **summary, **extra}))


if __name__ == "__main__":
    main()
