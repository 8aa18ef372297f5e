"""Per-object database findings at scale, against a real PostgreSQL (tests/fixtures/postgres.py).

A scratch database holds 1,200 small (empty) indexes that are all distinct and never
scanned, three large ones (over 1 MiB each) and 40 identical indexes on another table: the
report has the large ones as they are and one finding per check and schema for the rest,
every object listed and its DROP in the folded fix SQL. The demo scenario, a database of
normal size, gets exactly the findings it got without the rollup.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dwcp_diag.analysis.database.report import database_report
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.units import MIB
from tests.test_database_findings import load_frames, loader

pytestmark = pytest.mark.server

SMALL_INDEXES = 1200
IDENTICAL_INDEXES = 40
COLUMNS = 36  # 36 x 35 ordered pairs of distinct columns: 1,260 distinct two-column keys


def _scratch_sql() -> str:
    columns = ", ".join(f"c{n} int" for n in range(COLUMNS))
    pairs = itertools.islice(itertools.permutations(range(COLUMNS), 2), SMALL_INDEXES)
    small = [
        f"CREATE INDEX small_{n:04d} ON scratch.wide (c{a}, c{b})" for n, (a, b) in enumerate(pairs)
    ]
    identical = [f"CREATE INDEX same_{n:02d} ON dups.narrow (a)" for n in range(IDENTICAL_INDEXES)]
    return ";\n".join(
        [
            "CREATE SCHEMA scratch",
            "CREATE SCHEMA dups",
            f"CREATE TABLE scratch.wide ({columns})",
            "CREATE TABLE scratch.big (x int, y int, z int)",
            "INSERT INTO scratch.big SELECT g, -g, 3 * g FROM generate_series(1, 150000) g",
            "CREATE INDEX big_x ON scratch.big (x)",
            "CREATE INDEX big_y ON scratch.big (y)",
            "CREATE INDEX big_z ON scratch.big (z)",
            "CREATE TABLE dups.narrow (a int)",
            *small,
            *identical,
        ]
    )


@pytest.fixture(scope="module")
def scratch_frames(pg_server: Any) -> dict[str, Any]:
    """The report's frames of a fresh database with the indexes above (made once)."""
    name = "rollup_scratch"
    pg_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    dsn = pg_server.create_database(name)
    pg_server.execute(_scratch_sql(), dbname=name)
    pg = loader(dsn)
    try:
        return load_frames(pg)
    finally:
        pg.close()


def _name(finding: Finding) -> str:
    return next(iter(finding.subject.values()), "")


def _in_schema(findings: list[Finding], check: str, schema: str) -> list[Finding]:
    return [
        f
        for f in findings
        if f.check == check
        and (f.subject.get("schema") == schema or _name(f).startswith(f"{schema}."))
    ]


def test_small_unused_indexes_are_one_finding_and_the_large_ones_stay(scratch_frames):
    findings = list(database_report(scratch_frames)["findings"])
    unused = _in_schema(findings, "unused_index", "scratch")
    large = [f for f in unused if "scope" not in f.subject]
    assert sorted(f.subject["index"] for f in large) == [
        "scratch.big_x",
        "scratch.big_y",
        "scratch.big_z",
    ]
    assert all(f.evidence["size_bytes"] >= MIB for f in large)
    (summary,) = [f for f in unused if "scope" in f.subject]
    assert summary.subject == {"schema": "scratch", "scope": "rolled up"}
    names = sorted(o["name"] for o in summary.evidence["objects"])
    assert names == [f"scratch.small_{n:04d}" for n in range(SMALL_INDEXES)]
    assert summary.evidence["count"] == SMALL_INDEXES
    sizes = [o["size_bytes"] for o in summary.evidence["objects"]]
    assert all(0 < size < MIB for size in sizes)
    assert summary.value == sum(sizes) and summary.unit == "bytes"
    assert all(o["scans"] == 0 for o in summary.evidence["objects"])
    drops = summary.evidence["fix_sql"].splitlines()
    assert len(drops) == SMALL_INDEXES
    assert 'DROP INDEX CONCURRENTLY "scratch"."small_0000";' in drops
    assert summary.to_dict()["fix"] == summary.evidence["fix_sql"]


def test_identical_indexes_are_one_duplicate_finding(scratch_frames):
    findings = list(database_report(scratch_frames)["findings"])
    (summary,) = _in_schema(findings, "duplicate_index", "dups")
    assert summary.subject["scope"] == "rolled up"
    assert summary.evidence["count"] > 30  # above the default, else nothing would fold
    folded = {o["name"] for o in summary.evidence["objects"]}
    assert folded <= {f"dups.same_{n:02d}" for n in range(IDENTICAL_INDEXES)}
    # the one all others duplicate is unused, on its own: a summary of one would say less
    (covering,) = _in_schema(findings, "unused_index", "dups")
    assert "scope" not in covering.subject and _name(covering) not in folded
    assert len(folded) == IDENTICAL_INDEXES - 1  # the others' unused merged into duplicate


def test_keep_and_floor_come_from_the_rollup_table(scratch_frames):
    thresholds = {"rollup": {"keep": 2, "floor_bytes": 1}}
    findings = list(database_report(scratch_frames, thresholds)["findings"])
    unused = _in_schema(findings, "unused_index", "scratch")
    kept = [f.subject["index"] for f in unused if "scope" not in f.subject]
    assert len(kept) == 2 and set(kept) <= {"scratch.big_x", "scratch.big_y", "scratch.big_z"}
    (summary,) = [f for f in unused if "scope" in f.subject]
    assert summary.evidence["count"] == SMALL_INDEXES + 1
    unfolded = list(database_report(scratch_frames, {"rollup": {"above": 1e9}})["findings"])
    assert len(_in_schema(unfolded, "unused_index", "scratch")) == SMALL_INDEXES + 3


def test_a_normal_database_is_unchanged(pg_scenario):
    pg = loader(pg_scenario.dsn)
    try:
        frames = load_frames(pg)
    finally:
        pg.close()
    rolled = database_report(frames)["findings"].to_records()
    plain = database_report(frames, {"rollup": {"above": 1e9}})["findings"].to_records()
    assert rolled == plain
    assert any(r["check"] in ("unused_index", "duplicate_index", "index_bloat") for r in rolled)


def test_schemas_beyond_the_namespaces_setting_are_one_finding_per_check(scratch_frames):
    findings = list(database_report(scratch_frames, {"rollup": {"namespaces": 0}})["findings"])
    unused = [f for f in findings if f.check == "unused_index" and "scope" in f.subject]
    (summary,) = unused  # the scratch schema's 1,200 and the dups schema's one together
    assert summary.subject == {"scope": "rolled up"}
    assert summary.evidence["by_schema"] == {"scratch": SMALL_INDEXES, "dups": 1}
    assert summary.evidence["count"] == len(summary.evidence["objects"]) == SMALL_INDEXES + 1
    assert "in 2 other schemas" in summary.summary


def test_a_schema_per_tenant_database_yields_a_bounded_number_of_findings():
    from dwcp_diag.analysis.rollup import rollup_objects

    def unused(schema: int, n: int, size: float) -> Finding:
        name = f"tenant_{schema:03d}.idx_{n}"
        evidence = {"size_bytes": size, "fix_sql": f"DROP INDEX CONCURRENTLY {name};"}
        return Finding("unused_index", "warning", {"index": name}, "unused", 0, 50, "scans",
                       evidence)  # fmt: skip

    # 200 schemas, 1 to 12 small unused indexes each, and a few large ones
    found = [unused(s, n, 8192.0) for s in range(200) for n in range(1 + s % 12)]
    found += [unused(s, 99, 64 * MIB + s) for s in range(5)]
    rolled = rollup_objects(found, above=30, keep=10, floor_bytes=MIB, namespaces=3)
    assert len(rolled) <= 10 + 3 + 1
    large = [f for f in rolled if "scope" not in f.subject]
    assert sorted(f.subject["index"] for f in large) == [f"tenant_{s:03d}.idx_99" for s in range(5)]
    own = [f for f in rolled if "schema" in f.subject]
    assert [f.evidence["count"] for f in own] == [12, 12, 12]  # the schemas with the most
    (rest,) = [f for f in rolled if f.subject == {"scope": "rolled up"}]
    assert sum(f.evidence["count"] for f in [*own, rest]) + len(large) == len(found)
    assert sum(rest.evidence["by_schema"].values()) == rest.evidence["count"]
    assert len(rest.evidence["by_schema"]) == 200 - 3
    drops = rest.evidence["fix_sql"].splitlines()  # every object still has its DROP
    assert len(drops) == rest.evidence["count"] and len(set(drops)) == len(drops)
