"""Capacity: demand trends, scheduling headroom, forecasts of when each resource runs out.

Everything here is a pure function of frames (no I/O). The weekly capacity report
(``notebooks/capacity.ipynb``) calls :func:`capacity_report` once; the pieces are public for
ad-hoc use in JupyterLab.

Demand is measured as **daily peaks** (:func:`daily_peaks`): the p95 (or max) of each UTC day's
samples. For a request rate sampled every 1-5 minutes the daily p95 is the level exceeded for
about 72 minutes a day, i.e. the peak hour, which is what KI-002 (Redis times out above
12k RPS) and KI-003 (connection pool exhausted 5-7 pm) are about.

Forecasts (:mod:`dwcp_diag.analysis.forecast`: ``forecast_crossing``, ``backtest``,
``growth_anomalies``) run on every daily-peak series (:func:`forecast_table`,
:func:`anomaly_table`); this module turns them into tables and findings.

Thresholds: ``check_thresholds(profile, CHECK)`` (:mod:`dwcp_diag.checks` holds every
default with its unit, meaning and source; a profile's ``[thresholds.CHECK]`` tables override
them, and an unknown key is an error).

>>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
>>> fc = forecast_crossing(pd.Series(100.0 + 10.0 * np.arange(28), index=days), limit=600)
>>> str(fc.crossing.date()), fc.weeks_left, round(fc.slope_per_week)
('2026-02-24', 3.3, 70)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings
from dwcp_diag.analysis.forecast import (
    ANOMALY_COLUMNS,
    DAY,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_INTERVAL,
    MIN_HISTORY_DAYS,
    Forecast,
    backtest,
    day_text,
    forecast_crossing,
    growth_anomalies,
    is_growth_anomaly,
    utc_timestamps,
)
from dwcp_diag.checks import check_thresholds
from dwcp_diag.config import Profile
from dwcp_diag.frames import as_category
from dwcp_diag.units import human_value

_IGNORED_LABELS = frozenset({"__name__"})
_ANOMALY = check_thresholds(None, "growth_anomaly")  # the defaults of anomaly_table

# Confidence of a capacity_exhaustion finding, from the backtest and the interval's width.
HIGH_CONFIDENCE_MAPE_PCT = 5.0
LOW_CONFIDENCE_MAPE_PCT = 20.0
HIGH_CONFIDENCE_SPREAD_DAYS = 14

NODE_COLUMNS = (
    "node",
    "zone",
    "instance_type",
    "capacity_type",
    "allocatable_cpu_cores",
    "allocatable_memory_bytes",
)
CONTAINER_COLUMNS = (
    "namespace",
    "pod",
    "container",
    "node",
    "cpu_request_cores",
    "memory_request_bytes",
)
FORECAST_COLUMNS = (
    "key",
    "resource",
    "series",
    "labels",
    "unit",
    "days",
    "as_of",
    "last_peak",
    "limit",
    "limit_label",
    "last_peak_pct_of_limit",
    "slope_per_week",
    "crossing",
    "weeks_left",
    "crossing_earliest",
    "crossing_latest",
    "backtest_mape_pct",
    "backtest_bias_pct",
    "backtest_coverage_pct",
    "backtest_crossing_error_days",
    "method",
    "note",
)
HEADROOM_VALUE_COLUMNS = (
    "resource",
    "unit",
    "nodes",
    "allocatable",
    "requested",
    "used_p95",
    "requested_pct",
    "used_pct",
    "unrequested",
)
# resource name -> (node column, container column, unit)
_NODE_RESOURCES = {
    "cpu": ("allocatable_cpu_cores", "cpu_request_cores", "cores"),
    "memory": ("allocatable_memory_bytes", "memory_request_bytes", "bytes"),
}
# The Kubernetes loader's nodes frame names allocatable "cpu_allocatable_cores" and
# "memory_allocatable_bytes" (kube_rows.NODE_SCHEMA); NODE_COLUMNS calls them the other way round.
_LOADER_NODE_NAMES = {
    "cpu_allocatable_cores": "allocatable_cpu_cores",
    "memory_allocatable_bytes": "allocatable_memory_bytes",
}
# kube_node_labels label names, most common first (KSM sanitises '.', '/' and '-' to '_')
_ZONE_LABELS = ("label_topology_kubernetes_io_zone", "label_failure_domain_beta_kubernetes_io_zone")
_INSTANCE_TYPE_LABELS = (
    "label_node_kubernetes_io_instance_type",
    "label_beta_kubernetes_io_instance_type",
)
_CAPACITY_TYPE_LABELS = (
    "label_karpenter_sh_capacity_type",
    "label_eks_amazonaws_com_capacity_type",
    "label_eks_amazonaws_com_capacityType",
    "label_cloud_google_com_gke_spot",
)

# What capacity_report accepts: frame name -> what it holds (PromQL: promql.capacity_queries()).
EXPECTED_FRAMES: dict[str, str] = {
    "request_rate": "total request rate, step <= 5m",
    "cpu_usage": "CPU cores used per namespace",
    "memory_usage": "working set bytes per namespace",
    "node_cpu_usage": "CPU cores used per node (headroom 'used')",
    "node_memory_usage": "working set bytes per node (headroom 'used')",
    "node_allocatable": "allocatable per node, when the Kubernetes API is not available",
    "node_labels": "zone / instance type per node (kube_node_labels, KSM label allowlist)",
    "resource_requests": "requests per container, when the Kubernetes API is not available",
    "pg_database_size": "database size history",
    "table_sizes": "table size history (any exporter; one label names the table)",
    "pg_connections": "connections per server (KI-003)",
    "pg_max_connections": "max_connections per server",
    "volume_used": "PV bytes used per claim",
    "volume_capacity": "PV capacity per claim",
    "nodes": f"Kubernetes loader nodes frame ({', '.join(NODE_COLUMNS)})",
    "containers": f"Kubernetes loader containers frame ({', '.join(CONTAINER_COLUMNS)})",
}
# --------------------------------------------------------------------------- daily peaks


def daily_peaks(
    frame: pd.DataFrame,
    quantile: float | Literal["max"] = 0.95,
    by: Sequence[str] | None = None,
    min_coverage: float = 0.8,
) -> pd.DataFrame:
    """Per UTC day, the ``quantile`` (or ``"max"``) of a tidy Prometheus frame's samples.

    ``by=None`` keeps every label (one peak per series); ``by=["namespace"]`` first sums the
    series within each namespace at every timestamp, ``by=[]`` sums everything (the total), and
    then takes the daily peak of that sum (the peak of a sum, not a sum of peaks). Days with
    fewer than ``min_coverage`` of the expected samples (from the median sampling step) are
    dropped, so a half-scraped first day or today's partial day do not drag the trend down.
    Non-finite values are ignored. Returns ``[*by, timestamp (day start, UTC), value]``.

    >>> ts = pd.date_range("2026-01-05", periods=48, freq="h", tz="UTC")
    >>> f = pd.DataFrame({"path": ["/a"] * 48, "timestamp": ts, "value": np.arange(48.0)})
    >>> daily_peaks(f, "max")[["timestamp", "value"]].to_numpy().tolist()[1][1]
    47.0
    """
    labels = _label_columns(frame) if by is None else list(by)
    missing = [c for c in labels if c not in frame.columns]
    if missing:
        raise ValueError(f"daily_peaks: frame has no label column(s) {missing}")
    if quantile != "max" and not 0.0 <= float(quantile) <= 1.0:
        raise ValueError(f"daily_peaks: quantile must be in [0, 1] or 'max', got {quantile!r}")
    values = frame["value"].to_numpy(dtype=float)
    finite = np.isfinite(values)
    data = frame.loc[finite, [*labels, "timestamp"]].reset_index(drop=True)
    data = data.assign(value=values[finite], timestamp=utc_timestamps(data["timestamp"]))
    summed = data.groupby([*labels, "timestamp"], observed=True)["value"].sum().reset_index()
    summed["day"] = summed["timestamp"].dt.floor("D")
    grouped = summed.groupby([*labels, "day"], observed=True)["value"]
    peaks = grouped.max() if quantile == "max" else grouped.quantile(float(quantile))
    step_s = _median_step_s(summed["timestamp"])
    if step_s:
        expected = 86400.0 / step_s
        peaks = peaks[grouped.size() >= min_coverage * expected]
    out = peaks.reset_index().rename(columns={"day": "timestamp"})
    for column in labels:
        out[column] = as_category(out[column])
    out["timestamp"] = utc_timestamps(out["timestamp"])
    return out[[*labels, "timestamp", "value"]].astype({"value": "float64"})


def latest_values(frame: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """The last sample of each series still reporting at the frame's end: ``[*by, value]``.

    Series missing from the last sampling step (deleted pods, removed volumes; more than half
    a step older than the newest sample) are left out. ``by`` defaults to every label.

    >>> ts = pd.to_datetime([0, 60, 120, 0], unit="s", utc=True)  # "b" stopped reporting
    >>> f = pd.DataFrame({"pvc": ["a", "a", "a", "b"], "timestamp": ts, "value": [1.0, 2, 3, 9]})
    >>> latest_values(f).to_dict("records")
    [{'pvc': 'a', 'value': 3.0}]
    """
    labels = _label_columns(frame) if by is None else list(by)
    if frame.empty:
        return pd.DataFrame({**{c: pd.Series([], dtype="str") for c in labels}, "value": []})
    data = frame.reset_index(drop=True)
    data = data.assign(timestamp=utc_timestamps(data["timestamp"])).sort_values("timestamp")
    last = data.groupby(labels, observed=True).tail(1) if labels else data.tail(1)
    tolerance = pd.Timedelta(seconds=0.5 * (_median_step_s(data["timestamp"]) or 0.0))
    last = last[last["timestamp"] >= data["timestamp"].max() - tolerance]
    out = last[[*labels, "value"]].reset_index(drop=True)
    return out.astype({c: "str" for c in labels} | {"value": "float64"})


# --------------------------------------------------------------------------- headroom


def headroom(
    nodes: pd.DataFrame,
    containers: pd.DataFrame,
    cpu_usage: pd.DataFrame | None = None,
    memory_usage: pd.DataFrame | None = None,
    by: Sequence[str] = ("zone", "instance_type"),
    usage_quantile: float = 0.95,
) -> pd.DataFrame:
    """Scheduling headroom per node group: allocatable vs sum of requests vs usage.

    ``nodes`` and ``containers`` are the Kubernetes loader frames (``NODE_COLUMNS``,
    ``CONTAINER_COLUMNS``; or :func:`nodes_from_prometheus` / :func:`containers_from_prometheus`).
    Containers whose node is not in ``nodes`` (pending pods) are not counted. Usage frames are
    tidy Prometheus frames (CPU in cores, i.e. ``rate()`` applied; memory in bytes) labelled
    by ``node``, or by ``namespace``/``pod`` (``container``) which are placed through
    ``containers``; usage is summed per group at each timestamp and ``used_p95`` is the
    ``usage_quantile`` of that sum over time. ``by=()`` gives one cluster-wide row per resource.
    Returns ``[*by, *HEADROOM_VALUE_COLUMNS]``, one row per group and resource (``cpu``,
    ``memory``); ``unrequested`` is allocatable minus requested.

    >>> nodes = pd.DataFrame({"node": ["n1", "n2"], "zone": ["a", "b"],
    ...     "instance_type": ["m5", "m5"], "capacity_type": ["on-demand"] * 2,
    ...     "allocatable_cpu_cores": [4.0, 4.0], "allocatable_memory_bytes": [8e9, 8e9]})
    >>> pods = pd.DataFrame({"namespace": ["x"], "pod": ["p"], "container": ["c"],
    ...     "node": ["n1"], "cpu_request_cores": [3.0], "memory_request_bytes": [2e9]})
    >>> headroom(nodes, pods, by=()).set_index("resource")["requested_pct"].tolist()
    [37.5, 12.5]
    """
    keys = list(by) or ["cluster"]
    nodes = _node_names(nodes)
    node_frame = _strings(nodes.assign(cluster="all") if not by else nodes, ["node", *keys])
    placed = _strings(containers, ["namespace", "pod", "container", "node"]).merge(
        node_frame[["node", *keys]], on="node", how="inner"
    )
    rows = []
    for resource, usage in (("cpu", cpu_usage), ("memory", memory_usage)):
        node_column, request_column, unit = _NODE_RESOURCES[resource]
        table = node_frame.groupby(keys).agg(
            nodes=("node", "nunique"), allocatable=(node_column, "sum")
        )
        table["requested"] = placed.groupby(keys)[request_column].sum()
        table["used_p95"] = _group_usage(usage, placed, node_frame, keys, usage_quantile)
        rows.append(table.reset_index().assign(resource=resource, unit=unit))
    out = pd.concat(rows, ignore_index=True)
    out["requested"] = out["requested"].fillna(0.0)
    out["requested_pct"] = out["requested"] / out["allocatable"] * 100.0
    out["used_pct"] = out["used_p95"] / out["allocatable"] * 100.0
    out["unrequested"] = out["allocatable"] - out["requested"]
    return out[[*keys, *HEADROOM_VALUE_COLUMNS]].astype(
        {"nodes": "int64", "allocatable": "float64", "used_p95": "float64"}
    )


def nodes_from_prometheus(
    allocatable: pd.DataFrame, node_labels: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A ``NODE_COLUMNS`` frame from ``kube_node_status_allocatable{node,resource,unit}``.

    Zone, instance type and capacity type come from ``kube_node_labels`` when kube-state-metrics
    exports them (``--metric-labels-allowlist=nodes=[topology.kubernetes.io/zone,...]``);
    otherwise they are ``"unknown"``.

    >>> a = pd.DataFrame({"node": ["n1", "n1"], "resource": ["cpu", "memory"],
    ...     "unit": ["core", "byte"], "timestamp": pd.Timestamp(0, tz="UTC"), "value": [4.0, 8e9]})
    >>> nodes_from_prometheus(a)[["node", "zone", "allocatable_cpu_cores"]].values.tolist()
    [['n1', 'unknown', 4.0]]
    """
    wide = _pivot_resources(latest_values(allocatable, ["node", "resource"]), ["node"])
    wide = wide.rename(
        columns={"cpu": "allocatable_cpu_cores", "memory": "allocatable_memory_bytes"}
    )
    labels = latest_values(node_labels) if node_labels is not None else pd.DataFrame()
    if not labels.empty:
        picked = pd.DataFrame({"node": labels["node"]})
        for column, candidates in (
            ("zone", _ZONE_LABELS),
            ("instance_type", _INSTANCE_TYPE_LABELS),
            ("capacity_type", _CAPACITY_TYPE_LABELS),
        ):
            present = [c for c in candidates if c in labels.columns]
            picked[column] = labels[present].bfill(axis=1).iloc[:, 0] if present else None
        wide = wide.merge(picked.drop_duplicates("node"), on="node", how="left")
    return _strings(wide, ["node", "zone", "instance_type", "capacity_type"])[list(NODE_COLUMNS)]


def containers_from_prometheus(requests: pd.DataFrame) -> pd.DataFrame:
    """A ``CONTAINER_COLUMNS`` frame from ``kube_pod_container_resource_requests``.

    >>> r = pd.DataFrame({"namespace": ["x"], "pod": ["p"], "container": ["c"], "node": ["n1"],
    ...     "resource": ["cpu"], "unit": ["core"], "timestamp": pd.Timestamp(0, tz="UTC"),
    ...     "value": [0.5]})
    >>> containers_from_prometheus(r)[["cpu_request_cores", "memory_request_bytes"]].values
    array([[0.5, 0. ]])
    """
    keys = ["namespace", "pod", "container", "node"]
    wide = _pivot_resources(latest_values(requests, [*keys, "resource"]), keys)
    wide = wide.rename(columns={"cpu": "cpu_request_cores", "memory": "memory_request_bytes"})
    return wide[list(CONTAINER_COLUMNS)]


# --------------------------------------------------------------------------- per-series tables


def forecast_table(
    daily: pd.DataFrame,
    resource: str,
    unit: str,
    limit: float | pd.DataFrame | None = None,
    limit_label: str = "limit",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    interval: float = DEFAULT_INTERVAL,
    top_n: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Forecast]]:
    """Forecast and backtest every series of a :func:`daily_peaks` frame.

    ``limit`` is one number for all series, a :func:`latest_values` frame matched on the label
    columns both frames have (``value`` is the limit), or ``None`` (trend only). ``top_n`` keeps
    the series with the largest last peak. Returns the table (``FORECAST_COLUMNS``; series with
    too little history get a ``note`` instead of a forecast) and the :class:`Forecast` of each
    row by ``key`` (``resource{label=value,...}``) for plotting.

    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> d = pd.DataFrame({"timestamp": days, "value": 100.0 + 10.0 * np.arange(28)})
    >>> table, models = forecast_table(d, "request_rate", "rps", limit=600)
    >>> table.loc[0, "key"], float(table.loc[0, "weeks_left"])
    ('request_rate', 3.3)
    """
    rows, models = [], {}
    series_list = list(_series_of(daily))
    if top_n is not None:
        series_list = sorted(series_list, key=lambda item: -item[1].iloc[-1])[:top_n]
    for labels, series in series_list:
        key = _series_key(resource, labels)
        row_limit = _limit_for(limit, labels)
        row = {
            "key": key,
            "resource": resource,
            "series": _label_text(labels),
            "labels": labels,
            "unit": unit,
            "days": len(series),
            "as_of": series.index[-1],
            "last_peak": float(series.iloc[-1]),
            "limit": row_limit,
            "limit_label": limit_label,
            "note": "",
        }
        if len(series) < MIN_HISTORY_DAYS:
            rows.append({**row, "note": f"{len(series)} day(s) of history, too few to forecast"})
            continue
        fc = forecast_crossing(series, row_limit, horizon_days, interval)
        models[key] = fc
        row |= {
            "slope_per_week": fc.slope_per_week,
            "crossing": fc.crossing,
            "weeks_left": fc.weeks_left,
            "crossing_earliest": fc.crossing_earliest,
            "crossing_latest": fc.crossing_latest,
            "method": fc.method,
        }
        if len(series) >= 2 * MIN_HISTORY_DAYS:
            bt = backtest(series, row_limit, interval)
            row |= {
                "backtest_mape_pct": bt.mape_pct,
                "backtest_bias_pct": bt.bias_pct,
                "backtest_coverage_pct": bt.coverage_pct,
                "backtest_crossing_error_days": bt.crossing_error_days,
            }
        else:
            row["note"] = "too little history to backtest"
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))
    table["last_peak_pct_of_limit"] = table["last_peak"] / table["limit"] * 100.0
    return _typed_forecast_table(table), models


def anomaly_table(
    daily: pd.DataFrame,
    resource: str,
    unit: str,
    z_threshold: float = _ANOMALY["robust_z"],
    min_change_pct: float = _ANOMALY["min_change_pct"],
) -> pd.DataFrame:
    """:func:`growth_anomalies` of every series of a :func:`daily_peaks` frame, stacked.

    Columns: ``key``, ``resource``, ``series``, ``labels``, ``unit`` and ``ANOMALY_COLUMNS``.

    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> d = pd.DataFrame({"timestamp": days, "value": 100.0})
    >>> anomaly_table(d, "cpu", "cores")[["key", "anomaly"]].values.tolist()[0]
    ['cpu', False]
    """
    parts = []
    for labels, series in _series_of(daily):
        weeks = growth_anomalies(series, z_threshold, min_change_pct)
        ident = {
            "key": _series_key(resource, labels),
            "resource": resource,
            "series": _label_text(labels),
            "labels": [labels] * len(weeks),
            "unit": unit,
        }
        parts.append(weeks.assign(**ident))
    columns = ["key", "resource", "series", "labels", "unit", *ANOMALY_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


# --------------------------------------------------------------------------- findings


def capacity_findings(
    forecasts: pd.DataFrame | None = None,
    headroom_frame: pd.DataFrame | None = None,
    anomalies: pd.DataFrame | None = None,
    profile: Profile | None = None,
) -> Findings:
    """``capacity_exhaustion``, ``headroom_low`` and ``growth_anomaly`` findings.

    * ``capacity_exhaustion`` per :func:`forecast_table` row with a limit: critical when the
      crossing is at most ``critical_weeks`` away, warning when within the horizon, info when
      only the band's upper bound reaches the limit. ``value`` is weeks left; ``evidence``
      holds the dates, the interval, the backtest error and a ``confidence`` (high: backtest
      MAPE <= 5 % and interval <= 14 days wide; low: MAPE > 20 %, no backtest, or the lower
      bound never reaches the limit; medium otherwise).
    * ``headroom_low`` per :func:`headroom` row: requests at or above ``requests_pct`` of
      allocatable (warning) or ``critical_requests_pct`` (critical).
    * ``growth_anomaly`` per :func:`anomaly_table` week passing :func:`is_growth_anomaly`
      with the profile's thresholds: warning for a surge, info for a drop.

    >>> h = pd.DataFrame({"zone": ["a"], "instance_type": ["m5"], "resource": ["cpu"],
    ...     "unit": ["cores"], "nodes": [2], "allocatable": [8.0], "requested": [7.0],
    ...     "used_p95": [3.0], "requested_pct": [87.5], "used_pct": [37.5], "unrequested": [1.0]})
    >>> [(f.check, f.severity) for f in capacity_findings(headroom_frame=h)]
    [('headroom_low', 'warning')]
    """
    profile = profile or Profile()
    found: list[Finding] = []
    if forecasts is not None:
        found += _exhaustion_findings(forecasts, profile)
    if headroom_frame is not None:
        found += _headroom_findings(headroom_frame, profile)
    if anomalies is not None:
        found += _anomaly_findings(anomalies, profile)
    return Findings(found)


def _exhaustion_findings(forecasts: pd.DataFrame, profile: Profile) -> list[Finding]:
    critical_weeks = check_thresholds(profile, "capacity_exhaustion")["critical_weeks"]
    found = []
    for row in forecasts[forecasts["limit"].notna()].itertuples(index=False):
        if pd.isna(row.crossing) and pd.isna(row.crossing_earliest):
            continue
        evidence = {
            "limit": row.limit,
            "limit_label": row.limit_label,
            "last_peak": row.last_peak,
            "crossing": day_text(row.crossing),
            "crossing_earliest": day_text(row.crossing_earliest),
            "crossing_latest": day_text(row.crossing_latest),
            "slope_per_week": row.slope_per_week,
            "backtest_mape_pct": row.backtest_mape_pct,
            "method": row.method,
            "confidence": _confidence(row),
        }
        subject = {"resource": row.resource, **row.labels}
        what = f"{row.resource}{f' ({row.series})' if row.series else ''}"
        limit_text = f"{row.limit_label} ({_quantity(row.limit, row.unit)})"
        if pd.isna(row.crossing):
            weeks = (row.crossing_earliest - row.as_of) / DAY / 7.0
            severity, value, limit_weeks = "info", round(weeks, 1), math.nan
            summary = (
                f"{what} may reach {limit_text} by {day_text(row.crossing_earliest)} (upper bound "
                f"of the forecast band); the central forecast stays below it."
            )
        else:
            severity = "critical" if row.weeks_left <= critical_weeks else "warning"
            value, limit_weeks = row.weeks_left, critical_weeks
            summary = (
                f"{what} is at {limit_text} already: its trend is above it on "
                f"{day_text(row.crossing)} (last daily peak {_quantity(row.last_peak, row.unit)})."
                if row.weeks_left == 0
                else f"{what} is forecast to reach {limit_text} on {day_text(row.crossing)}, in "
                f"{row.weeks_left:.1f} weeks ({evidence['confidence']} confidence)."
            )
        found.append(
            Finding(
                "capacity_exhaustion",
                severity,
                subject,
                summary,
                value,
                limit_weeks,
                "weeks",
                evidence,
            )
        )
    return found


def _headroom_findings(frame: pd.DataFrame, profile: Profile) -> list[Finding]:
    warn_pct = check_thresholds(profile, "headroom_low")["requests_pct"]
    critical_pct = check_thresholds(profile, "headroom_low")["critical_requests_pct"]
    keys = [c for c in frame.columns if c not in HEADROOM_VALUE_COLUMNS]
    found = []
    for row in frame[frame["requested_pct"] >= warn_pct].to_dict("records"):
        critical = row["requested_pct"] >= critical_pct
        subject = {k: row[k] for k in keys} | {"resource": row["resource"]}
        group = ", ".join(str(row[k]) for k in keys)
        summary = (
            f"{row['resource']} requests on {group} are {row['requested_pct']:.0f} % of "
            f"allocatable ({_quantity(row['unrequested'], row['unit'])} left unrequested "
            f"on {row['nodes']} node(s))."
        )
        evidence = {k: row[k] for k in HEADROOM_VALUE_COLUMNS if k != "resource"}
        found.append(
            Finding(
                "headroom_low",
                "critical" if critical else "warning",
                subject,
                summary,
                row["requested_pct"],
                critical_pct if critical else warn_pct,
                "%",
                evidence,
            )
        )
    return found


def _anomaly_findings(frame: pd.DataFrame, profile: Profile) -> list[Finding]:
    z_threshold = check_thresholds(profile, "growth_anomaly")["robust_z"]
    min_change = check_thresholds(profile, "growth_anomaly")["min_change_pct"]
    hits = frame[is_growth_anomaly(frame, z_threshold, min_change)]
    found = []
    for row in hits.itertuples(index=False):
        what = f"{row.resource}{f' ({row.series})' if row.series else ''}"
        verb = "grew" if row.change_pct > 0 else "fell"
        summary = (
            f"{what} daily peaks {verb} {abs(row.change_pct):.0f} % in the week to "
            f"{day_text(row.week_end)}, against a normal weekly change of "
            f"{row.baseline_change_pct:+.1f} % ± {row.scale_pct:.1f} % (robust z "
            f"{row.robust_z:+.1f})."
        )
        evidence = {
            "week_start": day_text(row.week_start),
            "week_end": day_text(row.week_end),
            "weekly_mean": row.value,
            "change_pct": row.change_pct,
            "baseline_change_pct": row.baseline_change_pct,
            "scale_pct": row.scale_pct,
            "unit": row.unit,
        }
        found.append(
            Finding(
                "growth_anomaly",
                "warning" if row.change_pct > 0 else "info",
                {"resource": row.resource, **row.labels},
                summary,
                row.robust_z,
                z_threshold,
                "robust z",
                evidence,
            )
        )
    return found


def _confidence(row: Any) -> str:
    mape = row.backtest_mape_pct
    if pd.isna(mape) or mape > LOW_CONFIDENCE_MAPE_PCT or pd.isna(row.crossing_latest):
        return "low"
    spread_days = (row.crossing_latest - row.crossing_earliest) / DAY
    if mape <= HIGH_CONFIDENCE_MAPE_PCT and spread_days <= HIGH_CONFIDENCE_SPREAD_DAYS:
        return "high"
    return "medium"


# --------------------------------------------------------------------------- the report


def capacity_report(
    frames: Mapping[str, pd.DataFrame | None],
    profile: Profile | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    interval: float = DEFAULT_INTERVAL,
) -> dict[str, object]:
    """Everything the capacity notebook shows, from the frames it loaded, in one call.

    ``frames`` maps names of ``EXPECTED_FRAMES`` to tidy frames (missing or ``None`` entries
    are skipped, with a note): the PromQL for the Prometheus ones is
    :func:`dwcp_diag.queries.promql.capacity_queries`, run as range queries over the window;
    ``nodes``/``containers`` are the Kubernetes loader frames (else ``node_allocatable``/
    ``node_labels``/``resource_requests`` stand in).

    Returns a dict: ``daily`` (all daily peaks: ``resource``, ``series``, ``unit``,
    ``timestamp``, ``value``), ``forecasts`` (:func:`forecast_table` rows), ``models``
    (key -> :class:`Forecast`), ``headroom``, ``anomalies``, ``findings`` and ``notes``.

    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> rate = pd.DataFrame({"timestamp": days, "value": 6000.0 + 100.0 * np.arange(28)})
    >>> report = capacity_report({"request_rate": rate})
    >>> [(f.check, f.severity, f.value) for f in report["findings"]]
    [('capacity_exhaustion', 'warning', 4.7)]
    """
    unknown = set(frames) - set(EXPECTED_FRAMES)
    if unknown:
        raise ValueError(f"capacity_report: unknown frame(s) {sorted(unknown)}")
    profile = profile or Profile()
    notes: list[str] = []

    def get(name: str) -> pd.DataFrame | None:
        frame = frames.get(name)
        if frame is None or frame.empty:
            notes.append(f"{name}: no data ({EXPECTED_FRAMES[name]}); skipped.")
            return None
        return frame

    nodes, containers = _cluster_inventory(frames)
    allocatable = (
        {r: float(nodes[c].sum()) for r, (c, _, _) in _NODE_RESOURCES.items()}
        if nodes is not None
        else {}
    )
    rps_limit = check_thresholds(profile, "capacity_exhaustion")["request_rate_limit_rps"]
    db_limit = check_thresholds(profile, "capacity_exhaustion")["pg_database_size_limit_bytes"]
    pg_connections, pg_max = get("pg_connections"), frames.get("pg_max_connections")
    shared = (
        [c for c in _label_columns(pg_connections) if pg_max is not None and c in pg_max.columns]
        if pg_connections is not None
        else []
    )
    volume_capacity = frames.get("volume_capacity")
    demands = [
        _Demand("request_rate", get("request_rate"), 0.95, (), "rps", rps_limit,
                f"KI-002: Redis times out above {rps_limit:,.0f} rps"),
        _Demand("cpu", get("cpu_usage"), 0.95, (), "cores", allocatable.get("cpu"),
                "allocatable CPU"),
        _Demand("memory", get("memory_usage"), "max", (), "bytes", allocatable.get("memory"),
                "allocatable memory"),
        _Demand("namespace_cpu", frames.get("cpu_usage"), 0.95, ("namespace",), "cores", top_n=10),
        _Demand("namespace_memory", frames.get("memory_usage"), "max", ("namespace",), "bytes",
                top_n=10),
        _Demand("pg_database_size", get("pg_database_size"), "max", None, "bytes",
                None if math.isnan(db_limit) else db_limit, "database size budget"),
        _Demand("table_size", frames.get("table_sizes"), "max", None, "bytes", top_n=5),
        _Demand("pg_connections", pg_connections, "max", tuple(shared), "connections",
                latest_values(pg_max, shared) if pg_max is not None else None,
                "max_connections (KI-003)"),
        _Demand("pv_usage", get("volume_used"), "max", None, "bytes",
                latest_values(volume_capacity) if volume_capacity is not None else None,
                "PV capacity"),
    ]  # fmt: skip
    z_threshold = check_thresholds(profile, "growth_anomaly")["robust_z"]
    min_change = check_thresholds(profile, "growth_anomaly")["min_change_pct"]
    daily_parts, tables, anomaly_parts, models = [], [], [], {}
    for demand in demands:
        frame = demand.frame
        if frame is None or frame.empty:
            continue
        if demand.by and not set(demand.by) <= set(frame.columns):
            continue
        daily = daily_peaks(frame, demand.quantile, demand.by)
        if daily.empty:
            notes.append(f"{demand.resource}: no full day of samples; skipped.")
            continue
        table, fitted = forecast_table(
            daily,
            demand.resource,
            demand.unit,
            demand.limit,
            demand.limit_label,
            horizon_days,
            interval,
            demand.top_n,
        )
        tables.append(table)
        models |= fitted
        kept = daily[_keys_of(daily, demand.resource).isin(table["key"])]
        anomaly_parts.append(
            anomaly_table(kept, demand.resource, demand.unit, z_threshold, min_change)
        )
        daily_parts.append(_long_daily(kept, demand.resource, demand.unit))
    headroom_frame = (
        headroom(
            nodes,
            containers,
            frames.get("node_cpu_usage"),
            frames.get("node_memory_usage"),
        )
        if nodes is not None and containers is not None
        else None
    )
    if headroom_frame is None:
        notes.append(
            "headroom: needs nodes + containers (or node_allocatable + resource_requests); skipped."
        )
    forecasts = (
        pd.concat(tables, ignore_index=True)
        if tables
        else _typed_forecast_table(pd.DataFrame(columns=list(FORECAST_COLUMNS)))
    )
    anomalies = pd.concat(anomaly_parts, ignore_index=True) if anomaly_parts else None
    return {
        "daily": pd.concat(daily_parts, ignore_index=True) if daily_parts else None,
        "forecasts": forecasts,
        "models": models,
        "headroom": headroom_frame,
        "anomalies": anomalies,
        "findings": capacity_findings(forecasts, headroom_frame, anomalies, profile),
        "notes": notes,
    }


@dataclass(frozen=True)
class _Demand:
    """One demand series of the report: how to reduce it to daily peaks and what limits it."""

    resource: str
    frame: pd.DataFrame | None
    quantile: float | Literal["max"]
    by: tuple[str, ...] | None
    unit: str
    limit: float | pd.DataFrame | None = None
    limit_label: str = ""
    top_n: int | None = None


def _cluster_inventory(
    frames: Mapping[str, pd.DataFrame | None],
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    nodes, containers = frames.get("nodes"), frames.get("containers")
    if nodes is not None:
        nodes = _node_names(nodes)
    if nodes is None and frames.get("node_allocatable") is not None:
        nodes = nodes_from_prometheus(frames["node_allocatable"], frames.get("node_labels"))
    if containers is None and frames.get("resource_requests") is not None:
        containers = containers_from_prometheus(frames["resource_requests"])
    return nodes, containers


# --------------------------------------------------------------------------- internals


def _node_names(nodes: pd.DataFrame) -> pd.DataFrame:
    """``nodes`` with the Kubernetes loader's allocatable columns named as ``NODE_COLUMNS``."""
    present = {k: v for k, v in _LOADER_NODE_NAMES.items() if k in nodes.columns}
    return nodes.rename(columns=present) if present else nodes


def _series_of(daily: pd.DataFrame) -> Iterator[tuple[dict[str, str], pd.Series]]:
    labels = _label_columns(daily)
    groups = daily.groupby(labels, observed=True) if labels else [((), daily)]
    for values, group in groups:
        key = values if isinstance(values, tuple) else (values,)
        yield (
            {k: str(v) for k, v in zip(labels, key, strict=True)},
            group.set_index("timestamp")["value"].sort_index(),
        )


def _keys_of(daily: pd.DataFrame, resource: str) -> pd.Series:
    labels = _label_columns(daily)
    return (
        daily[labels].astype(str).apply(lambda row: _series_key(resource, row.to_dict()), axis=1)
        if labels
        else pd.Series(resource, index=daily.index)
    )


def _long_daily(daily: pd.DataFrame, resource: str, unit: str) -> pd.DataFrame:
    labels = _label_columns(daily)
    series = (
        daily[labels].astype(str).apply(lambda row: _label_text(row.to_dict()), axis=1)
        if labels
        else pd.Series("", index=daily.index)
    )
    return pd.DataFrame(
        {
            "resource": resource,
            "series": series.astype(str),
            "unit": unit,
            "timestamp": daily["timestamp"],
            "value": daily["value"],
        }
    )


def _limit_for(limit: float | pd.DataFrame | None, labels: Mapping[str, str]) -> float | None:
    if limit is None or isinstance(limit, int | float):
        return None if limit is None or math.isnan(limit) else float(limit)
    shared = [c for c in limit.columns if c in labels]
    matched = limit
    for column in shared:
        matched = matched[matched[column].astype(str) == labels[column]]
    if len(matched) != 1:
        return None
    return float(matched["value"].iloc[0])


def _label_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("timestamp", "value", *_IGNORED_LABELS)]


def _label_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def _series_key(resource: str, labels: Mapping[str, str]) -> str:
    return f"{resource}{{{_label_text(labels)}}}" if labels else resource


def _median_step_s(timestamps: pd.Series) -> float | None:
    unique = np.unique(timestamps.to_numpy(dtype="datetime64[ns]"))
    if len(unique) < 2:
        return None
    return float(np.median(np.diff(unique)) / np.timedelta64(1, "s"))


def _strings(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` as plain strings (missing values and absent columns as ``"unknown"``)."""
    out = frame.copy()
    for column in columns:
        values = out[column] if column in out else pd.Series(None, index=out.index)
        out[column] = values.astype(object).where(values.notna(), "unknown").astype(str)
    return out


def _pivot_resources(latest: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    wide = latest.pivot_table(index=keys, columns="resource", values="value", aggfunc="sum")
    wide = wide.reindex(columns=["cpu", "memory"]).fillna(0.0)
    return wide.reset_index().rename_axis(columns=None)


def _group_usage(
    usage: pd.DataFrame | None,
    placed: pd.DataFrame,
    node_frame: pd.DataFrame,
    keys: list[str],
    quantile: float,
) -> pd.Series:
    if usage is None or usage.empty:
        return pd.Series(dtype=float)
    if "node" in usage.columns:
        joined = _strings(usage, ["node"]).merge(node_frame[["node", *keys]], on="node")
    else:
        on = [c for c in ("namespace", "pod", "container") if c in usage.columns]
        if "pod" not in on:
            raise ValueError("headroom: a usage frame needs a node label or namespace/pod labels")
        where = placed[[*on, *keys]].drop_duplicates(on)
        joined = _strings(usage, on).merge(where, on=on)
    per_time = joined.groupby([*keys, "timestamp"])["value"].sum()
    return per_time.groupby(level=keys).quantile(quantile)


def _typed_forecast_table(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("as_of", "crossing", "crossing_earliest", "crossing_latest"):
        table[column] = utc_timestamps(table[column])
    floats = [
        "last_peak",
        "limit",
        "last_peak_pct_of_limit",
        "slope_per_week",
        "weeks_left",
        "backtest_mape_pct",
        "backtest_bias_pct",
        "backtest_coverage_pct",
        "backtest_crossing_error_days",
    ]
    return table.astype({c: "float64" for c in floats} | {"days": "int64"})


def _quantity(value: float, unit: str) -> str:
    return human_value(value, unit)
