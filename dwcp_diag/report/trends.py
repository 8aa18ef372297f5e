"""Trends across periods, read from earlier reports on disk (no re-query of old periods).

* **Cost**: $/month per namespace and per workload over the last N weekly periods. Each cost
  report publishes its period's figures (:func:`publish_cost_period`); the renderer writes them
  to ``cost.trend.json`` beside the report; the next periods read them back.
* **Capacity**: how each ``capacity_exhaustion`` forecast's crossing date moved period after
  period, from the earlier ``capacity.findings.json``; a date that keeps moving closer is a
  ``forecast_drift`` warning.

Notebooks call one function each, with their ``history`` parameter (earlier period folders,
oldest first, set by ``dwcp-diag due`` and ``render --compare``)::

    cost_trend(history, cost.report, w)                           # cost.ipynb
    forecast_history(history, capacity.findings, w, s.profile)    # capacity.ipynb

>>> crossings = {"2026-W45": "2027-03-01", "2026-W46": "2027-02-15", "2026-W47": "2027-02-01"}
>>> drift_days(crossings, min_moves=2, min_days=3)
28.0
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.findings import Finding, Findings
from dwcp_diag.plots import house_layout

log = logging.getLogger("dwcp_diag.trends")

TREND_MIMETYPE = "application/vnd.dwcp-diag.trend+json"
TREND_SUFFIX = ".trend.json"
THRESHOLD_DEFAULTS = {"forecast_drift": {"min_moves": 2, "min_days": 3}}
TOP_WORKLOADS = 10


def period_of(window: Any) -> str:
    """The ISO week label of a window's last instant (``2026-W47``): this period's name."""
    last = pd.Timestamp(window.end) - pd.Timedelta(seconds=1)
    year, week, _ = last.isocalendar()
    return f"{year}-W{week:02d}"


def _history_folders(history: Sequence[str] | str | None) -> list[Path]:
    if not history:
        return []
    return [Path(history)] if isinstance(history, str) else [Path(p) for p in history]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if path.exists():
            log.warning("trend: cannot read %s: %s", path, exc)
        return None


# --------------------------------------------------------------------------------------- cost


def cost_period_data(report: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    """This period's $/month per namespace and per ``namespace/workload`` from a cost report."""
    if report is None:
        return {"namespace": {}, "workload": {}}
    costs = report["workload_costs"]
    by_namespace = costs.groupby("namespace", observed=True)["cost_usd_per_month"].sum()
    keys = costs["namespace"].astype(str) + "/" + costs["workload"].astype(str)
    by_workload = costs["cost_usd_per_month"].groupby(keys).sum()
    return {
        "namespace": {str(k): round(float(v), 4) for k, v in by_namespace.items()},
        "workload": {str(k): round(float(v), 4) for k, v in by_workload.items()},
    }


def publish_cost_period(data: Mapping[str, Any]) -> None:
    """Display this period's figures so the renderer stores them as ``cost.trend.json``."""
    from IPython.display import display

    display({TREND_MIMETYPE: {"cost": dict(data)}, "text/plain": ""}, raw=True)


def cost_history(
    history: Sequence[str] | str | None, current: Mapping[str, Any], label: str
) -> pd.DataFrame:
    """Long frame ``period, level, group, cost_usd_per_month``: earlier periods, then this one.

    >>> now = {"namespace": {"a": 2.0}, "workload": {"a/x": 2.0}}
    >>> cost_history([], now, "2026-W47").to_dict("records")[0]
    {'period': '2026-W47', 'level': 'namespace', 'group': 'a', 'cost_usd_per_month': 2.0}
    """
    rows = []
    periods = [
        (folder.name, _read_json(folder / f"cost{TREND_SUFFIX}"))
        for folder in _history_folders(history)
    ]
    for period, data in [*periods, (label, {"cost": current})]:
        cost = data.get("cost") if isinstance(data, Mapping) else None
        if not isinstance(cost, Mapping):
            continue
        for level in ("namespace", "workload"):
            for group, usd in (cost.get(level) or {}).items():
                rows.append(
                    {"period": period, "level": level, "group": group, "cost_usd_per_month": usd}
                )
    columns = ["period", "level", "group", "cost_usd_per_month"]
    return pd.DataFrame(rows, columns=columns)


def cost_trend_figure(frame: pd.DataFrame, level: str, top: int = TOP_WORKLOADS) -> go.Figure:
    """One line per group (the ``top`` costliest in the latest period): $/month per period."""
    rows = frame[frame["level"] == level]
    fig = go.Figure()
    if len(rows):
        latest = rows[rows["period"] == rows["period"].max()]
        keep = latest.nlargest(top, "cost_usd_per_month")["group"].tolist()
        for group in keep:
            series = rows[rows["group"] == group].sort_values("period")
            fig.add_trace(
                go.Scatter(
                    x=series["period"],
                    y=series["cost_usd_per_month"],
                    name=group,
                    mode="lines+markers",
                )
            )
    fig.update_xaxes(type="category")
    return house_layout(fig, f"Cost per {level}, $/month, week by week", "$/month")


def cost_trend(
    history: Sequence[str] | str | None, report: Mapping[str, Any] | None, window: Any
) -> pd.DataFrame:
    """Notebook one-liner: publish this period's costs and chart the last periods' trend.

    Returns the trend frame (periods as rows, namespaces as columns) for a table.
    """
    from IPython.display import display

    current = cost_period_data(report)
    publish_cost_period(current)
    frame = cost_history(history, current, period_of(window))
    if frame["period"].nunique() < 2:
        print("No earlier weekly period on disk yet: the trend starts next week.")
    for level in ("namespace", "workload"):
        display(cost_trend_figure(frame, level))
    table = frame[frame["level"] == "namespace"].pivot_table(
        index="period", columns="group", values="cost_usd_per_month", aggfunc="sum"
    )
    return table.round(2)


# ----------------------------------------------------------------------------------- capacity


def _forecast_name(subject: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in subject.items())


def crossing_history(
    history: Sequence[str] | str | None, current: Sequence[Mapping[str, Any]], label: str
) -> pd.DataFrame:
    """Long frame ``period, forecast, subject, crossing`` from each period's exhaustion findings."""
    periods = [
        (folder.name, _read_json(folder / "capacity.findings.json"))
        for folder in _history_folders(history)
    ]
    rows = []
    for period, findings in [*periods, (label, list(current))]:
        for finding in findings if isinstance(findings, list) else []:
            if not isinstance(finding, Mapping) or finding.get("check") != "capacity_exhaustion":
                continue
            evidence = finding.get("evidence") or {}
            crossing = evidence.get("crossing")  # the central forecast's, not the band's
            if not crossing:
                continue
            subject = dict(finding.get("subject") or {})
            rows.append(
                {
                    "period": period,
                    "forecast": _forecast_name(subject),
                    "subject": subject,
                    "crossing": pd.Timestamp(crossing),
                }
            )
    return pd.DataFrame(rows, columns=["period", "forecast", "subject", "crossing"])


def drift_days(crossings: Mapping[str, str], min_moves: int = 2, min_days: float = 3) -> float:
    """Days the crossing moved closer over the last ``min_moves`` periods, each move at least
    ``min_days`` closer; 0.0 when it did not keep moving closer."""
    dates = [pd.Timestamp(crossings[p]) for p in sorted(crossings)]
    if len(dates) < min_moves + 1:
        return 0.0
    recent = dates[-(min_moves + 1) :]
    moves = [(a - b) / pd.Timedelta(days=1) for a, b in itertools.pairwise(recent)]
    if all(move >= min_days for move in moves):
        return float(sum(moves))
    return 0.0


def forecast_drift_findings(frame: pd.DataFrame, profile: Any = None) -> Findings:
    """A ``forecast_drift`` warning per forecast whose crossing keeps moving closer."""

    def setting(key: str) -> float:
        default = THRESHOLD_DEFAULTS["forecast_drift"][key]
        return profile.threshold("forecast_drift", key, default) if profile else default

    min_moves, min_days = int(setting("min_moves")), setting("min_days")
    found = []
    for forecast, rows in frame.groupby("forecast", sort=True):
        crossings = {r.period: r.crossing for r in rows.itertuples()}
        moved = drift_days(crossings, min_moves, min_days)
        if moved <= 0:
            continue
        ordered = [f"{p}: {crossings[p]:%Y-%m-%d}" for p in sorted(crossings)]
        latest = crossings[max(crossings)]
        summary = (
            f"The exhaustion forecast of {forecast} moved {moved:.0f} days closer over the last "
            f"{min_moves} periods; it now reaches its limit on {latest:%Y-%m-%d}."
        )
        found.append(
            Finding(
                "forecast_drift",
                "warning",
                rows["subject"].iloc[-1],
                summary,
                round(moved, 1),
                min_days,
                "days",
                {"crossings": ordered},
            )
        )
    return Findings(found)


def crossing_figure(frame: pd.DataFrame) -> go.Figure:
    """Each forecast's crossing date per period: a line going down is a limit coming closer."""
    fig = go.Figure()
    for forecast, rows in frame.groupby("forecast", sort=True):
        rows = rows.sort_values("period")
        fig.add_trace(
            go.Scatter(x=rows["period"], y=rows["crossing"], name=forecast, mode="lines+markers")
        )
    fig.update_xaxes(type="category")
    return house_layout(fig, "Forecast exhaustion date, period by period", "reaches its limit on")


def forecast_history(
    history: Sequence[str] | str | None,
    findings: Sequence[Any],
    window: Any,
    profile: Any = None,
) -> Findings:
    """Notebook one-liner: chart the crossing dates and publish the ``forecast_drift`` ones."""
    from IPython.display import display

    records = [f.to_dict() if isinstance(f, Finding) else f for f in findings]
    frame = crossing_history(history, records, period_of(window))
    if frame["period"].nunique() < 2:
        print("No earlier period with exhaustion forecasts on disk: nothing to compare yet.")
    else:
        display(crossing_figure(frame))
    drift = forecast_drift_findings(frame, profile)
    drift.publish()
    return drift


# ------------------------------------------------------------------------------ renderer side


def write_period_data(notebook: Any, name: str, out_dir: Path) -> Path | None:
    """Store what the notebook published for trends as ``NAME.trend.json`` (None: nothing)."""
    from dwcp_diag.sources.snapshot import atomic_write_bytes

    data: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            published = output.get("data", {}).get(TREND_MIMETYPE)
            if isinstance(published, Mapping):
                data.update(published)
    if not data:
        return None
    path = out_dir / f"{name}{TREND_SUFFIX}"
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())
    return path
