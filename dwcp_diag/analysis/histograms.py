"""Histogram maths: Prometheus cumulative bucket frames to quantiles, shares and heatmaps.

Quantiles are computed from a bucket frame exactly as PromQL's ``histogram_quantile`` does
(:func:`quantile_from_buckets`), so one bucket query yields p50/p95/p99 and the numbers match
Grafana; :func:`slo_ratio_under` reads the share of requests under a target straight off a
bucket edge, and :func:`compare_p95_with_ratio` says where the two views disagree. A bucket
frame has ``le`` plus any labels, ``timestamp`` and ``value`` (cumulative counts or rates).

>>> ts = pd.Timestamp("2026-11-12T14:00Z")
>>> buckets = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": [ts] * 3,
...                         "value": [50.0, 95.0, 100.0]})
>>> float(quantile_from_buckets(buckets, 0.95)["value"].iloc[0])
0.2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dwcp_diag.analysis.series import label_columns, require_columns

# PromQL's smallDeltaTolerance: bucket counts this close are float noise, not a decrease.
_SMALL_DELTA_TOLERANCE = 1e-12


@dataclass(frozen=True)
class _Histograms:
    """Cumulative histograms, one row per (labels, timestamp); NaN marks an absent bucket."""

    index: pd.DataFrame  # label columns + timestamp, one row per histogram
    bounds: np.ndarray  # sorted distinct upper bounds (+inf last when present)
    counts: np.ndarray  # (histograms x bounds), coalesced and made monotonic like PromQL


def _parse_le(le: pd.Series) -> np.ndarray:
    """``le`` label values as floats (NaN where unparseable); parses each distinct value once."""
    codes, uniques = pd.factorize(le)

    def to_float(raw: object) -> float:
        try:
            return float(str(raw))
        except ValueError:
            return math.nan

    parsed = np.array([to_float(u) for u in uniques] + [math.nan])
    return parsed[codes]  # code -1 (a missing label) picks the trailing NaN


def _histograms(buckets: pd.DataFrame) -> _Histograms:
    require_columns(buckets, ("le", "timestamp", "value"), "bucket")
    keys = [*label_columns(buckets, "le"), "timestamp"]
    upper = _parse_le(buckets["le"])
    values = buckets["value"].to_numpy(dtype=float, na_value=np.nan)
    # Samples with an unparseable le or a NaN value are absent buckets, as in PromQL.
    keep = ~np.isnan(upper) & ~np.isnan(values)
    rows = buckets.loc[keep, keys]
    if rows.empty:
        return _Histograms(rows.iloc[:0].reset_index(drop=True), np.empty(0), np.empty((0, 0)))
    group = rows.groupby(keys, observed=True, dropna=False, sort=True).ngroup().to_numpy()
    _, first = np.unique(group, return_index=True)
    bounds, bucket = np.unique(upper[keep], return_inverse=True)
    n_hist, n_bounds = len(first), len(bounds)
    flat = group * n_bounds + bucket
    # Summing duplicates is PromQL's coalesceBuckets ("0.2" and "0.20" are one bucket).
    counts = np.bincount(flat, weights=values[keep], minlength=n_hist * n_bounds)
    present = np.bincount(flat, minlength=n_hist * n_bounds) > 0
    counts = np.where(present, counts, np.nan).reshape(n_hist, n_bounds)
    _ensure_monotonic(counts)
    return _Histograms(rows.iloc[first].reset_index(drop=True), bounds, counts)


def _almost_equal(a: np.ndarray, b: np.ndarray, epsilon: float) -> np.ndarray:
    """Prometheus ``util/almost.Equal``, vectorised."""
    tiny = np.finfo(float).tiny
    diff, abs_sum = np.abs(a - b), np.abs(a) + np.abs(b)
    near_zero = (a == 0) | (b == 0) | (abs_sum < tiny)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = diff / np.minimum(abs_sum, np.finfo(float).max)
    return (a == b) | np.where(near_zero, diff < epsilon * tiny, relative < epsilon)


def _ensure_monotonic(counts: np.ndarray) -> None:
    """PromQL's ensureMonotonicAndIgnoreSmallDeltas along each row, skipping absent buckets."""
    prev = np.full(counts.shape[0], np.nan)
    for j in range(counts.shape[1]):
        cur = counts[:, j]
        present = ~np.isnan(cur)
        both = present & ~np.isnan(prev)
        with np.errstate(invalid="ignore"):
            held = (
                both
                & (cur != prev)
                & (_almost_equal(prev, cur, _SMALL_DELTA_TOLERANCE) | (cur < prev))
            )
        counts[:, j] = np.where(held, prev, cur)
        prev = np.where(present & ~held, cur, prev)


def _previous_present(present: np.ndarray) -> np.ndarray:
    """For each cell, the column index of the nearest present bucket below it, or -1."""
    previous = np.full(present.shape, -1)
    last = np.full(present.shape[0], -1)
    for j in range(present.shape[1]):
        previous[:, j] = last
        last = np.where(present[:, j], j, last)
    return previous


def _bucket_quantile(h: _Histograms, q: float) -> np.ndarray:
    """PromQL's bucketQuantile for every histogram of ``h``."""
    n_hist = len(h.index)
    if math.isnan(q):
        return np.full(n_hist, np.nan)
    if q < 0 or q > 1:
        return np.full(n_hist, -np.inf if q < 0 else np.inf)
    if len(h.bounds) == 0 or h.bounds[-1] != np.inf:
        return np.full(n_hist, np.nan)
    counts = h.counts
    present = ~np.isnan(counts)
    observations = counts[:, -1]
    usable = (present.sum(axis=1) >= 2) & present[:, -1] & (observations != 0)
    rank = q * observations
    with np.errstate(invalid="ignore"):
        hit = present[:, :-1] & (counts[:, :-1] >= rank[:, None])
    inf_col = len(h.bounds) - 1
    first_hit = hit.argmax(axis=1) if inf_col > 0 else np.zeros(n_hist, dtype=int)
    b = np.where(hit.any(axis=1), first_hit, inf_col)
    rows = np.arange(n_hist)
    below = _previous_present(present)[rows, b]
    has_below = below >= 0
    below_safe = np.where(has_below, below, 0)
    start = np.where(has_below, h.bounds[below_safe], 0.0)
    below_count = np.where(has_below, counts[rows, below_safe], 0.0)
    end = h.bounds[b]
    with np.errstate(invalid="ignore", divide="ignore"):
        interpolated = start + (end - start) * (
            (rank - below_count) / (counts[rows, b] - below_count)
        )
    result = np.where(
        b == inf_col,  # rank in the +Inf bucket: the highest finite bound
        start,
        np.where(~has_below & (end <= 0), end, interpolated),
    )
    return np.where(usable, result, np.nan)


def quantile_from_buckets(buckets: pd.DataFrame, q: float) -> pd.DataFrame:
    """``histogram_quantile(q, <buckets>)`` computed exactly as Prometheus does.

    ``buckets`` is a cumulative bucket frame (``le`` plus any labels, ``timestamp``, ``value``),
    e.g. ``sum by (le, path) (rate(http_request_duration_seconds_bucket[5m]))``. One histogram
    per distinct (labels, timestamp). PromQL's rules, bucket for bucket: linear interpolation
    inside the bucket holding rank ``q x count``; the lowest bucket interpolates from 0 (or
    returns its bound if that is <= 0); a rank in the ``+Inf`` bucket returns the highest finite
    bound; NaN for zero observations, fewer than two buckets or no ``+Inf`` bucket; duplicate
    bounds are summed; decreasing counts are lifted to the running maximum, differences within
    a relative 1e-12 ignored. ``q < 0`` gives -Inf, ``q > 1`` +Inf. Samples with a NaN value
    are treated as absent buckets.

    Returns the labels without ``le``, ``timestamp`` and ``value`` (in the unit of ``le``).

    >>> ts = pd.Timestamp("2026-11-12T14:00Z")
    >>> b = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": ts, "value": [50., 90, 100]})
    >>> [round(float(quantile_from_buckets(b, q)["value"].iloc[0]), 4) for q in (0.5, 0.7, 0.95)]
    [0.1, 0.15, 0.2]
    """
    h = _histograms(buckets)
    return h.index.assign(value=_bucket_quantile(h, q))


def quantile_label(q: float) -> str:
    """``0.95`` -> ``"p95"``, ``0.999`` -> ``"p99.9"``.

    >>> quantile_label(0.5), quantile_label(0.999)
    ('p50', 'p99.9')
    """
    return f"p{round(q * 100, 6):g}"


def quantiles_from_buckets(
    buckets: pd.DataFrame, qs: Sequence[float] = (0.5, 0.95, 0.99)
) -> pd.DataFrame:
    """Several quantiles from one bucket frame, stacked with a categorical ``quantile`` column.

    >>> ts = pd.Timestamp("2026-11-12T14:00Z")
    >>> b = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": ts, "value": [50., 90, 100]})
    >>> quantiles_from_buckets(b, (0.5, 0.95))[["quantile", "value"]].values.tolist()
    [['p50', 0.1], ['p95', 0.2]]
    """
    h = _histograms(buckets)
    labels = [quantile_label(q) for q in qs]
    parts = [
        h.index.assign(quantile=label, value=_bucket_quantile(h, q))
        for q, label in zip(qs, labels, strict=True)
    ]
    columns = [*label_columns(h.index), "quantile", "timestamp", "value"]
    out = (
        pd.concat(parts, ignore_index=True)[columns]
        if parts
        else h.index.assign(quantile=pd.Series(dtype="str"), value=pd.Series(dtype=float))[columns]
    )
    out["quantile"] = pd.Categorical(out["quantile"], categories=labels)
    return out


def heatmap_counts(bucket_increases: pd.DataFrame) -> pd.DataFrame:
    """Per-bucket (non-cumulative) counts over time, for a latency heatmap.

    Input: cumulative buckets, ideally ``sum by (le) (increase(...bucket[STEP]))`` at step
    ``STEP`` (or rates; the output keeps the input's unit). Each present bucket gets one row
    with its ``lower_s`` (the next bound below, 0 for the lowest) and ``upper_s`` (inf for the
    ``+Inf`` bucket); ``value`` is the count in that bucket alone.

    >>> ts = pd.Timestamp("2026-11-12T14:00Z")
    >>> b = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": ts, "value": [50., 90, 100]})
    >>> heatmap_counts(b)[["lower_s", "upper_s", "value"]].values.tolist()
    [[0.0, 0.1, 50.0], [0.1, 0.2, 40.0], [0.2, inf, 10.0]]
    """
    h = _histograms(bucket_increases)
    present = ~np.isnan(h.counts)
    below = _previous_present(present)
    below_safe = np.where(below >= 0, below, 0)
    rows = np.arange(len(h.index))[:, None]
    below_count = np.where(below >= 0, h.counts[rows, below_safe], 0.0)
    lower = np.where(below >= 0, h.bounds[below_safe], np.minimum(h.bounds, 0.0))
    hist, col = np.nonzero(present)
    out = h.index.iloc[hist].reset_index(drop=True)
    out["lower_s"] = lower[hist, col]
    out["upper_s"] = h.bounds[col]
    out["value"] = (h.counts - below_count)[hist, col]
    return out


@dataclass(frozen=True)
class RatioUnder:
    """Share of requests at or under a latency target, read directly from one bucket."""

    frame: pd.DataFrame  # labels, timestamp, value (0..1; NaN where no traffic or no exact edge)
    edge_s: float  # the bucket edge used, or the nearest edge when none equals the target
    exact: bool  # True when a bucket edge equals the target


def _edge_index(bounds: np.ndarray, target_s: float) -> tuple[int | None, bool]:
    finite = np.flatnonzero(np.isfinite(bounds))
    if len(finite) == 0:
        return None, False
    nearest = finite[np.argmin(np.abs(bounds[finite] - target_s))]
    return int(nearest), math.isclose(bounds[nearest], target_s, rel_tol=1e-9, abs_tol=1e-12)


def _share_at(h: _Histograms, col: int | None) -> np.ndarray:
    """Cumulative count at bucket ``col`` over the total, per histogram (NaN without traffic)."""
    if col is None or len(h.bounds) == 0 or h.bounds[-1] != np.inf:
        return np.full(len(h.index), np.nan)
    total = h.counts[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, h.counts[:, col] / total, np.nan)


def slo_ratio_under(buckets: pd.DataFrame, target_s: float) -> RatioUnder:
    """Share of requests served in at most ``target_s``, when a bucket edge equals the target.

    This is the SLI the SRE workbook prefers to a quantile: ``bucket{le=target} / bucket{+Inf}``
    needs no interpolation. When no edge equals the target the share cannot be read off the
    histogram: values are NaN and ``edge_s`` names the nearest edge (move a bucket boundary to
    the target, or use that edge).

    >>> ts = pd.Timestamp("2026-11-12T14:00Z")
    >>> b = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": ts, "value": [50., 90, 100]})
    >>> r = slo_ratio_under(b, 0.2)
    >>> float(r.frame["value"].iloc[0]), r.exact, slo_ratio_under(b, 0.25).edge_s
    (0.9, True, 0.2)
    """
    h = _histograms(buckets)
    col, exact = _edge_index(h.bounds, target_s)
    edge = math.nan if col is None else float(h.bounds[col])
    share = _share_at(h, col) if exact else np.full(len(h.index), np.nan)
    return RatioUnder(h.index.assign(value=share), edge, exact)


def _window_totals(buckets: pd.DataFrame) -> pd.DataFrame:
    """The bucket frame summed over time: one histogram per series for the whole window."""
    keys = [*label_columns(buckets, "le"), "le"]
    totals = buckets.groupby(keys, observed=True, dropna=False)["value"].sum(min_count=1)
    last = buckets["timestamp"].max() if len(buckets) else pd.Timestamp(0, tz="UTC")
    return totals.reset_index().assign(timestamp=last)


def compare_p95_with_ratio(buckets: pd.DataFrame, target_s: float, q: float = 0.95) -> pd.DataFrame:
    """How far the interpolated quantile and the directly counted share disagree, per series.

    Both are computed over the whole frame (buckets summed over time). ``p{q}_s`` is PromQL's
    interpolated quantile; ``share_under_target`` the counted share at the target edge (NaN if
    no edge equals the target, see :func:`slo_ratio_under`); ``share_below``/``share_above`` the
    shares at the edges bracketing the target, which bound the true share. ``quantile_meets``
    says ``p <= target``; ``ratio_meets`` says ``share >= q`` (``<NA>`` when the bracketing
    edges cannot tell); ``agree`` compares the two. They differ where interpolation invents
    precision: a rank in the ``+Inf`` bucket returns the highest finite edge, so a p95 "at" the
    target may hide a share well under 95 %. ``shortfall_pct_points`` is ``(q - share) x 100``.

    >>> ts = pd.Timestamp("2026-11-12T14:00Z")
    >>> b = pd.DataFrame({"le": ["0.1", "0.2", "+Inf"], "timestamp": ts, "value": [50., 90, 100]})
    >>> row = compare_p95_with_ratio(b, 0.2).iloc[0]
    >>> float(row["p95_s"]), float(row["share_under_target"]), bool(row["agree"])
    (0.2, 0.9, False)
    """
    h = _histograms(_window_totals(buckets)) if len(buckets) else _histograms(buckets)
    label = f"{quantile_label(q)}_s"
    quantile = _bucket_quantile(h, q)
    col, exact = _edge_index(h.bounds, target_s)
    tolerance = 1e-9 * max(abs(target_s), 1e-12)
    below_cols = np.flatnonzero(np.isfinite(h.bounds) & (h.bounds <= target_s + tolerance))
    above_cols = np.flatnonzero(h.bounds >= target_s - tolerance)
    below_col = int(below_cols[-1]) if len(below_cols) else None
    above_col = int(above_cols[0]) if len(above_cols) else None
    has_traffic = ~np.isnan(_share_at(h, len(h.bounds) - 1 if len(h.bounds) else None))
    share_below = (
        np.where(has_traffic, 0.0, np.nan) if below_col is None else _share_at(h, below_col)
    )
    share_above = _share_at(h, above_col)
    share_target = _share_at(h, col) if exact else np.full(len(h.index), np.nan)
    quantile_meets = pd.array(np.where(np.isnan(quantile), None, quantile <= target_s), "boolean")
    ratio_meets = pd.array(
        np.where(share_below >= q, True, np.where(share_above < q, False, None)), "boolean"
    )
    out = h.index.drop(columns="timestamp").assign(
        **{label: quantile},
        target_s=target_s,
        edge_below_s=np.nan if below_col is None else h.bounds[below_col],
        edge_above_s=np.nan if above_col is None else h.bounds[above_col],
        share_below=share_below,
        share_above=share_above,
        share_under_target=share_target,
        quantile_meets=quantile_meets,
        ratio_meets=ratio_meets,
    )
    out["agree"] = out["quantile_meets"] == out["ratio_meets"]
    out["quantile_over_target_pct"] = (out[label] / target_s - 1.0) * 100.0
    out["shortfall_pct_points"] = (q - out["share_under_target"]) * 100.0
    return out
