"""Shared by the database checks: reading the loader's frames (missing cells, numbers, text,
flags, labels, ages), severities, and where thresholds come from (:data:`ThresholdSettings`).

Cells of the PostgreSQL loader's frames may be ``None``, ``NaN``, ``NaT`` or ``pd.NA`` (a
statistic the role may not read, a table never vacuumed); every check reads them through these
helpers, so a missing value is always missing the same way.

>>> is_missing(pd.NA), float_or_nan(None), as_text(None, "?"), as_bool(pd.NA, True)
(True, nan, '?', True)
>>> utc_text(pd.Timestamp("2026-11-22 10:00", tz="UTC")), warning_or_critical(True)
('2026-11-22 10:00 UTC', 'critical')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.config import Profile

ThresholdSettings = Profile | Mapping[str, Mapping[str, float]] | None
"""Where a check's thresholds come from (:func:`dwcp_diag.checks.check_thresholds`): a profile
(its ``[thresholds.CHECK]`` tables), a mapping of that shape, or None (the registry's defaults)."""
MAX_QUERY_CHARS_IN_EVIDENCE = 500
_TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def is_missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def float_or_nan(value: Any) -> float:
    return float("nan") if is_missing(value) else float(value)


def as_text(value: Any, default: str = "") -> str:
    return default if is_missing(value) else str(value)


def float_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def bool_column(frame: pd.DataFrame, column: str, default: bool = False) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(default, index=frame.index, dtype=bool)
    return frame[column].astype("boolean").fillna(default).astype(bool)


def dotted_names(frame: pd.DataFrame, column: str) -> pd.Series:
    """``schemaname.column`` per row (the label subjects and tables use)."""
    return frame["schemaname"].astype("str") + "." + frame[column].astype("str")


def first_value(frame: pd.DataFrame | None, column: str) -> Any:
    if frame is None or column not in frame.columns or frame.empty:
        return None
    value = frame[column].iloc[0]
    return None if is_missing(value) else value


def utc_text(value: Any) -> str:
    return "unknown" if is_missing(value) else pd.Timestamp(value).strftime(_TIME_FORMAT)


def ages_s(timestamps: pd.Series, now: pd.Timestamp | None) -> pd.Series:
    if now is None or is_missing(now):
        return pd.Series(np.nan, index=timestamps.index, dtype="float64")
    stamps = pd.to_datetime(timestamps, utc=True)
    return (pd.Timestamp(now) - stamps).dt.total_seconds().astype("float64")


def report_now(now: Any, server: pd.DataFrame | None) -> pd.Timestamp | None:
    """``now`` as a UTC timestamp (naive means UTC), else the server frame's ``captured_at``."""
    if is_missing(now):
        now = first_value(server, "captured_at")
    if now is None:
        return None
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def as_bool(value: Any, default: bool = False) -> bool:
    return default if is_missing(value) else bool(value)


def warning_or_critical(critical: bool) -> str:
    return "critical" if critical else "warning"


def short_query(query: Any, limit: int = MAX_QUERY_CHARS_IN_EVIDENCE) -> str:
    """The query on one line, cut at a word (never mid-word) past ``limit`` characters."""
    # texts arrive redacted by the loader ([postgres] query_text); "none" leaves no text at all
    text = " ".join(as_text(query, "(query text not shown)").split())
    if len(text) <= limit:
        return text
    return (text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]) + " …"
