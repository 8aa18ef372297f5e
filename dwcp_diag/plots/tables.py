"""Report tables: raw numbers in the frame, human units on screen.

>>> import pandas as pd
>>> frame = pd.DataFrame({"relname": ["events"], "total_bytes": [3 * 2**30], "bloat_ratio": [0.42]})
>>> html = report_table(frame, "relname total_bytes bloat_ratio").to_html()
>>> "3.0 GiB" in html and "42.0%" in html
True
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pandas as pd
from pandas.io.formats.style import Styler

GREY = "color: #9e9e9e"


def number(value: float) -> str:
    """Counts and sizes without decimals, small values to three significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def column_formats(frame: pd.DataFrame, columns: list[str]) -> dict[str, Callable | str]:
    """Per column, by its name's unit: bytes as KiB/MiB/GiB, seconds as 2d3h, shares as %."""
    from dwcp_diag.analysis.database import human_bytes, human_duration

    chosen: dict[str, Callable | str] = {c: number for c in columns if frame[c].dtype.kind == "f"}
    chosen |= {c: human_bytes for c in columns if c.endswith("_bytes")}
    chosen |= {c: human_duration for c in columns if c.endswith("_s")}
    chosen |= {c: "{:.1%}" for c in columns if c.endswith(("_ratio", "_share", "_time"))}
    chosen |= {c: (lambda v: textwrap.shorten(str(v), 120)) for c in ("query", "definition")}
    chosen |= {c: str for c in ("queryid", "pid")}
    return {c: f for c, f in chosen.items() if c in columns}


def report_table(
    frame: pd.DataFrame, columns: str | None = None, grey: pd.Series | None = None
) -> Styler | str:
    """The ``columns`` (space-separated; default all) of ``frame`` styled for a report; rows
    where ``grey`` holds are greyed (e.g. unreliable estimates). An empty frame gives
    ``"(none)"``. The frame keeps its raw numbers: only the display is in human units.

    ``dd.show(frame)`` is this function: ``dd.show(s.pg.tables(), "relname total_bytes")``.
    """
    if frame.empty:
        return "(none)"
    names = columns.split() if columns is not None else [str(c) for c in frame.columns]
    styled = frame[names].style.format(column_formats(frame, names), na_rep="", thousands=",")
    text = [c for c in names if frame[c].dtype.kind not in "iufb"]
    styled = styled.set_properties(subset=text, **{"text-align": "left"})
    if grey is not None:
        styled = styled.apply(lambda r: [GREY if grey[r.name] else ""] * len(r), axis=1)
    return styled.hide(axis="index")
