"""Progress of a long render: how far each notebook is (n/m cells) and the elapsed time.

papermill counts cells on a tqdm bar (its ``progress_bar`` argument takes tqdm's options);
:class:`CellProgress` is that bar's file: it keeps papermill's n/m and draws the line
itself, from a ticker thread, so the elapsed time moves while one long cell runs. On a
terminal one line updated every second; elsewhere (cron, CI, a log file, parallel renders
sharing stderr) a plain line every ``plain_interval_s``. Nothing is shown for a render
shorter than ``delay_s``; the last line says how it ended.

>>> import io
>>> out, now = io.StringIO(), [0.0]
>>> progress = CellProgress("memory", out, updating=False, clock=lambda: now[0])
>>> _ = progress.write("\\r3/12")
>>> now[0] = 20.0; progress.tick(); progress.stop()
>>> print(out.getvalue(), end="")
memory: 3/12 cells done, 00:20 elapsed
memory: 3/12 cells done, 00:20 elapsed, stopped
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

DELAY_S = 3.0  # renders shorter than this print nothing
TICK_S = 1.0
PLAIN_INTERVAL_S = 15.0
_COUNT = re.compile(r"(\d+)/(\d+)")
_CLEAR_TO_END = "\x1b[K"


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class CellProgress:
    """One notebook's progress line; a context manager that runs the ticker thread.

    ``updating`` (default: ``stream`` is a terminal) picks the updating line over plain
    lines; ``clock`` (seconds, monotonic) and :meth:`tick` let a test drive it without the
    thread. Use::

        with CellProgress("memory") as progress:
            papermill.execute_notebook(..., progress_bar=progress.options())
    """

    def __init__(
        self,
        name: str,
        stream: TextIO | None = None,
        updating: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
        plain_interval_s: float = PLAIN_INTERVAL_S,
        delay_s: float = DELAY_S,
    ) -> None:
        self.name = name
        self.stream = stream if stream is not None else sys.stderr
        if updating is None:
            updating = bool(getattr(self.stream, "isatty", lambda: False)())
        self.updating = updating
        self.clock = clock
        self.tick_s = tick_s
        self.plain_interval_s = plain_interval_s
        self.delay_s = delay_s
        self.done, self.total = 0, 0
        self.started_at = clock()
        self._shown = False
        self._last_plain_at = float("-inf")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def options(self) -> dict[str, Any]:
        """tqdm options for papermill's ``progress_bar``: every count written to this object."""
        return {"bar_format": "{n}/{total}", "file": self, "mininterval": 0, "delay": 0,
                "leave": False, "dynamic_ncols": False}  # fmt: skip

    # tqdm's file ----------------------------------------------------------------------
    def write(self, text: str) -> int:
        counts = _COUNT.findall(text)
        if counts:
            with self._lock:
                self.done, self.total = (int(n) for n in counts[-1])
        return len(text)

    def flush(self) -> None:
        pass

    # drawing ----------------------------------------------------------------------------
    def line(self, ending: str = "") -> str:
        """``NAME: n/m cells done, MM:SS elapsed`` (and ``ending``)."""
        elapsed = _clock_text(self.clock() - self.started_at)
        total = self.total or "?"
        return f"{self.name}: {self.done}/{total} cells done, {elapsed} elapsed{ending}"

    def tick(self) -> None:
        """Draw the line if it is due: every tick on a terminal, every ``plain_interval_s``
        otherwise, never before ``delay_s``."""
        now = self.clock()
        if now - self.started_at < self.delay_s or self._stopping.is_set():
            return
        with self._lock:
            if self.updating:
                self._emit("\r" + self.line() + _CLEAR_TO_END)
            elif now - self._last_plain_at >= self.plain_interval_s:
                self._emit(self.line() + "\n")
                self._last_plain_at = now

    def _emit(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
        self._shown = True

    # the ticker -------------------------------------------------------------------------
    def start(self) -> CellProgress:
        self._thread = threading.Thread(target=self._run, name=f"progress-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.tick_s):
            self.tick()

    def stop(self, failed: bool = False) -> None:
        """End the ticker (joined) and, if anything was shown, finish with how it ended."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if not self._shown:
            return
        ending = ", failed" if failed else (", done" if self.done >= self.total else ", stopped")
        with self._lock:
            prefix = "\r" if self.updating else ""
            suffix = _CLEAR_TO_END + "\n" if self.updating else "\n"
            self._emit(prefix + self.line(ending) + suffix)
            self._shown = False

    def __enter__(self) -> CellProgress:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop(failed=error is not None)
