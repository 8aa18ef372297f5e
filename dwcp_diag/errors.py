"""Exceptions raised by dwcp_diag.

Every error a user can act on derives from :class:`DwcpDiagError` and carries a message that
names what was wrong (the URL, the query, the file, the parameter) and never a secret.
"""

from __future__ import annotations


class DwcpDiagError(Exception):
    """Base class of every error dwcp_diag raises on purpose."""


class ConfigError(DwcpDiagError):
    """The configuration file, a profile or an environment variable is invalid."""


class TimeWindowError(DwcpDiagError, ValueError):
    """A time, duration or window could not be understood or makes no sense."""


class SourceUnavailable(DwcpDiagError):
    """A data source (Prometheus, PostgreSQL, Kubernetes, a snapshot) could not be reached.

    ``source`` names the kind of source (``"prometheus"``, ``"postgres"``, ``"kubernetes"``,
    ``"snapshot"``) so reports can emit a ``source_unavailable`` finding for it.
    """

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source


class AuthError(SourceUnavailable):
    """The source answered but refused our credentials (HTTP 401/403, password rejected)."""


class QueryError(DwcpDiagError):
    """The source rejected a query (bad PromQL, bad SQL, missing privilege)."""

    def __init__(self, message: str, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query


class QueryTimeout(QueryError):
    """A query ran past a timeout the profile sets (PostgreSQL ``statement_timeout_ms`` or
    ``lock_timeout_ms``); ``setting`` names it, and the message says how to raise it.

    >>> str(QueryTimeout("bloat took too long", "bloat", setting="statement_timeout_ms"))
    'bloat took too long'
    """

    def __init__(
        self, message: str, query: str | None = None, setting: str = "statement_timeout_ms"
    ) -> None:
        super().__init__(message, query)
        self.setting = setting


class StatsUnavailable(QueryError):
    """A statistic cannot be read for want of a privilege, an extension or a setting.

    ``feature`` names what is missing (``"pg_stat_statements"``, ``"pgstattuple"``, ...) and
    ``fix`` is the statement that provides it (a GRANT, CREATE EXTENSION or ALTER SYSTEM);
    reports turn it into a ``stats_unavailable`` finding rather than a failed cell.
    """

    def __init__(self, feature: str, message: str, fix: str, query: str | None = None) -> None:
        super().__init__(message, query)
        self.feature = feature
        self.fix = fix


class ReplayMissing(DwcpDiagError, LookupError):
    """A snapshot bundle was asked for a call that was never recorded into it."""


class SnapshotError(DwcpDiagError):
    """A snapshot bundle is missing, incomplete or corrupt."""
