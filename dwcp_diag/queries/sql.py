"""Named SQL files: ``dwcp_diag/queries/sql/NAME.sql``, one per diagnostic concern.

Each file is one statement with SQLAlchemy-style ``:name`` parameters and a header comment
saying what it answers, where its numbers come from and which PostgreSQL versions it fits.

>>> "pg_stat_user_tables" in load_sql("tables")
True
>>> sorted(n for n in sql_names() if n.startswith("pgss_"))
['pgss_pg13', 'pgss_pg14', 'pgss_pg17']
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

_PACKAGE = "dwcp_diag.queries"
_DIRECTORY = "sql"


@cache
def load_sql(name: str) -> str:
    """The text of ``sql/NAME.sql``. Raises ``FileNotFoundError`` naming the known files."""
    resource = files(_PACKAGE).joinpath(_DIRECTORY).joinpath(f"{name}.sql")
    if not resource.is_file():
        raise FileNotFoundError(
            f"no SQL file {name}.sql in {_PACKAGE}/{_DIRECTORY}; known: {', '.join(sql_names())}"
        )
    return resource.read_text(encoding="utf-8")


def sql_names() -> list[str]:
    """Names (without ``.sql``) of every shipped SQL file, sorted."""
    directory = files(_PACKAGE).joinpath(_DIRECTORY)
    return sorted(p.name[:-4] for p in directory.iterdir() if p.name.endswith(".sql"))
