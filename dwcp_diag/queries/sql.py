"""Named SQL files: ``dwcp_diag/queries/sql/CONCERN/NAME.sql``, a folder per diagnostic concern.

The folders are the concerns of :mod:`dwcp_diag.analysis.database`: ``statements``
(pg_stat_statements), ``space`` (bloat), ``indexes``, ``maintenance`` (tables' vacuum state,
wraparound, sequences), ``connections`` (pg_stat_activity) and ``system`` (server, settings,
what the role may see, cache). Each file is one statement with SQLAlchemy-style ``:name``
parameters and a header comment saying what it answers, where its numbers come from and which
PostgreSQL versions it fits. A name is unique across the folders: code loads ``NAME`` alone.

>>> "pg_stat_user_tables" in load_sql("tables")
True
>>> sorted(n for n in sql_names() if n.startswith("pgss_"))
['pgss_pg13', 'pgss_pg14', 'pgss_pg17']
>>> sql_concern("table_bloat")
'space'
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

_PACKAGE = "dwcp_diag.queries"
_DIRECTORY = "sql"


@cache
def _sql_files() -> dict[str, tuple[str, Traversable]]:
    """NAME -> (concern folder, file) of every shipped ``sql/CONCERN/NAME.sql``."""
    found: dict[str, tuple[str, Traversable]] = {}
    for concern in files(_PACKAGE).joinpath(_DIRECTORY).iterdir():
        if not concern.is_dir():
            continue
        for file in concern.iterdir():
            name = file.name.removesuffix(".sql")
            if name == file.name:
                continue
            if name in found:
                raise RuntimeError(
                    f"SQL file {name}.sql is in both {found[name][0]}/ and {concern.name}/"
                )
            found[name] = (concern.name, file)
    return found


@cache
def load_sql(name: str) -> str:
    """The text of ``sql/CONCERN/NAME.sql``. Raises ``FileNotFoundError`` naming the known
    files."""
    if name not in _sql_files():
        raise FileNotFoundError(
            f"no SQL file {name}.sql in {_PACKAGE}/{_DIRECTORY}; known: {', '.join(sql_names())}"
        )
    return _sql_files()[name][1].read_text(encoding="utf-8")


def sql_concern(name: str) -> str:
    """The concern folder of ``NAME.sql`` (``statements``, ``space``, ...)."""
    if name not in _sql_files():
        raise FileNotFoundError(f"no SQL file {name}.sql in {_PACKAGE}/{_DIRECTORY}")
    return _sql_files()[name][0]


def sql_names() -> list[str]:
    """Names (without ``.sql`` and folder) of every shipped SQL file, sorted."""
    return sorted(_sql_files())
