"""Report tables: raw numbers in the frame, human units on screen, one renderer for all.

Every table a report shows goes through :func:`report_table`: no index (a meaningful index
becomes a column), the unit in the header (``memory_request_mib`` is shown as
``memory request (MiB)``), numbers rounded by unit (:mod:`dwcp_diag.units`), long text
wrapped with the whole text on hover, escaped. :func:`register_frame_display` makes a report
kernel show every ``display(frame)`` this way.

>>> import pandas as pd
>>> frame = pd.DataFrame({"relname": ["events"], "total_bytes": [3 * 2**30], "bloat_ratio": [0.42]})
>>> html = report_table(frame, "relname total_bytes bloat_ratio").to_html()
>>> "3.0 GiB" in html and "42.0%" in html and ">total<" in html
True
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from dwcp_diag.units import human_bytes, human_duration, human_money, human_number, human_percent

GREY = "color: #9e9e9e"
LONG_TEXT = 80  # characters shown of a longer text cell; the whole text is in its tooltip
MAX_ROWS = 60  # rows a displayed frame shows (as pandas' own display.max_rows)
# column-name suffix -> the unit its header shows ("" when the cell already says it)
HEADER_UNITS = {
    "_bytes": "",
    "_s": "",
    "_ratio": "",
    "_share": "",
    "_ms": "ms",
    "_mib": "MiB",
    "_gib": "GiB",
    "_mib_per_h": "MiB/h",
    "_usd_per_month": "$/month",
    "_usd": "$",
    "_cores": "cores",
    "_pct": "%",
    "_rps": "req/s",
    "_h": "h",
    "_days": "days",
}


class Note(str):
    """A sentence a report shows in place of an empty table: as text, not as a quoted string."""

    def _repr_markdown_(self) -> str:
        return str(self)


def number(value: float) -> str:
    """Three significant digits, thousands separated, never an exponent."""
    return human_number(value)


def header(column: Any) -> str:
    """A column name for people: underscores as spaces, the unit suffix in parentheses.

    >>> header("memory_request_mib"), header("total_bytes"), header("cost_usd_per_month")
    ('memory request (MiB)', 'total', 'cost ($/month)')
    """
    name = str(column)
    for suffix in sorted(HEADER_UNITS, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            unit = HEADER_UNITS[suffix]
            stem = name[: -len(suffix)].replace("_", " ")
            return f"{stem} ({unit})" if unit else stem
    return name.replace("_", " ")


def _text(value: Any) -> str:
    """A text cell, escaped; past :data:`LONG_TEXT` characters cut at a word with the whole
    text on hover."""
    text = " ".join(str(value).split())
    if len(text) <= LONG_TEXT:
        return html.escape(text)
    cut = text[:LONG_TEXT].rsplit(" ", 1)[0] or text[:LONG_TEXT]
    return f'<span title="{html.escape(text)}">{html.escape(cut)} …</span>'


def column_formats(frame: pd.DataFrame, columns: list[str]) -> dict[str, Callable]:
    """Per column, by its name's unit: bytes as KiB/MiB/GiB, seconds as 2d3h, shares as %,
    percentages as %, two decimals near 100 (availability 99.72 %), money with cents, other
    numbers to three significant digits, text escaped and wrapped."""
    chosen: dict[str, Callable] = {}
    for c in columns:
        kind = frame[c].dtype.kind
        if kind in "iuf":
            chosen[c] = number
        elif kind not in "bmM":
            chosen[c] = _text
    chosen |= {c: human_bytes for c in columns if c.endswith("_bytes")}
    chosen |= {c: human_duration for c in columns if c.endswith("_s")}
    chosen |= {c: "{:.1%}".format for c in columns if c.endswith(("_ratio", "_share", "_time"))}
    chosen |= {c: human_money for c in columns if c.endswith(("_usd", "_usd_per_month"))}
    chosen |= {c: human_percent for c in columns if c.endswith("_pct")}
    chosen |= {c: str for c in ("queryid", "pid") if c in columns}
    return {c: f for c, f in chosen.items() if c in columns}


def report_table(
    frame: pd.DataFrame,
    columns: str | None = None,
    grey: pd.Series | None = None,
    raw_html: str = "",
    empty: str = "(none)",
) -> Styler | str:
    """The ``columns`` (space-separated; default all) of ``frame`` styled for a report; rows
    where ``grey`` holds are greyed (e.g. unreliable estimates); ``raw_html`` names columns
    holding HTML (links) shown as is. An empty frame gives the ``empty`` sentence. The frame
    keeps its raw numbers: only the display is in human units. Every table of every report
    goes through here (``display(frame)`` too, see :func:`register_frame_display`).

    ``dd.show(frame)`` is this function: ``dd.show(s.pg.tables(), "relname total_bytes")``.

    >>> report_table(pd.DataFrame({"pv": []}), empty="Every volume is in use.")
    'Every volume is in use.'
    """
    if frame.empty:
        return Note(empty)
    names = columns.split() if columns is not None else [str(c) for c in frame.columns]
    formats = column_formats(frame, names)
    for column in raw_html.split():
        formats[column] = str
    styled = frame[names].style.format(formats, na_rep="")
    styled = styled.format_index(header, axis=1)
    text = [c for c in names if frame[c].dtype.kind not in "iufb"]
    styled = styled.set_properties(subset=text, **{"text-align": "left"})
    if grey is not None:
        styled = styled.apply(lambda r: [GREY if grey[r.name] else ""] * len(r), axis=1)
    return styled.hide(axis="index")


def frame_html(frame: pd.DataFrame) -> str:
    """A displayed frame as a report table: a meaningful index becomes columns, at most
    :data:`MAX_ROWS` rows (with a line saying how many there are).

    >>> frame = pd.DataFrame({"meaning": ["OOM-killed"]}, index=pd.Index([137], name="exit code"))
    >>> page = frame_html(frame)
    >>> "exit code" in page and "137" in page
    True
    """
    named = isinstance(frame.index, pd.MultiIndex) or frame.index.name is not None
    frame = frame.reset_index(drop=not named)  # a plain row number is no information
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    more = len(frame) - MAX_ROWS
    shown = report_table(frame.head(MAX_ROWS).reset_index(drop=True))
    page = shown if isinstance(shown, str) else shown.to_html()
    return page + (f"<p><i>first {MAX_ROWS} of {len(frame):,} rows</i></p>" if more > 0 else "")


def register_frame_display() -> None:
    """In an IPython kernel, show every displayed DataFrame through :func:`frame_html`."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
