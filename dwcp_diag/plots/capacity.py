"""Capacity report figures and tables: demand with forecast and limit, scheduling headroom per
node group, the forecasts described, the database size and connections in words.

All traces are SVG (``go.Scatter``, ``go.Bar``) in the house style of :mod:`dwcp_diag.plots`.

>>> import numpy as np
>>> from dwcp_diag.analysis.forecast import forecast_crossing
>>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
>>> fc = forecast_crossing(pd.Series(100.0 + 10.0 * np.arange(28), index=days), limit=600)
>>> fig = forecast_figure(fc, title="request rate", y_title="rps", limit_label="KI-002")
>>> [t.name for t in fig.data]
['daily peak', 'trend', 'forecast', '80% band', '80% band', 'crossing']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.capacity import HEADROOM_VALUE_COLUMNS, latest_values
from dwcp_diag.analysis.forecast import Forecast
from dwcp_diag.plots import PALETTE, TARGET_COLOUR, house_layout, timeseries
from dwcp_diag.plots.tables import Note
from dwcp_diag.units import GIB

BAND_COLOUR = "rgba(21, 101, 192, 0.15)"


def forecast_figure(
    forecast: Forecast,
    title: str | None = None,
    y_title: str | None = None,
    limit_label: str = "limit",
) -> go.Figure:
    """Observed daily peaks, the fitted trend, the forecast with its band, limit and crossing.

    The crossing (if any) is marked on the limit line with its date and weeks left; otherwise
    the figure says "not within horizon".
    """
    history, projection = forecast.history, forecast.projection
    fig = go.Figure(
        [
            go.Scatter(
                x=history.index,
                y=history.to_numpy(),
                mode="lines+markers",
                name="daily peak",
                line={"color": PALETTE[0], "width": 1.5},
                marker={"size": 4},
            ),
            go.Scatter(
                x=forecast.fitted.index,
                y=forecast.fitted.to_numpy(),
                mode="lines",
                name="trend",
                line={"color": PALETTE[1], "dash": "dot", "width": 1},
            ),
            go.Scatter(
                x=projection.index,
                y=projection["forecast"],
                mode="lines",
                name="forecast",
                line={"color": PALETTE[1], "dash": "dash", "width": 2},
            ),
            go.Scatter(
                x=projection.index,
                y=projection["upper"],
                mode="lines",
                name=f"{forecast.interval:.0%} band",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
            ),
            go.Scatter(
                x=projection.index,
                y=projection["lower"],
                mode="lines",
                name=f"{forecast.interval:.0%} band",
                line={"width": 0},
                fill="tonexty",
                fillcolor=BAND_COLOUR,
            ),
        ]
    )
    if forecast.limit is not None:
        fig.add_hline(
            y=forecast.limit,
            line={"color": TARGET_COLOUR, "dash": "dash", "width": 1},
            annotation_text=limit_label,
            annotation_position="top left",
        )
        _mark_crossing(fig, forecast)
    return house_layout(fig, title, y_title)


def _mark_crossing(fig: go.Figure, forecast: Forecast) -> None:
    if forecast.crossing is None:
        fig.add_annotation(
            x=forecast.projection.index[-1],
            y=forecast.limit,
            text=f"not within horizon ({forecast.horizon_days} days)",
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
            font={"color": TARGET_COLOUR},
        )
        return
    text = f"{forecast.crossing.date()} ({forecast.weeks_left:.1f} weeks)"
    fig.add_trace(
        go.Scatter(
            x=[forecast.crossing],
            y=[forecast.limit],
            mode="markers",
            name="crossing",
            marker={"color": TARGET_COLOUR, "size": 11, "symbol": "x"},
            hovertext=[text],
        )
    )
    fig.add_annotation(
        x=forecast.crossing,
        y=forecast.limit,
        text=text,
        showarrow=True,
        arrowhead=2,
        ay=-35,
        font={"color": TARGET_COLOUR},
    )


def demand_figure(
    daily: pd.DataFrame,
    resource: str,
    title: str | None = None,
    limit: float | None = None,
    limit_label: str = "limit",
) -> go.Figure:
    """Daily peaks of one resource of ``capacity_report(...)["daily"]``, one line per series.

    >>> d = pd.DataFrame({"resource": "request_rate", "series": "", "unit": "rps",
    ...     "timestamp": pd.date_range("2026-01-05", periods=3, tz="UTC"), "value": [1.0, 2, 3]})
    >>> fig = demand_figure(d, "request_rate", limit=12000, limit_label="KI-002")
    >>> fig.layout.yaxis.title.text, fig.data[0].type
    ('rps', 'scatter')
    """
    rows = daily[daily["resource"] == resource]
    unit = str(rows["unit"].iloc[0]) if len(rows) else None
    color = "series" if rows["series"].nunique() > 1 else None
    return timeseries(
        rows, color=color, title=title, y_title=unit, hline=limit, hline_label=limit_label
    )


def headroom_figure(
    headroom: pd.DataFrame, threshold_pct: float = 80.0, title: str | None = None
) -> go.Figure:
    """Requests and p95 usage as % of allocatable, per node group and resource.

    One bar pair (requested, used) per resource and group; the ``headroom_low`` threshold is
    the dashed line. Absolute numbers are in the hover text.

    >>> h = pd.DataFrame({"zone": ["a"], "instance_type": ["m5"], "resource": ["cpu"],
    ...     "unit": ["cores"], "nodes": [2], "allocatable": [8.0], "requested": [7.0],
    ...     "used_p95": [3.0], "requested_pct": [87.5], "used_pct": [37.5], "unrequested": [1.0]})
    >>> [(t.type, t.name, float(t.y[0])) for t in headroom_figure(h).data]
    [('bar', 'cpu requested', 87.5), ('bar', 'cpu used p95', 37.5)]
    """
    keys = [c for c in headroom.columns if c not in HEADROOM_VALUE_COLUMNS]
    fig = go.Figure()
    for index, (resource, rows) in enumerate(headroom.groupby("resource", sort=True)):
        groups = rows[keys].astype(str).agg(" / ".join, axis=1)
        for measure, column, opacity in (
            ("requested", "requested_pct", 1.0),
            ("used p95", "used_pct", 0.55),
        ):
            absolute = "requested" if measure == "requested" else "used_p95"
            fig.add_trace(
                go.Bar(
                    x=groups,
                    y=rows[column],
                    name=f"{resource} {measure}",
                    marker={"color": PALETTE[index % len(PALETTE)], "opacity": opacity},
                    customdata=rows[[absolute, "allocatable", "unit"]].to_numpy(),
                    hovertemplate="%{y:.0f} % (%{customdata[0]:,.4g} of "
                    "%{customdata[1]:,.4g} %{customdata[2]})<extra></extra>",
                )
            )
    fig.add_hline(
        y=threshold_pct,
        line={"color": TARGET_COLOUR, "dash": "dash", "width": 1},
        annotation_text=f"headroom_low {threshold_pct:.0f} %",
        annotation_position="top left",
    )
    house_layout(fig, title, "% of allocatable")
    return fig.update_layout(barmode="group", hovermode="closest")


# --------------------------------------------------------------------------- the notebook's parts

DEMAND_TITLES = {
    "namespace_cpu": "CPU used per namespace, daily p95 (cores)",
    "namespace_memory": "Working set per namespace, daily peak (bytes)",
    "pg_database_size": "Database size, daily peak (bytes)",
    "pv_usage": "PersistentVolume bytes used, daily peak",
}


def demand_figures(daily: pd.DataFrame) -> list[go.Figure]:
    """:func:`demand_figure` of each resource of :data:`DEMAND_TITLES` that has daily peaks.

    >>> d = pd.DataFrame({"resource": "pv_usage", "series": "", "unit": "bytes",
    ...     "timestamp": pd.date_range("2026-01-05", periods=3, tz="UTC"), "value": [1.0, 2, 3]})
    >>> [f.layout.title.text for f in demand_figures(d)]
    ['PersistentVolume bytes used, daily peak']
    """
    present = set(daily["resource"])
    return [
        demand_figure(daily, resource, title)
        for resource, title in DEMAND_TITLES.items()
        if resource in present
    ]


def database_size_text(server: pd.DataFrame | None, sizes: pd.DataFrame | None) -> str:
    """The database size now, from PostgreSQL itself and from postgres_exporter's last sample.

    >>> server = pd.DataFrame({"dbname": ["dwcp"], "database_size_bytes": [48 * GIB]})
    >>> database_size_text(server, None)
    'PostgreSQL itself: dwcp is 48.00 GiB'
    """
    lines = []
    if server is not None and len(server):
        now = server.iloc[0]
        lines.append(
            f"PostgreSQL itself: {now['dbname']} is {now['database_size_bytes'] / GIB:,.2f} GiB"
        )
    if sizes is not None and len(sizes):
        for row in latest_values(sizes, ["datname"]).itertuples():
            lines.append(
                f"postgres_exporter, last sample: {row.datname} is {row.value / GIB:,.2f} GiB"
            )
    return "\n".join(lines)


def connections_text(forecasts: pd.DataFrame) -> str:
    """Per PostgreSQL server: the last daily peak of client connections against max_connections.

    >>> f = pd.DataFrame({"resource": ["pg_connections"], "series": [""], "last_peak": [180.0],
    ...     "as_of": [pd.Timestamp("2026-11-15", tz="UTC")], "limit": [200.0],
    ...     "last_peak_pct_of_limit": [90.0]})
    >>> connections_text(f)
    'all servers: peak 180 connections on 2026-11-15, max_connections 200 (90.0 %)'
    """
    connections = forecasts[forecasts["resource"] == "pg_connections"]
    return "\n".join(
        f"{row.series or 'all servers'}: peak {row.last_peak:,.0f} connections on "
        f"{row.as_of:%Y-%m-%d}, max_connections {row.limit:,.0f} "
        f"({row.last_peak_pct_of_limit:.1f} %)"
        for row in connections.itertuples()
    )


def connections_figure(daily: pd.DataFrame | None, forecasts: pd.DataFrame) -> go.Figure | None:
    """Daily peaks of client connections with max_connections (KI-003), or ``None``."""
    connections = forecasts[forecasts["resource"] == "pg_connections"]
    if daily is None or connections.empty:
        return None
    limit = connections["limit"].iloc[0]
    title, label = "Client connections, daily peak", f"max_connections {limit:,.0f} (KI-003)"
    return demand_figure(daily, "pg_connections", title, limit, label)


def forecast_summary(forecasts: pd.DataFrame, models: Mapping[str, Forecast]) -> pd.DataFrame:
    """Every forecast, soonest crossing first, with its one-sentence description (or why
    there is none).

    >>> from dwcp_diag.analysis.capacity import forecast_table
    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> d = pd.DataFrame({"timestamp": days, "value": [100.0 + 10.0 * i for i in range(28)]})
    >>> table, models = forecast_table(d, "request_rate", "rps", limit=600)
    >>> forecast_summary(table, models)["forecast"].iloc[0][:29]
    'Reaches 600 rps on 2026-02-24'
    """
    described = forecasts.assign(
        forecast=[
            models[key].describe(unit) if key in models else note
            for key, unit, note in zip(
                forecasts["key"], forecasts["unit"], forecasts["note"], strict=True
            )
        ]
    )
    columns = ["key", "last_peak", "limit", "slope_per_week", "crossing", "weeks_left"]
    columns += ["crossing_earliest", "crossing_latest", "backtest_mape_pct", "backtest_bias_pct"]
    columns += ["backtest_coverage_pct", "forecast"]
    return described.sort_values("weeks_left")[columns]


def backtest_text(row: Any) -> str:
    """How well a forecast table row's backtest did, in a sentence (``""`` without one)."""
    if pd.isna(row.backtest_mape_pct):
        return ""
    return (
        f"Backtest of {row.key}: forecasting the last {row.days - row.days // 2} days from the "
        f"first {row.days // 2}, daily peaks were off by {row.backtest_mape_pct:.1f} % on "
        f"average (bias {row.backtest_bias_pct:+.1f} %); {row.backtest_coverage_pct:.0f} % "
        "of days fell inside the 80 % band."
    )


def forecast_parts(forecasts: pd.DataFrame, models: Mapping[str, Forecast]) -> list[Any]:
    """Per forecast with a limit, soonest first: its :func:`forecast_figure`, then its
    backtest sentence (a :class:`~dwcp_diag.plots.tables.Note`) when it has one.

    >>> from dwcp_diag.analysis.capacity import forecast_table
    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> d = pd.DataFrame({"timestamp": days, "value": [100.0 + 10.0 * i for i in range(28)]})
    >>> table, models = forecast_table(d, "request_rate", "rps", limit=600)
    >>> [type(part).__name__ for part in forecast_parts(table, models)]
    ['Figure', 'Note']
    """
    limited = forecasts[forecasts["limit"].notna() & forecasts["key"].isin(models)]
    parts: list[Any] = []
    for row in limited.sort_values("weeks_left").itertuples():
        parts.append(forecast_figure(models[row.key], row.key, row.unit, row.limit_label))
        if text := backtest_text(row):
            parts.append(Note(text))
    return parts


def anomaly_rows(anomalies: pd.DataFrame | None) -> pd.DataFrame:
    """The weeks flagged as growth anomalies (empty when none, or no anomaly table).

    >>> anomaly_rows(None).empty
    True
    """
    columns = ["key", "week_start", "week_end", "value", "change_pct", "baseline_change_pct"]
    if anomalies is None:
        return pd.DataFrame(columns=[*columns, "robust_z"])
    numbers = ["value", "change_pct", "baseline_change_pct", "robust_z"]
    return anomalies[anomalies["anomaly"]][[*columns, "robust_z"]].round(dict.fromkeys(numbers, 2))
