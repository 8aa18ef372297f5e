"""Figures of the database notebook: space per table, bloat, connections over time, slow queries.

Builders take the frames of :func:`dwcp_diag.analysis.database.report.database_report` and
return plotly figures in the house style of :mod:`dwcp_diag.plots`, SVG traces only (``go.Bar``,
``go.Scatter``); :func:`database_figures` builds them all from one report, and
:func:`database_tables` its tables, through the one table renderer
(:func:`dwcp_diag.plots.tables.report_table`).

>>> import pandas as pd
>>> from dwcp_diag.analysis.database.space import space_tree
>>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["t"],
...                        "table_bytes": [3 * 2**20], "index_bytes": [2**20]})
>>> [(t.name, list(t.x)) for t in space_figure(space_tree(tables)).data]
[('table data', [3.0]), ('indexes', [1.0])]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

from dwcp_diag.analysis.database.connections import ConnectionPeaks
from dwcp_diag.plots import PALETTE, TARGET_COLOUR, downsample, house_layout
from dwcp_diag.plots.tables import report_table
from dwcp_diag.units import MIB, human_bytes

UNRELIABLE_COLOUR = "#bdbdbd"
PEAK_FILL = "rgba(198, 40, 40, 0.10)"
STATE_ORDER = (
    "active",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "idle",
)


def _bar_height(rows: int) -> int:
    return max(300, 26 * rows + 120)


def space_figure(
    tree: pd.DataFrame, top: int = 15, title: str | None = "Space: largest tables"
) -> go.Figure:
    """Horizontal stacked bars (MiB) of the ``top`` largest tables of
    :func:`~dwcp_diag.analysis.database.space.space_tree`: table data (heap, TOAST, maps) and
    indexes, largest at the top; the hover gives exact sizes.

    >>> from dwcp_diag.analysis.database.space import space_tree
    >>> tables = pd.DataFrame({"schemaname": ["public"] * 2, "relname": ["a", "b"],
    ...                        "table_bytes": [3 * 2**20, 2**20], "index_bytes": [2**20, 0]})
    >>> fig = space_figure(space_tree(tables))
    >>> list(fig.data[0].y), [(t.name, list(t.x)) for t in fig.data]
    (['public.b', 'public.a'], [('table data', [1.0, 3.0]), ('indexes', [0.0, 1.0])])
    """
    tables = tree[tree["kind"] == "table"].nlargest(top, "bytes").iloc[::-1]
    leaves = tree[tree["parent"].isin(set(tables["id"]))]
    is_index = leaves["kind"] == "index"
    fig = go.Figure()
    for part, rows, colour in (
        ("table data", leaves[~is_index], PALETTE[0]),
        ("indexes", leaves[is_index], PALETTE[1]),
    ):
        per_table = rows.groupby("parent")["bytes"].sum()
        part_bytes = tables["id"].map(per_table).astype("float64").fillna(0.0)
        fig.add_trace(
            go.Bar(
                x=(part_bytes / MIB).tolist(),
                y=tables["id"].tolist(),
                orientation="h",
                name=part,
                marker={"color": colour},
                customdata=[human_bytes(b) for b in part_bytes],
                hovertemplate=f"%{{y}}<br>{part}: %{{customdata}}<extra></extra>",
            )
        )
    house_layout(fig, title, height=_bar_height(len(tables)))
    fig.update_layout(hovermode="closest", barmode="stack")
    return fig.update_xaxes(title_text="MiB")


def bloat_figure(
    bloat: pd.DataFrame, top: int = 20, title: str | None = "Bloat, measured or estimated"
) -> go.Figure:
    """Horizontal bars of the ``top`` bloats (MiB) of the report's ``bloat`` table: tables and
    indexes in colour, figures the loader marks unreliable greyed out (the hover says why, or
    by which method a figure was obtained), largest at the top.

    >>> frame = pd.DataFrame({"kind": ["table", "index"], "name": ["s.t", "s.i"],
    ...     "bloat_bytes": [4 * 2**20, 2**20], "bloat_ratio": [0.4, 0.5],
    ...     "size_bytes": [10 * 2**20, 2 * 2**20], "is_reliable": [True, False],
    ...     "unreliable_reason": [None, "under 10 pages"]})
    >>> [(trace.name, list(trace.y)) for trace in bloat_figure(frame).data]
    [('table', ['s.t']), ('unreliable estimate', ['s.i'])]
    """
    frame = bloat[bloat["bloat_bytes"].fillna(0) > 0].head(top).iloc[::-1]
    reliable = frame["is_reliable"].astype("boolean").fillna(False).astype(bool)
    fig = go.Figure()
    groups = (
        ("table", reliable & (frame["kind"] == "table"), PALETTE[0]),
        ("index", reliable & (frame["kind"] == "index"), PALETTE[1]),
        ("unreliable estimate", ~reliable, UNRELIABLE_COLOUR),
    )
    for name, mask, colour in groups:
        part = frame[mask.to_numpy()]
        if part.empty:
            continue
        method = part["method"] if "method" in part else pd.Series("reliable", part.index)
        reasons = part["unreliable_reason"].astype("str").fillna(method.astype("str"))
        fig.add_trace(
            go.Bar(
                x=part["bloat_bytes"] / MIB,
                y=part["name"],
                orientation="h",
                name=name,
                marker={"color": colour},
                customdata=np.column_stack(
                    [part["bloat_ratio"].astype("float64") * 100, part["size_bytes"] / MIB, reasons]
                ),
                hovertemplate="%{y}<br>%{x:,.1f} MiB bloat (%{customdata[0]:.0f} % of "
                "%{customdata[1]:,.1f} MiB)<br>%{customdata[2]}<extra></extra>",
            )
        )
    house_layout(fig, title, height=_bar_height(len(frame)))
    fig.update_layout(hovermode="closest", barmode="overlay")
    fig.update_yaxes(categoryorder="array", categoryarray=list(frame["name"]))
    return fig.update_xaxes(title_text="MiB")


def _peak_windows(index: pd.DatetimeIndex, peaks: ConnectionPeaks) -> list[tuple[Any, Any]]:
    """(start, end) in UTC of the daily peak window on each day the series covers."""
    if peaks.peak_window is None or len(index) == 0:
        return []
    first, last = peaks.peak_window
    length = pd.Timedelta(hours=(last - first) % 24 + 1)
    local = index.tz_convert(peaks.tz)
    days = pd.date_range(local.min().normalize() - pd.Timedelta(days=1), local.max(), freq="D")
    starts = [day + pd.Timedelta(hours=first) for day in days]
    return [
        (start.tz_convert("UTC"), (start + length).tz_convert("UTC"))
        for start in starts
        if start + length > local.min() and start < local.max()
    ]


def connections_figure(
    series: pd.DataFrame,
    max_connections: float | None = None,
    peaks: ConnectionPeaks | None = None,
    reserved: float = 0.0,
    title: str | None = "Connections by state",
) -> go.Figure:
    """Connections stacked by state over time (the report's ``connection_series``), the
    ``max_connections`` line (and the limit left to normal roles when ``reserved`` > 0), and
    the daily peak window of ``peaks`` shaded on each day (KI-003).

    >>> t = pd.date_range("2026-11-02", periods=48, freq="h", tz="UTC")
    >>> s = pd.DataFrame({"timestamp": t, "state": "active", "connections": 10.0})
    >>> from dwcp_diag.analysis.database.connections import peak_connection_hours
    >>> peaks = peak_connection_hours(s.rename(columns={"connections": "value"}))
    >>> fig = connections_figure(s, max_connections=100, peaks=peaks)
    >>> [t.name for t in fig.data], len(fig.layout.shapes)
    (['active'], 3)
    """
    fig = go.Figure()
    wide = series.pivot_table(
        index="timestamp", columns="state", values="connections", aggfunc="sum"
    ).sort_index()
    if not wide.empty:
        wide = downsample(wide.reset_index()).set_index("timestamp")
    states = sorted(
        wide.columns, key=lambda s: (STATE_ORDER.index(s) if s in STATE_ORDER else 99, s)
    )
    for position, state in enumerate(states):
        fig.add_trace(
            go.Scatter(
                x=wide.index,
                y=wide[state].fillna(0.0),
                mode="lines",
                name=str(state),
                stackgroup="connections",
                line={"width": 0.5, "color": PALETTE[position % len(PALETTE)]},
            )
        )
    if max_connections is not None and not pd.isna(max_connections):
        fig.add_hline(
            y=float(max_connections),
            line={"color": TARGET_COLOUR, "dash": "dash", "width": 1},
            annotation_text=f"max_connections {max_connections:,.0f}",
            annotation_position="top left",
        )
        if reserved:
            fig.add_hline(
                y=float(max_connections) - float(reserved),
                line={"color": TARGET_COLOUR, "dash": "dot", "width": 1},
                annotation_text=f"available to applications {max_connections - reserved:,.0f}",
                annotation_position="bottom left",
            )
    if peaks is not None:
        for number, (start, end) in enumerate(_peak_windows(pd.DatetimeIndex(wide.index), peaks)):
            # plotly.js writes "new text" on a shape given a position but no text
            label = (
                {
                    "annotation_text": f"daily peak {peaks.window_text()}",
                    "annotation_position": "top left",
                }
                if number == 0
                else {}
            )
            fig.add_vrect(
                x0=start, x1=end, fillcolor=PEAK_FILL, line_width=0, layer="below", **label
            )
    return house_layout(fig, title, "connections")


def hour_profile_figure(
    peaks: ConnectionPeaks, title: str | None = "Connections by hour of day"
) -> go.Figure:
    """Mean connections per hour of day with the p95 as markers, the peak window in red.

    >>> t = pd.date_range("2026-11-02", periods=48, freq="h", tz="UTC")
    >>> frame = pd.DataFrame({"state": "active", "timestamp": t,
    ...                       "value": [90.0 if ts.hour == 17 else 20.0 for ts in t]})
    >>> from dwcp_diag.analysis.database.connections import peak_connection_hours
    >>> fig = hour_profile_figure(peak_connection_hours(frame))
    >>> fig.data[0].marker.color[17] == TARGET_COLOUR
    True
    """
    profile = peaks.profile
    window: set[int] = set()
    if peaks.peak_window is not None:
        first, last = peaks.peak_window
        window = {(first + step) % 24 for step in range((last - first) % 24 + 1)}
    colours = [TARGET_COLOUR if hour in window else PALETTE[0] for hour in profile["hour"]]
    fig = go.Figure(
        [
            go.Bar(x=profile["hour"], y=profile["mean"], name="mean", marker={"color": colours}),
            go.Scatter(
                x=profile["hour"],
                y=profile["p95"],
                mode="markers",
                name="p95",
                marker={"color": PALETTE[1], "symbol": "line-ew-open", "size": 14},
            ),
        ]
    )
    house_layout(fig, title, "connections")
    fig.update_xaxes(title_text=f"hour of day ({peaks.tz})", dtick=1)
    return fig.update_layout(hovermode="closest")


def slow_query_figure(
    statements: pd.DataFrame, top: int = 15, title: str | None = "Share of execution time"
) -> go.Figure:
    """Horizontal bars of the ``top`` statements' share of all execution time (%), labelled
    with their mean time and calls (the report's ``top_by_total`` or ``top_by_mean``).

    >>> frame = pd.DataFrame({"queryid": [1, 2], "query": ["SELECT a FROM t", "SELECT 2"],
    ...     "share_of_total_time": [0.7, 0.2], "mean_exec_time_ms": [145.8, 2.0],
    ...     "calls": [100, 5000]})
    >>> fig = slow_query_figure(frame)
    >>> fig.data[0].x.tolist(), list(fig.data[0].text)
    ([20.0, 70.0], ['2.0 ms × 5,000', '145.8 ms × 100'])
    """
    frame = statements.head(top).iloc[::-1]
    labels = [
        f"{queryid}: {' '.join(str(query).split())[:60]}"
        for queryid, query in zip(frame["queryid"], frame["query"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=frame["share_of_total_time"].astype("float64") * 100,
            y=labels,
            orientation="h",
            name="share of execution time",
            marker={"color": PALETTE[0]},
            text=[
                f"{mean:,.1f} ms × {int(calls):,}"
                for mean, calls in zip(frame["mean_exec_time_ms"], frame["calls"], strict=True)
            ],
            textposition="auto",
            hovertemplate="%{y}<br>%{x:.1f} % of execution time<br>%{text}<extra></extra>",
        )
    )
    house_layout(fig, title, height=_bar_height(len(frame)))
    fig.update_layout(hovermode="closest")
    return fig.update_xaxes(title_text="% of all execution time")


def database_figures(report: dict[str, Any], top: int = 15) -> dict[str, go.Figure]:
    """Every figure of the database notebook from one ``database_report``.

    >>> from dwcp_diag.analysis.database.report import database_report
    >>> sorted(database_figures(database_report({})))  # doctest: +NORMALIZE_WHITESPACE
    ['bloat', 'connections', 'hour_profile', 'slow_queries_by_mean', 'slow_queries_by_total',
     'space']
    """
    return {
        "space": space_figure(report["space_tree"], top),
        "bloat": bloat_figure(report["bloat"], top),
        "connections": connections_figure(
            report["connection_series"],
            report["max_connections"],
            report["peaks"],
            report["superuser_reserved_connections"],
        ),
        "hour_profile": hour_profile_figure(report["peaks"]),
        "slow_queries_by_total": slow_query_figure(report["top_by_total"], top),
        "slow_queries_by_mean": slow_query_figure(
            report["top_by_mean"], top, "Slow statements (by mean time): share of execution time"
        ),
    }


STATEMENT_COLUMNS_SHOWN = (
    "queryid query calls total_exec_time_ms mean_exec_time_ms share_of_total_time rows "
    "rows_per_call cache_hit_ratio"
)
SESSION_COLUMNS_SHOWN = "pid application_name usename client_addr age_s xact_age_s wait_event query"
TABLE_COLUMNS: dict[str, str] = {
    "server": "item value",
    "visibility": "feature available required needed_for detail",
    "top_by_total": STATEMENT_COLUMNS_SHOWN,
    "top_by_mean": STATEMENT_COLUMNS_SHOWN,
    "largest_tables": (
        "table total_bytes table_bytes index_bytes n_live_tup n_dead_tup seq_scan idx_scan"
    ),
    "largest_indexes": "index table size_bytes idx_scan definition",
    "bloat": "name kind method size_bytes bloat_bytes bloat_ratio method_detail unreliable_reason",
    "vacuum": (
        "table n_live_tup n_dead_tup autovacuum_vacuum_trigger_tup dead_to_trigger "
        "tuples_until_autovacuum autovacuum_enabled last_vacuum_age_s last_analyze_age_s"
    ),
    "missing_indexes": (
        "table n_live_tup seq_scan rows_per_seq_scan index_scan_share total_bytes columns"
    ),
    "unused_indexes": "index table idx_scan size_bytes unused_since definition",
    "duplicate_indexes": "index covering_index match size_bytes definition covering_definition",
    "connections_by_state": "state connections",
    "connections_by_client": "application_name client_addr usename state connections",
    "long_running": SESSION_COLUMNS_SHOWN,
    "idle_in_transaction": SESSION_COLUMNS_SHOWN,
    "peaks_daily": "date peak_at peak_connections peak_hour",
    "wraparound": "level dbname schemaname relname xid_age pct_of_freeze_max_age pct_of_wraparound",
    "sequences": (
        "schemaname sequencename data_type table_name column_name column_type last_value "
        "used_pct remaining_values"
    ),
    "cache_hit": "scope blks_hit blks_read hit_ratio",
}
"""Report key -> the columns its table shows (``peaks_daily``: ``report["peaks"].daily``)."""
CUT_TO_TOP = ("bloat", "vacuum", "wraparound", "sequences")  # the others come ranked and cut


def database_tables(report: Mapping[str, Any], top: int = 15) -> dict[str, Styler | str]:
    """Every table of the database notebook from one ``database_report``, as report tables
    (:func:`~dwcp_diag.plots.tables.report_table`) of the :data:`TABLE_COLUMNS`: the ``top``
    first rows of the :data:`CUT_TO_TOP` ones, sequences by the share of their range used,
    bloat rows without a usable figure greyed.

    >>> from dwcp_diag.analysis.database.report import database_report
    >>> tables = database_tables(database_report({}))
    >>> sorted(tables) == sorted(TABLE_COLUMNS), tables["bloat"]
    (True, '(none)')
    """
    frames = {key: report[key] for key in TABLE_COLUMNS if key in report}
    frames["peaks_daily"] = report["peaks"].daily
    frames["sequences"] = report["sequences"].sort_values("used_pct", ascending=False)
    for key in CUT_TO_TOP:
        frames[key] = frames[key].head(top)
    grey = {"bloat": ~frames["bloat"]["is_reliable"]}
    return {
        key: report_table(frame, TABLE_COLUMNS[key], grey.get(key)) for key, frame in frames.items()
    }


def connection_peaks_sentence(report: Mapping[str, Any]) -> str:
    """When connections peak daily, in markdown, or that Prometheus had no history.

    >>> from dwcp_diag.analysis.database.report import database_report
    >>> connection_peaks_sentence(database_report({}))
    'Prometheus has no pg_stat_activity_count series for this window (postgres_exporter).'
    """
    peaks = report["peaks"]
    if report["connection_series"].empty:
        return (
            "Prometheus has no pg_stat_activity_count series for this window (postgres_exporter)."
        )
    busiest = f"busiest hour {peaks.peak_hour:02d}:00 {peaks.tz}"
    return f"Connections peak daily **{peaks.window_text()}** ({busiest})."
