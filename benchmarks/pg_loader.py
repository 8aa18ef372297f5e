"""Benchmark: PostgresLoader.slow_queries with 5,000 pg_stat_statements entries.

Starts a throwaway PostgreSQL (dwcp_diag/sandbox/postgres.py), runs 5,000 statements with
distinct queryids in one database, and the same 5,000 again with a 4,000-character comment in
each text in a second database (pg_stat_statements keeps the text, so those entries are
large). Then times ``slow_queries(limit=None)`` (every entry), ``slow_queries(limit=100)`` and
``slow_queries_delta`` of two full captures, with the peak of Python allocations (tracemalloc)
and the frame's deep size. Prints a table and one JSON line (``{"benchmark": "pg_loader", ...}``).
Target: a full 5,000-row capture in < 2 s and < 50 MB, long texts cut to ``max_query_chars``.

    .venv/bin/python benchmarks/pg_loader.py [--statements 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_S, TARGET_MB = 2.0, 50.0
LONG_COMMENT_CHARS = 4000


def measure(call: Callable[[], object], repeats: int) -> dict:
    """Median seconds over ``repeats`` calls, and the peak of Python allocations in one call."""
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - began)
    tracemalloc.start()
    result = call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    frame_mb = result.memory_usage(deep=True).sum() / 2**20  # type: ignore[attr-defined]
    return {
        "seconds": round(statistics.median(seconds), 3),
        "rows": len(result),  # type: ignore[arg-type]
        "peak_alloc_mb": round(peak / 2**20, 1),
        "frame_mb": round(frame_mb, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from dwcp_diag.analysis.database.statements import slow_queries_delta
    from dwcp_diag.config import PostgresSettings
    from dwcp_diag.credentials import Secret
    from dwcp_diag.sandbox.postgres import PostgresServer
    from dwcp_diag.sources.postgres.loader import PostgresLoader
    from tests.fixtures.postgres import distinct_statements, run_each_once

    began = time.perf_counter()
    server = PostgresServer.create({"pg_stat_statements.max": str(4 * args.statements)})
    try:
        setup, statements = distinct_statements(args.statements)
        padding = "/* " + "x" * LONG_COMMENT_CHARS + " */ "
        dsns = {}
        for name, texts in (("short", statements), ("long", [padding + s for s in statements])):
            dsns[name] = server.create_database(f"load_{name}")
            server.execute(setup, dbname=f"load_{name}")
            run_each_once(dsns[name], texts)
        prepared_s = time.perf_counter() - began

        def loader(dsn: str) -> PostgresLoader:
            return PostgresLoader(PostgresSettings(dsn=Secret.from_env("D", {"D": dsn})))

        short, long = loader(dsns["short"]), loader(dsns["long"])
        short.availability()  # connect and check once, outside the timings
        long.availability()
        results = {
            "all_rows": measure(lambda: short.slow_queries(limit=None), args.repeats),
            "top_100": measure(lambda: short.slow_queries(limit=100), args.repeats),
            "all_rows_long_text": measure(lambda: long.slow_queries(limit=None), args.repeats),
            "all_rows_long_text_unbounded": measure(
                lambda: long.slow_queries(limit=None, max_query_chars=10**6), args.repeats
            ),
        }
        before, after = short.slow_queries(limit=None), short.slow_queries(limit=None)
        results["delta_of_two_full_captures"] = measure(
            lambda: slow_queries_delta(before, after), args.repeats
        )
        full = short.slow_queries(limit=None)
        mine = full[full["query"].str.contains("FROM load_", regex=False)]
        correct = len(mine) == args.statements and bool(mine["queryid"].is_unique)
        bounded = int(long.slow_queries(limit=None)["query"].str.len().max()) <= 2000
        short.close()
        long.close()
    finally:
        server.destroy()

    print(f"{'case':<30} {'seconds':>8} {'rows':>6} {'peak MB':>8} {'frame MB':>9}")
    for case, r in results.items():
        print(
            f"{case:<30} {r['seconds']:>8.3f} {r['rows']:>6} {r['peak_alloc_mb']:>8.1f} "
            f"{r['frame_mb']:>9.1f}"
        )
    main_case = results["all_rows"]
    ok = (
        correct
        and bounded
        and main_case["seconds"] < TARGET_S
        and main_case["peak_alloc_mb"] < TARGET_MB
        and results["all_rows_long_text"]["peak_alloc_mb"] < TARGET_MB
    )
    print(
        f"server start + {2 * args.statements} statements: {prepared_s:.1f} s; correct: {correct}; "
        f"texts cut to 2000 chars: {bounded}; target < {TARGET_S} s and < {TARGET_MB} MB: "
        f"{'met' if ok else 'MISSED'}"
    )
    summary = {
        "benchmark": "pg_loader",
        "statements": args.statements,
        "correct": correct,
        "bounded": bounded,
        "target_met": ok,
        "cases": results,
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
