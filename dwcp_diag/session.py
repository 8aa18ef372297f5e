"""A session: one profile, one source mode, and the three loaders behind it.

>>> s = Session(source="demo")                     # doctest: +SKIP
>>> s.prom.range("rate(http_requests_total[5m])", window="6h")   # doctest: +SKIP

Source modes: ``live`` (the profile's servers), ``demo`` (the bundle shipped in the package,
recorded from the simulator) and ``snapshot:DIR`` (a recorded bundle). ``record=DIR`` makes a
live session save every frame it loads into a bundle that ``snapshot:DIR`` replays.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dwcp_diag.config import Profile, load_profile
from dwcp_diag.errors import ConfigError
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle
from dwcp_diag.timewindow import DurationLike, TimeLike, TimeWindow, parse_time

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dwcp_diag.analysis.findings import Findings
    from dwcp_diag.sources.kubernetes import KubernetesLoader
    from dwcp_diag.sources.postgres.loader import PostgresLoader
    from dwcp_diag.sources.prometheus import PrometheusLoader

DEMO_BUNDLE = Path(__file__).parent / "demo" / "bundle"


def parse_source(source: str) -> tuple[str, Path | None]:
    """Split ``live`` / ``demo`` / ``snapshot:DIR`` into a mode and a bundle directory."""
    if source == "live":
        return "live", None
    if source == "demo":
        return "demo", DEMO_BUNDLE
    if source.startswith("snapshot:") and len(source) > len("snapshot:"):
        return "snapshot", Path(source.split(":", 1)[1]).expanduser()
    raise ConfigError(f"source {source!r} is not one of: live, demo, snapshot:DIR")


class Session:
    """Loaders for one profile and source, sharing one clock and one recorder."""

    def __init__(
        self,
        profile: Profile | str | None = None,
        source: str = "live",
        record: str | os.PathLike[str] | None = None,
        now: TimeLike | None = None,
        writer: str = "session",
    ) -> None:
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.source = source
        self.mode, bundle_dir = parse_source(source)
        self.replay = SnapshotBundle(bundle_dir, writer) if bundle_dir is not None else None
        if now is not None:
            self.now = parse_time(now)
        elif self.replay is not None:
            self.now = self.replay.now
        else:
            self.now = pd.Timestamp.now(tz="UTC").floor("min")
        if record is not None and self.replay is not None:
            raise ConfigError("--record needs a live source; a replayed session has nothing new")
        self.recorder = (
            Recorder(record, now=self.now, profile=self.profile.name, writer=writer)
            if record
            else None
        )

    def window(
        self,
        window: DurationLike | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> TimeWindow:
        """A UTC window relative to this session's clock (the bundle's 'now' when replaying)."""
        return TimeWindow.parse(window=window, start=start, end=end, now=self.now)

    @cached_property
    def prom(self) -> PrometheusLoader:
        from dwcp_diag.sources.prometheus import PrometheusLoader

        return PrometheusLoader(
            self.profile.prometheus,
            recorder=self.recorder,
            replay=self.replay,
            now=self.now,
            cache_dir=self.cache_dir,
        )

    @property
    def cache_dir(self) -> str | None:
        """Where live Prometheus answers for past windows are cached, or None (off).

        Off unless ``$DWCP_CACHE_DIR`` (the CLI sets it; ``--no-cache`` clears it) or the
        profile's ``cache_dir`` names a directory; never for a replay.
        """
        if self.mode != "live" or os.environ.get("DWCP_NO_CACHE"):
            return None
        return os.environ.get("DWCP_CACHE_DIR") or self.profile.cache_dir

    @cached_property
    def pg(self) -> PostgresLoader:
        from dwcp_diag.sources.postgres.loader import PostgresLoader

        return PostgresLoader(self.profile.postgres, recorder=self.recorder, replay=self.replay)

    @cached_property
    def k8s(self) -> KubernetesLoader:
        from dwcp_diag.sources.kubernetes import KubernetesLoader

        return KubernetesLoader(self.profile.kubernetes, recorder=self.recorder, replay=self.replay)

    @cached_property
    def findings(self) -> AreaFindings:
        """One report's findings without rendering it: ``s.findings.memory(window="24h")``."""
        return AreaFindings(self)

    def __repr__(self) -> str:
        return f"Session(profile={self.profile.name!r}, source={self.source!r}, now={self.now})"


class AreaFindings:
    """``s.findings.<area>(...)``: the findings the area's report would publish, as a table.

    Each method loads what the notebook of the same name loads (through the session: live,
    demo or snapshot), runs its analysis and returns :class:`~dwcp_diag.analysis.findings.
    Findings` (a list that displays as a coloured table). The frames, figures' data and
    tables are in :mod:`dwcp_diag.collect` (``collect_memory(s, s.window("24h")).report``).
    Windows take ``"6h"``-style durations, ISO strings, datetimes or pandas Timestamps;
    ``start``/``end`` win over ``window``. A demo or snapshot session answers windows inside
    what was recorded (the notebooks' defaults).

    >>> import dwcp_diag as dd
    >>> s = dd.session(source="demo")
    >>> found = s.findings.memory(window="7d")
    >>> found[0].severity, sorted({f.check for f in found if f.severity == "critical"})
    ('critical', ['frequent_restarts', 'memory_leak', 'memory_near_limit', 'oom_killed'])
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def _window(self, window, start, end) -> TimeWindow:
        return self.session.window(
            window=None if start is not None else window, start=start, end=end
        )

    def latency(
        self,
        window: DurationLike = "7d",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        endpoints: Sequence[str] | None = None,
    ) -> Findings:
        """``latency_slo_breach``, ``error_rate_breach``, ``error_budget_burn``,
        ``availability_breach`` against the profile's SLOs.

        >>> s.findings.latency(window="7d").to_frame()["check"].unique().tolist()  # doctest: +SKIP
        """
        from dwcp_diag.collect.latency import collect_latency

        return collect_latency(self.session, self._window(window, start, end), endpoints).findings

    def database(
        self,
        window: DurationLike = "7d",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
    ) -> Findings:
        """Slow queries, bloat, indexes, vacuum, connections, wraparound, sequences, cache.

        ``thresholds`` override the profile's, e.g. ``{"slow_query": {"mean_ms": 50}}``;
        ``window`` only bounds the connection history from Prometheus.

        >>> s.findings.database(thresholds={"slow_query": {"mean_ms": 50}})  # doctest: +SKIP
        """
        from dwcp_diag.collect.database import collect_database

        chosen = self._window(window, start, end)
        return collect_database(self.session, chosen, thresholds).findings

    def memory(
        self,
        window: DurationLike = "7d",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        namespaces: str | Sequence[str] | None = None,
    ) -> Findings:
        """Leaks, OOM kills, containers near or without a memory limit, restarts.

        >>> s.findings.memory(window="24h", namespaces="production")  # doctest: +SKIP
        """
        from dwcp_diag.collect.memory import collect_memory

        chosen = self._window(window, start, end)
        return collect_memory(self.session, chosen, namespaces).findings

    def cost(
        self,
        window: DurationLike = "7d",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> Findings:
        """Over-provisioned CPU and memory, idle workloads, unused volumes, under-provisioning.

        >>> s.findings.cost(window="7d")  # doctest: +SKIP
        """
        from dwcp_diag.collect.cost import collect_cost

        return collect_cost(self.session, self._window(window, start, end)).findings

    def capacity(
        self,
        window: DurationLike = "28d",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        horizon_weeks: int = 12,
    ) -> Findings:
        """``capacity_exhaustion`` within the horizon, ``headroom_low``, ``growth_anomaly``.

        >>> s.findings.capacity(horizon_weeks=8)  # doctest: +SKIP
        """
        from dwcp_diag.collect.capacity import collect_capacity

        chosen = self._window(window, start, end)
        return collect_capacity(self.session, chosen, horizon_weeks).findings

    def incident(
        self,
        start: TimeLike,
        end: TimeLike,
        margin: DurationLike = "1h",
        namespaces: str | Sequence[str] | None = None,
    ) -> Findings:
        """What went wrong in an incident window: latency and error breaches inside it,
        rollouts (``deployment_in_window``), scale events (``scaling_in_window``), consumer
        lag (``consumer_lag_spike``, with the change that preceded it).

        >>> s.findings.incident("2026-11-12T14:00Z", "2026-11-12T14:45Z")  # doctest: +SKIP
        """
        from dwcp_diag.collect.incident import collect_incident

        chosen = self.session.window(start=start, end=end)
        return collect_incident(self.session, chosen, margin, namespaces).findings

    def platform(
        self,
        window: DurationLike = "7d",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        namespaces: str | Sequence[str] | None = None,
    ) -> Findings:
        """``slow_startup`` and ``rollout_slow`` (KI-005), ``certificate_expiry`` (Problem 5),
        ``consumer_lag_high`` (KI-001), ``redis_saturation`` (KI-002).

        >>> s.findings.platform(window="7d")  # doctest: +SKIP
        """
        from dwcp_diag.collect.platform import collect_platform

        chosen = self._window(window, start, end)
        return collect_platform(self.session, chosen, namespaces).findings
