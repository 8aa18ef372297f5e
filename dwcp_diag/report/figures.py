"""Figures in reports: plotly JSON in the notebook, one embedded plotly.js in the HTML.

A report kernel displays each figure as plotly's JSON mimetype only (JupyterLab draws it
with its own plotly.js), made compact by :func:`compact_figure`. The HTML export turns each
of those outputs into a ``<div>`` drawn by the one plotly.js the page embeds in its head:
npm's ``plotly.js-cartesian-dist-min`` (vendored, 1.5 MB; see ``templates/dwcp_report/static``),
which has every trace type the reports draw. A figure with another trace type says so in the
page instead of staying blank.

>>> fig = {"data": [{"type": "scatter", "x": ["2026-01-01T00:00:00", "2026-01-01T00:01:00",
...        "2026-01-01T00:02:00"], "y": [1.0, 2.0, 3.0]}], "layout": {}}
>>> trace = compact_figure(fig)["data"][0]
>>> trace["x0"], trace["dx"], "x" in trace
('2026-01-01T00:00:00', 60000.0, False)
>>> "Plotly.newPlot" in figure_html(fig, "f1")
True
"""

from __future__ import annotations

import base64
import copy
import html
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger("dwcp_diag.render")

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
STATIC_DIR = Path(__file__).parent / "templates" / "dwcp_report" / "static"
PLOTLY_BUNDLE = STATIC_DIR / "plotly-cartesian.min.js"
PLOTLY_BUNDLE_VERSION = "4.1.1"
# the npm package's README: the trace modules plotly.js-cartesian registers
BUNDLE_TRACE_TYPES = frozenset(
    [
        "bar",
        "box",
        "contour",
        "heatmap",
        "histogram",
        "histogram2d",
        "histogram2dcontour",
        "image",
        "pie",
        "scatter",
        "scatterternary",
        "violin",
    ]
)
# traces whose x (or y) may be given as a start and a step instead of an array
_STEPPED_TYPES = frozenset({"scatter", "heatmap"})
_FIGURE_CONFIG = {"responsive": True, "displaylogo": False}
DEFAULT_HEIGHT_PX = 450


def compact_figure(figure: dict[str, Any]) -> dict[str, Any]:
    """The same drawing in less JSON (a copy): a regularly spaced date axis of a line or
    heatmap becomes ``x0`` + ``dx`` (Prometheus range queries are evenly stepped), and
    float64 value arrays (plotly's base64 ``bdata``) become float32, ample for a chart."""
    figure = copy.deepcopy(figure)
    for trace in figure.get("data", []):
        if trace.get("type", "scatter") in _STEPPED_TYPES:
            for axis in ("x", "y"):
                _as_steps(trace, axis)
        for key in ("y", "z") if trace.get("type") != "bar" else ("z",):
            if isinstance(trace.get(key), dict):
                trace[key] = _float32(trace[key])
    return figure


def _as_steps(trace: dict[str, Any], axis: str) -> None:
    values = trace.get(axis)
    if not isinstance(values, list) or len(values) < 3 or not isinstance(values[0], str):
        return
    if f"{axis}0" in trace or any(not isinstance(v, str) for v in values):
        return
    try:
        stamps = pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return
    steps = np.diff(stamps.as_unit("ns").asi8)
    if steps[0] <= 0 or not (steps == steps[0]).all():
        return
    del trace[axis]
    trace[f"{axis}0"] = values[0]
    trace[f"d{axis}"] = float(steps[0]) / 1e6  # plotly's date axes count milliseconds


def _float32(array: dict[str, Any]) -> dict[str, Any]:
    if array.get("dtype") != "f8" or "bdata" not in array:
        return array
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype="<f8").astype("<f4")
    return {**array, "dtype": "f4", "bdata": base64.b64encode(values.tobytes()).decode()}


def trace_types(figure: dict[str, Any]) -> set[str]:
    """The trace types of a figure's JSON (``scatter`` when a trace names none)."""
    return {t.get("type", "scatter") for t in figure.get("data", [])}


def figure_html(figure: dict[str, Any], div_id: str) -> str:
    """A ``<div>`` and the call that draws ``figure`` into it with the page's plotly.js."""
    missing = trace_types(figure) - BUNDLE_TRACE_TYPES
    if missing:
        log.warning("figure not drawn: trace type(s) %s not in plotly.js-cartesian", missing)
        return (
            '<div class="dwcp-figure-missing">Figure not drawn: trace type(s) '
            f"{html.escape(', '.join(sorted(missing)))} are not in the embedded plotly.js "
            "(plotly.js-cartesian); open the .ipynb in JupyterLab to see it.</div>"
        )
    layout = figure.get("layout", {})
    height = int(layout.get("height") or DEFAULT_HEIGHT_PX)
    arguments = ", ".join(
        _script_json(part) for part in (figure.get("data", []), layout, _FIGURE_CONFIG)
    )
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px;width:100%">'
        f'</div><script>Plotly.newPlot("{div_id}", {arguments});</script>'
    )


def _script_json(value: Any) -> str:
    # inside <script>, "</script" or "<!--" in a label would change how HTML parses it:
    # "<" only occurs inside JSON strings, where "\u003c" means the same
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def plotly_script() -> str:
    """The ``<script>`` element holding the vendored plotly.js (once per page)."""
    return f"<script>{PLOTLY_BUNDLE.read_text(encoding='utf-8')}</script>"


def embed_figures(notebook: Any) -> int:
    """Replace every plotly JSON output of ``notebook`` (changed in place) by its HTML for
    the page; returns how many there were."""
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIMETYPE not in data:
                continue
            count += 1
            output["data"] = {"text/html": figure_html(data[PLOTLY_MIMETYPE], f"dwcp-fig-{count}")}
    return count
