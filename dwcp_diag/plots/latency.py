"""Figures and texts of the latency notebook: quantiles against the SLO, a latency heatmap, the
busiest endpoints, error rate against its target, burn rates with their firing intervals, the
error budget and the p95-versus-ratio comparison in words.

Builders take the frames of :mod:`dwcp_diag.analysis.latency` and return plotly figures in the
house style; :func:`latency_figures` builds them all from a ``latency_report``.

>>> import pandas as pd
>>> from dwcp_diag.config import SLOTargets
>>> ts = pd.to_datetime([0, 60], unit="s", utc=True)
>>> q = pd.DataFrame({"quantile": ["p95", "p95"], "timestamp": ts, "value": [0.1, 0.3]})
>>> fig = quantile_chart(q, SLOTargets())
>>> fig.data[0].y.tolist(), fig.layout.shapes[0].y0
([100.0, 300.0], 200.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.latency import (
    BurnRateEvaluation,
    ErrorBudget,
    LatencyReport,
    skipped_pairs_text,
)
from dwcp_diag.config import MetricNames, SLOTargets
from dwcp_diag.plots import TARGET_COLOUR, downsample, house_layout, timeseries
from dwcp_diag.plots.tables import Note
from dwcp_diag.timewindow import TimeWindow

SEVERITY_FILL = {"page": "#c62828", "ticket": "#ef6c00"}


def quantile_chart(
    quantiles: pd.DataFrame,
    slo: SLOTargets,
    *,
    color: str = "quantile",
    quantile: str = "p95",
    title: str | None = None,
) -> go.Figure:
    """Latency quantiles in ms with the p95 target line.

    ``color="quantile"`` draws p50/p95/p99 of one series (the overall quantiles);
    ``color="path"`` draws ``quantile`` (p95 by default) per endpoint.
    """
    frame = quantiles
    if color != "quantile" and "quantile" in frame.columns:
        frame = frame[frame["quantile"].astype("str") == quantile]
    default_title = "Latency quantiles" if color == "quantile" else f"{quantile} by {color}"
    return timeseries(
        frame.assign(value=frame["value"] * 1000.0),
        color=color if color in frame.columns else None,
        title=title or default_title,
        y_title="ms",
        hline=slo.p95_latency_ms,
        hline_label=f"p95 target {slo.p95_latency_ms:g} ms",
    )


def latency_heatmap(heatmap: pd.DataFrame, title: str = "Latency distribution") -> go.Figure:
    """Requests per latency bucket over time on a log-scaled latency axis (ms).

    ``heatmap`` is :func:`~dwcp_diag.analysis.histograms.heatmap_counts` output; other label
    columns are summed. The lowest bucket is drawn from half its bound and the ``+Inf`` bucket
    up to twice the highest finite bound (a log axis has no 0 and no infinity).
    """
    fig = go.Figure()
    if heatmap.empty:
        return house_layout(fig, title, "latency (ms)")
    counts = heatmap.groupby(["upper_s", "timestamp"])["value"].sum().unstack("timestamp")
    stamps = pd.DataFrame({"timestamp": counts.columns})
    counts = counts[downsample(stamps)["timestamp"]].fillna(0.0)
    upper_ms = counts.index.to_numpy(dtype=float) * 1000.0
    finite = upper_ms[np.isfinite(upper_ms)]
    if len(finite) == 0:
        return house_layout(fig, title, "latency (ms)")
    top = finite.max() * 2.0
    edges = np.r_[finite.min() / 2.0, np.where(np.isfinite(upper_ms), upper_ms, top)]
    fig.add_trace(
        go.Heatmap(
            x=counts.columns,
            y=edges,
            z=counts.to_numpy(),
            colorscale="Viridis",
            colorbar={"title": {"text": "requests"}},
            hovertemplate="%{x}<br>≤ %{y:.4g} ms<br>%{z:,.0f} requests<extra></extra>",
        )
    )
    fig.update_yaxes(type="log")
    return house_layout(fig, title, "latency (ms)")


def request_rate_chart(top: pd.DataFrame, by: str = "path") -> go.Figure:
    """Request rate of the busiest endpoints (``request_rate_top`` output)."""
    return timeseries(
        top,
        color=by if by in top.columns else None,
        title=f"Request rate, top {top[by].nunique() if by in top.columns else 1} by {by}",
        y_title="req/s",
    )


def error_rate_chart(ratio: pd.DataFrame, slo: SLOTargets, by: str = "path") -> go.Figure:
    """5xx share in % (``error_ratio`` output) with the error-rate target line."""
    return timeseries(
        ratio.assign(value=ratio["value"] * 100.0),
        color=by if by in ratio.columns else None,
        title="Error rate (5xx)",
        y_title="% of requests",
        hline=slo.error_rate_pct,
        hline_label=f"target {slo.error_rate_pct:g} %",
    )


def burn_rate_chart(burn: BurnRateEvaluation, log_y: bool = False) -> go.Figure:
    """Burn rate per window length, the pairs' thresholds, firing intervals shaded."""
    fig = timeseries(
        burn.burn_rates, color="window", title="Error budget burn rate", y_title="x budget"
    )
    for pair in burn.pairs.itertuples(index=False):
        fig.add_hline(
            y=pair.burn_rate_threshold,
            line={"color": SEVERITY_FILL.get(pair.severity, TARGET_COLOUR), "dash": "dot"},
            annotation_text=f"{pair.pair} {pair.severity} > {pair.burn_rate_threshold:g}x",
            annotation_position="top left",
        )
    for alert in burn.alerts.itertuples(index=False):
        fig.add_vrect(
            x0=alert.start,
            x1=alert.end,
            fillcolor=SEVERITY_FILL.get(alert.severity, TARGET_COLOUR),
            opacity=0.15,
            line_width=0,
            layer="below",
        )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def latency_figures(
    report: LatencyReport, slo: SLOTargets, by: str = "path"
) -> dict[str, go.Figure]:
    """Every figure of the latency notebook from one ``latency_report``."""
    return {
        "quantiles": quantile_chart(report["quantiles_overall"], slo),
        "p95_by_endpoint": quantile_chart(report["quantiles"], slo, color=by),
        "heatmap": latency_heatmap(report["heatmap"]),
        "request_rate": request_rate_chart(report["request_rate_top"], by=by),
        "error_rate": error_rate_chart(report["error_ratio_overall"], slo),
        "error_rate_by_endpoint": error_rate_chart(report["error_ratio"], slo, by=by),
        "burn_rate": burn_rate_chart(report["burn"]),
    }


# --------------------------------------------------------------------------- the notebook's parts


def quantile_charts(report: LatencyReport, slo: SLOTargets, by: str = "path") -> list[go.Figure]:
    """p50, p95 and p99 per endpoint (``by``), each against the p95 target."""
    return [
        quantile_chart(
            report["quantiles"], slo, color=by, quantile=q, title=f"{q} latency by endpoint"
        )
        for q in ("p50", "p95", "p99")
    ]


def no_traffic_text(window: TimeWindow, metrics: MetricNames) -> Note:
    """Why a latency report without requests shows no charts, and what to check."""
    return Note(
        f"**No requests in {window.label()}**: nothing to chart, and the SLOs cannot be "
        "evaluated. Is the service idle, the `endpoints` filter right, or the metric names "
        f"(`{metrics.http_requests}`, `{metrics.http_duration_bucket}`) different in this "
        "profile?"
    )


def error_budget_text(budget: ErrorBudget) -> Note:
    """The window's availability and how much of the error budget it spent, in a sentence.

    >>> from dwcp_diag.analysis.latency import ErrorBudget
    >>> fields = dict.fromkeys(ErrorBudget.__dataclass_fields__, 1.0)
    >>> budget = ErrorBudget(**fields | {"availability_pct": 99.978, "period_s": 2592000.0})
    >>> error_budget_text(budget).startswith("Availability **99.978 %** (target 1 %)")
    True
    """
    return Note(
        f"Availability **{budget.availability_pct:.3f} %** (target "
        f"{budget.availability_target_pct:g} %). Error budget: **{budget.spent_pct:.1f} % "
        f"spent**, {budget.remaining_requests:,.0f} of {budget.budget_requests:,.0f} failed "
        f"requests remaining in the window ({budget.period_spent_pct:.1f} % of the "
        f"{budget.period_s / 86400:g}-day budget)."
    )


def error_budget_table(budget: ErrorBudget) -> pd.DataFrame:
    """Every field of the error budget: large counts whole, small ones to 4 digits.

    >>> from dwcp_diag.analysis.latency import ErrorBudget
    >>> fields = dict.fromkeys(ErrorBudget.__dataclass_fields__, 0.0005)
    >>> table = error_budget_table(ErrorBudget(**fields | {"window_s": 604800.0}))
    >>> table.iloc[:2].values.tolist()
    [['window_s', '604,800'], ['period_s', '0.0005']]
    """
    fields = budget.as_series().map(lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}")
    return fields.rename_axis("field").reset_index(name="value")


def slo_ratio_text(compared: pd.DataFrame, slo: SLOTargets, by: str = "path") -> Note:
    """On the slowest endpoint, the interpolated p95 against the share counted under target.

    ``compared`` is the report's ``p95_vs_ratio`` rows that have a p95.
    """
    worst = compared.loc[compared["p95_s"].idxmax()]
    low, high = worst["share_below"] * 100, worst["share_above"] * 100
    share = f"{low:.2f} %" if low == high else f"between {low:.2f} % and {high:.2f} %"
    disagree = int((~compared["agree"].fillna(True)).sum())
    return Note(
        f"On **{worst[by]}**, the slowest endpoint, the interpolated p95 is "
        f"**{worst['p95_s'] * 1000:.0f} ms** ({worst['quantile_over_target_pct']:+.0f} % against "
        f"{slo.p95_latency_ms:g} ms) while **{share}** of its requests were counted under the "
        f"target (the SLO needs 95 %). The two views disagree on "
        f"{disagree} of {len(compared)} endpoint(s)."
    )


def slo_ratio_table(compared: pd.DataFrame, by: str = "path") -> pd.DataFrame:
    """The columns of the report's ``p95_vs_ratio`` rows that a report shows."""
    columns = ["p95_s", "share_under_target", "quantile_meets", "ratio_meets", "agree"]
    return compared[[by, *columns, "quantile_over_target_pct", "shortfall_pct_points"]]


def burn_rate_tables(burn: BurnRateEvaluation) -> list[Any]:
    """The burn-rate pairs (could each be evaluated?), why some could not, and every interval
    a pair fired (or a sentence saying none did)."""
    parts: list[Any] = [burn.pairs]
    if skipped := skipped_pairs_text(burn):
        parts.append(Note(skipped))
    alerts = burn.alerts
    return [*parts, alerts if len(alerts) else Note("No burn-rate pair fired in the window.")]


def worst_endpoints(p95: pd.DataFrame, by: str = "path", top: int = 10) -> pd.DataFrame:
    """The ``top`` endpoints by their worst p95 (seconds) of a tidy p95 frame, worst first.

    >>> ts = pd.to_datetime([0, 60], unit="s", utc=True)
    >>> p95 = pd.DataFrame({"path": ["/a", "/b"], "timestamp": ts, "value": [0.1, 0.3]})
    >>> worst_endpoints(p95).values.tolist()
    [['/b', 0.3], ['/a', 0.1]]
    """
    worst = p95.groupby(by, observed=True)["value"].max().nlargest(top)
    return worst.rename("worst_p95_s").reset_index()
