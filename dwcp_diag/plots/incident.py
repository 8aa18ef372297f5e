"""The incident notebook's figures and tables: every signal on one time axis around the
incident window, then each signal on its own, what changed, the events, the timeline source.

Rows (top to bottom): request rate, error rate, p95, restarts / OOM kills, memory of the top
pods, database connections by state, Kafka consumer lag. Rollouts are dashed vertical lines
across all rows, the incident window is shaded. A row without data says so, so the layout is
the same in every report.

>>> import pandas as pd
>>> from dwcp_diag.timewindow import TimeWindow
>>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
>>> ts = pd.date_range("2026-11-12T13:30Z", periods=3, freq="30min")
>>> fig = incident_chart({"request_rate": pd.DataFrame({"timestamp": ts, "value": 1.0})}, w)
>>> len(fig.data), fig.data[0].type
(1, 'scatter')
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dwcp_diag.analysis.incident import KI001_LAG_THRESHOLD
from dwcp_diag.analysis.series import label_columns
from dwcp_diag.config import SLOTargets
from dwcp_diag.plots import TARGET_COLOUR, house_layout, timeseries
from dwcp_diag.plots.tables import Note
from dwcp_diag.timewindow import TimeWindow, parse_time
from dwcp_diag.units import GIB

if TYPE_CHECKING:
    from IPython.display import HTML

# (row title, panels drawn in it, factor to the row's unit)
ROWS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("requests/s", ("request_rate",), 1.0),
    ("5xx %", ("error_ratio",), 100.0),
    ("p95 ms", ("p95",), 1000.0),
    ("restarts / OOM", ("restarts", "oom_killed"), 1.0),
    ("memory GiB", ("memory",), 1.0 / GIB),
    ("DB connections", ("db_connections",), 1.0),
    ("Kafka lag", ("lag",), 1.0),
)
ROW_HEIGHT_PX = 150
WINDOW_FILL = "#ffcc80"
ROLLOUT_COLOUR = "#546e7a"


def _series_names(frame: pd.DataFrame) -> pd.Series | None:
    """Each row's label values joined with ``/`` (``None`` for a frame without labels)."""
    keys = label_columns(frame)
    return frame[keys].astype("str").agg("/".join, axis=1) if keys else None


def _single_label(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The frame with one ``series`` column naming each series (for one legend entry each)."""
    names = _series_names(frame)
    return frame.assign(series=prefix if names is None else prefix + " " + names)


def incident_chart(
    panels: Mapping[str, pd.DataFrame],
    window: TimeWindow,
    rollouts: pd.DataFrame | None = None,
    *,
    slo: SLOTargets | None = None,
    top_n: int = 5,
    lag_threshold: float = KI001_LAG_THRESHOLD,
    title: str = "Incident timeline",
) -> go.Figure:
    """All incident panels (``incident_report(...)["panels"]``) on one shared time axis.

    ``window`` is the incident :class:`~dwcp_diag.timewindow.TimeWindow`; ``rollouts`` a frame
    with ``timestamp`` (and ``deployment``) columns. Each row shows at most ``top_n`` series
    (largest mean first: the top pods by memory, the worst lagging groups). Target lines: the
    p95 and error-rate SLOs (``slo``) and the KI-001 lag threshold.
    """
    slo = slo or SLOTargets()
    fig = make_subplots(
        rows=len(ROWS),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.02,
        subplot_titles=[name for name, _, _ in ROWS],
    )
    targets = {
        "5xx %": slo.error_rate_pct,
        "p95 ms": slo.p95_latency_ms,
        "Kafka lag": lag_threshold,
    }
    for row, (name, keys, factor) in enumerate(ROWS, start=1):
        frames = [
            _single_label(panels[k].assign(value=panels[k]["value"] * factor), k)
            for k in keys
            if k in panels and not panels[k].empty
        ]
        if not frames:
            fig.add_annotation(
                text="no data",
                showarrow=False,
                xref="x domain",
                yref="y domain",
                x=0.5,
                y=0.5,
                row=row,
                col=1,
            )
            continue
        lines = timeseries(pd.concat(frames, ignore_index=True), color="series", max_series=top_n)
        for trace in lines.data:
            fig.add_trace(
                trace.update(legendgroup=name, legendgrouptitle_text=name), row=row, col=1
            )
        if name in targets:
            fig.add_hline(
                y=targets[name],
                line={"color": TARGET_COLOUR, "dash": "dash", "width": 1},
                row=row,
                col=1,
            )
    fig.add_vrect(
        x0=window.start,
        x1=window.end,
        fillcolor=WINDOW_FILL,
        opacity=0.25,
        line_width=0,
        layer="below",
        row="all",
        col=1,
    )
    stamps = [f["timestamp"] for f in panels.values() if not f.empty]
    shown_from = min([window.start, *(s.min() for s in stamps)])
    shown_to = max([window.end, *(s.max() for s in stamps)])
    if rollouts is not None and not rollouts.empty:
        for rollout in rollouts.to_dict("records"):
            stamp = parse_time(rollout["timestamp"])
            if not shown_from <= stamp <= shown_to:
                continue
            fig.add_vline(
                x=stamp,
                line={"color": ROLLOUT_COLOUR, "dash": "dash", "width": 1},
                row="all",
                col=1,
            )
            # plotly cannot place a vline's own annotation on a date axis: add it separately
            fig.add_annotation(
                x=stamp,
                y=1.0,
                xref="x",
                yref="paper",
                text=str(rollout.get("deployment", "rollout")),
                showarrow=False,
                textangle=-90,
                xanchor="right",
                yanchor="top",
                font={"size": 10, "color": ROLLOUT_COLOUR},
            )
    house_layout(fig, title, height=ROW_HEIGHT_PX * len(ROWS) + 80)
    fig.update_layout(legend={"orientation": "v", "x": 1.02, "y": 1.0, "yanchor": "top"})
    return fig


# --------------------------------------------------------------------------- the notebook's parts


def default_window(source: str, start: str | None, end: str | None) -> tuple[str | None, ...]:
    """``start, end`` as given; for the ``demo`` source with neither, the simulator's seeded
    incident (so ``dwcp-diag demo`` tells a story).

    >>> default_window("demo", None, None)
    ('2026-11-12T14:00:00Z', '2026-11-12T14:45:00Z')
    >>> default_window("live", None, "2026-11-12T15:00Z")
    (None, '2026-11-12T15:00Z')
    """
    if source != "demo" or start is not None or end is not None:
        return start, end
    from dwcp_diag.demo.simulator import DEMO_END, INCIDENT_DAYS_BEFORE_END, INCIDENT_LATENCY_CLOCK

    day = (DEMO_END - pd.Timedelta(days=INCIDENT_DAYS_BEFORE_END)).date()
    return tuple(f"{day}T{clock}:00Z" for clock in INCIDENT_LATENCY_CLOCK)


def heading(incident_id: str, window: TimeWindow, margin: str) -> Note:
    """The report's heading: the incident, its window and the margin shown around it.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T14:45Z")
    >>> heading("INC-<1>", w, "1h").startswith("## INC-&lt;1&gt;: 2026-11-12")
    True
    """
    return Note(f"## {html.escape(incident_id)}: {window.label()}, shown with {margin} either side")


def changed_table(zscores: pd.DataFrame, top: int = 15) -> pd.DataFrame:
    """The ``top`` series that changed most, each linking to its chart (``chart``: HTML, shown
    as is by ``report_table(..., raw_html="chart")``).

    >>> z = pd.DataFrame({"rank": [1], "series": ["p95"], "metric": ["p95"], "z": [9.0],
    ...     "z_peak": [12.0], "change_pct": [300.0], "window_median": [0.8],
    ...     "baseline_median": [0.2], "peak_at": [pd.Timestamp("2026-11-12T14:34Z")]})
    >>> changed_table(z)["chart"].tolist()
    ['<a href="#panel-p95">p95</a>']
    """
    changed = zscores.head(top)
    columns = ["rank", "series", "z", "z_peak", "change_pct", "window_median", "baseline_median"]
    links = changed["metric"].map(html.escape).map(lambda k: f'<a href="#panel-{k}">{k}</a>')
    return changed[[*columns, "peak_at"]].assign(chart=links)


def events_table(events: pd.DataFrame, top: int = 30) -> pd.DataFrame:
    """The first ``top`` Kubernetes events, warnings first, then by when first seen.

    >>> ev = pd.DataFrame({"first_seen": pd.to_datetime([2, 1], unit="s", utc=True),
    ...     "type": ["Normal", "Warning"], "reason": ["Scaled", "BackOff"], "object_kind": "Pod",
    ...     "object_name": ["a", "b"], "message": "m", "count": 1, "namespace": "n"})
    >>> events_table(ev)["reason"].tolist()
    ['BackOff', 'Scaled']
    """
    columns = ["first_seen", "type", "reason", "object_kind", "object_name", "message", "count"]
    ordered = events.sort_values(["type", "first_seen"], ascending=[False, True])
    return ordered[[*columns, "namespace"]].head(top)


def timeline_source(timeline: str) -> HTML:
    """The timeline's markdown source, folded, to copy into a postmortem.

    >>> "&lt;b&gt;" in timeline_source("- 14:05 <b>rollout</b>").data
    True
    """
    from IPython.display import HTML

    return HTML(
        f"<details><summary>markdown source</summary><pre>{html.escape(timeline)}</pre></details>"
    )


def panel_figures(panels: Mapping[str, pd.DataFrame], window: TimeWindow) -> list[Any]:
    """Each panel of the timeline as a chart of its own, in the row's unit, with the window
    shaded; each preceded by the anchor the *what changed* table links to (``#panel-NAME``).

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> ts = pd.date_range("2026-11-12T13:30Z", periods=3, freq="30min")
    >>> parts = panel_figures({"p95": pd.DataFrame({"timestamp": ts, "value": 0.2})}, w)
    >>> parts[0].data, parts[1].layout.title.text, parts[1].data[0].y.tolist()
    ('<a id="panel-p95"></a>', 'p95 (p95 ms)', [200.0, 200.0, 200.0])
    """
    from IPython.display import HTML

    units = {key: (title, factor) for title, keys, factor in ROWS for key in keys}
    parts: list[Any] = []
    for name, frame in panels.items():
        parts.append(HTML(f'<a id="panel-{html.escape(name)}"></a>'))
        if frame.empty:
            continue
        unit, factor = units.get(name, (name, 1.0))
        names = _series_names(frame)
        lines = frame.assign(value=frame["value"] * factor, series=name if names is None else names)
        title = f"{name} ({unit})"
        figure = timeseries(lines, color="series", title=title, y_title=unit, max_series=10)
        figure.add_vrect(
            x0=window.start, x1=window.end, fillcolor=WINDOW_FILL, opacity=0.25, line_width=0
        )
        parts.append(figure)
    return parts
