"""Capacity report figures: demand with forecast and limit, scheduling headroom per node group.

All traces are SVG (``go.Scatter``, ``go.Bar``) in the house style of :mod:`dwcp_diag.plots`.

>>> import numpy as np
>>> from dwcp_diag.analysis.capacity import forecast_crossing
>>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
>>> fc = forecast_crossing(pd.Series(100.0 + 10.0 * np.arange(28), index=days), limit=600)
>>> fig = forecast_figure(fc, title="request rate", y_title="rps", limit_label="KI-002")
>>> [t.name for t in fig.data]
['daily peak', 'trend', 'forecast', '80% band', '80% band', 'crossing']
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.capacity import HEADROOM_VALUE_COLUMNS, Forecast
from dwcp_diag.plots import PALETTE, TARGET_COLOUR, house_layout, timeseries

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
