"""What runs inside a report's kernel: plotly set up for self-contained, offline HTML.

>>> setup()
>>> import plotly.io as pio; pio.renderers.default
'dwcp_offline'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from plotly.io._base_renderers import NotebookRenderer

if TYPE_CHECKING:
    from dwcp_diag.analysis.findings import Findings
    from dwcp_diag.session import Session
    from dwcp_diag.timewindow import TimeWindow

T = TypeVar("T")

# plotly's notebook renderer always adds MathJax from a CDN to every figure; reports use no
# LaTeX and must not make a single request when opened.
_CDN_SCRIPT = re.compile(r'<script src="https?://[^"]*"></script>')


class OfflineNotebookRenderer(NotebookRenderer):
    """plotly.js inline once per notebook (like ``notebook``), with no CDN script at all."""

    def to_mimebundle(self, fig_dict: dict) -> dict:
        bundle = super().to_mimebundle(fig_dict)
        bundle["text/html"] = _CDN_SCRIPT.sub("", bundle["text/html"])
        return bundle


def setup() -> None:
    """Call at the top of every notebook.

    Without an inline-plotly.js renderer a papermill kernel emits only plotly's JSON mimetype
    and the charts come out blank in nbconvert's HTML.
    """
    import plotly.io as pio

    if "dwcp_offline" not in pio.renderers:
        pio.renderers["dwcp_offline"] = OfflineNotebookRenderer(connected=False)
    pio.renderers.default = "dwcp_offline"


def open_session(
    profile: str | None,
    source: str,
    start: str | None,
    end: str | None,
    window: str,
    record: str | None = None,
    name: str = "session",
) -> tuple[Session, TimeWindow]:
    """The session and window a report notebook works on, from its parameters.

    ``start``/``end`` win over ``window``; with neither, the window ends at the session's
    'now' (the bundle's for demo and snapshot sources, so a replay asks the same questions).
    """
    from dwcp_diag.session import Session

    session = Session(profile, source=source, record=record, now=end, writer=name)
    chosen = session.window(window=None if start else window, start=start, end=end)
    return session, chosen


class Sections:
    """Loads each report section's data, turning an unreachable source into a finding.

    >>> sections = Sections()
    >>> sections.load("postgres", lambda: 1 / 0) is None      # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.unavailable: dict[str, str] = {}

    def load(self, source: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()``, or None when its source is unavailable (noted once per source)."""
        from dwcp_diag.errors import SourceUnavailable

        if source in self.unavailable:
            return None
        try:
            return fetch()
        except SourceUnavailable as exc:
            self.unavailable[source] = str(exc)
            print(f"{source} unavailable: {exc}")
            return None

    def findings(self) -> Findings:
        from dwcp_diag.analysis.findings import Findings, source_unavailable

        return Findings(source_unavailable(src, msg) for src, msg in self.unavailable.items())


def load_each(loader: object, calls: Mapping[str, tuple[str, Mapping[str, object]]]) -> dict:
    """``{key: loader.method(**kwargs)}`` for each call; a failed call's value is its error.

    Analysis functions turn those errors into findings (``stats_unavailable``,
    ``source_unavailable``). After the first :class:`SourceUnavailable` the remaining calls are
    not attempted: an unreachable server would make every one of them wait for its timeout.
    """
    from dwcp_diag.errors import DwcpDiagError, SourceUnavailable

    frames: dict = {}
    for key, (method, kwargs) in calls.items():
        try:
            frames[key] = getattr(loader, method)(**kwargs)
        except DwcpDiagError as exc:
            frames[key] = exc
            if isinstance(exc, SourceUnavailable):
                break
    return frames
