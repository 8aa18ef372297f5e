"""PostgreSQL loader: ``pg_stat_*`` views and catalogs as tidy frames, safe to aim at production.

Every session it opens is read-only (``default_transaction_read_only=on``), bounded
(``statement_timeout`` and ``lock_timeout`` from :class:`PostgresSettings`) and named
(``application_name=dwcp-diag``). It never runs ``EXPLAIN ANALYZE`` or resets statistics. The
SQL lives in ``dwcp_diag/queries/sql/CONCERN/NAME.sql`` (:mod:`dwcp_diag.queries.sql`), each
file saying where its numbers come from. Frames have units in column names and keep their
columns and dtypes when empty (:mod:`dwcp_diag.sources.postgres.schemas`). A missing privilege,
extension or setting is reported by :meth:`PostgresLoader.availability` with the statement that
fixes it, and a method that cannot work without it raises :class:`StatsUnavailable` (never a
bare driver traceback). Query texts (``pg_stat_statements``, ``pg_stat_activity``, EXPLAIN
plans) pass through :mod:`dwcp_diag.sources.redact` under ``[postgres] query_text`` before any
frame holds them.

>>> pg = PostgresLoader(PostgresSettings(dsn=Secret.from_env("DWCP_PG_DSN")))  # doctest: +SKIP
>>> pg.slow_queries(limit=5)[["query", "calls", "mean_exec_time_ms"]]         # doctest: +SKIP
>>> pg.availability().query("not available")[["feature", "fix"]]              # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pandas as pd
import psycopg
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from dwcp_diag.config import PostgresSettings
from dwcp_diag.credentials import Secret, scrub
from dwcp_diag.errors import (
    AuthError,
    ConfigError,
    DwcpDiagError,
    QueryError,
    QueryTimeout,
    SourceUnavailable,
    StatsUnavailable,
)
from dwcp_diag.frames import Schema, conform
from dwcp_diag.queries.sql import load_sql, sql_names
from dwcp_diag.sources.base import Loader, SourceCheck
from dwcp_diag.sources.postgres.access import (
    availability_rows,
    parse_extension_version,
    pg_stat_statements_variant,
)
from dwcp_diag.sources.postgres.schemas import (
    ACTIVITY_SCHEMA,
    AVAILABILITY_SCHEMA,
    BLOAT_EXACT_SCHEMA,
    BLOAT_SCAN_SCHEMA,
    BLOAT_SCHEMA,
    CACHE_HIT_SCHEMA,
    CONNECTION_COUNTS_SCHEMA,
    DEAD_TUPLE_BLOAT_SCHEMA,
    DUPLICATE_INDEXES_SCHEMA,
    ESTIMATE_DETAIL,
    INDEXES_SCHEMA,
    SEQUENCES_SCHEMA,
    SERVER_SCHEMA,
    SETTINGS_SCHEMA,
    SETTINGS_SPEC,
    SLOW_QUERIES_SCHEMA,
    TABLES_SCHEMA,
    WRAPAROUND_SCHEMA,
)
from dwcp_diag.sources.redact import redact_plan_line, redact_query
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle

APPLICATION_NAME = "dwcp-diag"
# Ends every statement in queries/sql/ (PostgreSQL 18 drops leading comments from
# pg_stat_statements texts, trailing ones stay): our own catalog queries are not the
# database's workload, so slow_queries leaves them out, as activity leaves out our sessions.
OWN_QUERY_MARKER = "/* dwcp-diag */"
SLOW_QUERY_ORDERS = ("mean_exec_time_ms", "total_exec_time_ms", "max_exec_time_ms", "calls")
DEFAULT_MAX_QUERY_CHARS = 2000
# Functions with side effects that a read-only transaction still lets through.
_FORBIDDEN = re.compile(
    r"\b(pg_stat_statements_reset|pg_stat_reset\w*|pg_terminate_backend|pg_cancel_backend|"
    r"pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_promote)\s*\(",
    re.IGNORECASE,
)
_EXPLAIN_ANALYZE = re.compile(r"^\s*explain\b[^;]*\banalyze\b", re.IGNORECASE | re.DOTALL)
_AUTH_FAILURE = re.compile(
    r"password authentication failed|no password supplied|authentication failed|"
    r"pg_hba\.conf|role \S+ does not exist|permission denied for database",
    re.IGNORECASE,
)


def session_options(settings: PostgresSettings) -> str:
    """The libpq ``options`` that make every session read-only and bounded.

    >>> session_options(PostgresSettings(statement_timeout_ms=5000, lock_timeout_ms=1000))
    '-c default_transaction_read_only=on -c statement_timeout=5000 -c lock_timeout=1000'
    """
    return (
        "-c default_transaction_read_only=on"
        f" -c statement_timeout={int(settings.statement_timeout_ms)}"
        f" -c lock_timeout={int(settings.lock_timeout_ms)}"
    )


def slow_queries_sql(variant: str) -> str:
    """The full slow-queries statement: the version variant as CTE ``pgss``, then the ranking.

    >>> slow_queries_sql("pgss_pg13").startswith("WITH pgss AS (")
    True
    """
    return f"WITH pgss AS (\n{load_sql(variant)}\n)\n{load_sql('slow_queries')}"


def is_own_statement(query: Any) -> bool:
    """Whether a query text is one of dwcp-diag's own catalog queries: it carries
    :data:`OWN_QUERY_MARKER`, or (recorded before the marker existed, on a server that keeps
    leading comments) starts with the ``-- NAME:`` header of one of the shipped SQL files.

    >>> is_own_statement(f"SELECT 1 {OWN_QUERY_MARKER}"), is_own_statement("-- tables: x")
    (True, True)
    >>> is_own_statement("SELECT * FROM tables")
    False
    """
    if not isinstance(query, str):
        return False
    header = re.match(r"\s*-- (\w+):", query)
    return OWN_QUERY_MARKER in query or (header is not None and header[1] in _sql_file_names())


@cache
def _sql_file_names() -> frozenset[str]:
    return frozenset(sql_names())


def shown_query_texts(frame: pd.DataFrame, policy: str) -> pd.DataFrame:
    """``frame`` as a report may show it: every ``query`` text through :func:`redact_query`
    and every EXPLAIN ``QUERY PLAN`` line through :func:`redact_plan_line` under ``policy``
    (``[postgres] query_text``), without dwcp-diag's own statements (:func:`is_own_statement`)
    and sessions (``application_name`` dwcp-diag). Frames without those columns pass as they are.

    >>> texts = ["SELECT * FROM t WHERE email = 'al@example.com'", "SELECT 1 /* dwcp-diag */"]
    >>> frame = pd.DataFrame({"queryid": [1, 2], "query": texts})
    >>> shown_query_texts(frame, "redacted")["query"].tolist()
    ['SELECT * FROM t WHERE email = $1']
    """
    if "query" not in frame.columns and "QUERY PLAN" not in frame.columns:
        return frame
    own = pd.Series(False, index=frame.index, dtype=bool)
    if "query" in frame.columns:
        own |= frame["query"].map(is_own_statement).astype(bool)
    if "application_name" in frame.columns:
        own |= (frame["application_name"] == APPLICATION_NAME).fillna(False).astype(bool)
    shown = frame.loc[~own].reset_index(drop=True) if own.any() else frame.copy()
    for column, redact in (("query", redact_query), ("QUERY PLAN", redact_plan_line)):
        if column in shown.columns:
            texts = [redact(text, policy) for text in shown[column]]
            shown[column] = pd.Series(texts, index=shown.index, dtype=shown[column].dtype)
    return shown


_BLOAT_KEY = ["kind", "schemaname", "relname", "indexrelname"]
_SCAN_FUNCTION = {"table": "pgstattuple_approx", "index": "pgstatindex"}


def _true(value: Any) -> bool:
    """True for a true boolean, False for False and NA alike."""
    return not pd.isna(value) and bool(value)


def _age_text(seconds: float) -> str:
    """``3720.0`` -> ``'1.0 h'`` (stats ages in method notes)."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _scan_detail(row: Any) -> str:
    if row.kind == "index":
        text = (
            f"pgstatindex: average leaf density {row.avg_leaf_density_pct_scan:.0f} %; entries "
            "of dead rows count as used until VACUUM removes them"
        )
        estimate, measured = row.estimate_bloat_ratio, row.bloat_ratio_scan
        if _true(row.estimate_is_reliable) and estimate - measured >= 0.1:
            text += (
                f" (the estimate, which sizes the index for live rows, says {estimate:.0%}: "
                "the difference is most likely such entries, which VACUUM frees for reuse)"
            )
        return text
    return (
        f"pgstattuple_approx: {row.scanned_pct_scan:.0f} % of the pages read (dead tuples "
        "exact; free space of all-visible pages from the free space map)"
    )


def _dead_tuple_detail(row: Any) -> str:
    age = row.stats_age_s
    based = (
        "counters never re-based by VACUUM/ANALYZE"
        if pd.isna(age)
        else f"counters re-based {_age_text(float(age))} ago"
    )
    return (
        f"n_dead_tup / (n_live_tup + n_dead_tup) = {int(row.n_dead_tup):,} / "
        f"{int(row.n_live_tup) + int(row.n_dead_tup):,} of the heap, {based}; free space "
        "VACUUM already made is not seen"
    )


def best_bloat(
    estimates: pd.DataFrame,
    dead_tuples: pd.DataFrame | None = None,
    scans: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per table and btree index, the best bloat figure available (:data:`BLOAT_SCHEMA`).

    ``estimates`` are table_bloat.sql / index_bloat.sql rows (planner statistics),
    ``dead_tuples`` table_bloat_dead_tuples.sql rows, ``scans`` :data:`BLOAT_SCAN_SCHEMA` rows.
    In order of preference: a measured scan (``approx_scan`` for tables, ``pgstatindex`` for
    indexes); the ``estimate`` when it is reliable; for tables, ``dead_tuples`` when that is
    reliable (the estimate is not: typically pg_stats rows hidden from the role); else the
    estimate, unreliable, with its reason. ``method_detail`` says what the figure rests on and,
    when a better method was not used, why.

    >>> est = pd.DataFrame({"kind": ["table"], "schemaname": ["public"], "relname": ["t"],
    ...     "size_bytes": [8192 * 100], "bloat_bytes": [0], "bloat_ratio": [0.0],
    ...     "is_reliable": [False], "unreliable_reason": ["1 variable-width column(s) without "
    ...     "statistics"]})
    >>> dead = est[["kind", "schemaname", "relname", "size_bytes"]].assign(n_live_tup=600,
    ...     n_dead_tup=400, bloat_bytes=8192 * 40, bloat_ratio=0.4, is_reliable=True)
    >>> best_bloat(est, dead)[["method", "bloat_ratio", "is_reliable"]].values.tolist()
    [['dead_tuples', 0.4, True]]
    """
    frame = conform(estimates, BLOAT_SCHEMA)
    frame["estimate_bloat_ratio"] = frame["bloat_ratio"]
    frame["estimate_is_reliable"] = frame["is_reliable"].fillna(False)
    frame["method"] = "estimate"
    frame["method_detail"] = ESTIMATE_DETAIL
    if frame.empty:
        return conform(frame, BLOAT_SCHEMA)
    dead = conform(dead_tuples if dead_tuples is not None else pd.DataFrame(),
                   DEAD_TUPLE_BLOAT_SCHEMA)  # fmt: skip
    scan = conform(scans if scans is not None else pd.DataFrame(), BLOAT_SCAN_SCHEMA)
    for part in (frame, dead, scan):
        part["indexrelname"] = (
            part["indexrelname"].astype("object").where(part["indexrelname"].notna(), "")
        )
    dead_cols = ["size_bytes", "bloat_bytes", "bloat_ratio", "is_reliable", "unreliable_reason"]
    scan_cols = ["status", "size_bytes", "bloat_bytes", "bloat_ratio", "scanned_pct",
                 "avg_leaf_density_pct"]  # fmt: skip
    dead = dead.rename(columns={c: f"{c}_dead" for c in dead_cols})
    scan = scan.rename(columns={c: f"{c}_scan" for c in scan_cols})
    merged = frame.drop(columns=["n_live_tup", "n_dead_tup", "stats_age_s"]).merge(
        dead[[*_BLOAT_KEY, *(f"{c}_dead" for c in dead_cols), "n_live_tup", "n_dead_tup",
              "stats_age_s"]], on=_BLOAT_KEY, how="left"
    )  # fmt: skip
    merged = merged.merge(
        scan[[*_BLOAT_KEY, *(f"{c}_scan" for c in scan_cols)]], on=_BLOAT_KEY, how="left"
    )
    rows = []
    for row in merged.itertuples(index=False):
        out = row._asdict()
        out["dead_tuple_bloat_ratio"] = row.bloat_ratio_dead
        out["scanned_pct"], out["avg_leaf_density_pct"] = None, None
        status = row.status_scan if isinstance(row.status_scan, str) else ""
        if status == "measured":
            out.update(
                method="approx_scan" if row.kind == "table" else "pgstatindex",
                method_detail=_scan_detail(row),
                size_bytes=row.size_bytes_scan,
                bloat_bytes=row.bloat_bytes_scan,
                bloat_ratio=row.bloat_ratio_scan,
                is_reliable=True,
                unreliable_reason=None,
                scanned_pct=row.scanned_pct_scan,
                avg_leaf_density_pct=row.avg_leaf_density_pct_scan,
            )
        elif (
            row.kind == "table"
            and not _true(row.estimate_is_reliable)
            and _true(row.is_reliable_dead)
        ):
            out.update(
                method="dead_tuples",
                method_detail=_dead_tuple_detail(row),
                size_bytes=row.size_bytes_dead,
                bloat_bytes=row.bloat_bytes_dead,
                bloat_ratio=row.bloat_ratio_dead,
                is_reliable=True,
                unreliable_reason=None,
            )
        if out["method"] != "estimate" and not _true(row.estimate_is_reliable):
            out["method_detail"] += f"; estimate unusable: {row.unreliable_reason}"
        if status.startswith("not scanned"):
            out["method_detail"] = f"{out['method_detail']}; {_SCAN_FUNCTION[row.kind]} {status}"
        rows.append(out)
    result = pd.DataFrame(rows)
    result["indexrelname"] = result["indexrelname"].where(result["indexrelname"] != "", None)
    return conform(result, BLOAT_SCHEMA)


def _pivot_settings(long: pd.DataFrame) -> pd.DataFrame:
    """One row, a column per :data:`SETTINGS_SPEC` entry, from settings.sql's long rows."""
    by_name = {row.name: row for row in long.itertuples(index=False)}
    values: dict[str, Any] = {}
    for name, column, kind in SETTINGS_SPEC:
        row = by_name.get(name)
        if row is None:
            values[column] = None
        elif kind == "bool":
            values[column] = row.setting == "on"
        elif kind == "str":
            values[column] = row.setting
        else:
            values[column] = row.value_base
    frame = pd.DataFrame([values])
    for _, column, kind in SETTINGS_SPEC:
        if kind in ("int", "bytes") and frame[column].notna().all():
            frame[column] = frame[column].astype("float64").round()
    return conform(frame, SETTINGS_SCHEMA)


def _timeout_setting(sqlstate: str, detail: str) -> str | None:
    """The profile setting whose timeout cancelled a statement, or None.

    >>> _timeout_setting("57014", "canceling statement due to statement timeout")
    'statement_timeout_ms'
    >>> _timeout_setting("55P03", "canceling statement due to lock timeout")
    'lock_timeout_ms'
    >>> _timeout_setting("57014", "canceling statement due to user request") is None
    True
    """
    if sqlstate == "57014" and "statement timeout" in detail:
        return "statement_timeout_ms"
    if sqlstate == "55P03" and "lock timeout" in detail:
        return "lock_timeout_ms"
    return None


class PostgresLoader(Loader):
    """Read-only PostgreSQL diagnostics (PostgreSQL 13-17), live, recorded or replayed.

    >>> from dwcp_diag.config import PostgresSettings
    >>> pg = PostgresLoader(PostgresSettings())
    >>> pg                                    # nothing connects until a method needs it
    PostgresLoader(<no DSN configured>)
    """

    kind = "postgres"

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        recorder: Recorder | None = None,
        replay: SnapshotBundle | None = None,
    ) -> None:
        super().__init__(recorder=recorder, replay=replay)
        self.connection_settings = settings
        self._engine: Engine | None = None
        self._availability: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return f"PostgresLoader({self.target})"

    @property
    def target(self) -> str:
        """Where this loader points, credentials masked."""
        return self.connection_settings.display_dsn or "<no DSN configured>"

    def _load(
        self, call: str, params: Mapping[str, Any], fetch: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """:meth:`Loader._load` with query texts as reports may show them
        (:func:`shown_query_texts`): live frames before they are recorded, replayed frames as
        they are read (a bundle recorded before redaction existed is redacted all the same)."""
        policy = self.connection_settings.query_text
        if self.replay is not None:
            return shown_query_texts(super()._load(call, params, fetch), policy)
        return super()._load(call, params, lambda: shown_query_texts(fetch(), policy))

    # -- connection plumbing -------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use (every session read-only and bounded)."""
        if self._engine is None:
            self._engine = create_engine(
                "postgresql+psycopg://",
                creator=self._connect,
                pool_pre_ping=True,  # a server restart costs one failed ping, not an error
                pool_size=2,
                max_overflow=1,
                pool_timeout=max(float(self.connection_settings.connect_timeout_s), 1.0),
                hide_parameters=True,
            )
        return self._engine

    def close(self) -> None:
        """Close pooled connections; the loader reconnects if used again."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _dsn(self) -> str:
        secret: Secret | None = self.connection_settings.dsn
        if secret is None:
            raise SourceUnavailable(
                "postgres",
                "no PostgreSQL DSN configured: set DWCP_PG_DSN or the profile's "
                '[postgres] dsn = { env = "NAME" }',
            )
        try:
            return secret.reveal()
        except ConfigError as exc:
            raise SourceUnavailable("postgres", f"PostgreSQL DSN unavailable: {exc}") from None

    def _secrets(self) -> list[str]:
        """Values that must never appear in a message: the DSN and its password."""
        try:
            dsn = self._dsn()
        except SourceUnavailable:
            return []
        try:
            password = conninfo_to_dict(dsn).get("password")
        except psycopg.Error:
            password = None
        return [v for v in (dsn, password) if v]

    def _connect(self) -> psycopg.Connection:
        """The engine's connection factory: the DSN with our session options on top."""
        dsn = self._dsn()
        try:
            own_options = conninfo_to_dict(dsn).get("options") or ""
        except psycopg.ProgrammingError:
            raise SourceUnavailable(
                "postgres",
                f"the PostgreSQL DSN ({self.connection_settings.dsn!r}) is not a valid "
                "connection string",
            ) from None
        return psycopg.connect(
            dsn,
            options=f"{own_options} {session_options(self.connection_settings)}".strip(),
            application_name=APPLICATION_NAME,
            connect_timeout=int(self.connection_settings.connect_timeout_s),
        )

    def _error(self, exc: SQLAlchemyError, what: str) -> DwcpDiagError:
        """A driver error as a DwcpDiagError naming ``what`` and never the DSN or password."""
        original = getattr(exc, "orig", None) or exc
        sqlstate = getattr(original, "sqlstate", None) or ""
        detail = " ".join(str(original).split()) or type(original).__name__
        detail = scrub(detail, self._secrets())
        where = f"PostgreSQL at {self.target}: {detail}"
        if sqlstate.startswith("28") or (not sqlstate and _AUTH_FAILURE.search(detail)):
            return AuthError("postgres", where)
        if (
            sqlstate.startswith(("08", "57P"))
            or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
            or (not sqlstate and isinstance(original, psycopg.OperationalError))
        ):
            return SourceUnavailable("postgres", where)
        timeout = _timeout_setting(sqlstate, detail)
        if timeout is not None:
            limit_ms = int(getattr(self.connection_settings, timeout))
            return QueryTimeout(
                f"PostgreSQL query {what} ran past {timeout} = {limit_ms} ms and was cancelled "
                f"({detail}): raise {timeout} in the profile's [postgres] section (e.g. to "
                f"{4 * max(limit_ms, 1000)}), or run the report when the server is less busy",
                query=what,
                setting=timeout,
            )
        if sqlstate == "57014":
            return QueryError(f"PostgreSQL query {what} was cancelled: {detail}", query=what)
        if sqlstate == "42501":
            return StatsUnavailable(
                what,
                f"PostgreSQL query {what}: {detail}",
                fix="GRANT pg_monitor TO <the monitoring role>;  -- "
                "deploy/postgres-monitoring-role.sql",
                query=what,
            )
        return QueryError(f"PostgreSQL query {what} failed: {detail}", query=what)

    def _with_connection(self, what: str, work: Callable[[Connection], pd.DataFrame]):
        """Run ``work(conn)`` on a pooled connection inside a read-only transaction that is
        rolled back after; once more on a fresh connection if the first was cut mid-use
        (a server restart: the pool's pre-ping only catches connections dead before use)."""
        self._dsn()  # a missing DSN is SourceUnavailable before anything else
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    return work(conn)
            except DBAPIError as exc:
                error = self._error(exc, what)
                if attempt == 1 and exc.connection_invalidated and not isinstance(error, AuthError):
                    continue
                raise error from None
            except SQLAlchemyError as exc:
                raise self._error(exc, what) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _rows(conn: Connection, sql_text: str, params: Mapping[str, Any] | None = None):
        result = conn.execute(text(sql_text), dict(params or {}))
        return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))

    def _sql(self, conn: Connection, name: str, params: Mapping[str, Any] | None = None):
        """Rows of ``sql/CONCERN/NAME.sql`` as a raw frame."""
        return self._rows(conn, load_sql(name), params)

    def _use_extension(self, conn: Connection, extension: str) -> None:
        """Put ``extension``'s schema on this transaction's search_path (behind pg_catalog)."""
        self._sql(conn, "extension_search_path", {"extension": extension})

    def _fetch(
        self, name: str, schema: Schema, params: Mapping[str, Any] | None = None
    ) -> Callable[[], pd.DataFrame]:
        """A fetch function for :meth:`Loader._load`: one SQL file, conformed to ``schema``."""

        def fetch() -> pd.DataFrame:
            frame = self._with_connection(name, lambda conn: self._sql(conn, name, params))
            return conform(frame, schema)

        return fetch

    def _require(self, feature: str) -> None:
        """Raise :class:`StatsUnavailable` (with the fix) unless ``feature`` is available."""
        frame = self.availability()
        row = frame[frame["feature"] == feature]
        if row.empty or bool(row["available"].iloc[0]):
            return
        detail, fix = row["detail"].iloc[0], row["fix"].iloc[0]
        raise StatsUnavailable(feature, f"{feature} is unavailable: {detail}; fix: {fix}", fix)

    # -- server ------------------------------------------------------------------------------
    def server(self) -> pd.DataFrame:
        """One row: version, uptime, database size, role, privileges, extensions, stat resets.

        ``pg_stat_statements_reset_at``/``_dealloc`` come from pg_stat_statements_info (PG14+).

        >>> pg.server()[["version_num", "uptime_s", "has_pg_monitor"]]   # doctest: +SKIP
        """

        def work(conn: Connection) -> pd.DataFrame:
            frame = self._sql(conn, "server")
            version = frame["pg_stat_statements_version"].iloc[0] if len(frame) else None
            if version and parse_extension_version(version) >= (1, 9):
                self._use_extension(conn, "pg_stat_statements")
                try:
                    with conn.begin_nested():
                        info = self._sql(conn, "pg_stat_statements_info")
                    frame = pd.concat([frame, info], axis=1)
                except DBAPIError:
                    pass  # library not preloaded: availability() says so
            return frame

        return self._load("server", {}, lambda: conform(self._with_connection("server", work),
                                                        SERVER_SCHEMA))  # fmt: skip

    def settings(self) -> pd.DataFrame:
        """One row of the settings that matter, memory in bytes and times in ms.

        Columns are :data:`SETTINGS_SCHEMA` (``max_connections``, ``shared_buffers_bytes``,
        ``autovacuum_vacuum_scale_factor``, ``statement_timeout_ms``, ...); a setting the role
        may not read (``shared_preload_libraries`` needs pg_read_all_settings) is NA.

        >>> pg.settings()[["max_connections", "shared_buffers_bytes"]]   # doctest: +SKIP
        """
        names = [name for name, _, _ in SETTINGS_SPEC]

        def fetch() -> pd.DataFrame:
            long = self._with_connection(
                "settings", lambda conn: self._sql(conn, "settings", {"names": names})
            )
            return _pivot_settings(long)

        return self._load("settings", {}, fetch)

    def availability(self) -> pd.DataFrame:
        """Which features this role and server allow, and the statement that fixes each gap.

        One row per feature (:data:`AVAILABILITY_SCHEMA`): ``pg_stat_statements``,
        ``pg_read_all_stats``, ``pgstattuple``, ``track_counts``, ``track_io_timing``,
        ``table_statistics``, ``sequence_values``. ``required`` features missing are
        ``stats_unavailable`` warnings; the others reduce detail. Cached per loader.

        >>> pg.availability().query("not available")[["feature", "fix"]]   # doctest: +SKIP
        """
        if self._availability is None:
            self._availability = self._load("availability", {}, self._fetch_availability)
        return self._availability

    def _fetch_availability(self) -> pd.DataFrame:
        def work(conn: Connection) -> pd.DataFrame:
            facts = self._sql(conn, "availability").iloc[0].to_dict()
            facts = {k: (None if v is None or v is pd.NA else v) for k, v in facts.items()}
            loaded = None
            if facts["pg_stat_statements_version"] is not None:
                self._use_extension(conn, "pg_stat_statements")
                try:
                    with conn.begin_nested():
                        self._sql(conn, "pg_stat_statements_probe")
                    loaded = True
                except DBAPIError as exc:
                    if getattr(exc.orig, "sqlstate", None) != "55000":
                        raise
                    loaded = False
            return pd.DataFrame(availability_rows(facts, loaded))

        return conform(self._with_connection("availability", work), AVAILABILITY_SCHEMA)

    def check(self) -> SourceCheck:
        """One line for ``dwcp-diag check``: reachable, version, read-only, what is missing."""
        if self.replay is not None:
            return SourceCheck(
                "postgres", True, f"snapshot {self.replay.directory}", "replaying recorded frames"
            )
        try:
            server = self._fetch_server_for_check()
            gaps = conform(self._fetch_availability(), AVAILABILITY_SCHEMA)
        except DwcpDiagError as exc:
            return SourceCheck("postgres", False, self.target, str(exc))
        row = server.iloc[0]
        version = str(row["version"]).split(" on ", 1)[0]
        read_only = bool(row["is_read_only"])
        parts = [
            version,
            f"database {row['dbname']} as {row['role_name']}",
            "read-only" if read_only else "NOT read-only",
        ]
        missing = gaps[~gaps["available"].astype(bool)]
        for feature, fix in zip(missing["feature"], missing["fix"], strict=True):
            parts.append(f"missing {feature} ({str(fix).split('  --')[0]})")
        return SourceCheck("postgres", read_only, self.target, "; ".join(parts))

    def _fetch_server_for_check(self) -> pd.DataFrame:
        frame = self._with_connection("server", lambda conn: self._sql(conn, "server"))
        return conform(frame, SERVER_SCHEMA)

    # -- statements --------------------------------------------------------------------------
    def slow_queries(
        self,
        min_calls: int = 1,
        limit: int | None = 100,
        order_by: str = "mean_exec_time_ms",
        all_databases: bool = False,
        max_query_chars: int = DEFAULT_MAX_QUERY_CHARS,
    ) -> pd.DataFrame:
        """pg_stat_statements, ranked, with the same columns on PostgreSQL 13 to 17.

        ``order_by``: ``mean_exec_time_ms`` (default), ``total_exec_time_ms``,
        ``max_exec_time_ms`` or ``calls``. ``limit=None`` returns every statement (for
        :func:`~dwcp_diag.analysis.database.statements.slow_queries_delta`). Counters are
        since ``stats_since`` (PG17) or the last reset (``stats_reset_at``, PG14+). Raises
        :class:`StatsUnavailable` when the extension is missing or not preloaded.

        >>> pg.slow_queries(min_calls=100, limit=10)[["query", "calls"]]  # doctest: +SKIP
        """
        if order_by not in SLOW_QUERY_ORDERS:
            raise ValueError(f"order_by must be one of {', '.join(SLOW_QUERY_ORDERS)}")
        recorded = {
            "min_calls": int(min_calls),
            "limit": None if limit is None else int(limit),
            "order_by": order_by,
            "all_databases": bool(all_databases),
            "max_query_chars": int(max_query_chars),
        }
        params = {**recorded, "row_limit": recorded["limit"], "own_marker": OWN_QUERY_MARKER}
        self._require("pg_stat_statements")

        def work(conn: Connection) -> pd.DataFrame:
            versions = self._sql(conn, "versions").iloc[0]
            variant = pg_stat_statements_variant(
                int(versions["version_num"]), str(versions["pg_stat_statements_version"])
            )
            self._use_extension(conn, "pg_stat_statements")
            return self._rows(conn, slow_queries_sql(variant), params)

        def fetch() -> pd.DataFrame:
            return conform(self._with_connection("slow_queries", work), SLOW_QUERIES_SCHEMA)

        return self._load("slow_queries", recorded, fetch)

    # -- sessions ----------------------------------------------------------------------------
    def activity(self, max_query_chars: int = 1000) -> pd.DataFrame:
        """Every other server process: state, waits, and ages in seconds (query/state/xact).

        ``state`` 'idle in transaction' with a large ``xact_age_s`` holds locks and vacuum
        back; 'active' with a large ``query_age_s`` is a long-running query. Roles without
        pg_read_all_stats see other roles' state and query as NA / '<insufficient privilege>'.

        >>> pg.activity().query("state == 'idle in transaction'")   # doctest: +SKIP
        """
        params = {"max_query_chars": int(max_query_chars)}
        own = {**params, "own_application": APPLICATION_NAME}
        return self._load("activity", params, self._fetch("activity", ACTIVITY_SCHEMA, own))

    def connection_counts(self) -> pd.DataFrame:
        """Client connections by state, with max_connections and the used ratio (KI-003).

        >>> pg.connection_counts()[["state", "connections", "used_ratio"]]   # doctest: +SKIP
        """
        return self._load(
            "connection_counts", {}, self._fetch("connection_counts", CONNECTION_COUNTS_SCHEMA)
        )

    # -- tables and indexes ------------------------------------------------------------------
    def tables(self) -> pd.DataFrame:
        """Per user table: scans, tuples, dead tuples, vacuum/analyze times, sizes in bytes and
        the dead-tuple count that triggers autovacuum (per-table reloptions honoured).

        >>> pg.tables().nlargest(5, "seq_tup_read")[["relname", "idx_scan"]]  # doctest: +SKIP
        """
        return self._load("tables", {}, self._fetch("tables", TABLES_SCHEMA))

    def indexes(self) -> pd.DataFrame:
        """Per user index: scans since ``stats_reset``, size, uniqueness, definition, columns.

        >>> pg.indexes()[["relname", "indexrelname", "idx_scan", "size_bytes"]]   # doctest: +SKIP
        """
        return self._load("indexes", {}, self._fetch("indexes", INDEXES_SCHEMA))

    def duplicate_indexes(self) -> pd.DataFrame:
        """Indexes made redundant by another (identical, or a prefix of its key columns).

        >>> pg.duplicate_indexes()[["indexrelname", "covering_indexrelname"]]  # doctest: +SKIP
        """
        return self._load(
            "duplicate_indexes", {}, self._fetch("duplicate_indexes", DUPLICATE_INDEXES_SCHEMA)
        )

    def bloat(self, min_pages: int = 10) -> pd.DataFrame:
        """Bloat of every table and btree index, by the best method this role and server allow.

        Within ``[postgres] bloat_scan_budget_s`` (default 10 s; 0: no scans) the largest
        relations are measured first, each call under the statement timeout (see
        :meth:`bloat_scan`): tables with pgstattuple_approx (``method`` 'approx_scan'), btree
        indexes with pgstatindex ('pgstatindex'). The others keep the planner-statistics
        ``estimate`` (table_bloat.sql / index_bloat.sql; it needs the pg_stats rows a role sees
        only for tables it may SELECT), and a table whose estimate is unreliable falls back to
        ``dead_tuples`` (table_bloat_dead_tuples.sql: n_dead_tup / (n_live_tup + n_dead_tup) of
        the heap). ``is_reliable`` is false, with ``unreliable_reason``, when no method gives a
        usable figure; ``method_detail`` says what the figure rests on (:func:`best_bloat`).

        >>> pg.bloat().query("is_reliable").nlargest(5, "bloat_bytes")   # doctest: +SKIP
        """
        params = {"min_pages": int(min_pages)}
        min_pages = int(min_pages)
        budget_s = float(self.connection_settings.bloat_scan_budget_s)

        def fetch() -> pd.DataFrame:  # live only: a replay returns the recorded frame
            gap = self._pgstattuple_gap() if budget_s > 0 else None

            def work(conn: Connection) -> pd.DataFrame:
                parts = [self._sql(conn, name, params) for name in ("table_bloat", "index_bloat")]
                estimates = pd.concat([conform(p, BLOAT_SCHEMA) for p in parts], ignore_index=True)
                dead = self._sql(conn, "table_bloat_dead_tuples", params)
                return best_bloat(estimates, dead, self._scan_bloat(conn, min_pages, budget_s, gap))

            return conform(self._with_connection("bloat", work), BLOAT_SCHEMA)

        return self._load("bloat", params, fetch)

    def bloat_scan(self, min_pages: int = 10, budget_s: float | None = None) -> pd.DataFrame:
        """pgstattuple_approx of tables and pgstatindex of btree indexes, largest first, until
        ``budget_s`` (default ``[postgres] bloat_scan_budget_s``) is spent.

        Each call runs under the smaller of the statement timeout and the budget left, in its
        own savepoint: one that runs out, fails or is refused is a row with ``status``
        'not scanned: WHY' and the scan goes on (a missing privilege stops it). Relations
        under ``min_pages`` pages are not listed. pgstattuple_approx skips the pages the
        visibility map marks all-visible (cheap on a vacuumed table, a full read of a table
        never vacuumed); pgstatindex reads the whole index.

        >>> pg.bloat_scan(budget_s=2)[["relname", "status", "bloat_ratio"]]   # doctest: +SKIP
        """
        budget = float(self.connection_settings.bloat_scan_budget_s if budget_s is None
                       else budget_s)  # fmt: skip
        params = {"min_pages": int(min_pages), "budget_s": budget}

        def fetch() -> pd.DataFrame:
            gap = self._pgstattuple_gap() if budget > 0 else None
            frame = self._with_connection(
                "bloat_scan", lambda conn: self._scan_bloat(conn, int(min_pages), budget, gap)
            )
            return conform(frame, BLOAT_SCAN_SCHEMA)

        return self._load("bloat_scan", params, fetch)

    def _pgstattuple_gap(self) -> str | None:
        """Why this role cannot run pgstattuple's functions here, or None when it can."""
        frame = self.availability()
        row = frame[frame["feature"] == "pgstattuple"]
        if row.empty or bool(row["available"].iloc[0]):
            return None
        return f"{row['detail'].iloc[0]} (fix: {row['fix'].iloc[0]})"

    def _scan_bloat(
        self, conn: Connection, min_pages: int, budget_s: float, gap: str | None
    ) -> pd.DataFrame:
        """The rows of :meth:`bloat_scan` on ``conn`` (``gap``: why pgstattuple is unusable)."""
        started = time.monotonic()
        candidates = self._sql(conn, "bloat_scan_candidates", {"min_pages": min_pages})
        if budget_s <= 0:
            stop = "not scanned: bloat_scan_budget_s is 0"
        elif gap is not None:
            stop = f"not scanned: pgstattuple unavailable: {gap}"
        else:
            stop = None
            self._use_extension(conn, "pgstattuple")
        session_ms = float(self.connection_settings.statement_timeout_ms) or float("inf")
        rows = []
        for candidate in candidates.to_dict("records"):
            kind = candidate["kind"]
            row = {**candidate, "function": _SCAN_FUNCTION[kind], "status": stop}
            left_ms = budget_s * 1000 - (time.monotonic() - started) * 1000
            if stop is None and left_ms < 1:
                stop = row["status"] = f"not scanned: the {budget_s:g} s budget was spent"
            if stop is None:
                timeout_ms = max(int(min(session_ms, left_ms)), 1)
                began = time.monotonic()
                measured, row["status"], stop = self._scan_one(conn, candidate, timeout_ms)
                row.update(measured)
                row["elapsed_ms"] = (time.monotonic() - began) * 1000
            rows.append(row)
        if stop is None or not stop.endswith("bloat_scan_budget_s is 0"):
            # set_config(..., true) lasts for the transaction: give later statements theirs back
            timeout = int(self.connection_settings.statement_timeout_ms)
            self._sql(conn, "bloat_exact_timeout", {"statement_timeout_ms": timeout})
        return conform(pd.DataFrame(rows), BLOAT_SCAN_SCHEMA)

    def _scan_one(
        self, conn: Connection, candidate: Mapping[str, Any], timeout_ms: int
    ) -> tuple[dict[str, Any], str, str | None]:
        """(measured columns, status, reason to stop scanning or None) for one relation."""
        name = "table_bloat_approx" if candidate["kind"] == "table" else "index_bloat_exact"
        try:
            with conn.begin_nested():
                self._sql(conn, "bloat_exact_timeout", {"statement_timeout_ms": timeout_ms})
                found = self._sql(conn, name, {"relation": str(int(candidate["relid"]))})
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            sqlstate = getattr(exc.orig, "sqlstate", None) or ""
            if sqlstate == "57014":
                status = f"not scanned: ran past {timeout_ms} ms (statement timeout or budget)"
                return {}, status, None
            detail = scrub(" ".join(str(exc.orig).split()), self._secrets())
            if sqlstate == "42501":
                stop = f"not scanned: {detail} (GRANT pg_stat_scan_tables, part of pg_monitor)"
                return {}, stop, stop
            return {}, f"not scanned: {detail}", None
        if found.empty:  # dropped since the candidates were listed
            return {}, "not scanned: the relation is gone", None
        measured = found.iloc[0].to_dict()
        keep = set(BLOAT_SCAN_SCHEMA) - {"kind", "schemaname", "relname", "indexrelname"}
        return {k: v for k, v in measured.items() if k in keep}, "measured", None

    def bloat_exact(self, relation: str, statement_timeout_ms: int | None = None) -> pd.DataFrame:
        """Measured bloat of one table (pgstattuple) or btree index (pgstatindex).

        Opt-in: it READS THE WHOLE RELATION, under the session's statement_timeout unless
        ``statement_timeout_ms`` grants this one call more. ``relation`` may be
        schema-qualified. Raises :class:`StatsUnavailable` without pgstattuple.

        >>> pg.bloat_exact("public.audit_log")[["bloat_bytes", "bloat_ratio"]]   # doctest: +SKIP
        """
        params = {"relation": relation, "statement_timeout_ms": statement_timeout_ms}
        self._require("pgstattuple")

        def work(conn: Connection) -> pd.DataFrame:
            found = self._sql(conn, "relation_kind", {"relation": relation})
            relkind, method = found["relkind"].iloc[0], found["method"].iloc[0]
            if relkind in ("r", "m", "t"):
                name = "table_bloat_exact"
            elif relkind == "i" and method == "btree":
                name = "index_bloat_exact"
            else:
                raise QueryError(
                    f"bloat_exact measures tables and btree indexes; {relation!r} is "
                    f"relkind {relkind!r} ({method or 'no access method'})",
                    query="bloat_exact",
                )
            if statement_timeout_ms is not None:
                self._sql(
                    conn, "bloat_exact_timeout", {"statement_timeout_ms": statement_timeout_ms}
                )
            self._use_extension(conn, "pgstattuple")
            return self._sql(conn, name, {"relation": relation})

        def fetch() -> pd.DataFrame:
            return conform(self._with_connection("bloat_exact", work), BLOAT_EXACT_SCHEMA)

        return self._load("bloat_exact", params, fetch)

    # -- maintenance horizons ----------------------------------------------------------------
    def wraparound(self, table_limit: int = 20) -> pd.DataFrame:
        """XID age of every database and the ``table_limit`` oldest tables, in percent of
        autovacuum_freeze_max_age and of the 2^31 wraparound horizon.

        >>> pg.wraparound()[["level", "relname", "pct_of_freeze_max_age"]]  # doctest: +SKIP
        """
        params = {"table_limit": int(table_limit)}
        return self._load(
            "wraparound", params, self._fetch("wraparound", WRAPAROUND_SCHEMA, params)
        )

    def sequences(self) -> pd.DataFrame:
        """Every sequence's used share of its range (``used_pct``), limited by the column it
        feeds when that type is narrower. ``last_value`` is NA when the role may not read it
        (``is_readable``) or the sequence was never used.

        >>> pg.sequences().query("used_pct > 75")[["sequencename", "used_pct"]]   # doctest: +SKIP
        """
        return self._load("sequences", {}, self._fetch("sequences", SEQUENCES_SCHEMA))

    def cache_hit(self) -> pd.DataFrame:
        """Buffer cache hit ratio of the database, user tables and user indexes.

        >>> pg.cache_hit().set_index("scope")["hit_ratio"]   # doctest: +SKIP
        """
        return self._load("cache_hit", {}, self._fetch("cache_hit", CACHE_HIT_SCHEMA))

    # -- ad hoc --------------------------------------------------------------------------------
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Any read-only SQL as a frame (``:name`` parameters), recorded and replayed alike.

        Still read-only and under statement_timeout. Refused: EXPLAIN ANALYZE (it runs the
        statement: use :meth:`explain` with ``analyze=True``) and functions with side effects
        that read-only transactions allow (``pg_stat_statements_reset``, ...).

        >>> sql = "SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup > :n"
        >>> pg.query(sql, {"n": 1000})  # doctest: +SKIP
        """
        if _EXPLAIN_ANALYZE.search(sql):
            raise QueryError(
                "EXPLAIN ANALYZE runs the statement; ask for it explicitly with "
                "explain(sql, analyze=True)",
                query=sql,
            )
        return self._ad_hoc("query", sql, params)

    def explain(
        self, sql: str, params: Mapping[str, Any] | None = None, analyze: bool = False
    ) -> pd.DataFrame:
        """The plan of one statement, a ``QUERY PLAN`` row per line.

        Plain EXPLAIN unless ``analyze=True`` explicitly asks to run the statement (still in a
        read-only transaction, under statement_timeout; with BUFFERS). Statements from
        pg_stat_statements carry ``$1`` placeholders: put values in before explaining. The
        plan's literals come back as ``$n`` too unless the profile says ``query_text = "full"``.

        >>> pg.explain("SELECT * FROM events WHERE account_id = 42")  # doctest: +SKIP
        """
        if _EXPLAIN_ANALYZE.search(sql) or re.match(r"\s*explain\b", sql, re.IGNORECASE):
            raise QueryError("pass the statement itself; explain() adds EXPLAIN", query=sql)
        options = "(ANALYZE, BUFFERS)" if analyze else "(COSTS)"
        return self._ad_hoc("explain", f"EXPLAIN {options} {sql}", params)

    def _ad_hoc(self, call: str, sql: str, params: Mapping[str, Any] | None) -> pd.DataFrame:
        forbidden = _FORBIDDEN.search(sql)
        if forbidden:
            raise QueryError(
                f"{forbidden.group(1)}() changes server state: dwcp-diag does not call it",
                query=sql,
            )
        bound = dict(params or {})
        return self._load(
            call,
            {"sql": sql, "params": bound},
            lambda: self._with_connection(call, lambda conn: self._rows(conn, sql, bound)),
        )
