"""What every area's collection shares: the session it reads through, the sources it could
not reach, and the report it returns.

>>> unreachable = UnreachableSources()
>>> def down():
...     raise SourceUnavailable("postgres", "connection refused")
>>> unreachable.load("postgres", down) is None
postgres unavailable: connection refused
True
>>> [f.check for f in unreachable.findings()]
['source_unavailable']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings, source_unavailable
from dwcp_diag.errors import SourceUnavailable
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON
from dwcp_diag.timewindow import TimeWindow

if TYPE_CHECKING:
    from dwcp_diag.config import Profile
    from dwcp_diag.sources.kubernetes import KubernetesLoader
    from dwcp_diag.sources.postgres.loader import PostgresLoader
    from dwcp_diag.sources.prometheus import PrometheusLoader

T = TypeVar("T")


class LoadingSession(Protocol):
    """What collection reads through: a profile and its three loaders.

    :class:`dwcp_diag.session.Session` is one (live, demo or snapshot); typing against this
    Protocol keeps ``collect`` from importing the session module that calls it.
    """

    profile: Profile

    @property
    def prom(self) -> PrometheusLoader: ...

    @property
    def pg(self) -> PostgresLoader: ...

    @property
    def k8s(self) -> KubernetesLoader: ...


class UnreachableSources:
    """The sources a report could not reach and the required frames that came back empty;
    :meth:`load` turns an unreachable source into ``None`` (and, later, a finding).

    After the first failure of a source, further loads from it are not attempted: an
    unreachable server would make each of them wait for its timeout.
    """

    def __init__(self) -> None:
        self.unavailable: dict[str, str] = {}
        self.no_data: dict[str, str] = {}
        self._lock = threading.Lock()  # push-down loads from several threads at once

    def load(self, source: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()``, or None when its source is unavailable (noted and said once per
        source, however many loads failed at the same time)."""
        if source in self.unavailable:
            return None
        try:
            return fetch()
        except SourceUnavailable as exc:
            with self._lock:
                first = source not in self.unavailable
                self.unavailable.setdefault(source, str(exc))
            if first:
                print(f"{source} unavailable: {exc}")
            return None

    def explain_empty(self, area: str, frames: Mapping[str, Any], required: Sequence[str]) -> None:
        """Say why each loaded frame that came back empty is empty (the loader's
        ``attrs["empty_reason"]``: an unknown metric name, a selector matching nothing); an
        empty ``required`` frame means the report cannot judge: a ``no_data`` finding, never
        a silent "every check passed"."""
        for name, frame in frames.items():
            if not isinstance(frame, pd.DataFrame) or not frame.empty:
                continue
            reason = frame.attrs.get(EMPTY_REASON) or "no series in the window"
            print(f"{name}: {reason}")
            if name in required:
                self.no_data[f"{area}.{name}"] = reason

    def findings(self) -> Findings:
        """One ``source_unavailable`` per unreachable source, one ``no_data`` per empty
        required frame."""
        found = [source_unavailable(src, msg) for src, msg in self.unavailable.items()]
        for data, reason in self.no_data.items():
            summary = f"The report has no {data} data, so its checks could not run: {reason}"
            found.append(Finding("no_data", "warning", {"data": data}, summary, unit=""))
        return Findings(found)


@dataclass
class AreaReport:
    """One area's report: what it loaded, what its analysis made of it, and its findings.

    ``frames`` maps names to the loaded frames (``None`` where the source was unavailable);
    ``report`` is the analysis result (the area's ``*_report`` dict), ``None`` when the data
    it needs could not be loaded; ``context`` holds what the loading chose (queries, step,
    SLO targets, prices, thresholds, spans).
    """

    area: str
    window: TimeWindow
    frames: dict[str, Any]
    report: Any
    unreachable: UnreachableSources
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> Findings:
        """The report's findings and one ``source_unavailable`` per unreachable source."""
        found = self.report["findings"] if self.report is not None else []
        return Findings([*found, *self.unreachable.findings()])

    def _repr_html_(self) -> str:
        head = f"<p><b>{self.area}</b>, {self.window.label()}</p>"
        return head + self.findings._repr_html_()


def range_loader(
    s: LoadingSession,
    unreachable: UnreachableSources,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: Any,
) -> Callable[..., pd.DataFrame | None]:
    """``prom(query, labels, start=...)``: a range query, or None once Prometheus is down."""

    def prom(query: str, labels: Sequence[str] = (), start: pd.Timestamp = start):
        return unreachable.load(
            "prometheus",
            lambda: s.prom.range(query, start=start, end=end, step=step, labels=list(labels)),
        )

    return prom


def in_namespaces(
    frame: pd.DataFrame | None, namespaces: str | Sequence[str] | None
) -> pd.DataFrame | None:
    """The rows of ``frame`` in one of ``namespaces`` (all rows when that is None)."""
    if frame is None or namespaces is None:
        return frame
    wanted = [namespaces] if isinstance(namespaces, str) else list(namespaces)
    return frame[frame["namespace"].isin(wanted)]
