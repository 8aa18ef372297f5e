"""Cost report figures: cost per namespace/team (now vs recommended), slack, per workload.

SVG traces only (``go.Bar``) in the house style of :mod:`dwcp_diag.plots`.
Inputs are the frames of :func:`dwcp_diag.analysis.cost.cost_report`; money is $/month.

>>> import pandas as pd
>>> from dwcp_diag.analysis.cost import MONEY_COLUMNS
>>> by = pd.DataFrame({"namespace": ["shop", "batch"], **{c: [2.0, 1.0] for c in MONEY_COLUMNS}})
>>> [trace.name for trace in cost_by_group_figure(by).data]
['CPU, now', 'memory, now', 'CPU, recommended', 'memory, recommended']
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.plots import PALETTE, house_layout

CPU_COLOUR, MEMORY_COLOUR = PALETTE[0], PALETTE[1]
CPU_LIGHT, MEMORY_LIGHT = "rgba(21, 101, 192, 0.45)", "rgba(239, 108, 0, 0.45)"


def _money_layout(fig: go.Figure, title: str | None, height: int = 380) -> go.Figure:
    house_layout(fig, title, height=height)
    fig.update_layout(hovermode="closest")
    return fig


def cost_by_group_figure(
    by_frame: pd.DataFrame, by: str = "namespace", top: int = 15, title: str | None = None
) -> go.Figure:
    """Per ``by`` group, two stacked bars side by side: CPU + memory cost now (requests) and
    with the recommendation. ``by_frame`` is ``cost_by(costs, by)`` (``by_namespace``,
    ``by_team`` of the report)."""
    frame = by_frame.nlargest(top, "cost_usd_per_month")
    groups = frame[by].astype("str")
    fig = go.Figure()
    for offset, label, prefix, (cpu_colour, memory_colour) in (
        ("now", "now", "cost", (CPU_COLOUR, MEMORY_COLOUR)),
        ("rec", "recommended", "recommended_cost", (CPU_LIGHT, MEMORY_LIGHT)),
    ):
        cpu = frame[f"{prefix}_cpu_usd_per_month"]
        memory = frame[f"{prefix}_memory_usd_per_month"]
        fig.add_trace(
            go.Bar(
                x=groups,
                y=cpu,
                name=f"CPU, {label}",
                offsetgroup=offset,
                marker={"color": cpu_colour},
            )
        )
        fig.add_trace(
            go.Bar(
                x=groups,
                y=memory,
                base=cpu,
                name=f"memory, {label}",
                offsetgroup=offset,
                marker={"color": memory_colour},
            )
        )
    _money_layout(fig, title or f"Cost per {by}: now vs recommended")
    fig.update_layout(barmode="group")
    return fig.update_yaxes(title_text="$/month")


def slack_figure(
    workload_costs: pd.DataFrame, top: int = 20, title: str | None = None
) -> go.Figure:
    """Horizontal stacked bars of CPU and memory slack ($/month, request minus
    recommendation) for the ``top`` workload containers with the most slack; negative bars are
    under-provisioned. ``workload_costs`` is the report's ``workload_costs``.

    >>> from dwcp_diag.analysis.cost import MONEY_COLUMNS
    >>> w = pd.DataFrame({"namespace": "n", "workload": ["a", "b"], "container": "c",
    ...                   **{c: [1.0, 5.0] for c in MONEY_COLUMNS}})
    >>> list(slack_figure(w).data[0].y)
    ['n/a (c)', 'n/b (c)']
    """
    frame = workload_costs.assign(
        total_slack=workload_costs["cpu_slack_usd_per_month"].fillna(0)
        + workload_costs["memory_slack_usd_per_month"].fillna(0)
    )
    frame = frame.loc[frame["total_slack"].abs().nlargest(top).index].sort_values("total_slack")
    names = (
        frame["namespace"].astype("str")
        + "/"
        + frame["workload"].astype("str")
        + (" (" + frame["container"].astype("str") + ")")
    )
    fig = go.Figure(
        [
            go.Bar(
                y=names,
                x=frame["cpu_slack_usd_per_month"],
                orientation="h",
                name="CPU",
                marker={"color": CPU_COLOUR},
            ),
            go.Bar(
                y=names,
                x=frame["memory_slack_usd_per_month"],
                orientation="h",
                name="memory",
                marker={"color": MEMORY_COLOUR},
            ),
        ]
    )
    _money_layout(
        fig, title or "Slack: request minus recommendation", height=max(300, 26 * len(frame) + 120)
    )
    fig.update_layout(barmode="relative")
    return fig.update_xaxes(title_text="$/month")


def cost_breakdown_figure(
    costs: pd.DataFrame, value: str = "cost_usd_per_month", top: int = 20, title: str | None = None
) -> go.Figure:
    """Horizontal bars of ``value`` ($/month) for the ``top`` workloads, one colour per
    namespace, largest at the top. ``costs`` is the report's ``workload_costs`` or
    ``container_costs`` (summed per workload).

    >>> c = pd.DataFrame({"namespace": ["a", "a", "b"], "workload": ["x", "y", "z"],
    ...                   "cost_usd_per_month": [1.0, 2.0, 4.0]})
    >>> [(t.name, list(t.y), list(t.x)) for t in cost_breakdown_figure(c).data]
    [('a', ['a/x', 'a/y'], [1.0, 2.0]), ('b', ['b/z'], [4.0])]
    """
    frame = costs.assign(
        namespace=costs["namespace"].astype("str"), workload=costs["workload"].astype("str")
    )
    leaves = frame.groupby(["namespace", "workload"], as_index=False)[value].sum()
    leaves = leaves.nlargest(top, value).sort_values(value)
    leaves["name"] = leaves["namespace"] + "/" + leaves["workload"]
    fig = go.Figure(
        [
            go.Bar(
                x=rows[value].tolist(),
                y=rows["name"].tolist(),
                orientation="h",
                name=namespace,
                hovertemplate="%{y}<br>$%{x:,.2f}/month<extra></extra>",
            )
            for namespace, rows in leaves.groupby("namespace", sort=True)
        ]
    )
    _money_layout(
        fig,
        title or "Monthly cost by workload (colour: namespace)",
        height=max(300, 26 * len(leaves) + 120),
    )
    fig.update_yaxes(categoryorder="array", categoryarray=leaves["name"].tolist())
    return fig.update_xaxes(title_text="$/month")
