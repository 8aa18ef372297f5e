"""What runs inside a report's kernel: plotly set up for self-contained, offline HTML.

>>> setup()
>>> import plotly.io as pio; pio.renderers.default
'dwcp_offline'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from plotly.io._base_renderers import NotebookRenderer

if TYPE_CHECKING:
    from dwcp_diag.session import Session
    from dwcp_diag.timewindow import TimeWindow

__all__ = ["OfflineNotebookRenderer", "open_session", "publish_window", "setup"]

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
    publish_window(chosen)
    return session, chosen


def publish_window(window: TimeWindow) -> None:
    """Tell the renderer which window the report covers (for its header); shows nothing."""
    from IPython import get_ipython
    from IPython.display import display

    from dwcp_diag.analysis.findings import WINDOW_MIMETYPE

    if get_ipython() is None:  # a plain script or a doctest: nobody to tell
        return
    data = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    display({WINDOW_MIMETYPE: {**data, "label": window.label()}, "text/plain": ""}, raw=True)
