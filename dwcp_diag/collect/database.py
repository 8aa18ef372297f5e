"""The database report's loading: every ``pg_stat_*`` view through the PostgreSQL loader, plus
postgres_exporter's connection history (:func:`~dwcp_diag.analysis.database.database_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from dwcp_diag.analysis.database.report import database_report
from dwcp_diag.collect.area import AreaReport, LoadingSession, UnreachableSources, range_loader
from dwcp_diag.errors import DwcpDiagError, SourceUnavailable
from dwcp_diag.queries import promql
from dwcp_diag.timewindow import TimeWindow

if TYPE_CHECKING:
    from dwcp_diag.sources.postgres.loader import PostgresLoader


def postgres_frames(pg: PostgresLoader) -> dict[str, pd.DataFrame | DwcpDiagError]:
    """Every frame :func:`~dwcp_diag.analysis.database.database_report` reads from the server;
    a failed call's value is its error, which the analysis turns into a finding
    (``stats_unavailable``, ``source_unavailable``).

    After the first :class:`SourceUnavailable` the remaining calls are not attempted: an
    unreachable server would make every one of them wait for its timeout. Besides these keys
    the report reads ``slow_queries_before`` (an earlier ``slow_queries(limit=None)`` capture:
    the window's start), ``pg_activity_count`` and ``pg_max_connections`` (Prometheus).
    """
    calls: dict[str, Callable[[], pd.DataFrame]] = {
        "server": lambda: pg.server(),
        "settings": lambda: pg.settings(),
        "availability": lambda: pg.availability(),
        "slow_queries": lambda: pg.slow_queries(limit=None),
        "activity": lambda: pg.activity(),
        "tables": lambda: pg.tables(),
        "indexes": lambda: pg.indexes(),
        "duplicate_indexes": lambda: pg.duplicate_indexes(),
        "bloat": lambda: pg.bloat(),
        "wraparound": lambda: pg.wraparound(),
        "sequences": lambda: pg.sequences(),
        "cache_hit": lambda: pg.cache_hit(),
    }
    frames: dict[str, pd.DataFrame | DwcpDiagError] = {}
    for key, call in calls.items():
        try:
            frames[key] = call()
        except DwcpDiagError as exc:
            frames[key] = exc
            if isinstance(exc, SourceUnavailable):
                break
    return frames


def collect_database(
    s: LoadingSession,
    window: TimeWindow,
    thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
    top: int = 15,
    pg_selector: Mapping[str, str] | None = None,
    unreachable: UnreachableSources | None = None,
) -> AreaReport:
    """The database health checks: every ``pg_stat_*`` view, plus connection history.

    ``thresholds`` override the profile's ``[thresholds.CHECK]`` (``None`` values are
    ignored); ``pg_selector`` picks this server's postgres_exporter series.

    >>> import dwcp_diag as dd
    >>> s = dd.session(source="demo")
    >>> database = collect_database(s, s.window("7d"))
    >>> "table_bloat" in {f.check for f in database.findings}
    True
    """
    unreachable = unreachable or UnreachableSources()
    chosen = {check: dict(keys) for check, keys in s.profile.thresholds.items()}
    for check, keys in (thresholds or {}).items():
        chosen.setdefault(check, {}).update({k: v for k, v in keys.items() if v is not None})
    frames: dict[str, Any] = postgres_frames(s.pg)
    m = s.profile.metrics
    prom = range_loader(s, unreachable, window.start, window.end, None)
    for key, query in (
        ("pg_activity_count", promql.pg_connections(m, selector=pg_selector)),
        ("pg_max_connections", promql.pg_max_connections(m, selector=pg_selector)),
    ):
        series = prom(query)
        if series is not None:
            frames[key] = series
            unreachable.explain_empty("database", {key: series}, required=())  # postgres_exporter
    report = database_report(frames, chosen, top=top)
    return AreaReport("database", window, frames, report, unreachable, {"thresholds": chosen})
