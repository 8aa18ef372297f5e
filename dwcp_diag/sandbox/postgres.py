"""A real, throwaway PostgreSQL server and the demo scenario loaded into it.

Used by the test fixtures (``tests/fixtures/postgres.py``) and by ``dwcp-diag sandbox``.
:meth:`PostgresServer.create` runs ``initdb`` into a directory (a temporary one unless
given) and starts the cluster with ``pg_ctl`` on a free 127.0.0.1 port, with
``pg_stat_statements`` preloaded, ``track_io_timing`` on, a small ``max_connections`` and
``fsync`` off. When run as root (initdb refuses root), the cluster runs as the unprivileged
``postgres`` user through ``runuser`` (the user is created if absent) and its directory is
chowned to it.

:func:`load_scenario` creates the ``app_db`` database with the demo simulator's scenario
loaded and its workload run: a bloated ``audit_log`` (autovacuum off), an un-indexed filtered
``events`` table, unused and duplicate indexes, a sequence near its maximum, a deliberately
slow query. ``PostgresServer.restart()`` cuts every connection.

>>> server = PostgresServer.create()          # doctest: +SKIP
>>> scenario = load_scenario(server)          # doctest: +SKIP
>>> server.destroy()                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from dwcp_diag.sandbox.ports import free_port

INSTALL_HINT = "apt-get install postgresql postgresql-contrib"
SUPERUSER = "postgres"
RUN_AS_WHEN_ROOT = "postgres"
EXTENSIONS = ("pg_stat_statements", "pgstattuple")
# Where Debian installs each major version's server binaries (<root>/15/bin/initdb, ...).
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")

SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
    "max_connections": "30",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "64MB",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


class PostgresNotInstalled(RuntimeError):
    """The PostgreSQL server binaries or its contrib extensions are missing."""


def find_bindir() -> Path:
    """Directory holding ``initdb``/``pg_ctl``: ``pg_config --bindir``, else the Debian layout.

    >>> (find_bindir() / "pg_ctl").exists()   # doctest: +SKIP
    True
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        DEBIAN_PG_ROOT.glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PostgresNotInstalled(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}"
    )


def _run_as_user() -> str | None:
    """The user to run the cluster as: None unless we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS_WHEN_ROOT)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                RUN_AS_WHEN_ROOT,
            ],
            check=True,
            capture_output=True,
        )
    return RUN_AS_WHEN_ROOT


class PostgresServer:
    """One PostgreSQL cluster in ``base_dir``, listening on 127.0.0.1:``port``.

    >>> server = PostgresServer.create()          # doctest: +SKIP
    >>> dsn = server.create_database("app_db")   # doctest: +SKIP
    >>> server.stop()                             # doctest: +SKIP
    """

    host = "127.0.0.1"

    def __init__(self, bindir: Path, base_dir: Path, run_as: str | None) -> None:
        self.bindir = bindir
        self.base_dir = base_dir
        self.run_as = run_as
        self.datadir = base_dir / "data"
        self.sockdir = base_dir / "sock"
        self.logfile = base_dir / "server.log"
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self.startup_s = float("nan")

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        settings: dict[str, str] | None = None,
        bindir: Path | None = None,
        base_dir: Path | None = None,
    ) -> PostgresServer:
        """initdb a new cluster (``bindir``'s binaries, else the system's) into ``base_dir``
        (created; a temporary directory by default) and start it."""
        bindir = check_installed(bindir)
        run_as = _run_as_user()
        if base_dir is None:
            base_dir = Path(tempfile.mkdtemp(prefix="dwcp-pg-"))
        else:
            base_dir.mkdir(parents=True, exist_ok=True)
        server = cls(bindir, base_dir, run_as)
        began = time.monotonic()
        try:
            server._initdb({**SERVER_SETTINGS, **(settings or {})})
            server._start_on_free_port()
        except BaseException:
            server.destroy()
            raise
        server.startup_s = time.monotonic() - began
        return server

    def _cmd(self, *args: str | os.PathLike[str]) -> list[str]:
        command = [str(a) for a in args]
        return ["runuser", "-u", self.run_as, "--", *command] if self.run_as else command

    def _run(self, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self._cmd(*args), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{Path(str(args[0])).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{log}"
            )
        return result

    def _initdb(self, settings: dict[str, str]) -> None:
        self.sockdir.mkdir(parents=True)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            for path in (self.base_dir, self.sockdir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.base_dir.chmod(0o700)
        self._run(
            self.bindir / "initdb", "-D", self.datadir, "-U", SUPERUSER, "--pwfile", pwfile,
            "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        pwfile.unlink()
        lines = [f"{name} = {value}" for name, value in settings.items()]
        lines.append(f"unix_socket_directories = '{self.sockdir}'")
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# dwcp-diag test settings\n" + "\n".join(lines) + "\n")

    def _start_on_free_port(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            self.port = free_port()
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == attempts - 1:
                    raise

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        self._run(
            self.bindir / "pg_ctl", "-D", self.datadir, "-l", self.logfile, "-w", "-t", "60",
            "-o", f"-p {self.port}", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (``fast`` disconnects clients; ``immediate`` is a crash stop)."""
        if (self.datadir / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.datadir, "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port: existing client connections are cut."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop (crash-fast) and delete the cluster's directory."""
        with contextlib.suppress(Exception):
            self.stop(mode="immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, or None when the server is stopped."""
        try:
            return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    @property
    def major_version(self) -> int:
        """The server's major version (15, 18, ...)."""
        return int(self.fetch("SHOW server_version_num")[0][0]) // 10000

    # -- connections -----------------------------------------------------------------------
    def dsn(self, user: str, password: str, dbname: str = "postgres") -> str:
        """A URL DSN for ``user`` on this server."""
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """The superuser's DSN (password authentication over TCP)."""
        return self.dsn(SUPERUSER, self.password, dbname)

    def execute(self, statement: str | sql.Composable, dbname: str = "postgres") -> None:
        """Run one statement (or several, semicolon-separated) as superuser in autocommit."""
        with psycopg.connect(self.admin_dsn(dbname), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def fetch(self, query: str, params: Sequence[Any] = (), dbname: str = "postgres") -> list:
        """Rows of one query run as superuser."""
        with psycopg.connect(self.admin_dsn(dbname), autocommit=True) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def create_database(self, name: str, extensions: Sequence[str] = EXTENSIONS) -> str:
        """Create database ``name`` (if absent) with ``extensions``; return its superuser DSN."""
        exists = self.fetch("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not exists:
            self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        for extension in extensions:
            self.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)),
                dbname=name,
            )
        return self.admin_dsn(name)

    def create_role(self, name: str, dbname: str = "postgres", grants: Sequence[str] = ()) -> str:
        """(Re)create a LOGIN role with a random password and ``grants`` (role names).

        Returns the role's DSN to ``dbname``.
        """
        password = secrets.token_urlsafe(12)
        role = sql.Identifier(name)
        self.execute(
            sql.SQL(
                "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) "
                "THEN CREATE ROLE {role} LOGIN; END IF; END$$"
            ).format(name=sql.Literal(name), role=role)
        )
        self.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
        for granted in grants:
            self.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(granted), role))
        return self.dsn(name, password, dbname)


def check_installed(bindir: Path | None = None) -> Path:
    """The server binaries' directory (``bindir``, else the system's), once the contrib
    extensions are known to be there; else :class:`PostgresNotInstalled` with the install
    command."""
    bindir = bindir or find_bindir()
    _check_contrib(bindir, bindir.parent.parent.parent.parent / "share" / "postgresql")
    return bindir


def _check_contrib(bindir: Path, sharedir_guess: Path) -> None:
    """Fail early, with the install hint, when contrib's extensions are not installed."""
    pg_config = bindir / "pg_config"
    sharedir = sharedir_guess
    if pg_config.is_file():
        out = subprocess.run([pg_config, "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0:
            sharedir = Path(out.stdout.strip())
    missing = [
        ext for ext in EXTENSIONS if not (sharedir / "extension" / f"{ext}.control").exists()
    ]
    if missing:
        raise PostgresNotInstalled(
            f"PostgreSQL extensions {', '.join(missing)} not found in {sharedir}: {INSTALL_HINT}"
        )


# -- scenario ------------------------------------------------------------------------------
@dataclass
class PgScenario:
    """The ``app_db`` database with the simulator's scenario loaded and its workload run."""

    server: PostgresServer
    dbname: str
    dsn: str
    truth: Any
    setup_s: float = 0.0
    workload: list[tuple[str, int]] = field(default_factory=list)


def run_workload(
    dsn: str, workload: Sequence[tuple[str, int]], workers: int = 4, chunk: int = 25
) -> None:
    """Run each ``(sql, repeat_count)`` of a workload, in autocommit, on ``workers`` connections.

    Repeats are split into chunks dealt round-robin to the connections (so each runs a share
    of every statement); pg_stat_statements sums them all the same. Parallel query is off in
    these sessions, which then use one core each. Each connection flushes its table and index
    counters before it closes (:func:`flush_stats`), so a test reading them right after sees
    them all.
    """
    chunks = [
        (statement, min(chunk, int(repeat) - done))
        for statement, repeat in workload
        for done in range(0, int(repeat), chunk)
    ]

    def run(share: list[tuple[str, int]]) -> None:
        with psycopg.connect(
            dsn,
            autocommit=True,
            application_name="dwcp-workload",
            options="-c max_parallel_workers_per_gather=0",
        ) as conn:
            for statement, repeat in share:
                for _ in range(repeat):
                    conn.execute(statement)  # type: ignore[arg-type]
            flush_stats(conn)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, [chunks[i::workers] for i in range(workers)]))


def flush_stats(conn: psycopg.Connection) -> None:
    """Make this session's pending table/index statistics visible to other sessions now."""
    if conn.info.server_version >= 150000:
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
    else:  # the statistics collector: at most every 500 ms
        time.sleep(0.6)


def load_scenario(server: PostgresServer, dbname: str = "app_db") -> PgScenario:
    """Create ``dbname``, load the simulator's scenario SQL (which ends with ANALYZE), reset
    pg_stat_statements so the setup's bulk statements do not rank, then run the workload."""
    from dwcp_diag.demo import simulate

    cluster = simulate(days=1)  # the database scenario does not depend on the series' length
    began = time.monotonic()
    dsn = server.create_database(dbname)
    server.execute(cluster.postgres_setup_sql(), dbname=dbname)
    server.execute("SELECT pg_stat_statements_reset()", dbname=dbname)
    workload = list(cluster.postgres_workload())
    run_workload(dsn, workload)
    return PgScenario(
        server=server,
        dbname=dbname,
        dsn=dsn,
        truth=cluster.truth,
        setup_s=time.monotonic() - began,
        workload=workload,
    )
