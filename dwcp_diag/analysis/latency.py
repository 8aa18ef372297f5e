"""Latency, errors and SLOs: the analysis behind the latency notebook (issue #5).

Quantiles come from a bucket frame exactly as PromQL's ``histogram_quantile`` computes them
(:mod:`dwcp_diag.analysis.histograms`), so one bucket query yields p50/p95/p99 and the numbers
match Grafana; series and window helpers are in :mod:`dwcp_diag.analysis.series`. Error
ratios, availability, the error budget and the Google SRE workbook's multi-window
multi-burn-rate alerts come from a request-rate frame. :func:`latency_findings` turns it all
into findings; :func:`latency_report` is the one call the notebook makes.

Inputs are the loaders' tidy Prometheus frames (a categorical column per label, ``timestamp``
UTC, ``value`` float64). The PromQL each input expects (default ``MetricNames``; a range query
at a fixed step, 60s for windows up to a week)::

    buckets   sum by (le, path) (rate(http_request_duration_seconds_bucket[5m]))
              -> path, le, timestamp, value  (req/s per cumulative bucket; le like "0.2", "+Inf")
    requests  sum by (path, status) (rate(http_requests_total[5m]))
              -> path, status, timestamp, value  (req/s; status a string like "200", "503")
    p95       histogram_quantile(0.95, sum by (le, path) (rate(...bucket[5m])))
              -> path, timestamp, value  (seconds; NaN where there was no traffic)

Rates are integrated by the step (``rate x step_s`` requests per sample); a sample at ``t``
stands for the step ending at ``t``, so a window ``[start, end]`` takes samples in
``(start, end]``. For burn-rate alerts over the whole window, query ``requests`` from
``start - 3d`` (the longest window of :data:`DEFAULT_PAIRS`).

>>> import pandas as pd
>>> ts = pd.Timestamp("2026-11-12T14:00Z")
>>> buckets = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": [ts] * 3,
...                         "value": [50.0, 95.0, 100.0]})
>>> quantiles_from_buckets(buckets, (0.95,))["value"].tolist()
[0.2]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings
from dwcp_diag.analysis.histograms import (
    compare_p95_with_ratio,
    heatmap_counts,
    quantiles_from_buckets,
)
from dwcp_diag.analysis.series import (
    DEFAULT_STEP_S,
    breach_intervals,
    contiguous_intervals,
    format_utc,
    in_window,
    infer_step_s,
    require_columns,
    series_groups,
)
from dwcp_diag.checks import check_thresholds
from dwcp_diag.config import Profile, SLOTargets
from dwcp_diag.timewindow import TimeWindow, format_duration

_MAX_EVIDENCE_INTERVALS = 10


def slowest_endpoints(quantiles: pd.DataFrame, by: str = "path") -> pd.DataFrame:
    """Endpoints ranked by typical p95: median over the window of each per-step quantile.

    ``quantiles`` is :func:`quantiles_from_buckets` output (a frame without a ``quantile``
    column is taken as p95). Columns: ``by``, one ``<pNN>_ms`` per quantile, ``worst_p95_ms``
    and ``worst_p95_at``; sorted slowest first.

    >>> ts = pd.date_range("2026-11-12T14:00Z", periods=3, freq="1min")
    >>> q = pd.DataFrame({"path": ["/a"] * 3 + ["/b"] * 3, "timestamp": list(ts) * 2,
    ...                   "value": [0.1, 0.2, 0.3, 0.05, 0.05, 0.9]})
    >>> slowest_endpoints(q)[["path", "p95_ms", "worst_p95_ms"]].values.tolist()
    [['/a', 200.0, 300.0], ['/b', 50.0, 900.0]]
    """
    frame = quantiles if "quantile" in quantiles.columns else quantiles.assign(quantile="p95")
    if frame.empty:
        return pd.DataFrame(columns=[by, "p95_ms", "worst_p95_ms", "worst_p95_at"])
    typical = (
        frame.groupby([by, "quantile"], observed=True)["value"].median().unstack("quantile") * 1000
    )
    typical.columns = [f"{c}_ms" for c in typical.columns.astype(str)]
    p95 = frame[frame["quantile"].astype("str") == "p95"].dropna(subset=["value"])
    worst = p95.loc[p95.groupby(by, observed=True)["value"].idxmax()].set_index(by)
    table = typical.assign(
        worst_p95_ms=worst["value"] * 1000, worst_p95_at=worst["timestamp"]
    ).reset_index()
    sort_by = "p95_ms" if "p95_ms" in table.columns else table.columns[1]
    return table.sort_values(sort_by, ascending=False, na_position="last", ignore_index=True)


# --------------------------------------------------------------------------- requests & errors


def is_server_error(status: pd.Series) -> np.ndarray:
    """True where an HTTP status (a string label, "503", "5xx") is a server error.

    >>> is_server_error(pd.Series(["200", "503", "5xx", None])).tolist()
    [False, True, True, False]
    """
    codes, uniques = pd.factorize(status)
    flags = np.array([str(u).startswith("5") for u in uniques] + [False], dtype=bool)
    return flags[codes]  # code -1 (a missing status) picks the trailing False


def request_counts(
    requests: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    step_s: float | None = None,
) -> pd.DataFrame:
    """Requests and 5xx errors per sample: ``rate x step_s``, summed over the labels not in ``by``.

    Returns ``by`` columns, ``timestamp``, ``requests`` and ``errors`` (counts per step).

    >>> ts = pd.to_datetime([60, 60], unit="s", utc=True)
    >>> r = pd.DataFrame({"path": "/a", "status": ["200", "500"], "timestamp": ts,
    ...                   "value": [9.0, 1.0]})
    >>> request_counts(r, step_s=60)[["requests", "errors"]].values.tolist()
    [[600.0, 60.0]]
    """
    require_columns(requests, ("status", "timestamp", "value"), "request")
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    step = infer_step_s(requests) if step_s is None else step_s
    value = requests["value"].to_numpy(dtype=float, na_value=np.nan) * step
    frame = requests[[*keys, "timestamp"]].assign(
        requests=value, errors=np.where(is_server_error(requests["status"]), value, 0.0)
    )
    grouped = frame.groupby([*keys, "timestamp"], observed=True, dropna=False, sort=True)
    return grouped[["requests", "errors"]].sum().reset_index()


def _ratio(errors: pd.Series | np.ndarray, total: pd.Series | np.ndarray) -> np.ndarray:
    errors, total = np.asarray(errors, dtype=float), np.asarray(total, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, errors / total, np.nan)


def error_ratio(requests: pd.DataFrame, by: str | Sequence[str] | None = "path") -> pd.DataFrame:
    """5xx share of all requests per step (0..1; NaN without traffic), per ``by`` or overall.

    >>> ts = pd.to_datetime([60, 60], unit="s", utc=True)
    >>> r = pd.DataFrame({"path": "/a", "status": ["200", "500"], "timestamp": ts,
    ...                   "value": [9.0, 1.0]})
    >>> error_ratio(r)["value"].tolist()
    [0.1]
    """
    counts = request_counts(requests, by=by, step_s=1.0)
    ratio = _ratio(counts["errors"], counts["requests"])
    return counts.drop(columns=["requests", "errors"]).assign(value=ratio)


def request_rate_top(requests: pd.DataFrame, n: int = 10, by: str = "path") -> pd.DataFrame:
    """Request rate (req/s, all statuses) of the ``n`` busiest ``by`` values, busiest first.

    Like ``topk(n, sum by (path) (rate(http_requests_total[5m])))`` but ranked on the mean
    over the whole frame, so the set does not change from step to step. ``by`` comes back as a
    categorical ordered by rank.

    >>> ts = pd.to_datetime([60, 60, 60], unit="s", utc=True)
    >>> r = pd.DataFrame({"path": ["/a", "/b", "/c"], "status": "200", "timestamp": ts,
    ...                   "value": [1.0, 5.0, 3.0]})
    >>> request_rate_top(r, n=2)["path"].tolist()
    ['/b', '/c']
    """
    counts = request_counts(requests, by=by, step_s=1.0)
    ranking = counts.groupby(by, observed=True)["requests"].mean().nlargest(n).index
    top = counts[counts[by].isin(ranking)].drop(columns="errors")
    top = top.rename(columns={"requests": "value"})
    top[by] = pd.Categorical(top[by].astype("str"), categories=[str(k) for k in ranking])
    return top.sort_values([by, "timestamp"], ignore_index=True)


def availability(requests: pd.DataFrame, window: TimeWindow, step_s: float | None = None) -> float:
    """``1 - 5xx share`` of all requests in the window (0..1; NaN when there were none).

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T14:02Z")
    >>> r = pd.DataFrame({"status": ["200", "500"], "timestamp": w.end, "value": [999.0, 1.0]})
    >>> availability(r, w)
    0.999
    """
    counts = request_counts(in_window(requests, window), step_s=_step(requests, step_s))
    total, errors = counts["requests"].sum(), counts["errors"].sum()
    return float(1.0 - errors / total) if total > 0 else math.nan


def _budget_fraction(slo: SLOTargets) -> float:
    # rounded so that 99.95 % gives a budget of 0.0005, not 0.0004999999999999449
    return round(1.0 - slo.availability_pct / 100.0, 12)


def _step(frame: pd.DataFrame, step_s: float | None) -> float:
    return infer_step_s(frame) if step_s is None else float(step_s)


@dataclass(frozen=True)
class ErrorBudget:
    """The availability SLO's error budget over a window, in requests and in minutes.

    The window gets the SLO's budget fraction (``1 - availability``) of its own requests:
    ``budget_requests`` total, ``spent_requests`` (5xx) and ``remaining_requests``. The
    ``period_*`` fields scale it to the SLO period (30 days) assuming the window's traffic
    rate: ``period_spent_pct`` is how much of the period's budget this window used. The
    minute fields are the time-based view (the runbook's "21.6 minutes downtime/month").
    """

    window_s: float
    period_s: float
    availability_target_pct: float
    budget_fraction: float
    requests: float
    errors: float
    availability_pct: float
    budget_requests: float
    spent_requests: float
    remaining_requests: float
    spent_pct: float
    period_budget_requests: float
    period_spent_pct: float
    budget_minutes: float
    spent_minutes: float
    period_budget_minutes: float
    burn_rate: float

    def as_series(self) -> pd.Series:
        return pd.Series(asdict(self))


def error_budget(
    requests: pd.DataFrame, slo: SLOTargets, window: TimeWindow, step_s: float | None = None
) -> ErrorBudget:
    """The error budget of ``slo.availability_pct`` over ``window`` (see :class:`ErrorBudget`).

    >>> w = TimeWindow.parse(start="2026-11-12T00:00Z", end="2026-11-12T00:01Z")
    >>> r = pd.DataFrame({"status": ["200", "500"], "timestamp": w.end, "value": [99.99, 0.01]})
    >>> b = error_budget(r, SLOTargets(), w, step_s=60)
    >>> round(b.budget_requests, 6), round(b.spent_requests, 6), round(b.spent_pct, 6)
    (3.0, 0.6, 20.0)
    """
    step = _step(requests, step_s)
    counts = request_counts(in_window(requests, window), step_s=step)
    total, errors = float(counts["requests"].sum()), float(counts["errors"].sum())
    fraction = _budget_fraction(slo)
    period_s = slo.period_days * 86400.0
    share = window.duration_s / period_s
    budget = fraction * total
    observed = errors / total if total > 0 else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        spent_pct = float(np.float64(errors) / budget * 100.0) if budget > 0 else math.nan
        period_budget = budget / share if share > 0 else math.nan
    return ErrorBudget(
        window_s=window.duration_s,
        period_s=period_s,
        availability_target_pct=slo.availability_pct,
        budget_fraction=fraction,
        requests=total,
        errors=errors,
        availability_pct=(1.0 - observed) * 100.0,
        budget_requests=budget,
        spent_requests=errors,
        remaining_requests=budget - errors,
        spent_pct=spent_pct,
        period_budget_requests=period_budget,
        period_spent_pct=errors / period_budget * 100.0 if period_budget > 0 else math.nan,
        budget_minutes=fraction * window.duration_s / 60.0,
        spent_minutes=observed * window.duration_s / 60.0,
        period_budget_minutes=fraction * period_s / 60.0,
        burn_rate=observed / fraction if fraction > 0 else math.inf,
    )


# --------------------------------------------------------------------------- burn-rate alerts


@dataclass(frozen=True)
class BurnRatePair:
    """A multi-window burn-rate alert: fires while both windows burn faster than ``burn_rate``."""

    long_window_s: float
    short_window_s: float
    burn_rate: float
    severity: str  # "page" | "ticket"

    @property
    def name(self) -> str:
        return f"{format_duration(self.long_window_s)}/{format_duration(self.short_window_s)}"


# Google SRE workbook, "Alerting on SLOs", recommended multiwindow multi-burn-rate parameters.
DEFAULT_PAIRS: tuple[BurnRatePair, ...] = (
    BurnRatePair(3600, 300, 14.4, "page"),
    BurnRatePair(6 * 3600, 1800, 6.0, "page"),
    BurnRatePair(3 * 86400, 6 * 3600, 1.0, "ticket"),
)
_ALERT_COLUMNS = [
    "pair",
    "severity",
    "burn_rate_threshold",
    "start",
    "end",
    "duration_s",
    "peak_burn_rate_long",
    "peak_at",
]


@dataclass(frozen=True)
class BurnRateEvaluation:
    """What :func:`burn_rate_alerts` found.

    ``alerts``: one row per firing interval (pair, severity, start, end, duration, peak long-
    window burn rate). ``pairs``: per pair whether it was evaluated, from when, why not, and how
    often it fired. ``burn_rates``: burn rate per window length over time (for the chart).
    """

    alerts: pd.DataFrame
    pairs: pd.DataFrame
    burn_rates: pd.DataFrame
    budget_fraction: float


def burn_rate_alerts(
    requests: pd.DataFrame,
    slo: SLOTargets,
    pairs: Sequence[BurnRatePair] = DEFAULT_PAIRS,
    *,
    window: TimeWindow | None = None,
    step_s: float | None = None,
) -> BurnRateEvaluation:
    """Multi-window, multi-burn-rate alerting on the availability SLO (Google SRE workbook).

    The error ratio over a window is ``sum(errors) / sum(requests)`` of the per-step counts
    (``rate x step``) in ``(t - window, t]``; the burn rate is that ratio over the budget
    fraction ``1 - availability``. A pair fires at ``t`` while both its long and short window
    burn faster than its threshold: (1h, 5m, 14.4) and (6h, 30m, 6) page, (3d, 6h, 1) tickets.

    A pair is evaluated only at times whose long window the data covers fully; when the data
    span is shorter than a pair's long window, the pair is skipped and ``pairs`` says why
    (query ``requests`` from ``window.start - 3d`` to evaluate every pair over the whole
    window). With ``window``, firing is reported inside it only.

    >>> ts = pd.date_range("2026-11-12T00:00Z", periods=180, freq="1min")
    >>> ok = pd.DataFrame({"status": "200", "timestamp": ts, "value": 100.0})
    >>> result = burn_rate_alerts(ok, SLOTargets())
    >>> len(result.alerts), result.pairs["status"].tolist()
    (0, ['evaluated', 'skipped', 'skipped'])
    """
    step = _step(requests, step_s)
    counts = request_counts(requests, step_s=step).set_index("timestamp").sort_index()
    fraction = _budget_fraction(slo)
    span_s = (counts.index[-1] - counts.index[0]).total_seconds() + step if len(counts) else 0.0
    burn = {}
    for length in sorted({w for p in pairs for w in (p.long_window_s, p.short_window_s)}):
        rolled = counts[["requests", "errors"]].rolling(pd.Timedelta(seconds=length)).sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            burn[length] = pd.Series(
                _ratio(rolled["errors"], rolled["requests"]) / fraction, index=counts.index
            )
    shown = np.ones(len(counts), dtype=bool)
    if window is not None:
        shown = np.asarray((counts.index > window.start) & (counts.index <= window.end))
    alerts, summary = [], []
    for pair in pairs:
        row = {"pair": pair.name, "severity": pair.severity, "burn_rate_threshold": pair.burn_rate}
        if span_s < pair.long_window_s:
            reason = (
                f"the data covers {format_duration(span_s)}, shorter than the "
                f"{format_duration(pair.long_window_s)} long window"
                if span_s
                else "there is no request data"
            )
            summary.append(
                row | {"status": "skipped", "evaluated_from": pd.NaT, "fired": 0, "reason": reason}
            )
            continue
        evaluated_from = counts.index[0] + pd.Timedelta(seconds=pair.long_window_s - step)
        covered = np.asarray(counts.index >= evaluated_from) & shown
        long_burn, short_burn = burn[pair.long_window_s], burn[pair.short_window_s]
        firing = (
            covered
            & (long_burn > pair.burn_rate).to_numpy()
            & (short_burn > pair.burn_rate).to_numpy()
        )
        runs = contiguous_intervals(counts.index, firing, step, long_burn.to_numpy())
        for run in runs.itertuples(index=False):
            alerts.append(
                row
                | {
                    "start": run.start,
                    "end": run.end,
                    "duration_s": run.duration_s,
                    "peak_burn_rate_long": run.peak,
                    "peak_at": run.peak_at,
                }
            )
        first_shown = counts.index[covered][0] if covered.any() else pd.NaT
        summary.append(
            row
            | {
                "status": "evaluated",
                "evaluated_from": first_shown,
                "fired": len(runs),
                "reason": "",
            }
        )
    burn_rates = pd.concat(
        [
            pd.DataFrame(
                {"window": format_duration(length), "timestamp": s.index[shown], "value": s[shown]}
            )
            for length, s in burn.items()
        ]
        or [pd.DataFrame({"window": [], "timestamp": [], "value": []})],
        ignore_index=True,
    )
    burn_rates["window"] = pd.Categorical(
        burn_rates["window"], categories=[format_duration(w) for w in burn]
    )
    return BurnRateEvaluation(
        alerts=pd.DataFrame(alerts, columns=_ALERT_COLUMNS),
        pairs=pd.DataFrame(
            summary,
            columns=[
                "pair",
                "severity",
                "burn_rate_threshold",
                "status",
                "evaluated_from",
                "fired",
                "reason",
            ],
        ),
        burn_rates=burn_rates,
        budget_fraction=fraction,
    )


# --------------------------------------------------------------------------- findings


def _p95_only(quantiles: pd.DataFrame) -> pd.DataFrame:
    if "quantile" not in quantiles.columns:
        return quantiles
    return quantiles[quantiles["quantile"].astype("str") == "p95"].drop(columns="quantile")


def latency_slo_findings(
    p95: pd.DataFrame,
    requests_per_endpoint: pd.Series | None,
    slo: SLOTargets,
    profile: Profile | None = None,
    endpoint: str = "path",
    step_s: float | None = None,
) -> list[Finding]:
    """``latency_slo_breach`` per endpoint whose p95 stayed over target (already windowed)."""
    check = "latency_slo_breach"
    target_s = slo.p95_latency_ms / 1000.0
    min_requests = check_thresholds(profile, check)["min_requests"]
    min_duration_s = check_thresholds(profile, check)["min_duration_s"]
    critical_s = check_thresholds(profile, check)["critical_duration_s"]
    step = _step(p95, step_s)
    runs = breach_intervals(p95[[endpoint, "timestamp", "value"]], target_s, step)
    runs = runs[runs["duration_s"] >= min_duration_s]
    found = []
    for name, mine in runs.groupby(endpoint, observed=True, sort=True):
        served = None if requests_per_endpoint is None else requests_per_endpoint.get(name, 0.0)
        if served is not None and served < min_requests:
            continue  # an idle endpoint's p95 is a handful of requests: noise, not a breach
        worst = mine.loc[mine["peak"].idxmax()]
        total_s, longest = mine["duration_s"].sum(), mine.loc[mine["duration_s"].idxmax()]
        found.append(
            Finding(
                check,
                "critical" if longest["duration_s"] >= critical_s else "warning",
                {endpoint: str(name)},
                f"{name}: p95 peaked at {worst['peak'] * 1000:.0f} ms at "
                f"{format_utc(worst['peak_at'])} (target {slo.p95_latency_ms:g} ms) and stayed "
                f"over target for {format_duration(total_s)} in {len(mine)} interval(s), longest "
                f"{format_duration(longest['duration_s'])} from {format_utc(longest['start'])}.",
                value=float(worst["peak"] * 1000),
                threshold=slo.p95_latency_ms,
                unit="ms",
                evidence={
                    "time": worst["peak_at"],
                    "start": mine["start"].min(),
                    "end": mine["end"].max(),
                    "over_target_s": float(total_s),
                    "longest_s": float(longest["duration_s"]),
                    "requests": None if served is None else float(served),
                    "intervals": _interval_records(mine, scale=1000.0, unit="peak_ms"),
                },
            )
        )
    return found


def _interval_records(runs: pd.DataFrame, scale: float = 1.0, unit: str = "peak") -> list[dict]:
    longest = runs.nlargest(_MAX_EVIDENCE_INTERVALS, "duration_s").sort_values("start")
    return [
        {"start": r.start, "end": r.end, "duration_s": r.duration_s, unit: r.peak * scale}
        for r in longest.itertuples(index=False)
    ]


def endpoint_availability(counts: pd.DataFrame, endpoint: str = "path") -> pd.DataFrame:
    """Per endpoint: requests, 5xx ``errors``, ``availability_pct`` and ``error_share_pct`` (its
    part of all failed requests), most failed requests first; from :func:`request_counts` by
    ``endpoint`` (counts per step).

    >>> c = pd.DataFrame({"path": ["/a", "/b", "/c"], "requests": [1000.0, 500.0, 10.0],
    ...                   "errors": [30.0, 10.0, 0.0]})
    >>> endpoint_availability(c)[["path", "availability_pct", "error_share_pct"]].values.tolist()
    [['/a', 97.0, 75.0], ['/b', 98.0, 25.0], ['/c', 100.0, 0.0]]
    """
    totals = counts.groupby(endpoint, observed=True)[["requests", "errors"]].sum()
    totals = totals[totals["requests"] > 0]
    all_errors = totals["errors"].sum()
    out = totals.assign(
        availability_pct=(1.0 - totals["errors"] / totals["requests"]) * 100.0,
        error_share_pct=totals["errors"] / all_errors * 100.0 if all_errors > 0 else 0.0,
    )
    out = out.sort_values(["errors", "requests"], ascending=False).reset_index()
    out[endpoint] = out[endpoint].astype("str")
    return out


def top_error_endpoints(
    counts: pd.DataFrame, endpoint: str = "path", n: int = 3
) -> list[dict[str, Any]]:
    """The ``n`` endpoints with most failed requests: ``{endpoint, errors, share_pct}`` each."""
    table = endpoint_availability(counts, endpoint)
    table = table[table["errors"] > 0].head(n)
    return [
        {
            "endpoint": r[endpoint],
            "errors": float(r["errors"]),
            "share_pct": float(r["error_share_pct"]),
        }
        for r in table.to_dict("records")
    ]


def _top_text(top: Sequence[Mapping[str, Any]] | None) -> str:
    if not top:
        return ""
    parts = ", ".join(f"{t['endpoint']} ({t['share_pct']:.0f} %)" for t in top)
    return f" Most failed requests: {parts}."


def error_rate_findings(
    counts: pd.DataFrame,
    slo: SLOTargets,
    profile: Profile | None = None,
    endpoint: str = "path",
    step_s: float = DEFAULT_STEP_S,
    top: Sequence[Mapping[str, Any]] | None = None,
) -> list[Finding]:
    """``error_rate_breach`` per endpoint and overall, from windowed :func:`request_counts`.

    The overall ("all endpoints") breach names ``top`` (:func:`top_error_endpoints`) in its
    summary and evidence (``top_endpoints``).

    A scope breaches when its 5xx share over the whole window is over target, or when the
    share stayed over target for ``min_duration_s`` (a burst a long window dilutes; the
    intervals must have served ``min_requests``). The value is the window's share, or for a
    burst the share inside its over-target intervals.
    """
    check = "error_rate_breach"
    target = slo.error_rate_pct / 100.0
    min_requests = check_thresholds(profile, check)["min_requests"]
    critical_factor = check_thresholds(profile, check)["critical_factor"]
    min_duration_s = check_thresholds(profile, check)["min_duration_s"]
    scopes = [({"scope": "all endpoints"}, counts)]
    scopes += [({endpoint: str(k)}, rows) for (k,), rows in series_groups(counts, [endpoint])]
    found = []
    for subject, rows in scopes:
        per_step = rows.groupby("timestamp", sort=True)[["requests", "errors"]].sum()
        total, errors = per_step["requests"].sum(), per_step["errors"].sum()
        if total < min_requests:
            continue
        ratio = errors / total
        step_ratio = pd.Series(_ratio(per_step["errors"], per_step["requests"]), per_step.index)
        over = contiguous_intervals(per_step.index, (step_ratio > target).to_numpy(), step_s)
        bursts = over[over["duration_s"] >= min_duration_s]
        inside = np.zeros(len(per_step), dtype=bool)
        for run in bursts.itertuples(index=False):
            inside |= np.asarray((per_step.index >= run.start) & (per_step.index < run.end))
        burst_total, burst_errors = per_step[inside].sum()
        burst = ratio <= target and burst_total >= min_requests and len(bursts) > 0
        if ratio <= target and not burst:
            continue
        value = burst_errors / burst_total if burst else ratio
        name = next(iter(subject.values()))
        worst = f"worst step {step_ratio.max() * 100:.3g} % at {format_utc(step_ratio.idxmax())}"
        summary = (
            f"{name}: {ratio * 100:.3g} % of {total:,.0f} requests failed with 5xx "
            f"(target < {slo.error_rate_pct:g} %); {worst}."
        )
        if burst:
            summary = (
                f"{name}: the 5xx share stayed over the {slo.error_rate_pct:g} % target for "
                f"{format_duration(bursts['duration_s'].sum())} from "
                f"{format_utc(bursts['start'].min())}: {value * 100:.3g} % of "
                f"{burst_total:,.0f} requests failed then ({worst}; "
                f"{ratio * 100:.3g} % over the whole window)."
            )
        overall = subject == {"scope": "all endpoints"}
        if overall and burst:  # who failed during the burst, not over the diluting window
            during = counts["timestamp"].isin(per_step.index[inside])
            top = top_error_endpoints(counts[during], endpoint) or top
        found.append(
            Finding(
                check,
                "critical" if value >= critical_factor * target else "warning",
                subject,
                summary + (_top_text(top) if overall else ""),
                value=float(value * 100),
                threshold=slo.error_rate_pct,
                unit="%",
                evidence={
                    "time": step_ratio.idxmax(),
                    "start": over["start"].min() if len(over) else None,
                    "end": over["end"].max() if len(over) else None,
                    "requests": float(total),
                    "errors": float(errors),
                    "window_pct": float(ratio * 100),
                    "peak_step_pct": float(step_ratio.max() * 100),
                    "over_target_s": float(bursts["duration_s"].sum()),
                    **({"top_endpoints": list(top)} if overall and top else {}),
                },
            )
        )
    return found


def availability_findings(
    budget: ErrorBudget,
    window: TimeWindow,
    profile: Profile | None = None,
    top: Sequence[Mapping[str, Any]] | None = None,
) -> list[Finding]:
    """``availability_breach`` when availability over the window is under the SLO; names
    ``top`` (:func:`top_error_endpoints`) in its summary and evidence."""
    check = "availability_breach"
    if budget.requests < check_thresholds(profile, check)["min_requests"]:
        return []
    if not budget.availability_pct < budget.availability_target_pct:
        return []
    return [
        Finding(
            check,
            "critical",
            {"scope": "all endpoints"},
            f"Availability was {budget.availability_pct:.3f} % over {window.label()} "
            f"(SLO {budget.availability_target_pct:g} %): {budget.spent_requests:,.0f} failed "
            f"requests spent {budget.spent_pct:.0f} % of the window's error budget "
            f"({budget.period_spent_pct:.0f} % of the {budget.period_s / 86400:g}-day budget)."
            + _top_text(top),
            value=budget.availability_pct,
            threshold=budget.availability_target_pct,
            unit="%",
            evidence={
                "start": window.start,
                "end": window.end,
                **asdict(budget),
                **({"top_endpoints": list(top)} if top else {}),
            },
        )
    ]


def skipped_pairs_text(evaluation: BurnRateEvaluation) -> str:
    """One sentence naming the burn-rate pairs the data could not evaluate ("" if none): the
    notebook says it once in its text; a short window is no finding."""
    skipped = evaluation.pairs[evaluation.pairs["status"] == "skipped"]
    if skipped.empty:
        return ""
    parts = "; ".join(f"{p.pair} ({p.severity}): {p.reason}" for p in skipped.itertuples())
    return f"Burn-rate pairs not evaluated for this window: {parts}."


def burn_rate_findings(
    evaluation: BurnRateEvaluation, top: Sequence[Mapping[str, Any]] | None = None
) -> list[Finding]:
    """``error_budget_burn``: one per pair that fired, naming ``top`` (the endpoints with most
    failed requests, :func:`top_error_endpoints`). Skipped pairs are no finding (see
    :func:`skipped_pairs_text`)."""
    found = []
    for pair in evaluation.pairs.itertuples(index=False):
        if pair.status == "skipped":
            continue
        mine = evaluation.alerts[evaluation.alerts["pair"] == pair.pair]
        if mine.empty:
            continue
        peak = mine.loc[mine["peak_burn_rate_long"].idxmax()]
        runs = mine.rename(columns={"peak_burn_rate_long": "peak"})
        found.append(
            Finding(
                "error_budget_burn",
                "critical" if pair.severity == "page" else "warning",
                {"pair": pair.pair},
                f"The {pair.pair} burn-rate alert ({pair.severity}, "
                f"> {pair.burn_rate_threshold:g}x) fired {len(mine)} time(s) for "
                f"{format_duration(mine['duration_s'].sum())} in total, first at "
                f"{format_utc(mine['start'].min())}; peak burn "
                f"{peak['peak_burn_rate_long']:.1f}x at {format_utc(peak['peak_at'])}."
                + _top_text(top),
                value=float(peak["peak_burn_rate_long"]),
                threshold=pair.burn_rate_threshold,
                unit="x budget",
                evidence={
                    "time": mine["start"].min(),
                    "start": mine["start"].min(),
                    "end": mine["end"].max(),
                    "intervals": _interval_records(runs),
                    **({"top_endpoints": list(top)} if top else {}),
                },
            )
        )
    return found


def no_traffic_finding(window: TimeWindow) -> Finding:
    """The info note a report shows instead of SLO findings when nothing was served."""
    return Finding(
        "availability_breach",
        "info",
        {"scope": "all endpoints"},
        f"No requests in {window.label()}: latency, error-rate and availability SLOs could not "
        "be evaluated (is the service idle, or are the metric names right?).",
        value=0.0,
        unit="requests",
        evidence={"start": window.start, "end": window.end, "no_traffic": True},
    )


def latency_findings(
    p95: pd.DataFrame,
    requests: pd.DataFrame,
    slo: SLOTargets,
    window: TimeWindow,
    *,
    profile: Profile | None = None,
    endpoint: str = "path",
    step_s: float | None = None,
) -> Findings:
    """All latency-notebook findings for ``window``.

    ``p95``: per-endpoint p95 in seconds (``histogram_quantile`` output, or
    :func:`quantiles_from_buckets` output whose ``p95`` rows are used). ``requests``: request
    rates by endpoint and status; may reach back before ``window.start`` (burn-rate history).
    Thresholds: ``slo`` plus ``check_thresholds(profile, CHECK)`` (:mod:`dwcp_diag.checks`);
    endpoints that served fewer than ``min_requests`` in the window raise no breach. A window
    without traffic yields one info note, never an exception.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> empty = pd.DataFrame({"path": [], "status": [], "timestamp": pd.to_datetime([], utc=True),
    ...                       "value": []})
    >>> [f.severity for f in latency_findings(empty.drop(columns="status"), empty, SLOTargets(), w)]
    ['info']
    """
    step = _step(requests, step_s) if len(requests) else _step(p95, step_s)
    counts = request_counts(in_window(requests, window), by=endpoint, step_s=step)
    windowed_p95 = in_window(_p95_only(p95), window)
    if counts["requests"].sum() <= 0 and windowed_p95["value"].notna().sum() == 0:
        return Findings([no_traffic_finding(window)])
    served = counts.groupby(endpoint, observed=True)["requests"].sum() if len(requests) else None
    budget = error_budget(requests, slo, window, step_s=step)
    top = top_error_endpoints(counts, endpoint)
    found = [
        *latency_slo_findings(windowed_p95, served, slo, profile, endpoint, step),
        *error_rate_findings(counts, slo, profile, endpoint, step, top),
        *availability_findings(budget, window, profile, top),
        *burn_rate_findings(burn_rate_alerts(requests, slo, window=window, step_s=step), top),
    ]
    return Findings(found)


# --------------------------------------------------------------------------- the notebook call


class LatencyReport(TypedDict):
    """What the latency notebook shows; see :func:`latency_report`."""

    no_traffic: bool
    quantiles: pd.DataFrame
    quantiles_overall: pd.DataFrame
    slowest: pd.DataFrame
    heatmap: pd.DataFrame
    request_rate_top: pd.DataFrame
    error_ratio: pd.DataFrame
    error_ratio_overall: pd.DataFrame
    endpoint_availability: pd.DataFrame
    availability_pct: float
    error_budget: ErrorBudget
    burn: BurnRateEvaluation
    p95_vs_ratio: pd.DataFrame
    findings: Findings


def latency_report(
    buckets: pd.DataFrame,
    requests: pd.DataFrame,
    slo: SLOTargets,
    window: TimeWindow,
    *,
    profile: Profile | None = None,
    qs: Sequence[float] = (0.5, 0.95, 0.99),
    top_n: int = 10,
    endpoint: str = "path",
    step_s: float | None = None,
) -> LatencyReport:
    """Everything the latency notebook shows, from two range queries (see the module docstring).

    ``buckets``: ``sum by (le, path) (rate(http_request_duration_seconds_bucket[5m]))`` over the
    window. ``requests``: ``sum by (path, status) (rate(http_requests_total[5m]))`` from
    ``window.start - 3d`` (for burn-rate history; the window alone also works, with long pairs
    skipped). Frames cover ``window``; the heatmap holds approximate counts per step.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> none = pd.DataFrame({"path": [], "le": [], "timestamp": pd.to_datetime([], utc=True),
    ...                      "value": []})
    >>> report = latency_report(none, none.rename(columns={"le": "status"}), SLOTargets(), w)
    >>> report["no_traffic"], [f.check for f in report["findings"]]
    (True, ['availability_breach'])
    """
    step = _step(requests if len(requests) else buckets, step_s)
    windowed_buckets = in_window(buckets, window)
    windowed_requests = in_window(requests, window)
    quantiles = quantiles_from_buckets(windowed_buckets, qs)
    overall_buckets = windowed_buckets.groupby(["le", "timestamp"], observed=True)["value"].sum()
    overall_buckets = overall_buckets.reset_index()
    findings = latency_findings(
        quantiles, requests, slo, window, profile=profile, endpoint=endpoint, step_s=step
    )
    return LatencyReport(
        no_traffic=any(f.evidence and f.evidence.get("no_traffic") for f in findings),
        quantiles=quantiles,
        quantiles_overall=quantiles_from_buckets(overall_buckets, qs),
        slowest=slowest_endpoints(quantiles, by=endpoint),
        heatmap=heatmap_counts(overall_buckets.assign(value=overall_buckets["value"] * step)),
        request_rate_top=request_rate_top(windowed_requests, n=top_n, by=endpoint),
        error_ratio=error_ratio(windowed_requests, by=endpoint),
        error_ratio_overall=error_ratio(windowed_requests, by=None),
        endpoint_availability=endpoint_availability(
            request_counts(windowed_requests, by=endpoint, step_s=step), endpoint
        ),
        availability_pct=availability(requests, window, step) * 100.0,
        error_budget=error_budget(requests, slo, window, step),
        burn=burn_rate_alerts(requests, slo, window=window, step_s=step),
        p95_vs_ratio=compare_p95_with_ratio(windowed_buckets, slo.p95_latency_ms / 1000.0),
        findings=findings,
    )
