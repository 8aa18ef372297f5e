"""Series helpers: tidy Prometheus frames (labels, ``timestamp``, ``value``) cut by series and time.

Used by the latency and incident analyses: which columns are labels, the step of a range
query, the samples inside a window, the runs of samples over a threshold.

>>> ts = pd.date_range("2026-11-12T14:00Z", periods=4, freq="1min")
>>> f = pd.DataFrame({"path": "/a", "timestamp": ts, "value": [0.1, 0.3, 0.4, 0.1]})
>>> label_columns(f), infer_step_s(f)
(['path'], 60.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from dwcp_diag.timewindow import TimeWindow, parse_time

DEFAULT_STEP_S = 60.0
_TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def label_columns(frame: pd.DataFrame, *exclude: str) -> list[str]:
    """The label columns of a tidy frame: everything but ``timestamp``, ``value`` and ``exclude``.

    >>> label_columns(pd.DataFrame(columns=["path", "le", "timestamp", "value"]), "le")
    ['path']
    """
    skip = {"timestamp", "value", *exclude}
    return [c for c in frame.columns if c not in skip]


def infer_step_s(frame: pd.DataFrame, default_s: float = DEFAULT_STEP_S) -> float:
    """The query step of a range-query frame: the median spacing of its distinct timestamps.

    >>> ts = pd.to_datetime([0, 60, 120, 300], unit="s", utc=True)
    >>> infer_step_s(pd.DataFrame({"timestamp": ts, "value": 1.0}))
    60.0
    """
    stamps = pd.DatetimeIndex(frame["timestamp"].dropna().unique()).sort_values()
    if len(stamps) < 2:
        return float(default_s)
    gaps = (stamps[1:] - stamps[:-1]).total_seconds()
    return float(np.median(gaps[gaps > 0]))


def in_window(frame: pd.DataFrame, window: TimeWindow, closed: str = "right") -> pd.DataFrame:
    """Rows whose ``timestamp`` lies in the window: ``(start, end]`` (samples) or ``"both"``.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> f = pd.DataFrame({"timestamp": [w.start, w.end], "value": [1.0, 2.0]})
    >>> in_window(f, w)["value"].tolist(), len(in_window(f, w, closed="both"))
    ([2.0], 2)
    """
    stamps = frame["timestamp"]
    after = stamps >= window.start if closed == "both" else stamps > window.start
    return frame[after & (stamps <= window.end)]


def contiguous_intervals(
    timestamps: Iterable[pd.Timestamp] | pd.Series,
    mask: Sequence[bool] | np.ndarray | pd.Series,
    step_s: float,
    values: Sequence[float] | np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Runs of consecutive samples where ``mask`` holds, as intervals.

    ``timestamps`` must be sorted. A run breaks at a sample where the mask is false or at a gap
    of more than 1.5 steps (a missing sample is not evidence the condition held). Each sample
    stands for one step, so an interval is ``[first, last + step)`` and ``duration_s`` is
    ``samples x step_s``. ``peak``/``peak_at`` are the largest of ``values`` inside the run.

    >>> ts = pd.date_range("2026-11-12T14:00Z", periods=6, freq="1min")
    >>> runs = contiguous_intervals(ts, [0, 1, 1, 0, 1, 0], 60, values=[1, 5, 7, 1, 9, 1])
    >>> runs[["duration_s", "samples", "peak"]].values.tolist()
    [[120.0, 2.0, 7.0], [60.0, 1.0, 9.0]]
    """
    columns = ["start", "end", "duration_s", "samples", "peak", "peak_at"]
    stamps = pd.DatetimeIndex(pd.Series(timestamps))
    flags = np.asarray(mask, dtype=bool)
    positions = np.flatnonzero(flags)
    if len(positions) == 0:
        return _empty_intervals(columns)
    vals = np.full(len(stamps), np.nan) if values is None else np.asarray(values, dtype=float)
    hit_times = stamps[positions]
    gaps_s = np.asarray((hit_times[1:] - hit_times[:-1]).total_seconds())
    breaks = np.r_[True, (np.diff(positions) > 1) | (gaps_s > 1.5 * step_s)]
    runs = pd.DataFrame({"run": np.cumsum(breaks), "t": hit_times, "v": vals[positions]})
    rows = []
    for _, run in runs.groupby("run", sort=True):
        peak_row = run.loc[run["v"].idxmax()] if run["v"].notna().any() else None
        start, end = run["t"].iloc[0], run["t"].iloc[-1] + pd.Timedelta(seconds=step_s)
        rows.append(
            {
                "start": start,
                "end": end,
                "duration_s": float((end - start).total_seconds()),
                "samples": len(run),
                "peak": np.nan if peak_row is None else float(peak_row["v"]),
                "peak_at": pd.NaT if peak_row is None else peak_row["t"],
            }
        )
    return pd.DataFrame(rows, columns=columns)


def breach_intervals(
    frame: pd.DataFrame, threshold: float, step_s: float | None = None
) -> pd.DataFrame:
    """Per series of a tidy frame, the intervals where ``value > threshold``.

    Returns the series' label columns plus the columns of :func:`contiguous_intervals`.

    >>> ts = pd.date_range("2026-11-12T14:00Z", periods=4, freq="1min")
    >>> f = pd.DataFrame({"path": "/a", "timestamp": ts, "value": [0.1, 0.3, 0.4, 0.1]})
    >>> breach_intervals(f, 0.2)[["path", "duration_s", "peak"]].values.tolist()
    [['/a', 120.0, 0.4]]
    """
    keys = label_columns(frame)
    step = infer_step_s(frame) if step_s is None else step_s
    parts = []
    for key, series in series_groups(frame, keys):
        series = series.sort_values("timestamp")
        runs = contiguous_intervals(
            series["timestamp"], (series["value"] > threshold).to_numpy(), step, series["value"]
        )
        parts.append(runs.assign(**dict(zip(keys, key, strict=True))))
    columns = [*keys, "start", "end", "duration_s", "samples", "peak", "peak_at"]
    if not parts:
        return _empty_intervals(columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _empty_intervals(columns: list[str]) -> pd.DataFrame:
    kinds = {"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]"}
    kinds |= {"peak_at": "datetime64[ns, UTC]", "duration_s": "float64"}
    kinds |= {"samples": "int64", "peak": "float64"}
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, "object")) for c in columns})


def series_groups(frame: pd.DataFrame, keys: list[str]) -> Iterable[tuple[tuple, pd.DataFrame]]:
    """``(label values, rows)`` per series of ``keys``; a missing label is a value of its own.

    >>> [k for k, _ in series_groups(pd.DataFrame({"pod": ["a", "b", "a"]}), ["pod"])]
    [('a',), ('b',)]
    """
    if not keys:
        if not frame.empty:
            yield (), frame
        return
    for key, rows in frame.groupby(keys, observed=True, dropna=False, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), rows


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} frame needs columns {list(columns)}; missing {missing} "
            f"(it has {list(frame.columns)})"
        )


def format_utc(ts: pd.Timestamp | str) -> str:
    """A time for a finding's summary, minute precision, in UTC (naive times are UTC).

    >>> format_utc("2026-11-12T16:05:30+02:00")
    '2026-11-12 14:05 UTC'
    """
    return parse_time(ts).strftime(_TIME_FORMAT)
