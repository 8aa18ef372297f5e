"""Cost report figures and tables: cost per namespace/team (now vs recommended), slack, per
workload; the report's tables with memory in MiB and volumes in GiB.

SVG traces only (``go.Bar``) in the house style of :mod:`dwcp_diag.plots`.
Inputs are the frames of :func:`dwcp_diag.analysis.cost.cost_report`; money is $/month.

>>> import pandas as pd
>>> from dwcp_diag.analysis.cost import MONEY_COLUMNS
>>> by = pd.DataFrame({"namespace": ["shop", "batch"], **{c: [2.0, 1.0] for c in MONEY_COLUMNS}})
>>> [trace.name for trace in cost_by_group_figure(by).data]
['CPU, now', 'memory, now', 'CPU, recommended', 'memory, recommended']
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.cost import cost_by
from dwcp_diag.plots import PALETTE, house_layout
from dwcp_diag.units import GIB, MIB

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


# --------------------------------------------------------------------------- tables

WORKLOAD = ["namespace", "workload", "container"]
GROUP_MONEY = [
    "cost_usd_per_month",
    "recommended_cost_usd_per_month",
    "saving_usd_per_month",
    "cpu_slack_usd_per_month",
    "memory_slack_usd_per_month",
]


def summary_text(summary: Mapping[str, float]) -> str:
    """The report's monthly totals, one aligned line each.

    >>> print(summary_text({"cost_usd_per_month": 1234.5, "saving_usd_per_month": 10.0}))
                      cost: $1,234.50/month
                    saving: $10.00/month
    """
    return "\n".join(
        f"{name.removesuffix('_usd_per_month').replace('_', ' '):>22}: ${usd:,.2f}/month"
        for name, usd in summary.items()
    )


def usage_table(workload_costs: pd.DataFrame) -> pd.DataFrame:
    """Per workload container: replicas, request per replica, usage (memory in MiB), cost.

    >>> w = pd.DataFrame({"namespace": ["n"], "workload": ["w"], "container": ["c"],
    ...     "team": ["t"], "replicas": [2.0], "cpu_request_cores": [1.0],
    ...     "cpu_percentile_cores": [0.5], "cpu_mean_cores": [0.25],
    ...     "memory_request_bytes": [512 * MIB], "memory_max_bytes": [256 * MIB],
    ...     "memory_mean_bytes": [128 * MIB], "cost_usd_per_month": [12.3456]})
    >>> usage_table(w).iloc[0, -4:].tolist()
    [512.0, 256.0, 128.0, 12.346]
    """
    table = workload_costs.assign(
        memory_request_mib=workload_costs["memory_request_bytes"] / MIB,
        memory_peak_mib=workload_costs["memory_max_bytes"] / MIB,
        memory_mean_mib=workload_costs["memory_mean_bytes"] / MIB,
    )
    columns = ["team", "replicas", "cpu_request_cores", "cpu_percentile_cores", "cpu_mean_cores"]
    columns += ["memory_request_mib", "memory_peak_mib", "memory_mean_mib", "cost_usd_per_month"]
    return table[[*WORKLOAD, *columns]].round(3)


def recommendation_table(workload_costs: pd.DataFrame) -> pd.DataFrame:
    """What to request instead, per replica (memory in MiB), largest saving first.

    >>> w = pd.DataFrame({"namespace": ["n", "n"], "workload": ["a", "b"], "container": "c",
    ...     "cpu_request_cores": 1.0, "cpu_recommended_cores": 0.5,
    ...     "memory_request_bytes": 512 * MIB, "memory_recommended_bytes": 256 * MIB,
    ...     "oom_aware": False, "cpu_slack_usd_per_month": 1.0,
    ...     "memory_slack_usd_per_month": 1.0, "saving_usd_per_month": [1.0, 5.0]})
    >>> recommendation_table(w)[["workload", "memory_recommended_mib"]].values.tolist()
    [['b', 256.0], ['a', 256.0]]
    """
    rec = workload_costs.sort_values("saving_usd_per_month", ascending=False)
    rec = rec.assign(
        memory_request_mib=rec["memory_request_bytes"] / MIB,
        memory_recommended_mib=rec["memory_recommended_bytes"] / MIB,
    )
    columns = ["cpu_request_cores", "cpu_recommended_cores", "memory_request_mib"]
    columns += ["memory_recommended_mib", "oom_aware", "cpu_slack_usd_per_month"]
    columns += ["memory_slack_usd_per_month", "saving_usd_per_month"]
    return rec[[*WORKLOAD, *columns]].round(3)


def group_breakdown(container_costs: pd.DataFrame, group_by: str) -> list[go.Figure | pd.DataFrame]:
    """Per namespace, then per ``group_by`` (team, workload): the cost figure and its table.

    >>> from dwcp_diag.analysis.cost import MONEY_COLUMNS
    >>> costs = pd.DataFrame({"namespace": ["shop"], "team": ["t"],
    ...                       **{c: [2.0] for c in MONEY_COLUMNS}})
    >>> [type(part).__name__ for part in group_breakdown(costs, "team")]
    ['Figure', 'DataFrame', 'Figure', 'DataFrame']
    """
    parts: list[go.Figure | pd.DataFrame] = []
    for by in dict.fromkeys(["namespace", group_by]):
        table = cost_by(container_costs, by)
        parts += [cost_by_group_figure(table, by), table[[by, *GROUP_MONEY]].round(2)]
    return parts


def idle_table(idle: pd.DataFrame) -> pd.DataFrame:
    """The report's idle workloads: how little of their requests they use, what they cost.

    >>> idle = pd.DataFrame({"namespace": ["n"], "workload": ["w"], "container": ["c"],
    ...     "replicas": [1.0], "cpu_usage_share": [0.02], "memory_usage_share": [0.08],
    ...     "cost_usd_per_month": [117.0]})
    >>> idle_table(idle).columns.tolist()[3:5]
    ['replicas', 'cpu_usage_share']
    """
    columns = ["replicas", "cpu_usage_share", "memory_usage_share", "cost_usd_per_month"]
    return idle[[*WORKLOAD, *columns]].round(3)


def unused_volume_table(unused: pd.DataFrame) -> pd.DataFrame:
    """The report's unused PersistentVolumes, their capacity in GiB and monthly cost.

    >>> pv = pd.DataFrame({"pv": ["a"], "phase": ["Available"], "reason": ["unbound"],
    ...     "storage_class": ["gp3"], "claim_namespace": [None], "claim_name": [None],
    ...     "capacity_bytes": [50 * GIB], "monthly_cost_usd": [2.0]})
    >>> unused_volume_table(pv)["capacity_gib"].tolist()
    [50.0]
    """
    columns = ["pv", "phase", "reason", "storage_class", "claim_namespace", "claim_name"]
    table = unused.assign(capacity_gib=unused["capacity_bytes"] / GIB)
    return table[[*columns, "capacity_gib", "monthly_cost_usd"]].round(2)


def node_table(nodes: pd.DataFrame) -> pd.DataFrame:
    """Per node: allocatable, requested and used CPU, and the ``*_share`` columns as %.

    >>> nodes = pd.DataFrame({"node": ["n1"], "cpu_allocatable_cores": [4.0],
    ...     "cpu_requested_cores": [3.0], "cpu_used_cores": [1.0], "cpu_requested_share": [0.75]})
    >>> node_table(nodes)["cpu_requested_pct"].tolist()
    [75.0]
    """
    shares = [c for c in nodes.columns if c.endswith("_share")]
    cores = ["node", "cpu_allocatable_cores", "cpu_requested_cores", "cpu_used_cores"]
    percent = 100 * nodes[shares].rename(columns=lambda c: c.replace("share", "pct"))
    return nodes[cores].join(percent).round(2)
