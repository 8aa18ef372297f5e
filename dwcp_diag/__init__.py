"""dwcp_diag: diagnostics notebooks for the DWCP platform.

Prometheus, PostgreSQL and Kubernetes into tidy pandas frames; analysis into findings;
Papermill and nbconvert into self-contained HTML reports.

>>> import dwcp_diag as dd
>>> s = dd.session(source="demo")                                        # doctest: +SKIP
>>> s.prom.range("sum(rate(http_requests_total[5m]))", window="6h")      # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

try:
    __version__ = version("dwcp-diag")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

# Imported here, before the function of the same name is defined: importing a submodule
# binds it as an attribute of its package, which would otherwise replace ``dd.session`` the
# function by the module the first time any code imports ``dwcp_diag.session``.
from dwcp_diag.session import Session

if TYPE_CHECKING:
    import os

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
    """
    return Session(profile, source=source, record=record, now=now, writer=writer)


__all__ = ["Session", "__version__", "session"]
