"""Forecast statistics: robust trends of a series, when they reach a limit, how far to trust it.

Pure numpy/pandas, no I/O, no findings: :mod:`dwcp_diag.analysis.capacity` (daily peaks of
demand, weeks to a limit) and :mod:`dwcp_diag.analysis.memory` (growth of a container's
working set between restarts) build their checks on these.

* :func:`theil_sen`: the one robust line of the package: the median of pairwise slopes and the
  median intercept, row by row; :func:`slope_pairs` chooses which pairs (all of them, an even
  subsample of the points, or a fixed random subset of the pairs).
* :func:`forecast_crossing`: a daily series' trend with a weekday adjustment and a bootstrap
  prediction interval; the date the expected daily peak first reaches a limit within the
  horizon, or ``None`` ("not within horizon"). :func:`backtest` forecasts the second half of
  the history from the first half and scores it, so a report can say how far to trust it.
* :func:`growth_anomalies`: week-over-week changes beyond normal variation.
* :func:`segment_trend`: the growth of one segment of a sampled series, with the daily cycle
  taken out when the segment is long enough (memory leaks).

>>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
>>> fc = forecast_crossing(pd.Series(100.0 + 10.0 * np.arange(28), index=days), limit=600)
>>> str(fc.crossing.date()), fc.weeks_left, round(fc.slope_per_week)
('2026-02-24', 3.3, 70)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dwcp_diag.checks import check_thresholds
from dwcp_diag.units import DAY_S, human_number

DAY = pd.Timedelta(days=1)
MIN_HISTORY_DAYS = 7
MIN_WEEKS_FOR_WEEKDAYS = 3
DEFAULT_HORIZON_DAYS = 84
DEFAULT_INTERVAL = 0.8
N_BOOTSTRAP = 200
_ANOMALY = check_thresholds(None, "growth_anomaly")  # the defaults of growth_anomalies
MAD_TO_SD = 1.4826  # MAD x 1.4826 estimates the standard deviation of normal data
_NOISE_QUANTILES = np.linspace(0.01, 0.99, 50)
_PAIRS_PER_CHUNK = 2_000_000
MAX_DAILY_PAIRS = 20_000  # daily series: beyond ~200 days, a fixed random subset of the pairs
MAX_SEGMENT_POINTS = 400  # sampled series: an even subsample of 400 points = 79,800 pairs
SEASONAL_STEPS_S = (60, 120, 300, 600, 900, 1200, 1800, 3600)  # grid steps dividing a day
SEASONAL_MAX_GRID = 4000
ANOMALY_COLUMNS = (
    "week_start",
    "week_end",
    "value",
    "change_pct",
    "baseline_change_pct",
    "scale_pct",
    "robust_z",
    "anomaly",
)


# --------------------------------------------------------------------------- Theil-Sen


@dataclass(frozen=True)
class SlopePairs:
    """The pairs of points whose slopes a Theil-Sen line takes the median of (``gap > 0``)."""

    first: np.ndarray
    second: np.ndarray
    gap: np.ndarray


def slope_pairs(
    x: np.ndarray, max_points: int | None = None, max_pairs: int | None = None
) -> SlopePairs:
    """Every pair ``i < j`` of positions ``x`` with ``x[j] > x[i]``, limited two ways.

    ``max_points`` first keeps an evenly spaced subsample of the points (a long, regularly
    sampled series: memory's working set); ``max_pairs`` then keeps a fixed random subset of
    the pairs (seed 0, so refits see the same pairs: capacity's daily peaks and its bootstrap).

    >>> p = slope_pairs(np.array([0.0, 1.0, 1.0, 3.0]))
    >>> p.first.tolist(), p.second.tolist(), p.gap.tolist()
    ([0, 0, 0, 1, 2], [1, 2, 3, 3, 3], [1.0, 1.0, 3.0, 2.0, 2.0])
    >>> len(slope_pairs(np.arange(1000.0), max_points=10).gap)
    45
    >>> len(slope_pairs(np.arange(300.0), max_pairs=50).gap)
    50
    """
    points = np.arange(len(x))
    if max_points is not None and len(x) > max_points:
        points = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
    i, j = np.triu_indices(len(points), k=1)
    first, second = points[i], points[j]
    if max_pairs is not None and len(first) > max_pairs:
        keep = np.sort(np.random.default_rng(0).choice(len(first), max_pairs, replace=False))
        first, second = first[keep], second[keep]
    gap = x[second] - x[first]
    valid = gap > 0
    return SlopePairs(first[valid], second[valid], gap[valid])


def theil_sen(x: np.ndarray, y: np.ndarray, pairs: SlopePairs) -> tuple[np.ndarray, np.ndarray]:
    """Theil-Sen lines of every row of ``y`` (shape: lines x points) against positions ``x``.

    The slope is the median of the ``pairs``' slopes (0 without any pair), the intercept the
    median of ``y - slope * x``; rows are taken in memory-sized chunks. Up to 29 % of the
    points can be outliers without moving the line.

    >>> x = np.arange(6.0)
    >>> slope, intercept = theil_sen(x, np.array([[1.0, 3, 5, 7, 90, 11]]), slope_pairs(x))
    >>> slope.tolist(), intercept.tolist()
    ([2.0], [1.0])
    """
    if not len(pairs.gap):
        slope = np.zeros(len(y))
    else:
        rows = max(1, _PAIRS_PER_CHUNK // len(pairs.gap))
        slope = np.concatenate(
            [
                np.median((part[:, pairs.second] - part[:, pairs.first]) / pairs.gap, axis=1)
                for part in np.array_split(y, -(-len(y) // rows))
            ]
        )
    return slope, np.median(y - slope[:, None] * x, axis=1)


# --------------------------------------------------------------------------- daily forecasts


@dataclass(frozen=True, eq=False)
class Forecast:
    """Result of :func:`forecast_crossing`.

    ``crossing`` is the first day whose expected daily peak reaches ``limit`` (``None``: not
    within ``horizon_days``); ``crossing_earliest``/``crossing_latest`` are the days the upper
    and lower bounds of the ``interval`` prediction band reach it (``None``: not within horizon).
    ``history`` holds the observed daily peaks, ``fitted`` the model over them, ``projection``
    the ``forecast``, ``lower`` and ``upper`` columns over the horizon (daily index, UTC).
    """

    limit: float | None
    crossing: pd.Timestamp | None
    weeks_left: float | None
    crossing_earliest: pd.Timestamp | None
    crossing_latest: pd.Timestamp | None
    slope_per_week: float
    method: str
    as_of: pd.Timestamp
    horizon_days: int
    interval: float
    history: pd.Series
    fitted: pd.Series
    projection: pd.DataFrame

    @property
    def within_horizon(self) -> bool:
        return self.crossing is not None

    def describe(self, unit: str = "") -> str:
        """One sentence for a report: when, how sure, or 'not within horizon'."""
        suffix = f" {unit}" if unit else ""
        sign = "+" if self.slope_per_week >= 0 else ""
        trend = f"trend {sign}{human_number(self.slope_per_week)}{suffix}/week"
        if self.limit is None:
            return f"No limit given; {trend}."
        if self.crossing is None:
            early = (
                f"; the {self.interval:.0%} band reaches it on {day_text(self.crossing_earliest)}"
                if self.crossing_earliest is not None
                else ""
            )
            return (
                f"Not within horizon ({self.horizon_days} days) of the limit "
                f"{human_number(self.limit)}{suffix}{early}; {trend}."
            )
        latest = (
            day_text(self.crossing_latest)
            if self.crossing_latest is not None
            else "beyond the horizon"
        )
        return (
            f"Reaches {human_number(self.limit)}{suffix} on {day_text(self.crossing)} "
            f"(in {self.weeks_left:.1f} weeks; {self.interval:.0%} interval "
            f"{day_text(self.crossing_earliest)} to {latest}); {trend}."
        )


def forecast_crossing(
    daily: pd.Series,
    limit: float | None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    interval: float = DEFAULT_INTERVAL,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
) -> Forecast:
    """When do the daily peaks reach ``limit``? Robust trend, weekly cycle, bootstrap interval.

    ``daily`` is one value per UTC day (DatetimeIndex; naive is taken as UTC; gaps are fine),
    e.g. one series of :func:`daily_peaks`. At least ``MIN_HISTORY_DAYS`` days are required.

    Method:

    1. **Trend**: Theil-Sen line, the median of the slopes between every pair of days (a
       fixed random 20 000 of them beyond ~200 days) and the median intercept. Up to 29 % of
       the days can be outliers (an incident, a scrape gap) without moving it.
    2. **Weekly cycle**: with at least three of every weekday, the median detrended value per
       weekday (centred to mean zero) is the weekday offset; trend and offsets are refitted
       twice in turn (backfitting). Weekday peaks then cross a limit before weekend troughs do.
    3. **Interval**: residual bootstrap in circular 7-day blocks (keeps autocorrelation and
       the weekly pattern of errors), residuals first scaled by sqrt(n / (n - parameters)):
       ``n_bootstrap`` refits give the trend uncertainty, to which the residuals' own spread
       is added (their 1..99 % quantiles); the band is the central ``interval`` of that mix
       for every future day. On simulated noisy trends an 80 % band held about 78 % of later
       days with 8 weeks of history to fit, but only 60-70 % with 2-4 weeks: short histories
       give overconfident bands, which is why :func:`backtest` reports ``coverage_pct``.
    4. **Crossing**: the first future day whose forecast (upper bound, lower bound) reaches
       ``limit`` gives ``crossing`` (``crossing_earliest``, ``crossing_latest``). If the fit
       already exceeds the limit on the last observed day, ``crossing`` is that day (0 weeks).
       ``limit=None`` only fits and projects. The fixed ``seed`` makes results reproducible.

    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> flat = pd.Series(100.0 + np.tile([0.0, 1.0], 14), index=days)
    >>> fc = forecast_crossing(flat, limit=200)
    >>> fc.crossing is None, fc.describe().startswith("Not within horizon (84 days)")
    (True, True)
    """
    history = _as_daily(daily)
    if len(history) < MIN_HISTORY_DAYS:
        raise ValueError(
            f"forecast_crossing: {len(history)} day(s) of history, need {MIN_HISTORY_DAYS}"
        )
    if not 0.0 < interval < 1.0:
        raise ValueError(f"forecast_crossing: interval must be in (0, 1), got {interval}")
    design = _Design.of(history.index)
    y = history.to_numpy(dtype=float)
    fit = _weekly_fit(design, y[None, :])
    fitted = fit.predict(history.index)[0]
    as_of = history.index[-1]
    future = pd.date_range(as_of + DAY, periods=int(horizon_days), freq="D")
    forecast = fit.predict(future)[0]
    residual = (y - fitted) * design.inflation
    lower, upper = _bootstrap_band(design, fitted, residual, future, interval, n_bootstrap, seed)
    crossing = earliest = latest = None
    if limit is not None:
        crossing = as_of if fitted[-1] >= limit else _first_reaching(future, forecast, limit)
        earliest = _min_day(crossing, _first_reaching(future, upper, limit))
        latest = _first_reaching(future, lower, limit)
        latest = None if latest is None or crossing is None else max(latest, crossing)
    weeks_left = None if crossing is None else round((crossing - as_of) / DAY / 7.0, 1)
    method = (
        "Theil-Sen trend + weekday medians"
        if design.seasonal
        else f"Theil-Sen trend (no weekday adjustment: under {MIN_WEEKS_FOR_WEEKDAYS} weeks)"
    ) + f"; {interval:.0%} band from a 7-day block bootstrap ({n_bootstrap} refits)"
    return Forecast(
        limit=None if limit is None else float(limit),
        crossing=crossing,
        weeks_left=weeks_left,
        crossing_earliest=earliest,
        crossing_latest=latest,
        slope_per_week=float(fit.slope_per_day[0] * 7.0),
        method=method,
        as_of=as_of,
        horizon_days=int(horizon_days),
        interval=float(interval),
        history=history,
        fitted=pd.Series(fitted, index=history.index, name="fitted"),
        projection=pd.DataFrame(
            {"forecast": forecast, "lower": lower, "upper": upper}, index=future
        ),
    )


@dataclass(frozen=True, eq=False)
class Backtest:
    """Result of :func:`backtest`: how well the first half forecast the second half.

    ``mape_pct``: mean absolute percentage error of the forecast daily peaks; ``bias_pct``:
    mean error over mean actual (positive: the forecast ran high); ``coverage_pct``: share of
    actual days inside the band (near ``interval`` when the band is honest);
    ``crossing_error_days``: forecast crossing minus the first actual day at or above the limit
    (positive: the forecast warned too late), when both exist.
    """

    train_days: int
    test_days: int
    mape_pct: float
    bias_pct: float
    coverage_pct: float
    crossing_predicted: pd.Timestamp | None
    crossing_actual: pd.Timestamp | None
    crossing_error_days: float | None
    forecast: Forecast

    def describe(self) -> str:
        """One sentence for a report: how far to trust the forecast."""
        text = (
            f"Backtest: forecasting the last {self.test_days} days from the first "
            f"{self.train_days}, daily peaks were off by {self.mape_pct:.1f} % on average "
            f"(bias {self.bias_pct:+.1f} %), {self.coverage_pct:.0f} % of days fell inside the "
            f"{self.forecast.interval:.0%} band"
        )
        if self.crossing_error_days is not None:
            text += f", crossing date off by {self.crossing_error_days:+.0f} days"
        return text + "."


def backtest(
    daily: pd.Series,
    limit: float | None = None,
    interval: float = DEFAULT_INTERVAL,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
) -> Backtest:
    """Forecast the second half of ``daily`` from its first half and score the forecast.

    Needs ``2 * MIN_HISTORY_DAYS`` days. See :class:`Backtest` for the scores.

    >>> days = pd.date_range("2026-01-05", periods=28, freq="D", tz="UTC")
    >>> bt = backtest(pd.Series(100.0 + 10.0 * np.arange(28), index=days), limit=300)
    >>> round(bt.mape_pct, 3), bt.crossing_error_days
    (0.0, 0.0)
    """
    history = _as_daily(daily)
    if len(history) < 2 * MIN_HISTORY_DAYS:
        raise ValueError(f"backtest: {len(history)} day(s) of history, need {2 * MIN_HISTORY_DAYS}")
    train, test = history.iloc[: len(history) // 2], history.iloc[len(history) // 2 :]
    horizon_days = int((test.index[-1] - train.index[-1]) / DAY)
    fc = forecast_crossing(train, limit, horizon_days, interval, n_bootstrap, seed)
    band = fc.projection.reindex(test.index)
    error = band["forecast"] - test
    nonzero = test != 0
    mape_pct = float((error[nonzero].abs() / test[nonzero].abs()).mean() * 100.0)
    bias_pct = float(error.mean() / test.abs().mean() * 100.0) if test.abs().sum() else math.nan
    inside = (test >= band["lower"]) & (test <= band["upper"])
    actual = None
    if limit is not None:
        reached = test.index[test.to_numpy() >= limit]
        actual = reached[0] if len(reached) else None
    both = fc.crossing is not None and actual is not None
    return Backtest(
        train_days=len(train),
        test_days=len(test),
        mape_pct=mape_pct,
        bias_pct=bias_pct,
        coverage_pct=float(inside.mean() * 100.0),
        crossing_predicted=fc.crossing,
        crossing_actual=actual,
        crossing_error_days=float((fc.crossing - actual) / DAY) if both else None,
        forecast=fc,
    )


# --------------------------------------------------------------------------- growth anomalies


def growth_anomalies(
    daily: pd.Series,
    z_threshold: float = _ANOMALY["robust_z"],
    min_change_pct: float = _ANOMALY["min_change_pct"],
) -> pd.DataFrame:
    """Week-over-week changes of the daily peaks and which are beyond normal variation.

    Days are cut into 7-day weeks ending on the last day (so every week holds each weekday
    once and the weekly cycle cancels); a week's ``value`` is the mean of its daily peaks (a
    week needs 4 days). ``change_pct`` is the change against the previous week. Normal
    variation is the other weeks' changes (at least two, so 4 weeks of history are needed
    before anything is flagged): ``robust_z = (change - median) / scale`` where
    ``scale`` is their MAD (as a standard deviation), but never less than the change that the
    day-to-day scatter around the trend alone would cause (``sqrt(2/7)`` daily residual SDs),
    so perfectly steady growth does not make every wobble infinite. A week is an ``anomaly``
    when ``|robust_z| >= z_threshold`` and it differs from the median change by at least
    ``min_change_pct`` percentage points. Columns: ``ANOMALY_COLUMNS``.

    >>> days = pd.date_range("2026-01-05", periods=56, freq="D", tz="UTC")
    >>> level = np.where(np.arange(56) >= 42, 150.0, 100.0) + np.arange(56) * 0.1
    >>> g = growth_anomalies(pd.Series(level, index=days))
    >>> g.loc[g["anomaly"], "week_start"].dt.date.astype(str).tolist()
    ['2026-02-16']
    """
    history = _as_daily(daily)
    empty = pd.DataFrame({c: pd.Series([], dtype=_ANOMALY_DTYPES[c]) for c in ANOMALY_COLUMNS})
    if history.empty:
        return empty
    week = ((history.index[-1] - history.index) / DAY).astype(int) // 7
    weeks = history.groupby(week).agg(["mean", "size"]).sort_index(ascending=False)
    weeks = weeks[weeks["size"] >= 4]
    if len(weeks) < 2:
        return empty
    end = history.index[-1] - DAY * (7 * weeks.index.to_numpy())
    value = weeks["mean"].to_numpy()
    previous = np.roll(value, 1)
    adjacent = np.diff(weeks.index.to_numpy(), prepend=weeks.index[0]) == -1  # first: False
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(adjacent & (previous > 0), (value / previous - 1.0) * 100.0, np.nan)
    noise_pct = _weekly_noise_pct(history)
    baseline = np.full(len(change), np.nan)
    scale = np.full(len(change), np.nan)
    for k in np.flatnonzero(~np.isnan(change)):
        others = np.delete(change, k)
        others = others[~np.isnan(others)]
        if len(others) < 2:  # one other change cannot say which of the two is unusual
            continue
        baseline[k] = np.median(others)
        mad_sd = MAD_TO_SD * np.median(np.abs(others - baseline[k]))
        scale[k] = max(mad_sd, noise_pct, 1e-9)
    z = (change - baseline) / scale
    out = pd.DataFrame(
        {
            "week_start": utc_timestamps(pd.Series(end - 6 * DAY)),
            "week_end": utc_timestamps(pd.Series(end)),
            "value": value,
            "change_pct": change,
            "baseline_change_pct": baseline,
            "scale_pct": scale,
            "robust_z": z,
        }
    )
    out["anomaly"] = is_growth_anomaly(out, z_threshold, min_change_pct)
    return out.iloc[1:].reset_index(drop=True)


def is_growth_anomaly(weeks: pd.DataFrame, z_threshold: float, min_change_pct: float) -> pd.Series:
    """The anomaly rule on a :func:`growth_anomalies` frame (shared with the findings).

    >>> w = pd.DataFrame({"robust_z": [5.0, 5.0], "change_pct": [30.0, 4.0],
    ...                   "baseline_change_pct": [2.0, 2.0]})
    >>> is_growth_anomaly(w, 3.5, 10.0).tolist()
    [True, False]
    """
    deviation = (weeks["change_pct"] - weeks["baseline_change_pct"]).abs()
    return (weeks["robust_z"].abs() >= z_threshold) & (deviation >= min_change_pct)


# --------------------------------------------------------------------------- segment trends


def r_squared(y: np.ndarray, fitted: np.ndarray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    if total <= 0:
        return 0.0
    return max(0.0, 1.0 - float(np.sum((y - fitted) ** 2)) / total)


def _daily_cycle_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, intercept and R² with the daily cycle taken out (x in seconds from 0).

    The series is put on a regular grid whose step divides a day; the slope is the median of
    ``(y[t + k days] - y[t]) / k days`` over all grid points and k >= 1, so anything that repeats
    every 24 h cancels out exactly (a seasonal Sen slope). R² is that of the line against the
    series minus its median time-of-day profile.
    """
    interval = float(np.median(np.diff(x))) if len(x) > 1 else 60.0
    span = float(x[-1] - x[0])
    step = next(
        (s for s in SEASONAL_STEPS_S if s >= interval and span / s <= SEASONAL_MAX_GRID),
        SEASONAL_STEPS_S[-1],
    )
    bins = (x // step).astype(int)
    grid = pd.Series(y).groupby(bins).median().reindex(range(bins.max() + 1))
    values = grid.to_numpy()
    per_day = int(DAY_S // step)
    slopes = []
    for days in range(1, len(values) // per_day + 1):
        lag = days * per_day
        change = (values[lag:] - values[:-lag]) / (days * DAY_S)
        slopes.append(change[~np.isnan(change)])
    pooled = np.concatenate(slopes) if slopes else np.array([])
    slope = float(np.median(pooled)) if pooled.size else 0.0
    xs = grid.index.to_numpy() * float(step)
    phase = grid.index.to_numpy() % per_day
    residual = pd.Series(values - slope * xs)
    profile = residual.groupby(phase).transform("median").to_numpy()
    deseasoned = values - profile + np.nanmedian(profile)
    ok = ~np.isnan(deseasoned)
    intercept = float(np.median(deseasoned[ok] - slope * xs[ok]))
    r2 = r_squared(deseasoned[ok], intercept + slope * xs[ok])
    return slope, intercept, r2


def segment_trend(
    x: np.ndarray, y: np.ndarray, min_span_s: float
) -> tuple[float, float, float, str]:
    """Slope (per second), intercept (at ``x = 0``), R² and method of one sampled segment.

    ``x`` is seconds from the segment's first sample. A segment spanning at least
    ``min_span_s`` and more than a day gets a seasonal Sen slope (the daily cycle cancels
    out); a shorter one a Theil-Sen line on an even subsample of at most
    ``MAX_SEGMENT_POINTS`` points.

    >>> x = np.arange(0.0, 7200.0, 60.0)
    >>> slope, intercept, r2, method = segment_trend(x, 5.0 + 0.5 * x, min_span_s=86400.0)
    >>> float(slope), float(intercept), r2, method
    (0.5, 5.0, 1.0, 'theil-sen')
    """
    if x[-1] - x[0] >= min_span_s and x[-1] - x[0] > DAY_S:
        return (*_daily_cycle_sen(x, y), "seasonal-sen")
    slope, intercept = theil_sen(x, y[None, :], slope_pairs(x, max_points=MAX_SEGMENT_POINTS))
    slope, intercept = float(slope[0]), float(intercept[0])
    return slope, intercept, r_squared(y, intercept + slope * x), "theil-sen"


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Design:
    """Day positions of a history and the pairs of them (reused by the bootstrap refits)."""

    t0: pd.Timestamp
    t: np.ndarray
    weekday: np.ndarray
    pairs: SlopePairs
    seasonal: bool

    @classmethod
    def of(cls, days: pd.DatetimeIndex) -> _Design:
        t = ((days - days[0]) / DAY).to_numpy(dtype=float)
        weekday = days.day_of_week.to_numpy()
        seasonal = bool(np.bincount(weekday, minlength=7).min() >= MIN_WEEKS_FOR_WEEKDAYS)
        return cls(days[0], t, weekday, slope_pairs(t, max_pairs=MAX_DAILY_PAIRS), seasonal)

    @property
    def inflation(self) -> float:
        """Undo the shrinkage of in-sample residuals: sqrt(n / (n - fitted parameters))."""
        n = len(self.t)
        return math.sqrt(n / max(n - (8 if self.seasonal else 2), 1))


@dataclass(frozen=True)
class _WeeklyTrend:
    """Trend lines with weekday offsets, one per row of the values they were fitted to."""

    t0: pd.Timestamp
    intercept: np.ndarray
    slope_per_day: np.ndarray
    weekday_offsets: np.ndarray

    def predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        t = ((days - self.t0) / DAY).to_numpy(dtype=float)
        trend = self.intercept[:, None] + self.slope_per_day[:, None] * t
        return trend + self.weekday_offsets[:, days.day_of_week.to_numpy()]


def _weekday_profile(residual: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    offsets = np.stack([np.median(residual[:, weekday == d], axis=1) for d in range(7)], axis=1)
    return offsets - offsets.mean(axis=1, keepdims=True)


def _weekly_fit(design: _Design, y: np.ndarray) -> _WeeklyTrend:
    """Fit every row of ``y`` (shape: fits x days); see :func:`forecast_crossing`."""
    offsets = np.zeros((len(y), 7))
    slope, intercept = theil_sen(design.t, y, design.pairs)
    if design.seasonal:
        for _ in range(2):
            residual = y - intercept[:, None] - slope[:, None] * design.t
            offsets = _weekday_profile(residual, design.weekday)
            slope, intercept = theil_sen(design.t, y - offsets[:, design.weekday], design.pairs)
    return _WeeklyTrend(design.t0, intercept, slope, offsets)


def _bootstrap_band(
    design: _Design,
    fitted: np.ndarray,
    residual: np.ndarray,
    future: pd.DatetimeIndex,
    interval: float,
    n_bootstrap: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(residual)
    starts = rng.integers(0, n, size=(n_bootstrap, -(-n // 7)))
    index = ((starts[:, :, None] + np.arange(7)) % n).reshape(n_bootstrap, -1)[:, :n]
    paths = _weekly_fit(design, fitted + residual[index]).predict(future)
    noise = np.quantile(residual, _NOISE_QUANTILES)
    mixed = (paths[:, None, :] + noise[None, :, None]).reshape(-1, len(future))
    tail = (1.0 - interval) / 2.0
    lower, upper = np.quantile(mixed, [tail, 1.0 - tail], axis=0)
    return lower, upper


def _first_reaching(days: pd.DatetimeIndex, values: np.ndarray, limit: float) -> pd.Timestamp:
    reached = np.flatnonzero(values >= limit)
    return days[reached[0]] if len(reached) else None


def _min_day(a: pd.Timestamp | None, b: pd.Timestamp | None) -> pd.Timestamp | None:
    present = [d for d in (a, b) if d is not None]
    return min(present) if present else None


def _weekly_noise_pct(history: pd.Series) -> float:
    """SD of a week-over-week change (in %) that day-to-day scatter alone would cause."""
    if len(history) < MIN_HISTORY_DAYS:
        return 0.0
    y = history.to_numpy(dtype=float)
    residual = y - _weekly_fit(_Design.of(history.index), y[None, :]).predict(history.index)[0]
    sd = MAD_TO_SD * np.median(np.abs(residual - np.median(residual)))
    level = np.median(np.abs(y))
    return float(sd * math.sqrt(2.0 / 7.0) / level * 100.0) if level > 0 else 0.0


def _as_daily(daily: pd.Series) -> pd.Series:
    if not isinstance(daily.index, pd.DatetimeIndex):
        raise TypeError("expected a Series with a DatetimeIndex (one value per day)")
    index = daily.index.tz_localize("UTC") if daily.index.tz is None else daily.index
    series = pd.Series(daily.to_numpy(dtype=float), index=index.tz_convert("UTC").normalize())
    series = series[np.isfinite(series.to_numpy())].sort_index()
    if series.index.has_duplicates:
        raise ValueError("expected one value per day; aggregate with daily_peaks first")
    return series


_ANOMALY_DTYPES = {
    "week_start": "datetime64[ns, UTC]",
    "week_end": "datetime64[ns, UTC]",
    "value": "float64",
    "change_pct": "float64",
    "baseline_change_pct": "float64",
    "scale_pct": "float64",
    "robust_z": "float64",
    "anomaly": "bool",
}


def utc_timestamps(values: pd.Series) -> pd.Series:
    """Any timestamps as ``datetime64[ns, UTC]``."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def day_text(value: pd.Timestamp | None) -> str | None:
    """``2026-02-24`` (``None`` for a missing day)."""
    return None if value is None or pd.isna(value) else str(pd.Timestamp(value).date())
