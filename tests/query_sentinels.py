"""Sentinel secrets in query texts, planted in a real PostgreSQL, and a scan for them.

:func:`plant_query_sentinels` runs the statements of issue 16 with sentinel secrets inside one
transaction that is rolled back, so that pg_stat_statements (which counts a statement when it
completes, transaction or not) holds their texts while the database keeps no role, user
mapping, subscription or extension from them. :func:`held_sentinel_sessions` holds sessions
whose current text in pg_stat_activity carries a sentinel (an email in a WHERE clause, a
CREATE ROLE ... PASSWORD, a pgp_sym_encrypt key, a dblink conninfo, a literal cut by the
text-length limit). :func:`sentinels_in` reads every file below a directory (zip members and
parquet cells included: recorded frames are compressed) and names each sentinel found.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg

# pg_stat_statements: texts of utility statements, kept verbatim by PostgreSQL 15 and 18
ROLE_PASSWORD = "S3ntRolePwK1"
MAPPING_PASSWORD = "S3ntMapPwK2"
SUBSCRIPTION_PASSWORD = "S3ntSubPwK3"
# pg_stat_activity: texts as the client sent them
ACTIVITY_ROLE_PASSWORD = "S3ntActRolePwK4"
EMAIL = "s3nt.alice.k5@example.com"
CRYPTO_KEY = "S3ntCryptoKeyK6"
DBLINK_PASSWORD = "S3ntDblinkPwK7"
CUT_LITERAL = "S3ntCutLiteralK8"  # inside a literal that the text-length limit cuts short
STATEMENT_SENTINELS = (ROLE_PASSWORD, MAPPING_PASSWORD, SUBSCRIPTION_PASSWORD)
ACTIVITY_SENTINELS = (ACTIVITY_ROLE_PASSWORD, EMAIL, CRYPTO_KEY, DBLINK_PASSWORD, CUT_LITERAL)
SENTINELS = STATEMENT_SENTINELS + ACTIVITY_SENTINELS
SENTINEL_APPLICATION = "sentinel-session"

_PGCRYPTO = "pgcrypto"  # set up by _pgcrypto()
_PGCRYPTO_STAND_IN = (
    "CREATE FUNCTION pgp_sym_encrypt(data text, key text) RETURNS bytea "
    "LANGUAGE sql AS 'SELECT convert_to(data, ''UTF8'')'"
)


def _pgcrypto(conn: psycopg.Connection) -> str:
    """pgcrypto where the server ships it (Debian's), else a function of the same signature:
    the statement text, not the cipher, is what is tested (the embedded 18 has no pgcrypto)."""
    available = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgcrypto'"
    ).fetchone()[0]
    return "CREATE EXTENSION IF NOT EXISTS pgcrypto" if available else _PGCRYPTO_STAND_IN


def _conninfo(server, dbname: str, password: str) -> str:
    """A conninfo over the local socket (trust): dblink accepts it, the password is a sentinel."""
    where = f"host={server.sockdir} port={server.port} dbname={dbname}"
    return f"{where} user=postgres password={password}"


def plant_query_sentinels(server, dbname: str) -> None:
    """Run the credential statements in ``dbname`` (pg_stat_statements keeps their texts), then
    roll them back. Needs the superuser (CREATE SUBSCRIPTION, dblink without a password)."""
    statements = [
        "CREATE EXTENSION IF NOT EXISTS postgres_fdw",
        f"CREATE ROLE sentinel_app LOGIN PASSWORD '{ROLE_PASSWORD}'",
        f"ALTER USER sentinel_app WITH ENCRYPTED PASSWORD '{ROLE_PASSWORD}'",
        "CREATE SERVER sentinel_remote FOREIGN DATA WRAPPER postgres_fdw "
        "OPTIONS (host '127.0.0.1', dbname 'none')",
        "CREATE USER MAPPING FOR sentinel_app SERVER sentinel_remote "
        f"OPTIONS (user 'sentinel_app', password '{MAPPING_PASSWORD}')",
        "CREATE SUBSCRIPTION sentinel_sub CONNECTION "
        f"'host=127.0.0.1 dbname=none password={SUBSCRIPTION_PASSWORD}' "
        "PUBLICATION none WITH (connect = false)",
    ]
    with psycopg.connect(server.admin_dsn(dbname)) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.rollback()


@contextlib.contextmanager
def held_sentinel_sessions(server, dbname: str) -> Iterator[list[int]]:
    """Sessions idle in a transaction whose pg_stat_activity text carries an activity
    sentinel; yields their pids. Each transaction is rolled back on exit (nothing persists)."""
    padding = "p" * 1200  # past track_activity_query_size (1024 bytes) and max_query_chars
    dblink = _conninfo(server, dbname, DBLINK_PASSWORD)
    sessions = [
        ([], f"SELECT count(*) FROM pg_class WHERE relname = '{EMAIL}'"),
        ([], f"CREATE ROLE sentinel_tmp LOGIN PASSWORD '{ACTIVITY_ROLE_PASSWORD}'"),
        ([_PGCRYPTO], f"SELECT pgp_sym_encrypt('4111111111111111', '{CRYPTO_KEY}')"),
        ([], f"SELECT count(*) FROM pg_class WHERE relname = 'x{CUT_LITERAL}{padding}'"),
        (["CREATE EXTENSION IF NOT EXISTS dblink"], f"SELECT dblink_connect('s', '{dblink}')"),
    ]
    with contextlib.ExitStack() as stack:
        pids = []
        for number, (setup, text) in enumerate(sessions):
            conn = stack.enter_context(
                psycopg.connect(
                    server.admin_dsn(dbname), application_name=f"{SENTINEL_APPLICATION}-{number}"
                )
            )
            stack.callback(conn.rollback)  # before the close, which would commit
            for statement in setup:
                conn.execute(_pgcrypto(conn) if statement is _PGCRYPTO else statement)
            conn.execute(text)  # type: ignore[arg-type]
            pids.append(conn.info.backend_pid)
        yield pids


def _parquet_text(data: bytes) -> str:
    frame = pd.read_parquet(io.BytesIO(data))
    cells = [str(v) for column in frame.columns for v in frame[column].tolist()]
    return "\n".join([*map(str, frame.columns), *cells])


def sentinels_in(root: Path, sentinels: tuple[str, ...] = SENTINELS) -> list[str]:
    """``"path: sentinel"`` for each sentinel in each file below ``root``, zip members and
    parquet cells included.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> _ = (root / "report.html").write_text(f"<td>{EMAIL}</td>")
    >>> sentinels_in(root) == [f"{root / 'report.html'}: {EMAIL}"]
    True
    """
    blobs: list[tuple[str, bytes]] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        blobs.append((str(path), path.read_bytes()))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                blobs += [(f"{path}!{n}", archive.read(n)) for n in archive.namelist()]
    found = []
    for name, blob in blobs:
        text = blob.decode("utf-8", "replace")
        if name.endswith(".parquet"):
            text += _parquet_text(blob)
        found += [f"{name}: {s}" for s in sentinels if s in text]
    return found
