"""The rendered reports as a reader sees them: headless Chromium, no network.

Every report rendered against the real servers (the ``rendered_live`` run) is opened in
Chromium: every plotly figure must draw, the page must request nothing but itself, and a
screenshot of the first screen is kept in ``test-artifacts/`` for a human to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import open_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
MAX_REPORT_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def reports(rendered_live) -> dict[str, Path]:
    found = {p.stem: p for p in rendered_live.out_dir.glob("*.html") if p.name != "index.html"}
    assert found, "no report was rendered"
    return found


def test_every_report_draws_its_figures_offline(reports):
    problems = []
    for name, html in sorted(reports.items()):
        page = open_report(html, screenshot=ARTIFACTS / f"{name}.png")
        outside = [u for u in page.requests if not u.startswith(("file://", "data:"))]
        if outside:
            problems.append(f"{name}: requests leave the file: {outside}")
        if page.plots == 0 or page.drawn != page.plots:
            problems.append(f"{name}: {page.drawn} of {page.plots} figures drew")
        assert page.screenshot.stat().st_size > 10_000
    assert problems == []


def test_reports_stay_small(reports):
    sizes = {name: html.stat().st_size for name, html in reports.items()}
    assert all(size < MAX_REPORT_BYTES for size in sizes.values()), sizes
