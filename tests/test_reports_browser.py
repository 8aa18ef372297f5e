"""The rendered reports as a reader sees them: headless Chromium at 1400 px, no network.

The demo is rendered (``dwcp-diag demo``, once per session: ``rendered_demo``) and every
report, and the index, is opened in Chromium: every plotly figure must draw, the page must
request nothing but itself, nothing may scroll sideways, findings values are in human units,
nothing overlaps a chart's title and no tick label is clipped. A screenshot of each first
screen is kept under ``reports/screenshots/`` (git-ignored; CI keeps it as an artifact) for a
human to look at.
The reports rendered against the real servers (``rendered_live``) are checked the same way
for drawing offline.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import plotly.offline
import pytest

from dwcp_diag.report.figures import (
    BUNDLE_TRACE_TYPES,
    PLOTLY_BUNDLE,
    PLOTLY_BUNDLE_VERSION,
    PLOTLY_MIMETYPE,
)
from tests.browser import WINDOW, open_report

pytestmark = pytest.mark.server  # every test here renders (kernels) or runs a server

SCREENSHOTS = Path(__file__).resolve().parents[1] / "reports" / "screenshots"
MAX_HTML_BYTES = 2_500_000  # per report, plotly.js included
MAX_IPYNB_BYTES = 1_000_000  # figures as JSON, no plotly.js
MAX_POSTMORTEM_ZIP_BYTES = 6_000_000  # four reports and their data: under ticket limits

# Each returns a JSON string; evaluated once every figure has drawn.
PAGE_CHECKS = {
    "page_width": "JSON.stringify(document.documentElement.scrollWidth)",
    "scientific_values": """JSON.stringify(
        Array.from(document.querySelectorAll('table.dwcp-findings td.dwcp-value'))
          .map(td => td.textContent).filter(t => /\\de[+-]?\\d/.test(t)))""",
    # Python reprs (Session(profile=...), SLOTargets(...), <object at 0x...>) in any output
    "reprs": """JSON.stringify(
        Array.from(document.querySelectorAll('.jp-OutputArea-output'))
          .map(o => o.innerText)
          .filter(t => /\\b[A-Z][A-Za-z]+\\([a-z_]+=|<[\\w.]+ object at 0x/.test(t))
          .map(t => t.slice(0, 120)))""",
    # a chart's title against its legend, annotations and the other charts' boxes
    "title_overlaps": """JSON.stringify((() => {
        const hit = (a, b) => a.left < b.right && b.left < a.right &&
                              a.top < b.bottom && b.top < a.bottom;
        const found = [];
        document.querySelectorAll('.plotly-graph-div').forEach((plot, n) => {
          const title = plot.querySelector('.gtitle');
          if (!title) return;
          const box = title.getBoundingClientRect();
          const others = plot.querySelectorAll('.legend, .annotation, .g-ytitle, .xtick, .ytick');
          others.forEach(el => {
            const other = el.getBoundingClientRect();
            if (other.width && other.height && hit(box, other))
              found.push(`${n}: "${title.textContent}" under ${el.getAttribute('class')}`);
          });
        });
        return found;
      })())""",
    # the last x tick label must lie inside its figure (not cut at the right edge)
    "clipped_ticks": """JSON.stringify((() => {
        const found = [];
        document.querySelectorAll('.plotly-graph-div').forEach((plot, n) => {
          const svg = plot.querySelector('svg.main-svg');
          if (!svg) return;
          const edge = svg.getBoundingClientRect().right;
          plot.querySelectorAll('.xtick text').forEach(t => {
            const right = t.getBoundingClientRect().right;
            if (right > edge + 0.5) found.push(`${n}: "${t.textContent}" ends past ${edge}`);
          });
        });
        return found;
      })())""",
}


@pytest.fixture(scope="module")
def demo_reports(rendered_demo) -> Path:
    assert rendered_demo.exit_code == 0
    return rendered_demo.out_dir


def test_every_demo_report_reads_cleanly_at_1400_px(demo_reports):
    pages = sorted(demo_reports.glob("*.html"))
    assert len(pages) >= 8, pages  # seven reports and the index
    problems = []
    for html in pages:
        name = html.stem
        page = open_report(html, screenshot=SCREENSHOTS / f"{name}.png", evaluate=PAGE_CHECKS)
        outside = [u for u in page.requests if not u.startswith(("file://", "data:"))]
        if outside:
            problems.append(f"{name}: requests leave the file: {outside}")
        if name != "index" and (page.plots == 0 or page.drawn != page.plots):
            problems.append(f"{name}: {page.drawn} of {page.plots} figures drew")
        if page.checks["page_width"] > WINDOW[0]:
            problems.append(f"{name}: scrolls sideways ({page.checks['page_width']} px)")
        for check in ("scientific_values", "reprs", "title_overlaps", "clipped_ticks"):
            problems += [f"{name}: {check}: {item}" for item in page.checks[check]]
        assert page.screenshot.stat().st_size > 10_000
    assert problems == []


def test_the_page_checks_catch_a_legend_over_the_title_a_clipped_tick_and_a_repr(tmp_path):
    """The checks above would fail on the 0.1 layout: a horizontal legend above the plot
    (where the title is), a date axis running to the figure's right edge, a printed repr."""
    import plotly.graph_objects as go

    from dwcp_diag.report.figures import figure_html, plotly_script

    stamps = ["2026-11-09T00:00:00", "2026-11-12T00:00:00", "2026-11-16T00:00:00"]
    fig = go.Figure([go.Scatter(x=stamps, y=[1, 2, 3], name=f"series {n}") for n in "ab"])
    fig.update_layout(
        title={"text": "Latency quantiles", "x": 0.01},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 60, "r": 0, "t": 50, "b": 40},
        width=600,
    )
    fig.update_xaxes(  # drawn even where it overflows, as with the 0.1 margins
        range=["2026-11-09", "2026-11-16"],
        tickvals=stamps[-1:],
        automargin=False,
        ticklabeloverflow="allow",
    )
    page = tmp_path / "bad.html"
    page.write_text(
        f"<html><head>{plotly_script()}</head><body>"
        f"{figure_html(fig.to_plotly_json(), 'bad')}"
        "<div class='jp-OutputArea-output'><pre>Session(profile='default', source='demo')</pre>"
        "</div></body></html>"
    )
    checks = open_report(page, evaluate=PAGE_CHECKS).checks
    assert checks["reprs"] == ["Session(profile='default', source='demo')"], checks
    assert any("legend" in item for item in checks["title_overlaps"]), checks
    assert checks["clipped_ticks"], checks


def test_demo_reports_are_light(demo_reports):
    """plotly.js once per HTML (the vendored cartesian bundle), none in the notebooks."""
    assert plotly.offline.get_plotlyjs_version() == PLOTLY_BUNDLE_VERSION
    marker = f"plotly.js (cartesian - minified) v{PLOTLY_BUNDLE_VERSION}"
    assert marker in PLOTLY_BUNDLE.read_text()[:200]
    for html in demo_reports.glob("*.html"):
        if html.name == "index.html":
            continue
        page = html.read_text()
        assert html.stat().st_size <= MAX_HTML_BYTES, (html.name, html.stat().st_size)
        assert page.count(marker) == 1, html.name
        notebook = html.with_suffix(".ipynb")
        assert notebook.stat().st_size <= MAX_IPYNB_BYTES, (notebook.name, notebook.stat())
        text = notebook.read_text()
        assert "plotly.js" not in text and "Plotly.newPlot" not in text, notebook.name
        figures = [
            output["data"][PLOTLY_MIMETYPE]
            for cell in json.loads(text)["cells"]
            for output in cell.get("outputs", [])
            if PLOTLY_MIMETYPE in output.get("data", {})
        ]
        types = {t.get("type", "scatter") for figure in figures for t in figure["data"]}
        assert types <= BUNDLE_TRACE_TYPES, (notebook.name, types - BUNDLE_TRACE_TYPES)


def test_four_demo_reports_zip_in_a_fraction_of_the_postmortem_limit(demo_reports, tmp_path):
    """The four reports a postmortem bundles, zipped as ``dwcp-diag postmortem`` zips them,
    leave most of the 6 MB for the recorded data (tests/test_postmortem.py checks a whole
    live bundle against the limit)."""
    from dwcp_diag.report.postmortem import DEFAULT_NOTEBOOKS, zip_directory

    target = tmp_path / "INC-1"
    target.mkdir()
    for name in DEFAULT_NOTEBOOKS:
        for path in demo_reports.glob(f"{name}.*"):
            (target / path.name).write_bytes(path.read_bytes())
    archive = zip_directory(target, tmp_path / "INC-1.zip")
    with zipfile.ZipFile(archive) as opened:
        assert {f"INC-1/{n}.html" for n in DEFAULT_NOTEBOOKS} <= set(opened.namelist())
    assert archive.stat().st_size <= MAX_POSTMORTEM_ZIP_BYTES / 2, archive.stat().st_size


@pytest.fixture(scope="module")
def live_reports(rendered_live) -> dict[str, Path]:
    found = {p.stem: p for p in rendered_live.out_dir.glob("*.html") if p.name != "index.html"}
    assert found, "no report was rendered"
    return found


def test_every_live_report_draws_its_figures_offline(live_reports):
    problems = []
    for name, html in sorted(live_reports.items()):
        page = open_report(html, screenshot=SCREENSHOTS / "live" / f"{name}.png")
        outside = [u for u in page.requests if not u.startswith(("file://", "data:"))]
        if outside:
            problems.append(f"{name}: requests leave the file: {outside}")
        if page.plots == 0 or page.drawn != page.plots:
            problems.append(f"{name}: {page.drawn} of {page.plots} figures drew")
        if html.stat().st_size > MAX_HTML_BYTES:
            problems.append(f"{name}: {html.stat().st_size:,} bytes of HTML")
        assert page.screenshot.stat().st_size > 10_000
    assert problems == []
