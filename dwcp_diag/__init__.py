"""dwcp_diag: diagnostics notebooks for the DWCP platform.

Prometheus, PostgreSQL and Kubernetes into tidy pandas frames; analysis into findings;
Papermill and nbconvert into self-contained HTML reports.

>>> import dwcp_diag as dd
>>> s = dd.session(source="demo")
>>> tables = s.pg.tables()  # sorted by name
>>> tables["relname"].head(2).tolist()
['audit_log', 'events']
>>> int(tables["total_bytes"].iloc[0]) > 2**20  # raw numbers (bytes) in frames
True
>>> "MiB" in dd.show(tables, "relname total_bytes").to_html()  # human units on screen
True
>>> dd.plots.timeseries, dd.collect.__name__  # doctest: +ELLIPSIS
(<function timeseries at 0x...>, 'dwcp_diag.collect')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported here, before the function of the same name is defined: importing a submodule
# binds it as an attribute of its package, which would otherwise replace ``dd.session`` the
# function by the module the first time any code imports ``dwcp_diag.session``.
from dwcp_diag.session import Session
from dwcp_diag.version import __version__

if TYPE_CHECKING:
    import os

    import pandas as pd

    from dwcp_diag.config import Profile
    from dwcp_diag.timewindow import TimeLike


def session(
    profile: Profile | str | None = None,
    source: str = "live",
    record: str | os.PathLike[str] | None = None,
    now: TimeLike | None = None,
    writer: str = "session",
) -> Session:
    """Open a :class:`~dwcp_diag.session.Session`: ``live``, ``demo`` or ``snapshot:DIR``.

    ``profile`` names a profile of the config file (or is a loaded ``Profile``); ``record``
    saves every loaded frame into a bundle directory; ``now`` pins the clock (a replay uses
    the bundle's).

    >>> s = session(source="demo")  # the built-in demo data: no server needed
    >>> s.mode, s.now.isoformat()
    ('demo', '2026-11-16T00:00:00+00:00')
    """
    return Session(profile, source=source, record=record, now=now, writer=writer)


def show(frame: pd.DataFrame, columns: str | None = None, grey: pd.Series | None = None) -> Any:
    """Display ``frame`` (or its space-separated ``columns``) with human units: bytes as
    MiB/GiB, ``*_s`` as durations, ratios and shares as %; the frame keeps its raw numbers.

    >>> import pandas as pd
    >>> "2.0 GiB" in show(pd.DataFrame({"total_bytes": [2 * 2**30]})).to_html()
    True
    """
    from dwcp_diag.plots.tables import report_table

    return report_table(frame, columns, grey)


_LAZY_MODULES = ("collect", "plots", "queries", "analysis")


def __getattr__(name: str) -> Any:
    # ``dd.plots.timeseries(...)`` without importing plotly for every ``import dwcp_diag``
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"dwcp_diag.{name}")
    raise AttributeError(f"module 'dwcp_diag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_MODULES})


__all__ = ["Session", "__version__", "session", "show"]
