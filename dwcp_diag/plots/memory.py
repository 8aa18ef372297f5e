"""Memory report figures: working set against request and limit, top consumers, leak fits.

SVG traces only (``go.Scatter``, ``go.Bar``) in the house style of :mod:`dwcp_diag.plots`;
sizes are drawn in MiB. Inputs are the frames of :func:`dwcp_diag.analysis.memory.memory_report`.

>>> import pandas as pd
>>> from dwcp_diag.analysis.memory import container_resources, detect_leaks, leak_segments
>>> from dwcp_diag.units import MIB
>>> t = pd.date_range("2026-01-01", periods=3 * 24 * 12, freq="5min", tz="UTC")
>>> ws = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
...                    "value": 100 * MIB + 10 * MIB * (t - t[0]) / pd.Timedelta(hours=1)})
>>> limits = ws.iloc[:1][["namespace", "pod", "container"]].assign(memory_limit_bytes=2**30)
>>> fig = leak_figure(ws, detect_leaks(ws, limits=limits), leak_segments(ws), "n", "p", "c")
>>> [trace.name for trace in fig.data]
['working set', 'fit', 'projection', 'limit reached']
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.memory import KEYS, plain_labels, resource_table
from dwcp_diag.plots import PALETTE, TARGET_COLOUR, downsample, house_layout
from dwcp_diag.units import MIB

REQUEST_COLOUR = PALETTE[2]


def _one(frame: pd.DataFrame, namespace: str, pod: str, container: str) -> pd.DataFrame:
    frame = plain_labels(frame, KEYS)
    mask = (
        (frame["namespace"] == namespace)
        & (frame["pod"] == pod)
        & (frame["container"] == container)
    )
    return frame[mask]


def _level(fig: go.Figure, value_bytes: float, label: str, colour: str) -> None:
    if pd.notna(value_bytes):
        fig.add_hline(
            y=value_bytes / MIB,
            line={"color": colour, "dash": "dash", "width": 1},
            annotation_text=f"{label} {value_bytes / MIB:,.0f} MiB",
            annotation_position="top left",
        )


def _working_set_trace(series: pd.DataFrame) -> go.Scatter:
    series = downsample(series.sort_values("timestamp"))
    return go.Scatter(
        x=series["timestamp"],
        y=series["value"] / MIB,
        mode="lines",
        name="working set",
        line={"color": PALETTE[0], "width": 1.5},
    )


def working_set_figure(
    working_set: pd.DataFrame,
    resources: pd.DataFrame | None,
    namespace: str,
    pod: str,
    container: str,
    title: str | None = None,
) -> go.Figure:
    """One container's working set over time with its memory request and limit as lines.

    ``resources``: ``container_resources(requests, limits)`` (the report's ``resources``) or
    the Kubernetes ``containers`` frame.

    >>> ws = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "value": 5e8,
    ...                    "timestamp": pd.date_range("2026-01-01", periods=3, tz="UTC")})
    >>> res = ws.iloc[:1][KEYS].assign(memory_request_bytes=4e8, memory_limit_bytes=1e9)
    >>> len(working_set_figure(ws, res, "n", "p", "c").layout.shapes)
    2
    """
    fig = go.Figure([_working_set_trace(_one(working_set, namespace, pod, container))])
    table = _one(resource_table(resources), namespace, pod, container)
    if not table.empty:
        _level(fig, table["memory_request_bytes"].iloc[0], "request", REQUEST_COLOUR)
        _level(fig, table["memory_limit_bytes"].iloc[0], "limit", TARGET_COLOUR)
    return house_layout(fig, title or f"{namespace}/{pod} {container}", "MiB")


def top_consumers_figure(
    working_set: pd.DataFrame,
    resources: pd.DataFrame | None = None,
    top: int = 15,
    quantile: float = 0.99,
    title: str | None = "Top memory consumers",
) -> go.Figure:
    """Horizontal bars of the ``top`` containers by working-set ``quantile``, with their
    request and limit as markers (a bar past its limit marker is a container near OOM).
    ``resources`` as for :func:`working_set_figure`.

    >>> ws = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...                    "timestamp": pd.Timestamp("2026-01-01", tz="UTC"), "value": [1e8, 2e8]})
    >>> fig = top_consumers_figure(ws)
    >>> list(fig.data[0].y)
    ['n/a c', 'n/b c']
    """
    usage = plain_labels(working_set, KEYS).groupby(KEYS)["value"].quantile(quantile)
    usage = usage.nlargest(top).rename("usage").reset_index()
    usage = usage.merge(resource_table(resources), on=KEYS, how="left")
    usage = usage.sort_values("usage")  # largest at the top of a horizontal bar chart
    names = usage["namespace"] + "/" + usage["pod"] + " " + usage["container"]
    fig = go.Figure(
        go.Bar(
            x=usage["usage"] / MIB,
            y=names,
            orientation="h",
            name=f"p{quantile * 100:g} working set",
            marker={"color": PALETTE[0]},
        )
    )
    for column, label, colour, symbol in (
        ("memory_request_bytes", "request", REQUEST_COLOUR, "line-ns-open"),
        ("memory_limit_bytes", "limit", TARGET_COLOUR, "line-ns-open"),
    ):
        fig.add_trace(
            go.Scatter(
                x=usage[column] / MIB,
                y=names,
                mode="markers",
                name=label,
                marker={"color": colour, "symbol": symbol, "size": 14, "line": {"width": 3}},
            )
        )
    house_layout(fig, title, height=max(300, 28 * len(usage) + 120))
    fig.update_layout(hovermode="closest")
    return fig.update_xaxes(title_text="MiB")


def leak_figure(
    working_set: pd.DataFrame,
    leaks: pd.DataFrame,
    segments: pd.DataFrame,
    namespace: str,
    pod: str,
    container: str,
    title: str | None = None,
) -> go.Figure:
    """One container's working set, the fitted growth segments and the projection from the
    last sample up to the memory limit, marked where it is reached.

    ``leaks``/``segments`` are :func:`~dwcp_diag.analysis.memory.detect_leaks` and
    :func:`~dwcp_diag.analysis.memory.leak_segments` output.
    """
    fig = go.Figure([_working_set_trace(_one(working_set, namespace, pod, container))])
    fits = _one(segments, namespace, pod, container)
    xs: list = []
    ys: list = []
    for row in fits.itertuples():
        xs += [row.start, row.end, None]
        ys += [row.start_bytes / MIB, row.end_bytes / MIB, None]
    if xs:
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name="fit",
                line={"color": PALETTE[1], "width": 2.5},
            )
        )
    leak = _one(leaks, namespace, pod, container)
    if not leak.empty:
        row = leak.iloc[0]
        _level(fig, row["memory_limit_bytes"], "limit", TARGET_COLOUR)
        if pd.notna(row["limit_at"]):
            fig.add_trace(
                go.Scatter(
                    x=[row["last_seen"], row["limit_at"]],
                    y=[row["level_bytes"] / MIB, row["memory_limit_bytes"] / MIB],
                    mode="lines",
                    name="projection",
                    line={"color": PALETTE[1], "dash": "dot", "width": 2},
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=[row["limit_at"]],
                    y=[row["memory_limit_bytes"] / MIB],
                    mode="markers+text",
                    name="limit reached",
                    text=[f"{row['limit_at']:%Y-%m-%d %H:%M} UTC"],
                    textposition="top left",
                    marker={"color": TARGET_COLOUR, "size": 10, "symbol": "x"},
                )
            )
        if title is None and pd.notna(row["growth_mib_per_h"]):
            title = (
                f"{namespace}/{pod} {container}: {row['growth_mib_per_h']:+.1f} MiB/h "
                f"(confidence {row['confidence']:.2f})"
            )
    return house_layout(fig, title or f"{namespace}/{pod} {container}", "MiB")
