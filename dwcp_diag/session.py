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
    from dwcp_diag.sources.kubernetes import KubernetesLoader
    from dwcp_diag.sources.postgres import PostgresLoader
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
        from dwcp_diag.sources.postgres import PostgresLoader

        return PostgresLoader(self.profile.postgres, recorder=self.recorder, replay=self.replay)

    @cached_property
    def k8s(self) -> KubernetesLoader:
        from dwcp_diag.sources.kubernetes import KubernetesLoader

        return KubernetesLoader(self.profile.kubernetes, recorder=self.recorder, replay=self.replay)

    def __repr__(self) -> str:
        return f"Session(profile={self.profile.name!r}, source={self.source!r}, now={self.now})"
