"""What runs inside a report's kernel: figures as compact plotly JSON, the window published.

>>> setup()
>>> import plotly.io as pio; pio.renderers.default
'dwcp_json'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plotly.io._base_renderers import PlotlyRenderer

from dwcp_diag.report.figures import PLOTLY_MIMETYPE, compact_figure

if TYPE_CHECKING:
    from dwcp_diag.session import Session
    from dwcp_diag.timewindow import TimeWindow

__all__ = ["FigureJsonRenderer", "open_session", "publish_window", "setup"]


class FigureJsonRenderer(PlotlyRenderer):
    """plotly's JSON mimetype only, compacted: no plotly.js in the notebook (JupyterLab draws
    the JSON itself; the HTML export embeds plotly.js once for the whole page)."""

    def to_mimebundle(self, fig_dict: dict) -> dict:
        figure = compact_figure(super().to_mimebundle(fig_dict)[PLOTLY_MIMETYPE])
        title = (figure.get("layout", {}).get("title") or {}).get("text") or "figure"
        return {PLOTLY_MIMETYPE: figure, "text/plain": f"<plotly figure: {title}>"}


def setup() -> None:
    """Call at the top of every notebook: figures display as compact plotly JSON, which
    JupyterLab draws and the report renderer turns into HTML drawn by one embedded plotly.js;
    every displayed DataFrame is a report table (:mod:`dwcp_diag.plots.tables`).
    """
    import plotly.io as pio

    from dwcp_diag.plots.tables import register_frame_display

    register_frame_display()

    if "dwcp_json" not in pio.renderers:
        pio.renderers["dwcp_json"] = FigureJsonRenderer()
    pio.renderers.default = "dwcp_json"


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
