"""Waiting for a condition in a test: polled, with a bound and a message, never a fixed sleep.

A fixed sleep is a guess at how fast the machine is; polling waits exactly as long as needed.
The bound only turns a hang into a failure that says what never happened.

>>> wait_until(lambda: 42, "the answer")
42
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
HANG_GUARD_S = 60.0  # far beyond any normal wait: reaching it means the condition never held


def wait_until(
    condition: Callable[[], T], what: str, timeout_s: float = HANG_GUARD_S, every_s: float = 0.05
) -> T:
    """The first truthy value of ``condition()``, polled every ``every_s``; fails the test
    with "``what`` did not happen within ``timeout_s`` s" when none came."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(every_s)
