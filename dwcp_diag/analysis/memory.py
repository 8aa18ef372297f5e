"""Memory: leaks, OOM kills and restarts, containers near or without a memory limit.

Pure functions: tidy frames in (:mod:`dwcp_diag.frames`), frames and :class:`Findings` out, no I/O.
Sizes are bytes in frames (``*_bytes``) and MiB (2**20 bytes) in rates (``growth_mib_per_h``).

Input frames (``{field}`` is a :class:`dwcp_diag.config.MetricNames` field):

- ``working_set``: ``{memory_working_set}{container!="",container!="POD"}`` -> namespace, pod,
  container, timestamp, value (bytes);
- ``restarts``: ``{restarts}`` -> namespace, pod, container, timestamp, value (a counter);
- ``reasons``: ``{last_terminated_reason}`` -> namespace, pod, container, reason, timestamp,
  value (1 for the current reason);
- ``requests`` / ``limits``: ``{resource_requests}`` / ``{resource_limits}`` -> namespace, pod,
  container, resource, unit, timestamp, value; or, for either, the Kubernetes ``containers``
  inventory frame;
- ``inventory``: the Kubernetes ``containers`` frame (restart_count, state_reason,
  last_terminated_reason, last_exit_code, memory_limit_bytes, ...).

Thresholds: ``check_thresholds(profile, CHECK)`` (:mod:`dwcp_diag.checks` holds every
default with its unit, meaning and source; a profile's ``[thresholds.CHECK]`` tables override
them, and an unknown key is an error).

>>> import pandas as pd
>>> t = pd.date_range("2026-01-01", periods=4 * 24 * 12, freq="5min", tz="UTC")
>>> ws = pd.DataFrame({"namespace": "prod", "pod": "api-1", "container": "api", "timestamp": t,
...                    "value": 300 * MIB + 4 * MIB * (t - t[0]) / pd.Timedelta(hours=1)})
>>> leaks = detect_leaks(ws)
>>> round(float(leaks.loc[0, "growth_mib_per_h"]), 2), bool(leaks.loc[0, "is_leak"])
(4.0, True)
"""

from __future__ import annotations

import dataclasses
import itertools
import signal
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings
from dwcp_diag.analysis.forecast import segment_trend
from dwcp_diag.analysis.rollup import rollup
from dwcp_diag.checks import check_thresholds
from dwcp_diag.config import Profile
from dwcp_diag.frames import TIMESTAMP_DTYPE
from dwcp_diag.units import HOUR_S, MIB

KEYS = ["namespace", "pod", "container"]
RESOURCE_COLUMNS = [
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
]
# Exit codes seen in "last state: terminated" (runbook Problem 2, plus the shell's usual ones).
EXIT_CODE_MEANINGS: dict[int, str] = {
    0: "completed normally: it should not restart; check the restart policy and entrypoint",
    1: "application error: check the logs (kubectl logs --previous) and fix the bug",
    2: "misuse of a shell builtin or invalid arguments: check command and args",
    126: "command cannot execute (permissions, not executable): check the image",
    127: "command not found: check the entrypoint/command and the image",
    134: "SIGABRT: the process aborted (assertion, abort()): check the logs",
    137: "SIGKILL, OOMKilled: the memory limit was exceeded; raise the limit or fix the leak",
    139: "SIGSEGV, segmentation fault: debug the application",
    143: "SIGTERM: terminated; a graceful-shutdown issue if it keeps restarting",
}
# kube-state-metrics only reports the reason; these reasons imply an exit code.
REASON_EXIT_CODES = {"OOMKilled": 137, "Completed": 0}
_LEAK = check_thresholds(None, "memory_leak")  # the defaults of the leak functions' arguments
MIN_SEGMENT_POINTS = 8
REASON_TOLERANCE = pd.Timedelta(minutes=15)
# A near-zero slope projects the limit centuries away: no date (pandas stops at 2262).
MAX_PROJECTION_H = 100 * 365 * 24.0


def plain_labels(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A copy with the label ``columns`` as plain strings (categoricals merge badly) and
    ``timestamp``, if any, as ``datetime64[ns, UTC]`` (so frames of any origin merge)."""
    out = frame.copy()
    for column in columns:
        if column in out.columns:
            out[column] = _plain(out[column])
    if "timestamp" in out.columns and str(out["timestamp"].dtype) != TIMESTAMP_DTYPE:
        out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True).astype(TIMESTAMP_DTYPE)
    return out


def _plain(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):  # map the categories, not every row
        codes = values.cat.codes.to_numpy()
        labels = values.cat.categories.astype("str")
        if labels.empty:
            return pd.Series(np.nan, index=values.index, dtype="str")
        plain = pd.Series(labels.take(np.maximum(codes, 0)), index=values.index)
        return plain.where(codes >= 0)
    if pd.api.types.is_string_dtype(values.dtype):
        return values
    return values.astype("str").where(values.notna())


def epoch_seconds(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps as float seconds since the epoch, whatever their resolution."""
    return pd.DatetimeIndex(timestamps).as_unit("ns").asi8 / 1e9


def latest(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The last row (by ``timestamp``) of every ``keys`` group of a tidy Prometheus frame."""
    ordered = frame.sort_values("timestamp", kind="stable")
    return ordered.drop_duplicates(keys, keep="last").reset_index(drop=True)


# --------------------------------------------------------------------------- requests and limits


def _resources_from(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One source's resource columns, keyed by container. ``kind`` is request|limit."""
    frame = plain_labels(frame, [*KEYS, "resource"])
    if "resource" not in frame.columns:  # an inventory frame, or already normalised
        present = [c for c in RESOURCE_COLUMNS if c in frame.columns]
        return frame[[*KEYS, *present]].drop_duplicates(KEYS, keep="last")
    current = latest(frame[frame["resource"].isin(["cpu", "memory"])], [*KEYS, "resource"])
    wide = current.pivot_table(index=KEYS, columns="resource", values="value", aggfunc="last")
    wide = wide.rename(
        columns={"cpu": f"cpu_{kind}_cores", "memory": f"memory_{kind}_bytes"}
    ).reset_index()
    wide.columns.name = None
    return wide


def container_resources(
    requests: pd.DataFrame | None = None, limits: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Requests and limits per container, from Prometheus or the Kubernetes inventory.

    ``requests``/``limits`` are ``kube_pod_container_resource_requests|limits`` series (the
    latest value per container counts; resources other than cpu and memory are ignored), or an
    inventory ``containers`` frame (or the output of this function), which brings every resource
    column it has whichever argument it is passed as. Where both name a value, ``requests``
    wins over ``limits``. Unset values are NaN.

    >>> inv = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...                     "cpu_request_cores": [0.5], "memory_limit_bytes": [float(2**30)]})
    >>> container_resources(inv).to_dict("records")[0]  # doctest: +NORMALIZE_WHITESPACE
    {'namespace': 'n', 'pod': 'p', 'container': 'c', 'cpu_request_cores': 0.5,
     'cpu_limit_cores': nan, 'memory_request_bytes': nan, 'memory_limit_bytes': 1073741824.0}
    """
    parts = [
        _resources_from(frame, kind)
        for frame, kind in ((requests, "request"), (limits, "limit"))
        if frame is not None
    ]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in KEYS}).assign(
            **{c: pd.Series(dtype="float64") for c in RESOURCE_COLUMNS}
        )
    merged = parts[0].set_index(KEYS)
    for part in parts[1:]:
        merged = merged.combine_first(part.set_index(KEYS))
    merged = merged.reindex(columns=RESOURCE_COLUMNS).astype("float64").reset_index()
    return merged.sort_values(KEYS).reset_index(drop=True)


def resource_table(resources: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`container_resources` of an inventory frame or an already normalised table.

    A raw Prometheus series is refused: it does not say whether it holds requests or limits.

    >>> resource_table(None).columns.tolist()[3:5]
    ['cpu_request_cores', 'cpu_limit_cores']
    """
    if resources is not None and "resource" in resources.columns:
        raise ValueError(
            "a kube_pod_container_resource_* series is ambiguous here: pass "
            "container_resources(requests=..., limits=...) or the Kubernetes containers frame"
        )
    return container_resources(resources)


def _limits_of(limits: pd.DataFrame | None) -> pd.DataFrame:
    if limits is None:
        return container_resources()
    return container_resources(limits=limits)


# --------------------------------------------------------------------------- leaks


def _cut_positions(
    t: np.ndarray, y: np.ndarray, restart_s: np.ndarray | None, drop_fraction: float
) -> list[int]:
    """Where segments start: at restarts when known (snapped to a drop nearby), else drops."""
    drops = np.flatnonzero(y[1:] < (1.0 - drop_fraction) * y[:-1]) + 1
    if restart_s is None:
        return sorted(int(d) for d in drops)
    interval = float(np.median(np.diff(t))) if len(t) > 1 else 60.0
    tolerance = max(2 * interval, 120.0)
    cuts = set()
    for when in restart_s:
        near = drops[np.abs(t[drops] - when) <= tolerance]
        if near.size:
            cuts.add(int(near[np.argmin(np.abs(t[near] - when))]))
        else:
            cuts.add(int(np.searchsorted(t, when)))
    return sorted(c for c in cuts if 0 < c < len(t))


SEGMENT_COLUMNS = [
    *KEYS,
    "segment",
    "start",
    "end",
    "points",
    "duration_h",
    "growth_mib_per_h",
    "start_bytes",
    "end_bytes",
    "r2",
    "method",
]


def leak_segments(
    working_set: pd.DataFrame,
    restarts: pd.DataFrame | None = None,
    drop_fraction: float = _LEAK["drop_fraction"],
    min_segment_h: float = _LEAK["min_segment_h"],
    min_span_h: float = _LEAK["min_span_h"],
) -> pd.DataFrame:
    """A robust line through every growth segment of every container's working set.

    Segments end where the container restarted: at increases of ``restarts`` (the
    ``kube_pod_container_status_restarts_total`` series) when the container appears in it,
    otherwise at drops of more than ``drop_fraction`` between two samples (a restarted
    container starts from its baseline; without restart data a drop is the only trace of a
    restart). Segments shorter than ``min_segment_h`` or 8 points are not fitted. Segments
    spanning at least ``min_span_h`` and more than a day get a seasonal Sen slope (daily
    cycle removed); shorter ones a Theil-Sen slope. ``start_bytes``/``end_bytes`` are the
    fitted line at the segment's first and last sample.

    >>> t = pd.date_range("2026-01-01", periods=300, freq="min", tz="UTC")
    >>> ws = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                    "value": [float(MIB * (100 + i % 100)) for i in range(300)]})
    >>> segments = leak_segments(ws)
    >>> segments["points"].tolist(), segments["growth_mib_per_h"].round(6).tolist()
    ([100, 100, 100], [60.0, 60.0, 60.0])
    """
    events = restart_events(restarts) if restarts is not None else None
    known = (
        set(map(tuple, plain_labels(restarts, KEYS)[KEYS].drop_duplicates().to_numpy()))
        if restarts is not None
        else set()
    )
    restart_times: dict[tuple[str, ...], np.ndarray] = {}
    if events is not None and not events.empty:
        events = events.assign(epoch_s=epoch_seconds(events["timestamp"]))
        for key, group in events.groupby(KEYS, sort=False):
            restart_times[tuple(key)] = group["epoch_s"].to_numpy()
    rows: list[dict[str, Any]] = []
    frame = plain_labels(working_set, KEYS).dropna(subset=["value"])
    for key, group in frame.sort_values("timestamp").groupby(KEYS, sort=True):
        key = tuple(key)
        stamps = pd.DatetimeIndex(group["timestamp"])
        t = epoch_seconds(group["timestamp"])
        y = group["value"].to_numpy(dtype="float64")
        restart_s = restart_times.get(key, np.array([])) if key in known else None
        bounds = [0, *_cut_positions(t, y, restart_s, drop_fraction), len(t)]
        for number, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            seg_t, seg_y = t[lo:hi], y[lo:hi]
            if len(seg_t) < MIN_SEGMENT_POINTS or seg_t[-1] - seg_t[0] < min_segment_h * HOUR_S:
                continue
            x = seg_t - seg_t[0]
            slope, intercept, r2, method = segment_trend(x, seg_y, min_span_h * HOUR_S)
            rows.append(
                {
                    **dict(zip(KEYS, key, strict=True)),
                    "segment": number,
                    "start": stamps[lo],
                    "end": stamps[hi - 1],
                    "points": len(seg_t),
                    "duration_h": (seg_t[-1] - seg_t[0]) / HOUR_S,
                    "growth_mib_per_h": slope * HOUR_S / MIB,
                    "start_bytes": intercept,
                    "end_bytes": intercept + slope * x[-1],
                    "r2": r2,
                    "method": method,
                }
            )
    out = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    for column in ("start", "end"):
        out[column] = pd.to_datetime(out[column], utc=True).astype(TIMESTAMP_DTYPE)
    return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2.0)])


LEAK_COLUMNS = [
    *KEYS,
    "is_leak",
    "growth_mib_per_h",
    "confidence",
    "segments",
    "growing_segments",
    "growing_h",
    "last_seen",
    "level_bytes",
    "memory_limit_bytes",
    "hours_to_limit",
    "limit_at",
]


def detect_leaks(
    working_set: pd.DataFrame,
    restarts: pd.DataFrame | None = None,
    limits: pd.DataFrame | None = None,
    min_growth_mib_per_h: float = _LEAK["min_growth_mib_per_h"],
    min_confidence: float = _LEAK["min_confidence"],
    min_span_h: float = _LEAK["min_span_h"],
    drop_fraction: float = _LEAK["drop_fraction"],
    min_segment_h: float = _LEAK["min_segment_h"],
    segments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per container: is its working set leaking, how fast, and when does it hit its limit.

    The working set is cut into growth segments at restarts (see :func:`leak_segments`), so a
    sawtooth of growth then OOM kill then growth is one leak, not many. Each segment gets a
    robust line; then per container:

    - ``growth_mib_per_h``: the duration-weighted median of the segments' slopes;
    - ``confidence``: the duration-weighted mean of the segments' R², counting segments that
      do not grow by ``min_growth_mib_per_h`` as 0 (so it is both "how straight" and "how
      much of the time it grows");
    - ``growing_h``: hours covered by growing segments.

    The rule: a leak needs growth >= ``min_growth_mib_per_h``, confidence >=
    ``min_confidence`` and growth persisting over ``growing_h`` >= ``min_span_h`` (1.5 days by
    default). A daily cycle's rising half is shorter than that, so it never counts alone; a
    segment long enough to hold it is fitted with the daily cycle removed (pairs of samples
    whole days apart), so a cycle adds no slope however the window cuts it. Memory that falls
    back without a restart (a flushed cache) stays inside one segment, where the same seasonal
    fit sees no trend. Flat series with noise have a near-zero slope and an R² near 0.

    ``hours_to_limit``: from ``level_bytes`` (the fitted line at the last sample) up to the
    container's memory limit at ``growth_mib_per_h``; ``limit_at`` is when (UTC). NaN/NaT
    without a limit or growth. ``limits`` is a limits series, an inventory frame or the output
    of :func:`container_resources`. ``segments`` may pass :func:`leak_segments` output made
    with the same settings, to save fitting twice.

    >>> t = pd.date_range("2026-01-01", periods=7 * 24, freq="h", tz="UTC")
    >>> flat = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                      "value": float(500 * MIB)})
    >>> detect_leaks(flat)[["is_leak", "growth_mib_per_h"]].to_dict("records")
    [{'is_leak': False, 'growth_mib_per_h': 0.0}]
    """
    if segments is None:
        segments = leak_segments(working_set, restarts, drop_fraction, min_segment_h, min_span_h)
    frame = plain_labels(working_set, KEYS).dropna(subset=["value"])
    last = latest(frame, KEYS).set_index(KEYS)
    tails = frame.sort_values("timestamp").groupby(KEYS).tail(5).groupby(KEYS)["value"].median()
    limit_by_key = _limits_of(limits).set_index(KEYS)["memory_limit_bytes"]
    by_key = {tuple(k): g for k, g in segments.groupby(KEYS, sort=False)}
    rows = []
    for key in last.index:
        seg = by_key.get(tuple(key))
        row: dict[str, Any] = dict(zip(KEYS, key, strict=True))
        row["last_seen"] = last.loc[key, "timestamp"]
        row["memory_limit_bytes"] = float(limit_by_key.get(key, np.nan))
        row["level_bytes"] = float(tails.loc[key])
        if seg is None or seg.empty:
            rows.append({**row, "is_leak": False, "segments": 0, "growing_segments": 0})
            continue
        weights = seg["duration_h"].to_numpy()
        slopes = seg["growth_mib_per_h"].to_numpy()
        growing = slopes >= min_growth_mib_per_h
        growth = _weighted_median(slopes, weights)
        confidence = float(np.sum(weights * seg["r2"].to_numpy() * growing) / weights.sum())
        growing_h = float(weights[growing].sum())
        final = seg.iloc[-1]
        if final["end"] == row["last_seen"]:  # the running segment was fitted: use its line
            row["level_bytes"] = float(final["end_bytes"])
        limit = row["memory_limit_bytes"]
        hours = np.nan
        if growth > 0 and np.isfinite(limit):
            hours = max(limit - row["level_bytes"], 0.0) / (growth * MIB)
        rows.append(
            {
                **row,
                "is_leak": bool(
                    growth >= min_growth_mib_per_h
                    and confidence >= min_confidence
                    and growing_h >= min_span_h
                ),
                "growth_mib_per_h": growth,
                "confidence": confidence,
                "segments": len(seg),
                "growing_segments": int(growing.sum()),
                "growing_h": growing_h,
                "hours_to_limit": hours,
                "limit_at": (
                    row["last_seen"] + pd.Timedelta(hours=hours)
                    if np.isfinite(hours) and hours <= MAX_PROJECTION_H
                    else pd.NaT
                ),
            }
        )
    out = pd.DataFrame(rows, columns=LEAK_COLUMNS)
    out["is_leak"] = out["is_leak"].astype(bool)
    for column in ("growth_mib_per_h", "confidence", "growing_h", "hours_to_limit"):
        out[column] = out[column].astype("float64")
    for column in ("last_seen", "limit_at"):
        out[column] = pd.to_datetime(out[column], utc=True).astype(TIMESTAMP_DTYPE)
    for column in ("segments", "growing_segments"):
        out[column] = out[column].fillna(0).astype("int64")
    return out.sort_values(["is_leak", "growth_mib_per_h"], ascending=False).reset_index(drop=True)


SCREEN_COLUMNS = [*KEYS, "slope_mib_per_h", "day_over_day_mib_per_h", "drop_ratio", "restarts"]


def leak_candidates(
    screen: pd.DataFrame,
    min_growth_mib_per_h: float = _LEAK["min_growth_mib_per_h"],
    drop_fraction: float = _LEAK["drop_fraction"],
    max_series: int = 200,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage one of leak detection at fleet scale: which containers to fetch in full.

    ``screen`` has, per container (computed by Prometheus at a coarse step): the window's
    least-squares ``slope_mib_per_h``, the median ``day_over_day_mib_per_h`` (a daily cycle
    cancels out), the smallest ``drop_ratio`` between consecutive samples and ``restarts``
    in the window. A candidate grows by half the leak threshold on either measure, restarted
    or fell by ``drop_fraction`` (both cut segments: a sawtooth of leak and OOM kill). Any
    other container has one uncut segment that does not grow: :func:`detect_leaks` would
    not flag it. Returns ``(fetch, skipped)``: at most ``max_series`` candidates, growing
    ones first, then by restarts; the rest are summarised, not analysed.

    >>> screen = pd.DataFrame({"namespace": "n", "pod": ["a", "b", "c"], "container": "c",
    ...                        "slope_mib_per_h": [5.0, 0.0, 0.1], "day_over_day_mib_per_h":
    ...                        [4.0, 0.1, 0.0], "drop_ratio": [1.0, 0.95, 0.2], "restarts": 0})
    >>> fetch, skipped = leak_candidates(screen, max_series=1)
    >>> fetch["pod"].tolist(), skipped["pod"].tolist()
    (['a'], ['c'])
    """
    frame = plain_labels(screen, KEYS).reindex(columns=SCREEN_COLUMNS)
    growth = frame[["slope_mib_per_h", "day_over_day_mib_per_h"]].max(axis=1).fillna(0.0)
    cut = (frame["restarts"].fillna(0) > 0) | (frame["drop_ratio"] < 1.0 - drop_fraction)
    chosen = frame[(growth >= min_growth_mib_per_h / 2) | cut].assign(
        _growing=growth >= min_growth_mib_per_h, _growth=growth
    )
    chosen = chosen.sort_values(
        ["_growing", "restarts", "_growth", *KEYS],
        ascending=[False, False, False, True, True, True],
    ).drop(columns=["_growing", "_growth"])
    limit = max(int(max_series), 0)
    return chosen.iloc[:limit].reset_index(drop=True), chosen.iloc[limit:].reset_index(drop=True)


def screened_out(leaks: pd.DataFrame, screen: pd.DataFrame) -> pd.DataFrame:
    """:func:`detect_leaks` rows completed with the screened containers not fetched in full
    (``is_leak`` false, ``growth_mib_per_h`` the screen's, no segments)."""
    seen = plain_labels(leaks, KEYS).set_index(KEYS).index
    rest = plain_labels(screen, KEYS).set_index(KEYS)
    rest = rest[~rest.index.isin(seen)].reset_index()
    extra = pd.DataFrame(
        {
            **{k: rest[k] for k in KEYS},
            "is_leak": False,
            "growth_mib_per_h": rest["slope_mib_per_h"].astype("float64"),
            "segments": 0,
            "growing_segments": 0,
        }
    ).reindex(columns=LEAK_COLUMNS)
    if extra.empty:
        return leaks
    return pd.concat([leaks, extra.astype(leaks.dtypes.to_dict())], ignore_index=True)


def _unanalysed_finding(skipped: pd.DataFrame | None, max_series: int) -> list[Finding]:
    if skipped is None or skipped.empty:
        return []
    namespaces = skipped["namespace"].astype("str").unique()
    listed = skipped[KEYS].head(50).to_dict("records")
    return [
        Finding(
            "memory_leak",
            "info",
            {"namespace": namespaces[0] if len(namespaces) == 1 else "(several)"},
            f"{len(skipped)} more containers grew, restarted or fell in the coarse screen but "
            f"were not analysed at full resolution (max_series_fetched = {max_series}): raise "
            "it or narrow the namespaces to analyse them.",
            float(len(skipped)),
            float(max_series),
            "count",
            {"containers": listed},
        )
    ]


# --------------------------------------------------------------------------- restarts and OOM


def exit_code_meaning(code: float | None, reason: str | None = None) -> str:
    """What a container's last exit code (or, without one, its termination reason) means.

    >>> exit_code_meaning(137).split(":")[0], exit_code_meaning(None, "OOMKilled")[:7]
    ('SIGKILL, OOMKilled', 'SIGKILL')
    >>> exit_code_meaning(130)
    'killed by signal 2 (SIGINT)'
    """
    if code is None or pd.isna(code):
        code = REASON_EXIT_CODES.get(str(reason)) if reason is not None else None
        if code is None:
            if reason is None or pd.isna(reason):
                return "unknown"
            if reason == "Error":
                return "non-zero exit: check the logs (kubectl logs --previous)"
            return str(reason)
    code = int(code)
    if code in EXIT_CODE_MEANINGS:
        return EXIT_CODE_MEANINGS[code]
    if 128 < code < 160:
        try:
            return f"killed by signal {code - 128} ({signal.Signals(code - 128).name})"
        except ValueError:
            return f"killed by signal {code - 128}"
    return f"exit code {code}: application-defined; check the logs"


def restart_events(restarts: pd.DataFrame) -> pd.DataFrame:
    """One row per observed increase of the restart counter: keys, ``timestamp``, ``restarts``.

    A counter that goes down was reset, and its new value counts as restarts.

    >>> t = pd.date_range("2026-01-01", periods=4, freq="min", tz="UTC")
    >>> r = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                   "value": [2.0, 2.0, 3.0, 5.0]})
    >>> restart_events(r)["restarts"].tolist()
    [1.0, 2.0]
    """
    frame = plain_labels(restarts, KEYS).sort_values([*KEYS, "timestamp"])
    step = frame["value"] - frame.groupby(KEYS, sort=False)["value"].shift()
    frame["restarts"] = np.where(step < 0, frame["value"], step)
    events = frame[frame["restarts"] > 0]
    return events[[*KEYS, "timestamp", "restarts"]].reset_index(drop=True)


def _current_reasons(reasons: pd.DataFrame) -> pd.DataFrame:
    frame = plain_labels(reasons, [*KEYS, "reason"])
    frame = frame[frame["value"] >= 1]
    return latest(frame, [*KEYS, "timestamp"])[[*KEYS, "timestamp", "reason"]]


RESTART_COLUMNS = [
    *KEYS,
    "restarts",
    "restarts_scope",
    "oom_kills",
    "last_restart_at",
    "last_reason",
    "last_exit_code",
    "exit_meaning",
    "crash_loop",
    "state_reason",
]


def restart_summary(
    restarts: pd.DataFrame | None = None,
    reasons: pd.DataFrame | None = None,
    inventory: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Restarts, OOM kills and the last exit per container.

    With ``restarts`` (counter series) ``restarts`` counts increases inside the window
    (``restarts_scope`` "window"); with only the inventory it is the lifetime
    ``restart_count`` ("lifetime"). ``oom_kills`` counts restarts whose termination reason
    (``reasons``, matched to the restart within 15 minutes) was OOMKilled; without reasons
    series, 1 when the inventory's last termination was OOMKilled. ``crash_loop`` is the
    inventory's ``state_reason == "CrashLoopBackOff"``.

    >>> t = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    >>> r = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                   "value": [0.0, 1.0, 2.0]})
    >>> why = r.assign(reason="OOMKilled", value=[0.0, 1.0, 1.0])
    >>> restart_summary(r, why).loc[0, ["restarts", "oom_kills", "last_exit_code"]].tolist()
    [2.0, 2.0, 137.0]
    """
    parts = []
    if restarts is not None:
        events = restart_events(restarts)
        if reasons is not None and not events.empty:
            current = _current_reasons(reasons).sort_values("timestamp")
            events = pd.merge_asof(
                events.sort_values("timestamp"),
                current,
                on="timestamp",
                by=KEYS,
                direction="forward",
                tolerance=REASON_TOLERANCE,
            )
            events["oom"] = np.where(events["reason"] == "OOMKilled", events["restarts"], 0.0)
        else:
            events["oom"] = np.nan
        counted = events.groupby(KEYS).agg(
            restarts=("restarts", "sum"),
            oom_kills=("oom", lambda s: s.sum(min_count=1)),
            last_restart_at=("timestamp", "max"),
        )
        every = plain_labels(restarts, KEYS)[KEYS].drop_duplicates().set_index(KEYS)
        counted = every.join(counted)
        counted["restarts"] = counted["restarts"].fillna(0.0)
        if reasons is not None:
            counted["oom_kills"] = counted["oom_kills"].fillna(0.0)
        counted["restarts_scope"] = "window"
        parts.append(counted)
    if reasons is not None:
        last_reason = latest(_current_reasons(reasons), KEYS).set_index(KEYS)["reason"]
        parts.append(last_reason.rename("last_reason").to_frame())
    if inventory is not None:
        inv = plain_labels(inventory, [*KEYS, "last_terminated_reason", "state_reason"])
        inv = inv.drop_duplicates(KEYS, keep="last").set_index(KEYS)
        own = pd.DataFrame(index=inv.index)
        own["restarts"] = inv.get("restart_count", pd.Series(np.nan, index=inv.index))
        own["restarts_scope"] = "lifetime"
        own["last_reason"] = inv.get("last_terminated_reason")
        own["oom_kills"] = (own["last_reason"] == "OOMKilled").astype("float64")
        own["last_exit_code"] = inv.get("last_exit_code")
        own["state_reason"] = inv.get("state_reason")
        own["last_restart_at"] = inv.get("last_terminated_at")
        parts.append(own)
    if not parts:
        return pd.DataFrame(columns=RESTART_COLUMNS)
    out = parts[0]
    for part in parts[1:]:
        out = out.combine_first(part)  # earlier (Prometheus, in-window) values win
    out = out.reindex(columns=RESTART_COLUMNS[len(KEYS) :]).reset_index()
    for column in ("restarts", "oom_kills", "last_exit_code"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    implied = out["last_reason"].map(REASON_EXIT_CODES).astype("float64")
    out["last_exit_code"] = out["last_exit_code"].fillna(implied)
    out["exit_meaning"] = [
        exit_code_meaning(code, reason)
        for code, reason in zip(out["last_exit_code"], out["last_reason"], strict=True)
    ]
    out["crash_loop"] = out["state_reason"].eq("CrashLoopBackOff").astype(bool)
    out["last_restart_at"] = pd.to_datetime(out["last_restart_at"], utc=True).astype(
        TIMESTAMP_DTYPE
    )
    return out[RESTART_COLUMNS].sort_values(KEYS).reset_index(drop=True)


# --------------------------------------------------------------------------- limits


def memory_near_limit(
    working_set: pd.DataFrame,
    limits: pd.DataFrame | None,
    share: float = 0.85,
    quantile: float = 0.99,
    stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per container with a memory limit: the working set's ``quantile`` as a share of it.

    ``stats`` (push-down: per-container statistics computed by Prometheus, with the
    ``memory_pNN_bytes`` column of ``quantile``) replaces the samples when given.

    ``near`` is true when that share is at least ``share`` (runbook Problem 4: > 85 %).

    >>> ws = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c",
    ...                    "timestamp": pd.date_range("2026-01-01", periods=2, tz="UTC"),
    ...                    "value": [900.0, 950.0]})
    >>> lim = ws.iloc[:1][["namespace", "pod", "container"]].assign(memory_limit_bytes=1000.0)
    >>> memory_near_limit(ws, lim)[["near", "share_of_limit"]].to_dict("records")
    [{'near': True, 'share_of_limit': 0.9495}]
    """
    if stats is not None:
        column = f"memory_p{round(quantile * 100, 6):g}_bytes"
        usage = plain_labels(stats, KEYS).set_index(KEYS)[column].rename("working_set_bytes")
    else:
        frame = plain_labels(working_set, KEYS)
        usage = frame.groupby(KEYS)["value"].quantile(quantile).rename("working_set_bytes")
    limit = _limits_of(limits).set_index(KEYS)["memory_limit_bytes"].dropna()
    out = usage.to_frame().join(limit, how="inner").reset_index()
    out["share_of_limit"] = out["working_set_bytes"] / out["memory_limit_bytes"]
    out["near"] = out["share_of_limit"] >= share
    return out.sort_values("share_of_limit", ascending=False).reset_index(drop=True)


def no_memory_limit(
    working_set: pd.DataFrame, limits: pd.DataFrame | None, stats: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Containers seen in the working set or the limits table without a memory limit.

    ``stats`` (push-down, with ``memory_max_bytes``) replaces the samples when given.

    Returns nothing when ``limits`` is None or empty (no limit data is no evidence).
    ``limits``: a limits series, an inventory frame or :func:`container_resources` output.

    >>> ws = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...                    "timestamp": pd.Timestamp("2026-01-01", tz="UTC"), "value": 1.0})
    >>> lim = ws.iloc[:1][["namespace", "pod", "container"]].assign(memory_limit_bytes=9.0)
    >>> no_memory_limit(ws, lim)["pod"].tolist()
    ['b']
    """
    columns = [*KEYS, "memory_max_bytes", "memory_request_bytes"]
    table = _limits_of(limits)
    if table.empty:
        return pd.DataFrame(columns=columns)
    if stats is not None:
        peak = plain_labels(stats, KEYS).set_index(KEYS)["memory_max_bytes"]
    else:
        peak = plain_labels(working_set, KEYS).groupby(KEYS)["value"].max()
    peak = peak.rename("memory_max_bytes")
    table = table.set_index(KEYS)
    out = table.join(peak, how="outer")
    out = out[out["memory_limit_bytes"].isna()].reset_index()
    return out[columns].sort_values(KEYS).reset_index(drop=True)


# --------------------------------------------------------------------------- findings


def _subject(row: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(row[k]) for k in KEYS}


def _leak_findings(leaks: pd.DataFrame, critical_hours: float) -> list[Finding]:
    found = []
    for row in leaks[leaks["is_leak"]].to_dict("records"):
        hours = row["hours_to_limit"]
        if np.isfinite(hours):
            when = f"reaches its limit in {hours:.1f} h ({row['limit_at']:%Y-%m-%d %H:%M} UTC)"
        else:
            when = "has no memory limit to reach"
        severity = "critical" if np.isfinite(hours) and hours <= critical_hours else "warning"
        found.append(
            Finding(
                "memory_leak",
                severity,
                _subject(row),
                f"{row['container']} in {row['pod']} grows {row['growth_mib_per_h']:.1f} MiB/h "
                f"(confidence {row['confidence']:.2f}) and {when}.",
                row["growth_mib_per_h"],
                None,
                "MiB/h",
                {
                    "growth_mib_per_h": row["growth_mib_per_h"],
                    "confidence": row["confidence"],
                    "segments": row["segments"],
                    "growing_h": row["growing_h"],
                    "level_bytes": row["level_bytes"],
                    "memory_limit_bytes": row["memory_limit_bytes"],
                    "hours_to_limit": hours,
                    "limit_at": row["limit_at"],
                },
            )
        )
    return found


def _restart_findings(summary: pd.DataFrame, settings: Mapping[str, float]) -> list[Finding]:
    found = []
    for row in summary.to_dict("records"):
        name = f"{row['container']} in {row['pod']}"
        since = "in the window" if row["restarts_scope"] == "window" else "since it started"
        evidence = {
            "last_reason": row["last_reason"],
            "last_exit_code": row["last_exit_code"],
            "exit_meaning": row["exit_meaning"],
            "restarts_scope": row["restarts_scope"],
        }
        kills = row["oom_kills"]
        if pd.notna(kills) and kills >= 1:
            severity = "critical" if kills >= settings["critical_count"] else "warning"
            found.append(
                Finding(
                    "oom_killed",
                    severity,
                    _subject(row),
                    f"{name} was OOM-killed {kills:.0f} time(s) {since}: it hit its memory limit."
                    if row["restarts_scope"] == "window"
                    else f"{name} was last terminated by the OOM killer: it hit its memory limit.",
                    kills,
                    1,
                    "count",
                    evidence,
                )
            )
        restarts = row["restarts"]
        many = pd.notna(restarts) and restarts > settings["max_restarts"]
        if many or row["crash_loop"]:
            critical = row["crash_loop"] or restarts >= settings["critical_restarts"]
            looping = " and is in CrashLoopBackOff" if row["crash_loop"] else ""
            found.append(
                Finding(
                    "frequent_restarts",
                    "critical" if critical else "warning",
                    _subject(row),
                    f"{name} restarted {restarts:.0f} time(s) {since}{looping}; last exit: "
                    f"{row['exit_meaning']}.",
                    restarts,
                    settings["max_restarts"],
                    "count",
                    evidence,
                )
            )
    return found


def _limit_findings(
    near: pd.DataFrame, missing: pd.DataFrame, settings: Mapping[str, float]
) -> list[Finding]:
    found = []
    for row in near[near["near"]].to_dict("records"):
        share = row["share_of_limit"]
        found.append(
            Finding(
                "memory_near_limit",
                "critical" if share >= settings["critical_share"] else "warning",
                _subject(row),
                f"{row['container']} in {row['pod']} uses {share:.0%} of its memory limit "
                f"(p{settings['quantile'] * 100:g} {row['working_set_bytes'] / MIB:.0f} MiB of "
                f"{row['memory_limit_bytes'] / MIB:.0f} MiB).",
                share,
                settings["share"],
                "ratio",
                {k: row[k] for k in ("working_set_bytes", "memory_limit_bytes")},
            )
        )
    for row in missing.to_dict("records"):
        peak = row["memory_max_bytes"]
        seen = f" (peak {peak / MIB:.0f} MiB)" if pd.notna(peak) else ""
        found.append(
            Finding(
                "no_memory_limit",
                "warning",
                _subject(row),
                f"{row['container']} in {row['pod']} has no memory limit{seen}: it can take "
                "its node's memory and get neighbours evicted.",
                peak,
                None,
                "bytes",
                {k: row[k] for k in ("memory_max_bytes", "memory_request_bytes")},
            )
        )
    return found


def pod_owners(inventory: pd.DataFrame | None) -> pd.DataFrame:
    """``namespace, pod, workload_kind, workload`` from the Kubernetes inventory's owner
    columns (the loader resolved a ReplicaSet to its Deployment); pods it does not list, or
    without an owner, are left out: a workload is never guessed from a pod's name.

    >>> inv = pd.DataFrame({"namespace": "n", "pod": ["api-7d-x", "dbg"], "container": "c",
    ...                     "owner_kind": ["Deployment", None], "owner_name": ["api", None]})
    >>> pod_owners(inv).to_dict("records")
    [{'namespace': 'n', 'pod': 'api-7d-x', 'workload_kind': 'Deployment', 'workload': 'api'}]
    """
    columns = ["namespace", "pod", "workload_kind", "workload"]
    if inventory is None or "owner_kind" not in inventory.columns:
        return pd.DataFrame(columns=columns)
    frame = plain_labels(inventory, ["namespace", "pod", "owner_kind", "owner_name"])
    frame = frame.dropna(subset=["owner_kind", "owner_name"])
    frame = frame.rename(columns={"owner_kind": "workload_kind", "owner_name": "workload"})
    return frame[columns].drop_duplicates(["namespace", "pod"]).reset_index(drop=True)


def _with_owners(
    findings: list[Finding], owners: pd.DataFrame, resources: pd.DataFrame, near: pd.DataFrame
) -> list[Finding]:
    """Memory findings with what their fix needs in ``evidence``: the pod's workload (from
    :func:`pod_owners`) and, for OOM kills, the limit that was hit and the p99 working set."""
    owner = {(row["namespace"], row["pod"]): row for row in owners.to_dict("records")}
    limit = _limits_of(resources).set_index(KEYS)["memory_limit_bytes"].dropna().to_dict()
    usage = near.set_index(KEYS)["working_set_bytes"].to_dict() if not near.empty else {}
    out = []
    for finding in findings:
        subject = finding.subject
        if not all(k in subject for k in KEYS):
            out.append(finding)
            continue
        evidence = dict(finding.evidence or {})
        known = owner.get((subject["namespace"], subject["pod"]))
        if known is not None:
            evidence |= {k: known[k] for k in ("workload_kind", "workload")}
        key = tuple(subject[k] for k in KEYS)
        if finding.check == "oom_killed":
            evidence.setdefault("memory_limit_bytes", limit.get(key))
            evidence.setdefault("working_set_bytes", usage.get(key))
        out.append(dataclasses.replace(finding, evidence=evidence))
    return out


def memory_report(
    working_set: pd.DataFrame,
    restarts: pd.DataFrame | None = None,
    reasons: pd.DataFrame | None = None,
    requests: pd.DataFrame | None = None,
    limits: pd.DataFrame | None = None,
    inventory: pd.DataFrame | None = None,
    profile: Profile | None = None,
    stats: pd.DataFrame | None = None,
    screen: pd.DataFrame | None = None,
    skipped: pd.DataFrame | None = None,
    max_series: int = 200,
) -> dict[str, Any]:
    """Everything the memory notebook shows, in one call: frames and ``findings``.

    Push-down (fleet scale): ``stats`` holds per-container statistics computed by Prometheus
    (``memory_max_bytes`` and the near-limit quantile), ``working_set`` then only the
    series fetched in full (leak candidates, charted containers), ``screen`` every
    container's leak screen (:func:`leak_candidates`) and ``skipped`` the candidates left
    out by ``max_series``.

    Keys: ``resources`` (:func:`container_resources`), ``segments`` and ``leaks``
    (:func:`leak_segments`, :func:`detect_leaks`), ``restarts`` (:func:`restart_summary`),
    ``near_limit``, ``no_limit`` and ``findings``. ``inventory`` (the Kubernetes ``containers``
    frame) supplies requests/limits when they are not given, and restart state.

    >>> t = pd.date_range("2026-01-01", periods=3 * 24 * 12, freq="5min", tz="UTC")
    >>> ws = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                    "value": 100 * MIB + 10 * MIB * (t - t[0]) / pd.Timedelta(hours=1)})
    >>> inv = ws.iloc[:1][["namespace", "pod", "container"]].assign(
    ...     memory_limit_bytes=float(2**30), restart_count=0)
    >>> report = memory_report(ws, inventory=inv)
    >>> [f.check for f in report["findings"]], round(float(report["leaks"].hours_to_limit[0]), 1)
    (['memory_leak'], 20.5)
    """
    leak = check_thresholds(profile, "memory_leak")
    critical_hours = leak.pop("critical_hours_to_limit")
    restart_settings = check_thresholds(profile, "oom_killed")
    restart_settings |= check_thresholds(profile, "frequent_restarts")
    near_settings = check_thresholds(profile, "memory_near_limit")
    working_set = plain_labels(working_set, KEYS)  # once, not in every step
    has_resources = requests is not None or limits is not None or inventory is not None
    resources = container_resources(
        requests if requests is not None else inventory,
        limits if limits is not None else inventory,
    )
    segments = leak_segments(
        working_set, restarts, leak["drop_fraction"], leak["min_segment_h"], leak["min_span_h"]
    )
    leaks = detect_leaks(working_set, restarts, resources, **leak, segments=segments)
    if screen is not None:
        leaks = screened_out(leaks, screen)
    summary = restart_summary(restarts, reasons, inventory)
    near = memory_near_limit(
        working_set, resources, near_settings["share"], near_settings["quantile"], stats
    )
    missing = no_memory_limit(working_set, resources if has_resources else None, stats)
    fleet = check_thresholds(profile, "rollup")
    findings = Findings(
        rollup(
            [
                *_unanalysed_finding(skipped, max_series),
                *_with_owners(
                    [
                        *_leak_findings(leaks, critical_hours),
                        *_restart_findings(summary, restart_settings),
                        *_limit_findings(near, missing, near_settings),
                    ],
                    pod_owners(inventory),
                    resources,
                    near,
                ),
            ],
            above=fleet["above"],
            floor_usd_per_month=fleet["floor_usd_per_month"],
            keep=fleet["keep"],
            namespaces=fleet["namespaces"],
        )
    )
    every = stats if stats is not None else working_set
    return {
        "containers": plain_labels(every, KEYS)[KEYS].drop_duplicates().shape[0],
        "resources": resources,
        "segments": segments,
        "leaks": leaks,
        "restarts": summary,
        "near_limit": near,
        "no_limit": missing,
        "findings": findings,
    }
