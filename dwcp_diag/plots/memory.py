"""Memory report figures and tables: working set against request and limit, top consumers,
leak fits; the report's tables with sizes in MiB (``*_mib`` columns).

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

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.memory import EXIT_CODE_MEANINGS, KEYS, plain_labels, resource_table
from dwcp_diag.plots import (
    PALETTE,
    TARGET_COLOUR,
    add_quantile_band,
    downsample,
    house_layout,
    timeseries,
)
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


def limit_share_figure(
    working_set: pd.DataFrame, resources: pd.DataFrame, top: int = 12, warn_pct: float = 85
) -> go.Figure:
    """Each container's working set as % of its memory limit (the ``top`` highest), with the
    runbook's 85 % line (*Problem 4: high memory*). Containers without a limit are left out.
    With more containers than ``top`` (a fleet), the p50/p90/p99 of all of them per
    timestamp are drawn under the ``top`` as a grey band: the fleet without a line each.

    >>> ws = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "value": 5e8,
    ...                    "timestamp": pd.date_range("2026-01-01", periods=2, tz="UTC")})
    >>> res = ws.iloc[:1][KEYS].assign(memory_limit_bytes=1e9)
    >>> limit_share_figure(ws, res).data[0].y.tolist()
    [50.0, 50.0]
    """
    limit = resources[[*KEYS, "memory_limit_bytes"]].dropna()
    share = plain_labels(working_set, KEYS).merge(limit, on=KEYS)
    share["value"] = 100 * share["value"] / share["memory_limit_bytes"]
    title = f"Working set as % of the memory limit (the {top} highest)"
    label = f"runbook Problem 4: {warn_pct:g} %"
    fig = timeseries(share, "pod", title, "% of limit", warn_pct, label, max_series=top)
    if share[KEYS].drop_duplicates().shape[0] > top:
        count = share[KEYS].drop_duplicates().shape[0]
        add_quantile_band(fig, share, label=f"all {count:,} containers:")
    return fig


def near_limit_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """The report's ``near_limit`` rows in MiB, with their share of the request and the limit.

    >>> near = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...     "working_set_bytes": [900 * MIB], "memory_limit_bytes": [1024 * MIB],
    ...     "share_of_limit": [0.879], "near": [True]})
    >>> res = near[KEYS].assign(memory_request_bytes=512 * MIB)
    >>> near_limit_table({"near_limit": near, "resources": res}).iloc[0, 3:8].tolist()
    [900.0, 512.0, 1024.0, 175.8, 87.9]
    """
    request = report["resources"][[*KEYS, "memory_request_bytes"]]
    near = report["near_limit"].merge(request, on=KEYS, how="left")
    table = near.assign(
        p99_working_set_mib=near["working_set_bytes"] / MIB,
        request_mib=near["memory_request_bytes"] / MIB,
        limit_mib=near["memory_limit_bytes"] / MIB,
        share_of_request_pct=100 * near["working_set_bytes"] / near["memory_request_bytes"],
        share_of_limit_pct=100 * near["share_of_limit"],
    )
    columns = ["p99_working_set_mib", "request_mib", "limit_mib", "share_of_request_pct"]
    return table[[*KEYS, *columns, "share_of_limit_pct", "near"]].round(1)


def no_limit_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """The report's containers without a memory limit: their peak and request in MiB.

    >>> missing = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...     "memory_max_bytes": [1843 * MIB], "memory_request_bytes": [float("nan")]})
    >>> no_limit_table({"no_limit": missing})["peak_mib"].tolist()
    [1843.0]
    """
    missing = report["no_limit"]
    table = missing.assign(
        peak_mib=missing["memory_max_bytes"] / MIB,
        request_mib=missing["memory_request_bytes"] / MIB,
    )
    return table[[*KEYS, "peak_mib", "request_mib"]].round(0)


def leak_table(report: Mapping[str, Any], top: int = 10) -> pd.DataFrame:
    """The first ``top`` rows of the report's leak analysis, sizes in MiB; the projection to
    the limit (``hours_to_limit``, ``limit_at``) only where the growth is a leak.

    >>> leaks = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...     "is_leak": [False], "growth_mib_per_h": [0.5], "confidence": [0.2],
    ...     "growing_h": [3.0], "level_bytes": [100 * MIB], "memory_limit_bytes": [200 * MIB],
    ...     "hours_to_limit": [200.0], "limit_at": [pd.Timestamp("2026-01-09", tz="UTC")]})
    >>> leak_table({"leaks": leaks})[["level_mib", "hours_to_limit"]].values.tolist()
    [[100.0, nan]]
    """
    leaks = report["leaks"]
    table = leaks.assign(
        limit_at=leaks["limit_at"].dt.floor("s"),
        level_mib=leaks["level_bytes"] / MIB,
        limit_mib=leaks["memory_limit_bytes"] / MIB,
    )
    columns = ["growth_mib_per_h", "confidence", "growing_h", "level_mib", "limit_mib"]
    columns += ["hours_to_limit"]
    table = table[[*KEYS, "is_leak", *columns, "limit_at"]].round(dict.fromkeys(columns, 2))
    projected = ["hours_to_limit", "limit_at"]  # a projection only means something for a leak
    table[projected] = table[projected].where(table["is_leak"])
    return table.head(top)


def worst_leak_figure(working_set: pd.DataFrame, report: Mapping[str, Any]) -> go.Figure | None:
    """:func:`leak_figure` of the leak nearest its limit (the fastest on a tie), or ``None``."""
    leaks = report["leaks"].assign(limit_at=report["leaks"]["limit_at"].dt.floor("s"))
    found = leaks[leaks["is_leak"]]
    if found.empty:
        return None
    ordered = found.sort_values(["hours_to_limit", "growth_mib_per_h"], ascending=[True, False])
    worst = ordered.iloc[0]
    where = (worst["namespace"], worst["pod"], worst["container"])
    return leak_figure(working_set, leaks, report["segments"], *where)


def restart_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Containers that restarted, were OOM-killed or crash-loop, the crash loops first.

    >>> summary = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...     "restarts": [0, 3], "restarts_scope": "window", "oom_kills": [0, 1],
    ...     "crash_loop": [False, False], "last_restart_at": None, "last_reason": None,
    ...     "last_exit_code": None, "exit_meaning": None, "state_reason": None})
    >>> restart_table({"restarts": summary})["pod"].tolist()
    ['b']
    """
    summary = report["restarts"]
    restarted = summary[
        (summary["restarts"] > 0) | (summary["oom_kills"] > 0) | summary["crash_loop"]
    ].sort_values(["crash_loop", "oom_kills", "restarts"], ascending=False)
    columns = ["restarts", "restarts_scope", "oom_kills", "last_restart_at", "last_reason"]
    columns += ["last_exit_code", "exit_meaning", "state_reason"]
    return restarted[[*KEYS, *columns]]


def exit_code_table() -> pd.DataFrame:
    """What each container exit code means (the runbook's table).

    >>> exit_code_table().loc[137, "meaning"].startswith("SIGKILL")
    True
    """
    return pd.Series(EXIT_CODE_MEANINGS, name="meaning").rename_axis("exit code").to_frame()


def crash_loop_table(inventory: pd.DataFrame) -> pd.DataFrame:
    """The Kubernetes inventory's containers in ``CrashLoopBackOff`` and how they last ended.

    >>> inv = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...     "state_reason": ["CrashLoopBackOff", None], "restart_count": [9, 0],
    ...     "last_terminated_reason": "Error", "last_exit_code": 1, "last_terminated_at": None})
    >>> crash_loop_table(inv)["pod"].tolist()
    ['a']
    """
    looping = inventory[inventory["state_reason"] == "CrashLoopBackOff"]
    columns = ["restart_count", "last_terminated_reason", "last_exit_code", "last_terminated_at"]
    return looping[[*KEYS, *columns]]
