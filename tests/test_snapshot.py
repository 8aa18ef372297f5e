"""Record/replay bundles: identical frames back, clear errors for what is missing or broken."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

from dwcp_diag import errors
from dwcp_diag.frames import empty_frame
from dwcp_diag.sources.base import Loader
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle, call_key

NOW = pd.Timestamp("2026-11-16T00:00:00Z")


def series_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": pd.Categorical(
                ["/a", "/a", "/b"], categories=pd.Index(["/a", "/b"], dtype="str")
            ),
            "timestamp": pd.to_datetime([0, 60, 0], unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "value": [np.nan, np.inf, -0.0],
        }
    )


class CountingLoader(Loader):
    kind = "test"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.live_calls = 0

    def frame(self, name: str) -> pd.DataFrame:
        def fetch():
            self.live_calls += 1
            if name == "down":
                raise errors.SourceUnavailable("test", "connection refused at http://127.0.0.1:1")
            return series_frame()

        return self._load("frame", {"name": name, "at": NOW}, fetch)


def test_recorded_frames_replay_bit_identical_including_empty_ones(tmp_path):
    recorder = Recorder(tmp_path, now=NOW, writer="one")
    schema = {"path": "category", "timestamp": "timestamp", "value": "float64"}
    recorder.record("prometheus", "range", {"query": "up"}, series_frame())
    recorder.record("prometheus", "range", {"query": "absent"}, empty_frame(schema))
    bundle = SnapshotBundle(tmp_path)
    assert bundle.now == NOW
    pd.testing.assert_frame_equal(
        bundle.load("prometheus", "range", {"query": "up"}), series_frame(), check_exact=True
    )
    pd.testing.assert_frame_equal(
        bundle.load("prometheus", "range", {"query": "absent"}), empty_frame(schema)
    )


def test_loader_records_live_then_replays_without_calling_the_source(tmp_path):
    live = CountingLoader(recorder=Recorder(tmp_path, now=NOW))
    first = live.frame("x")
    with pytest.raises(errors.SourceUnavailable):
        live.frame("down")
    replaying = CountingLoader(replay=SnapshotBundle(tmp_path))
    pd.testing.assert_frame_equal(replaying.frame("x"), first, check_exact=True)
    with pytest.raises(errors.SourceUnavailable, match="connection refused") as err:
        replaying.frame("down")  # the recorded outage replays as the same error
    assert err.value.source == "test"
    assert replaying.live_calls == 0


def test_unrecorded_call_names_what_is_missing(tmp_path):
    Recorder(tmp_path, now=NOW).record("prometheus", "range", {"query": "up"}, series_frame())
    with pytest.raises(errors.ReplayMissing, match=r"prometheus\.range.*rate\(x\[5m\]\)"):
        SnapshotBundle(tmp_path).load("prometheus", "range", {"query": "rate(x[5m])"})


def test_missing_and_corrupt_files_are_snapshot_errors(tmp_path):
    recorder = Recorder(tmp_path, now=NOW)
    recorder.record("postgres", "tables", {}, series_frame())
    recorder.record("postgres", "indexes", {}, series_frame())
    data = sorted((tmp_path / "data" / "postgres").glob("*.parquet"))
    data[0].unlink()
    data[1].write_bytes(data[1].read_bytes()[:-20] + b"garbage-garbage-garb")
    bundle = SnapshotBundle(tmp_path)
    messages = []
    for call in ("tables", "indexes"):
        with pytest.raises(errors.SnapshotError) as err:
            bundle.load("postgres", call, {})
        messages.append(str(err.value))
    assert any("is missing" in m for m in messages)
    assert any("corrupt" in m for m in messages)


def test_bundle_without_manifest_or_with_a_broken_one(tmp_path):
    with pytest.raises(errors.SnapshotError, match="does not exist"):
        SnapshotBundle(tmp_path / "nowhere")
    with pytest.raises(errors.SnapshotError, match="not a recorded bundle"):
        SnapshotBundle(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "x.json").write_text("{not json")
    with pytest.raises(errors.SnapshotError, match="unreadable"):
        SnapshotBundle(tmp_path)


def test_concurrent_writers_keep_every_entry(tmp_path):
    def write(writer: str) -> None:
        recorder = Recorder(tmp_path, now=NOW, writer=writer)
        for i in range(20):
            recorder.record("prometheus", "range", {"query": f"q{i}", "w": writer}, series_frame())

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(SnapshotBundle(tmp_path).entries) == 80


def test_call_key_is_canonical():
    a = call_key("p", "range", {"b": 1, "a": pd.Timestamp("2026-01-01T01:00+01:00")})
    b = call_key("p", "range", {"a": pd.Timestamp("2026-01-01T00:00Z"), "b": 1.0})
    assert a == b
    assert a != call_key("p", "range", {"a": pd.Timestamp("2026-01-01T00:00Z"), "b": 2})
    manifest = json.dumps({"params": {"a": "2026-01-01T00:00:00+00:00"}})
    assert "+00:00" in manifest


def test_query_errors_replay_with_their_fix(tmp_path):
    class Failing(Loader):
        kind = "postgres"

        def slow(self):
            def fetch():
                raise errors.StatsUnavailable(
                    "pg_stat_statements",
                    "pg_stat_statements is not installed",
                    "CREATE EXTENSION pg_stat_statements;",
                )

            return self._load("slow_queries", {}, fetch)

    with pytest.raises(errors.StatsUnavailable):
        Failing(recorder=Recorder(tmp_path, now=NOW)).slow()
    with pytest.raises(errors.StatsUnavailable) as err:
        Failing(replay=SnapshotBundle(tmp_path)).slow()
    assert err.value.fix == "CREATE EXTENSION pg_stat_statements;"
    assert err.value.feature == "pg_stat_statements"


def test_a_call_recorded_by_two_writers_replays_each_writers_own_answer(tmp_path):
    early = series_frame()
    later = series_frame().assign(value=[1.0, 2.0, 3.0])
    Recorder(tmp_path, now=NOW, writer="database").record("postgres", "activity", {}, early)
    Recorder(tmp_path, now=NOW, writer="explore").record("postgres", "activity", {}, later)
    database = SnapshotBundle(tmp_path, writer="database").load("postgres", "activity", {})
    explore = SnapshotBundle(tmp_path, writer="explore").load("postgres", "activity", {})
    pd.testing.assert_frame_equal(database, early, check_exact=True)
    pd.testing.assert_frame_equal(explore, later, check_exact=True)
