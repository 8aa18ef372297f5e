"""What runs inside a report's kernel: plotly set up for self-contained, offline HTML.

>>> setup()
>>> import plotly.io as pio; pio.renderers.default
'dwcp_offline'
"""

from __future__ import annotations

import re

from plotly.io._base_renderers import NotebookRenderer

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
