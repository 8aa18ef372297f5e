"""Figures in reports: compact plotly JSON in the notebook, drawn by one plotly.js in HTML."""

from __future__ import annotations

import base64
import json

import nbformat
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.report.figures import (
    PLOTLY_MIMETYPE,
    compact_figure,
    embed_figures,
    figure_html,
)
from dwcp_diag.report.notebook import FigureJsonRenderer


def as_json(fig: go.Figure) -> dict:
    return FigureJsonRenderer().to_mimebundle(fig.to_dict())[PLOTLY_MIMETYPE]


def test_an_evenly_stepped_time_axis_becomes_start_and_step_and_values_float32():
    stamps = pd.date_range("2026-11-09", periods=1440, freq="7min", tz="UTC")
    values = np.linspace(0.1, 0.9, 1440)
    trace = as_json(go.Figure(go.Scatter(x=stamps, y=values)))["data"][0]
    assert "x" not in trace and trace["dx"] == 7 * 60 * 1000
    assert pd.Timestamp(trace["x0"]).value == stamps[0].value  # plotly reads it as UTC
    y = np.frombuffer(base64.b64decode(trace["y"]["bdata"]), dtype="<f4")
    assert trace["y"]["dtype"] == "f4" and np.allclose(y, values, rtol=1e-6)


def test_uneven_axes_and_categories_stay_as_they_are():
    gappy = pd.to_datetime(["2026-11-09T00:00Z", "2026-11-09T00:01Z", "2026-11-09T00:05Z"])
    trace = as_json(go.Figure(go.Scatter(x=gappy, y=[1.0, 2.0, 3.0])))["data"][0]
    assert len(trace["x"]) == 3 and "x0" not in trace
    bars = as_json(go.Figure(go.Bar(x=[1.5, 2.5], y=["a", "b"], orientation="h")))["data"][0]
    assert list(bars["y"]) == ["a", "b"]
    assert compact_figure({"data": [{"type": "bar", "x": ["a", "b", "c"]}]})["data"][0]["x"] == [
        "a",
        "b",
        "c",
    ]


def test_the_notebook_keeps_json_and_the_page_gets_a_drawn_div():
    figure = as_json(go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="</script><!--")))
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig")
    cell.outputs = [nbformat.v4.new_output("display_data", data={PLOTLY_MIMETYPE: figure})]
    notebook.cells = [cell]
    assert embed_figures(notebook) == 1
    page = cell.outputs[0]["data"]["text/html"]
    assert 'class="plotly-graph-div"' in page and 'Plotly.newPlot("dwcp-fig-1"' in page
    assert page.count("</script>") == 1  # the label cannot end the script early
    arguments = page.split('Plotly.newPlot("dwcp-fig-1", ', 1)[1].rsplit(");</script>", 1)[0]
    assert json.loads(f"[{arguments}]")[0][0]["name"] == "</script><!--"


def test_a_trace_type_outside_the_bundle_says_so_instead_of_a_blank_chart():
    treemap = {"data": [{"type": "treemap", "labels": ["a"], "parents": [""]}], "layout": {}}
    page = figure_html(treemap, "t")
    assert "Figure not drawn" in page and "treemap" in page and "Plotly.newPlot" not in page
