"""What every loader shares: one path for live calls, recording and replay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from dwcp_diag.errors import QueryError, SourceUnavailable
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle


class Loader:
    """Base of the Prometheus, PostgreSQL and Kubernetes loaders.

    A loader is live (it talks to its server), or replays from a :class:`SnapshotBundle`
    (``replay=``), and in either mode may record what it loads (``recorder=``). Subclasses
    route every public call through :meth:`_load` so that all three modes behave alike.
    """

    kind: str = "source"

    def __init__(
        self, *, recorder: Recorder | None = None, replay: SnapshotBundle | None = None
    ) -> None:
        self.recorder = recorder
        self.replay = replay

    @property
    def is_replay(self) -> bool:
        return self.replay is not None

    def _load(
        self, call: str, params: Mapping[str, Any], fetch: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """Return the frame of ``call(params)``: replayed, or fetched live and recorded."""
        if self.replay is not None:
            return self.replay.load(self.kind, call, params)
        try:
            frame = fetch()
        except (SourceUnavailable, QueryError) as exc:
            # recorded so a replay (a postmortem re-rendered offline) fails the same way
            if self.recorder is not None:
                self.recorder.record_error(self.kind, call, params, exc)
            raise
        if self.recorder is not None:
            self.recorder.record(self.kind, call, params, frame)
        return frame


class SourceCheck:
    """One line of ``dwcp-diag check``: is a source reachable, which version, what is missing."""

    __slots__ = ("detail", "ok", "source", "target")

    def __init__(self, source: str, ok: bool, target: str, detail: str) -> None:
        self.source = source  # "prometheus" | "postgres" | "kubernetes"
        self.ok = ok
        self.target = target  # URL / DSN / context, credentials masked
        self.detail = detail  # version and permission notes, or the error

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        return f"{status} {self.source:<10} {self.target}  {self.detail}"

    def __repr__(self) -> str:
        return f"SourceCheck({self.line()!r})"
