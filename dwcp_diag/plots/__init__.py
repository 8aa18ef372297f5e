"""Plotly figure builders in one house style.

Area modules (``dwcp_diag.plots.latency``, ``...memory``) build their figures with the helpers
here so every report looks the same. Figures carry at most ``MAX_POINTS_PER_TRACE`` points per
trace (reports stay small; see :func:`downsample`).

>>> import pandas as pd
>>> frame = pd.DataFrame({"path": ["/a", "/a"], "timestamp": pd.to_datetime([0, 60], unit="s",
...                       utc=True), "value": [0.1, 0.2]})
>>> fig = timeseries(frame, color="path", title="p95", y_title="seconds", hline=0.2)
>>> len(fig.data), fig.layout.title.text
(1, 'p95')
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.units import axis_format

MAX_POINTS_PER_TRACE = 1500
PALETTE = [
    "#1565c0",
    "#ef6c00",
    "#2e7d32",
    "#c62828",
    "#6a1b9a",
    "#00838f",
    "#ad1457",
    "#4e342e",
    "#546e7a",
    "#9e9d24",
]
TARGET_COLOUR = "#c62828"


def house_layout(
    fig: go.Figure, title: str | None = None, y_title: str | None = None, height: int = 380
) -> go.Figure:
    """Apply the house style: white template, compact margins, UTC time axis; the legend at
    the right of the plot (never over the title), axes that grow their margins so the last
    tick label is not clipped, and tick labels in the unit of ``y_title``
    (:func:`dwcp_diag.units.axis_format`: no exponents, bytes in SI)."""
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01, "font": {"size": 15}} if title else None,
        height=height,
        margin={"l": 60, "r": 40, "t": 50 if title else 20, "b": 40},
        legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"},
        colorway=PALETTE,
        hovermode="x unified",
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True, **axis_format(y_title))
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig


def downsample(
    frame: pd.DataFrame, max_points: int = MAX_POINTS_PER_TRACE, time_column: str = "timestamp"
) -> pd.DataFrame:
    """Every k-th row, at most ``max_points`` (a plotting aid, never for analysis). A fixed
    stride keeps an evenly stepped series evenly stepped, which the report stores as a start
    and a step instead of every timestamp (:func:`dwcp_diag.report.figures.compact_figure`).

    >>> frame = pd.DataFrame({"timestamp": pd.date_range("2026-01-01", periods=10, freq="min"),
    ...                       "value": range(10)})
    >>> downsample(frame, max_points=4)["value"].tolist()
    [0, 3, 6, 9]
    """
    if len(frame) <= max_points:
        return frame
    stride = -(-len(frame) // max_points)
    return frame.sort_values(time_column).iloc[::stride]


def timeseries(
    frame: pd.DataFrame,
    color: str | None = "auto",
    title: str | None = None,
    y_title: str | None = None,
    hline: float | None = None,
    hline_label: str = "target",
    value_column: str = "value",
    max_series: int = 12,
) -> go.Figure:
    """One line per series of a tidy frame (``timestamp``, ``value`` and label columns).

    ``color`` names the label that tells series apart; ``"auto"`` (the default) joins every
    label column that varies (``/api/v1/tasks/500``), ``None`` draws one line. The
    ``max_series`` largest (by mean) are drawn. ``hline`` draws a target line (an SLO, a
    limit).

    >>> frame = pd.DataFrame({"path": ["/a", "/b"], "status": ["200", "200"],
    ...                       "timestamp": pd.to_datetime([0, 0], unit="s", utc=True),
    ...                       "value": [1.0, 2.0]})
    >>> [trace.name for trace in timeseries(frame, title="req/s", hline=1.5).data]
    ['/a', '/b']
    """
    if color == "auto":
        frame, color = _with_series_label(frame, value_column)
    fig = go.Figure()
    groups = [(None, frame)] if color is None else list(frame.groupby(color, observed=True))
    if color is not None and len(groups) > max_series:
        means = frame.groupby(color, observed=True)[value_column].mean().nlargest(max_series)
        groups = [(k, g) for k, g in groups if k in set(means.index)]
    for name, group in groups:
        group = downsample(group.sort_values("timestamp"))
        fig.add_trace(
            go.Scatter(
                x=group["timestamp"],
                y=group[value_column],
                mode="lines",
                name=str(name) if name is not None else value_column,
            )
        )
    if hline is not None:
        fig.add_hline(
            y=hline,
            line={"color": TARGET_COLOUR, "dash": "dash", "width": 1},
            annotation_text=hline_label,
            annotation_position="top left",
        )
    return house_layout(fig, title, y_title)


BAND_QUANTILES = (0.5, 0.9, 0.99)
BAND_COLOUR = "#9e9e9e"
BAND_MAX_POINTS = 300


def add_quantile_band(
    fig: go.Figure,
    frame: pd.DataFrame,
    value_column: str = "value",
    quantiles: tuple[float, ...] = BAND_QUANTILES,
    label: str = "all",
) -> go.Figure:
    """Add, under ``fig``'s lines, the per-timestamp ``quantiles`` of every series of
    ``frame`` (a tidy frame): one grey line each, the space from the lowest to the highest
    shaded. What a fleet looks like when only its top series are drawn.

    >>> frame = pd.DataFrame({"timestamp": pd.to_datetime([0, 0, 0, 60, 60, 60], unit="s"),
    ...                       "value": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]})
    >>> band = add_quantile_band(go.Figure(), frame, quantiles=(0.5, 0.99))
    >>> [(t.name, [round(float(y), 2) for y in t.y]) for t in band.data]
    [('all p50', [2.0, 2.0]), ('all p99', [2.98, 2.98])]
    """
    by_time = frame.groupby("timestamp")[value_column].quantile(list(quantiles)).unstack()
    # a summary needs less resolution than a series: fewer, rounded points keep reports small
    by_time = downsample(by_time.reset_index(), max_points=BAND_MAX_POINTS)
    by_time[list(quantiles)] = by_time[list(quantiles)].round(2)
    band = []
    for n, quantile in enumerate(quantiles):
        band.append(
            go.Scatter(
                x=by_time["timestamp"],
                y=by_time[quantile],
                mode="lines",
                name=f"{label} p{quantile * 100:g}",
                line={"color": BAND_COLOUR, "width": 1, "dash": "dot" if n else "solid"},
                fill="tonexty" if n else None,  # shaded from the lowest up to the highest
                fillcolor="rgba(158, 158, 158, 0.15)",
                legendgroup="band",
            )
        )
    fig.add_traces(band)
    fig.data = (*fig.data[-len(band) :], *fig.data[: -len(band)])  # under the named series
    return fig


def _with_series_label(frame: pd.DataFrame, value_column: str) -> tuple[pd.DataFrame, str | None]:
    """The frame with one ``series`` column naming each series by its varying labels."""
    labels = [c for c in frame.columns if c not in ("timestamp", value_column, "__name__")]
    varying = [c for c in labels if frame[c].nunique(dropna=False) > 1]
    if not varying:
        return frame, None
    if len(varying) == 1:
        return frame, varying[0]
    names = frame[varying].astype("str").agg("/".join, axis=1)
    return frame.assign(series=names), "series"
