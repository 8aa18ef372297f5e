"""The render's progress line (dwcp_diag/report/progress.py), driven by a fake clock.

No sleeps: ``tick()`` is called where the ticker thread would call it; the thread itself is
only started and stopped (with a tick far in the future) to show it ends cleanly.
"""

from __future__ import annotations

import io

import pytest
from tqdm.auto import tqdm

from dwcp_diag.report.progress import CellProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def progress_on(updating: bool, **options) -> tuple[CellProgress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return CellProgress("memory", out, updating=updating, clock=clock, **options), out, clock


def test_the_elapsed_time_moves_while_one_cell_runs_on_a_terminal():
    progress, out, clock = progress_on(updating=True)
    progress.write("\r0/5")
    progress.write("\r1/5")
    clock.now += 1
    progress.tick()
    assert out.getvalue() == ""  # shorter than the delay: nothing yet
    for _ in range(3):
        clock.now += 1
        progress.tick()
    frames = out.getvalue().split("\r")[1:]
    assert frames == [
        "memory: 1/5 cells done, 00:03 elapsed\x1b[K",
        "memory: 1/5 cells done, 00:04 elapsed\x1b[K",
    ]
    progress.write("\r5/5")
    progress.stop()
    assert out.getvalue().endswith("\rmemory: 5/5 cells done, 00:04 elapsed, done\x1b[K\n")


def test_plain_lines_every_interval_when_not_a_terminal():
    progress, out, clock = progress_on(updating=False)
    progress.write("2/9")
    for _ in range(40):
        clock.now += 1
        progress.tick()
    assert out.getvalue().splitlines() == [
        "memory: 2/9 cells done, 00:03 elapsed",
        "memory: 2/9 cells done, 00:18 elapsed",
        "memory: 2/9 cells done, 00:33 elapsed",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_a_short_render_prints_nothing():
    progress, out, clock = progress_on(updating=False)
    progress.write("3/3")
    clock.now += 2
    progress.tick()
    progress.stop()
    assert out.getvalue() == ""


def test_a_failure_stops_the_ticker_and_says_so():
    progress, out, clock = progress_on(updating=False, tick_s=3600, delay_s=0)
    with pytest.raises(RuntimeError), progress:
        thread = progress._thread
        assert thread is not None and thread.is_alive()
        progress.write("4/12")
        clock.now += 75
        progress.tick()
        raise RuntimeError("cell 5 failed")
    assert not thread.is_alive() and progress._thread is None
    assert out.getvalue().splitlines()[-1] == "memory: 4/12 cells done, 01:15 elapsed, failed"
    before = out.getvalue()
    clock.now += 3600
    progress.tick()  # a late tick after the last line draws nothing
    assert out.getvalue() == before


def test_papermills_tqdm_bar_feeds_the_counts():
    progress, out, _ = progress_on(updating=True)
    bar = tqdm(total=7, **progress.options())  # what papermill builds from progress_bar
    bar.update(1)
    bar.update(1)
    assert (progress.done, progress.total) == (2, 7)
    bar.close()
    assert (progress.done, progress.total) == (2, 7)
    assert out.getvalue() == ""  # tqdm's own drawing never reaches the stream
