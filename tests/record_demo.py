"""Re-record the demo bundle shipped in the package (``make demo-record``).

Starts the same real servers the tests use (Prometheus backfilled from the simulator,
PostgreSQL with the simulator's scenario, the Kubernetes API stand-in), renders every notebook
live with ``--record``, and replaces ``dwcp_diag/demo/bundle`` with what they loaded. Run it
whenever a notebook's queries change: ``dwcp-diag demo`` then replays them offline.

An idle-in-transaction session and a long-running query are held for longer than the default
thresholds (60 s) so the demo database report shows them, as the runbook's Problem 3 would.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path

from dwcp_diag.collect.cost import collect_cost
from dwcp_diag.collect.memory import collect_memory
from dwcp_diag.config import load_profile
from dwcp_diag.demo import DEMO_END
from dwcp_diag.sandbox.kubeapi import KubeApiStandIn
from dwcp_diag.sandbox.postgres import PostgresServer, load_scenario
from dwcp_diag.sandbox.prometheus import PrometheusServer, build_tsdb_blocks
from dwcp_diag.session import DEMO_BUNDLE, Session
from tests.fixtures.kubeapi import simulator_objects
from tests.fixtures.live import live_environment, render_everything

HOLD_S = 65.0


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


def record(bundle: Path = DEMO_BUNDLE) -> int:
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
    print(f"demo bundle: {bundle} ({size / 1e6:.1f} MB, {len(results)} notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(record())
