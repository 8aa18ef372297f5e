"""Progress of a long render: how far each notebook is (n/m cells) and the elapsed time.

papermill drives a tqdm bar per notebook (its ``progress_bar`` argument takes tqdm's
options); :func:`progress_options` shapes it: on a terminal one updating line per notebook,
shown once a render has run for a few seconds; elsewhere (cron, CI, a log file, parallel
renders sharing stderr) plain lines, at most one every ``interval_s`` per notebook.

>>> import io
>>> out = io.StringIO()
>>> lines = PlainLines(out, interval_s=0)
>>> _ = lines.write("\\rmemory: 3/12 cells done"); _ = lines.write("\\rmemory: 3/12 cells done")
>>> out.getvalue()
'memory: 3/12 cells done\\n'
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

DELAY_S = 3.0  # renders shorter than this print nothing
PLAIN_INTERVAL_S = 15.0


class PlainLines:
    """A file for tqdm that turns its carriage-return redraws into whole lines, throttled."""

    def __init__(self, stream: TextIO, interval_s: float = PLAIN_INTERVAL_S) -> None:
        self.stream = stream
        self.interval_s = interval_s
        self._last_text = ""
        self._last_at = float("-inf")

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        now = time.monotonic()
        if line and line != self._last_text and now - self._last_at >= self.interval_s:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_text, self._last_at = line, now
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress_options(
    name: str, updating: bool | None = None, stream: TextIO | None = None
) -> dict[str, Any]:
    """tqdm options for papermill's ``progress_bar``: ``NAME: n/m cells done, elapsed``
    (papermill counts a cell when it completes: the line moves from cell to cell).

    ``updating`` (default: ``stream`` is a terminal) picks the updating line over plain lines.

    >>> progress_options("cost", updating=True)["bar_format"]
    'cost: {n_fmt}/{total_fmt} cells done, {elapsed} elapsed'
    """
    stream = stream if stream is not None else sys.stderr
    if updating is None:
        updating = bool(getattr(stream, "isatty", lambda: False)())
    return {
        "bar_format": f"{name}: {{n_fmt}}/{{total_fmt}} cells done, {{elapsed}} elapsed",
        "delay": DELAY_S,
        "file": stream if updating else PlainLines(stream),
        "leave": updating,
        "dynamic_ncols": updating,
        "mininterval": 0.5 if updating else 1.0,
    }
