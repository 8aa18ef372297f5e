"""Re-record the demo bundle shipped in the package (``make demo-record``).

Starts the same real servers the tests use (Prometheus backfilled from the simulator,
PostgreSQL with the simulator's scenario, the Kubernetes API stand-in), renders every notebook
live with ``--record``, and replaces ``dwcp_diag/demo/bundle`` with what they loaded. Run it
whenever a notebook's queries change: ``dwcp-diag demo`` then replays them offline.

An idle-in-transaction session and a long-running query are held for longer than the default
thresholds (60 s) so the demo database report shows them, as the runbook's Problem 3 would.

Then the bundle is made to answer every notebook parameter, not only the defaults
(:func:`record_parameters`): each report is loaded again at the windows that change its
queries (a longer latency window reads rates at a coarser step), the Kubernetes lists and
PostgreSQL catalog frames whole, and every range query over the whole simulated month at the
finest step any run used (:func:`widen_ranges`); the replay slices and filters them
(``dwcp_diag.sources.replay``). Each narrower recording is dropped only once the month's
recording is checked to answer it bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from dwcp_diag.collect.cost import collect_cost
from dwcp_diag.collect.database import collect_database
from dwcp_diag.collect.incident import collect_incident
from dwcp_diag.collect.latency import collect_latency
from dwcp_diag.collect.memory import collect_memory
from dwcp_diag.collect.platform import instant_queries
from dwcp_diag.config import load_profile
from dwcp_diag.demo import DEMO_DAYS, DEMO_END
from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.queries import promql
from dwcp_diag.sandbox.kubeapi import KubeApiStandIn
from dwcp_diag.sandbox.postgres import PostgresServer, load_scenario
from dwcp_diag.sandbox.prometheus import PrometheusServer, build_tsdb_blocks
from dwcp_diag.session import DEMO_BUNDLE, Session
from dwcp_diag.sources import replay
from dwcp_diag.sources.snapshot import MANIFEST_DIR, SnapshotBundle
from tests.fixtures.kubeapi import simulator_objects
from tests.fixtures.live import live_environment, render_everything

HOLD_S = 65.0
DATA_START = DEMO_END - pd.Timedelta(days=DEMO_DAYS)
# The month's range queries run an hour past "now": an incident's margin after a window ending
# now asks for it (the server answers its lookback after the last sample, then nothing).
DATA_END = DEMO_END + pd.Timedelta(hours=1)
# Windows whose queries differ from the defaults' (each a step bucket of its collect function):
# latency reads at 60 s up to 7 days, then at the loader's step over the window + 3 days.
LATENCY_WINDOWS = ("1d", "8d", "12d", "20d", "28d")
# incident: 60 s up to a day, then the step over 7 days before + the window + the margins.
INCIDENT_WINDOWS = (
    ("2026-11-12T14:00Z", "2026-11-14T14:00Z"),
    ("2026-11-05T00:00Z", "2026-11-14T00:00Z"),
    ("2026-10-27T00:00Z", "2026-11-15T00:00Z"),
)
DATABASE_WINDOWS = ("1d",)
# platform: its instant queries (pod times over the window, certificates) at every midnight,
# for the daily suite's day and the notebook's week ending on any day of the month.
PLATFORM_WINDOWS = ("1d", "7d")
LATENCY_QUANTILES = (0.5, 0.9, 0.95, 0.99)
# The documented examples of free-form SQL (README, docstrings), so the demo shows them.
DOCUMENTED_SQL = (
    ("query", "SELECT relname, n_dead_tup FROM pg_stat_user_tables ORDER BY relname", None),
    ("query", "SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup > :n", {"n": 1000}),
    ("explain", "SELECT * FROM tasks WHERE id = 42", None),
    ("explain", "SELECT * FROM tasks WHERE user_id = 42 AND status = 'open'", None),
)
SERIES_EXAMPLES = ("kube_pod_owner", 'kube_pod_owner{namespace="production"}')
LISTED_LABELS = ("__name__", "namespace", "pod", "container", "path", "status", "job")


def record_client_side(env: dict[str, str], bundle: Path) -> None:
    """The raw series the memory and cost reports read without push-down, into ``bundle``:
    push-down's instant queries answer the recorded week only, while range queries answer any
    shorter window inside it (``s.findings.memory(window="24h")`` on the demo falls back to
    them)."""
    profile = load_profile(environ=env)
    settings = dataclasses.replace(profile.prometheus, pushdown=False)
    profile = dataclasses.replace(profile, prometheus=settings)
    s = Session(profile, source="live", record=bundle, now=DEMO_END, writer="client-side")
    collect_memory(s, s.window("7d"))
    collect_cost(s, s.window("7d"))


def record_parameters(env: dict[str, str], bundle: Path) -> None:
    """What the notebooks ask at other parameters, and the lists and catalogs whole."""
    profile = load_profile(environ=env)
    s = Session(profile, source="live", record=bundle, now=DEMO_END, writer="parameters")
    for window in LATENCY_WINDOWS:
        collect_latency(s, s.window(window))
    for q in LATENCY_QUANTILES:  # the README's p95 and its neighbours, per path
        s.prom.range(promql.latency_quantile(profile.metrics, q), window="6h", labels=["path"])
    for start, end in INCIDENT_WINDOWS:
        collect_incident(s, s.window(start=start, end=end))
    for window in DATABASE_WINDOWS:
        collect_database(s, s.window(window))
    ready_step_s = float(profile.prometheus.scrape_interval_s)
    for window in PLATFORM_WINDOWS:
        range_s = pd.Timedelta(window).total_seconds()
        for query, labels in instant_queries(profile.metrics, range_s, ready_step_s).values():
            start = DATA_START + pd.Timedelta(window)
            s.prom.range(query, start=start, end=DEMO_END, step="1d", labels=labels)
    s.k8s.pods()
    s.k8s.workloads()
    s.k8s.claims()
    s.k8s.events()
    s.k8s.rollouts(DATA_START, DATA_END)
    try:
        s.k8s.pod_metrics()
    except DwcpDiagError as exc:  # recorded as the error: the replay says the same
        print(f"  pod_metrics: {exc}")
    s.pg.slow_queries(min_calls=1, limit=None, all_databases=True)
    s.pg.wraparound(table_limit=10_000)
    for call, sql, params in DOCUMENTED_SQL:
        getattr(s.pg, call)(sql, params)
    s.pg.bloat_scan(budget_s=2)
    for relname in s.pg.tables()["relname"].astype(str):
        s.pg.bloat_exact(f"public.{relname}")
    for label in LISTED_LABELS:
        s.prom.label_values(label)
    for match in SERIES_EXAMPLES:
        s.prom.series(match, window="1d")
    _keep_the_notebooks_answers(bundle, "parameters")


def _keep_the_notebooks_answers(bundle: Path, writer: str) -> None:
    """Drop ``writer``'s recordings of calls a notebook recorded too: the notebooks' answers
    (pg_stat_activity while the sessions were held) are the demo's, whichever merges last."""
    path = bundle / MANIFEST_DIR / f"{writer}.json"
    manifest = json.loads(path.read_text())
    others = set()
    for other in (bundle / MANIFEST_DIR).glob("*.json"):
        if other != path:
            others |= set(json.loads(other.read_text())["entries"])
    manifest["entries"] = {k: e for k, e in manifest["entries"].items() if k not in others}
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True))


def widen_ranges(env: dict[str, str], bundle: Path) -> tuple[int, int]:
    """Record every range query of ``bundle`` over the whole month at the finest step it was
    read at (without the label filters its answer can apply itself), then drop the narrower
    recordings the month answers identically. Returns (queries widened, recordings dropped)."""
    recorded = SnapshotBundle(bundle)
    ranges = [e for e in recorded.entries.values() if e["call"] == "range" and "error" not in e]
    widest: dict[str, dict] = {}
    for entry in ranges:
        base = _unfiltered(recorded, entry)
        step = float(entry["params"]["step"])
        known = widest.setdefault(base, {"step": step, "labels": entry["params"].get("labels")})
        known["step"] = min(known["step"], step)
    profile = load_profile(environ=env)
    s = Session(profile, source="live", record=bundle, now=DEMO_END, writer="month")
    for query, how in sorted(widest.items()):
        s.prom.range(
            query, start=DATA_START, end=DATA_END, step=how["step"], labels=how["labels"] or ()
        )
    month_path = bundle / MANIFEST_DIR / "month.json"
    manifest = json.loads(month_path.read_text())
    manifest["data_start"] = DATA_START.isoformat()  # the simulator's first sample
    month_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    month = SnapshotBundle(bundle, writer="month")
    month_entries = [e for e in month.entries.values() if _is_month(e) and "error" not in e]

    def read(entry):
        return month._read(entry, entry["source"], entry["call"])

    dropped = 0
    for path in sorted((bundle / MANIFEST_DIR).glob("*.json")):
        if path.stem == "month":
            continue
        manifest = json.loads(path.read_text())
        for key, entry in list(manifest["entries"].items()):
            if entry["call"] != "range" or "error" in entry or entry["source"] != "prometheus":
                continue
            answer = replay.answer_prometheus(
                "range", entry["params"], month_entries, read, DATA_START
            )
            if answer is not None and _identical(
                answer, recorded._read(entry, "prometheus", "range")
            ):
                del manifest["entries"][key]
                dropped += 1
            else:
                query = entry["params"]["query"][:80]
                print(f"  kept (the month does not answer it identically): {query}")
        path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    _drop_unreferenced_files(bundle)
    return len(widest), dropped


def _is_month(entry: dict) -> bool:
    return entry["call"] == "range" and pd.Timestamp(entry["params"]["start"]) == DATA_START


def _unfiltered(recorded: SnapshotBundle, entry: dict) -> str:
    """The query without the label filters its answer's rows can apply (their label is kept)."""
    query = entry["params"]["query"]
    filters = replay.promql_filters(query)
    if not filters:
        return query
    frame = recorded._read(entry, "prometheus", "range")
    kept = [f for f in filters if f[0] in frame.columns]
    return replay.without_filters(query, kept)


def _identical(got: pd.DataFrame, expected: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    except AssertionError:
        return False
    return got.attrs.get("empty_reason") == expected.attrs.get("empty_reason") or len(got) > 0


def _drop_unreferenced_files(bundle: Path) -> None:
    used = set()
    for path in (bundle / MANIFEST_DIR).glob("*.json"):
        used |= {e["file"] for e in json.loads(path.read_text())["entries"].values() if "file" in e}
    for data in (bundle / "data").rglob("*.parquet"):
        if str(data.relative_to(bundle)) not in used:
            data.unlink()


def record(bundle: Path = DEMO_BUNDLE) -> int:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dwcp-demo-record-") as tmp_name:
        tmp = Path(tmp_name)
        print("starting Prometheus, PostgreSQL and the Kubernetes API stand-in ...")
        prometheus = PrometheusServer(build_tsdb_blocks(), tmp / "prom" / "data").start()
        postgres = PostgresServer.create()
        kube = KubeApiStandIn(simulator_objects(), directory=tmp / "kube").start()
        try:
            scenario = load_scenario(postgres)
            env = live_environment(prometheus.url, scenario.dsn, kube.kubeconfig_path)
            fresh = tmp / "bundle"
            print(f"rendering every notebook live (holding sessions {HOLD_S:.0f} s first) ...")
            code, results = render_everything(
                env, tmp / "reports", fresh, pg_dsn=scenario.dsn, hold_s=HOLD_S
            )
            failed = [r.error for r in results.values() if not r.ok]
            if not code and not failed:
                print("recording the memory and cost reports' raw series too ...")
                record_client_side(env, fresh)
                print("recording the other parameters' queries, lists and catalogs whole ...")
                record_parameters(env, fresh)
                print("recording every range query over the whole month ...")
                widened, dropped = widen_ranges(env, fresh)
                print(
                    f"  {widened} queries over {DATA_START:%Y-%m-%d}..{DEMO_END:%Y-%m-%d}, "
                    f"{dropped} narrower recordings they answer dropped"
                )
            if code or failed:
                print("recording failed; the shipped bundle is unchanged:", *failed, sep="\n  ")
                return 1
            if bundle.exists():
                shutil.rmtree(bundle)
            shutil.copytree(fresh, bundle)
        finally:
            kube.stop()
            postgres.destroy()
            prometheus.stop()
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    took = time.monotonic() - began
    print(f"demo bundle: {bundle} ({size / 1e6:.1f} MB, {len(results)} notebooks, {took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(record())
