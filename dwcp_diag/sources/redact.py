"""Query texts made safe to show: the one place every SQL text from PostgreSQL passes through.

``pg_stat_statements`` normalises the constants of plannable statements into ``$1``, ``$2``,
... but keeps utility statements verbatim (``CREATE ROLE app PASSWORD '...'``, on PostgreSQL
18 as on 13), and ``pg_stat_activity`` shows every text as the client sent it (an email in a
``WHERE`` clause, a ``dblink_connect`` conninfo, a ``pgp_sym_encrypt`` key). Before such a
text reaches a frame that a report, a finding, a log line or a recording can show,
:func:`redact_query` applies the profile's ``[postgres] query_text`` policy:

- ``redacted`` (default): PostgreSQL's own lexer (libpg_query through ``pglast.parser.scan``)
  splits the text into tokens; every string, bit-string and numeric literal becomes a ``$n``
  placeholder numbered after the text's own parameters (as ``pg_stat_statements`` numbers
  them), comments are dropped, identifiers, keywords, operators and parameters stay.
  Statements that carry credentials (``CREATE/ALTER ROLE|USER|GROUP``, ``CREATE/ALTER USER
  MAPPING``, ``SERVER`` and ``SUBSCRIPTION``, any statement with ``PASSWORD``, a ``dblink*``
  call, ``SET`` of a password/secret/token/key setting) are reduced to their statement tag.
  A text the lexer cannot read is dropped (:data:`UNREADABLE_TEXT`); a text cut short inside
  a literal, quoted identifier or comment (``track_activity_query_size``, or the loader's own
  ``max_query_chars``) keeps what precedes the cut and ends in :data:`TRUNCATED_MARK`.
- ``full``: the text as PostgreSQL gave it. Unsafe for reports that are shared.
- ``none``: no text at all (None); statements are known by ``queryid`` only.

>>> redact_query("SELECT * FROM users WHERE email = 'alice@example.com' AND id > 42")
'SELECT * FROM users WHERE email = $1 AND id > $2'
>>> redact_query("CREATE ROLE app LOGIN PASSWORD 'hunter2'")
'CREATE ROLE'
>>> redact_query("SELECT * FROM users WHERE email = 'alice@exa", "redacted")
'SELECT * FROM users WHERE email = …'
>>> redact_query("SELECT 1", "none") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pglast.parser import ParseError, scan

__all__ = [
    "QUERY_TEXT_POLICIES",
    "TRUNCATED_MARK",
    "UNREADABLE_TEXT",
    "check_policy",
    "redact_plan_line",
    "redact_query",
]

QUERY_TEXT_POLICIES = ("redacted", "full", "none")
UNREADABLE_TEXT = "<query text not shown: the SQL lexer could not read it>"
TRUNCATED_MARK = "…"
# Texts PostgreSQL puts in place of a query: not SQL, nothing to hide.
_NOT_SQL = {"", "<insufficient privilege>"}
_LITERALS = {"SCONST", "USCONST", "XCONST", "BCONST", "ICONST", "FCONST"}
_COMMENTS = {"C_COMMENT", "SQL_COMMENT"}
_SEMICOLON = "ASCII_59"
# The lexer's own messages for a text cut inside a token that runs to its end.
_CUT_INSIDE_A_TOKEN = re.compile(r"^unterminated ")
_SECRET_SETTING = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)
# CREATE/ALTER <object> statements whose options hold credentials (conninfo, passwords).
_CREDENTIAL_OBJECTS = {"ROLE", "USER", "GROUP", "SUBSCRIPTION", "SERVER"}


def check_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`QUERY_TEXT_POLICIES`, else ValueError naming them.

    >>> check_policy("full")
    'full'
    """
    if policy not in QUERY_TEXT_POLICIES:
        raise ValueError(
            f"query_text must be one of {', '.join(QUERY_TEXT_POLICIES)}; got {policy!r}"
        )
    return policy


def redact_query(text: Any, policy: str = "redacted") -> str | None:
    """``text`` under ``policy`` (see the module's docstring); None and NA stay None.

    >>> redact_query("SELECT E'it\\\\'s', $$x$$, 1.5e3, B'101' FROM t -- a comment")
    'SELECT $1, $2, $3, $4 FROM t'
    >>> redact_query("SELECT a FROM t WHERE b = $1 AND c = 'x'")   # numbered after $1
    'SELECT a FROM t WHERE b = $1 AND c = $2'
    >>> redact_query("SELECT dblink_connect('host=db password=s3cret')")
    'SELECT'
    >>> redact_query("SELECT 1abc")
    '<query text not shown: the SQL lexer could not read it>'
    """
    check_policy(policy)
    if text is None or not isinstance(text, str):
        return None
    if policy == "full":
        return text
    if policy == "none":
        return None
    if text.strip() in _NOT_SQL:
        return text
    try:
        tokens, truncated = _scan(text)
    except ParseError:
        return UNREADABLE_TEXT
    next_param = _first_free_param(text, tokens)
    pieces: list[str] = []
    for statement in _statements(tokens):
        tag = _credential_tag(text, statement)
        if tag is None:
            pieces.append(_replace_literals(text, statement, next_param))
        else:
            pieces.append(tag + (";" if statement[-1].name == _SEMICOLON else ""))
    result = " ".join(pieces)
    if truncated:
        result = f"{result} {TRUNCATED_MARK}".lstrip()
    return result


def _scan(text: str) -> tuple[list[Any], bool]:
    """The lexer's tokens of ``text`` and whether the text was cut inside a token.

    A cut text (an unterminated literal, quoted identifier or comment runs to its end) is
    scanned up to the cut; any other lexer error, or text no token covers, raises ParseError.
    """
    try:
        tokens, truncated = scan(text), False
    except ParseError as exc:
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else None
        if not _CUT_INSIDE_A_TOKEN.match(str(message)) or not isinstance(location, int):
            raise
        tokens, truncated = scan(text[:location]), True
    covered = 0
    for token in tokens:
        if text[covered : token.start].strip():
            raise ParseError("text outside any token", covered)
        covered = token.end + 1
    limit = len(text) if not truncated else None
    if limit is not None and text[covered:limit].strip():
        raise ParseError("text outside any token", covered)  # e.g. after a NUL byte
    return tokens, truncated


def _statements(tokens: Sequence[Any]) -> list[list[Any]]:
    """Tokens split after each semicolon, comments left out."""
    statements: list[list[Any]] = [[]]
    for token in tokens:
        if token.name in _COMMENTS:
            continue
        statements[-1].append(token)
        if token.name == _SEMICOLON:
            statements.append([])
    return [s for s in statements if s]


def _first_free_param(text: str, tokens: Sequence[Any]) -> list[int]:
    """A one-item counter: the next ``$n`` number after the text's own parameters."""
    numbers = [int(text[t.start + 1 : t.end + 1]) for t in tokens if t.name == "PARAM"]
    return [max(numbers, default=0) + 1]


def _credential_tag(text: str, statement: Sequence[Any]) -> str | None:
    """The statement tag (``ALTER ROLE``) if ``statement`` may carry a credential, else None."""
    words = [text[t.start : t.end + 1].upper() for t in statement]
    keywords = [w for t, w in zip(statement, words, strict=True) if t.kind != "NO_KEYWORD"]
    head = words[:3]
    tag = _statement_tag(head)
    if head[0] in ("CREATE", "ALTER") and len(head) > 1 and head[1] in _CREDENTIAL_OBJECTS:
        return tag
    if "PASSWORD" in keywords:
        return tag
    for token, following in zip(statement, [*statement[1:], None], strict=True):
        is_call = following is not None and following.name == "ASCII_40"
        name = text[token.start : token.end + 1].strip('"').lower()
        if is_call and token.kind != "RESERVED_KEYWORD" and name.startswith("dblink"):
            return tag
    sets = head[0] in ("SET", "RESET") or (head[0] == "ALTER" and "SET" in keywords)
    names = [w for t, w in zip(statement, words, strict=True) if t.name not in _LITERALS]
    if sets and any(_SECRET_SETTING.search(w) for w in names):
        return tag
    return None


def _statement_tag(head: Sequence[str]) -> str:
    """PostgreSQL's command tag from a statement's first words (``CREATE USER`` is a role).

    >>> _statement_tag(["CREATE", "USER", "MAPPING"]), _statement_tag(["ALTER", "USER", "APP"])
    ('CREATE USER MAPPING', 'ALTER ROLE')
    """
    first = head[0]
    if first in ("CREATE", "ALTER") and len(head) > 1 and head[1].isalpha():
        if head[1] in ("USER", "GROUP"):
            return f"{first} USER MAPPING" if head[2:3] == ["MAPPING"] else f"{first} ROLE"
        return f"{first} {head[1]}"
    return first if first.isalpha() else "statement"


def _replace_literals(text: str, statement: Sequence[Any], next_param: list[int]) -> str:
    """The statement's tokens with literals as ``$n``, the original spacing between them."""
    out: list[str] = []
    previous_end = None
    for token in statement:
        if previous_end is not None:
            gap = text[previous_end : token.start]
            out.append(gap if not gap.strip() else " ")
        if token.name in _LITERALS:
            out.append(f"${next_param[0]}")
            next_param[0] += 1
        else:
            out.append(text[token.start : token.end + 1])
        previous_end = token.end + 1
    return "".join(out)


# EXPLAIN (text format) property lines whose value is an expression deparsed from the
# statement: its literals are the statement's. Other lines hold EXPLAIN's own numbers.
_PLAN_EXPRESSION_LABELS = {
    "Filter", "Index Cond", "Recheck Cond", "Join Filter", "Hash Cond", "Merge Cond",
    "One-Time Filter", "TID Cond", "Order By", "Output", "Sort Key", "Presorted Key",
    "Group Key", "Hash Key", "Cache Key", "Run Condition", "Function Call",
    "Table Function Call", "Sampling", "Repeatable Seed", "Conflict Filter", "Window",
}  # fmt: skip
_PLAN_PROPERTY = re.compile(r"^(?P<label>\s*(?:->\s+)?(?P<name>[A-Z][A-Za-z /-]*?):\s)(?P<rest>.*)")


def redact_plan_line(line: Any, policy: str = "redacted") -> str | None:
    """One line of EXPLAIN output under ``policy``: the statement's literals in an expression
    (``Filter:``, ``Index Cond:``, ...) become ``$n``; quoted strings anywhere else too;
    EXPLAIN's own numbers (costs, rows, times, buffers) stay.

    >>> redact_plan_line("  Filter: (email = 'alice@example.com'::text)")
    '  Filter: (email = $1::text)'
    >>> redact_plan_line("Seq Scan on users  (cost=0.00..35.50 rows=10 width=40)")
    'Seq Scan on users  (cost=0.00..35.50 rows=10 width=40)'
    """
    check_policy(policy)
    if line is None or not isinstance(line, str) or policy == "full":
        return line if isinstance(line, str) else None
    if policy == "none":
        return None
    match = _PLAN_PROPERTY.match(line)
    if match and match["name"] in _PLAN_EXPRESSION_LABELS:
        return match["label"] + _redact_plan_part(match["rest"])
    if "'" not in line and "$" not in line:
        return line
    if match:
        return match["label"] + _redact_plan_part(match["rest"], only_strings=True)
    return _redact_plan_part(line, only_strings=True)


def _redact_plan_part(part: str, only_strings: bool = False) -> str:
    try:
        tokens, truncated = _scan(part)
    except ParseError:
        return "<redacted>"
    if truncated:
        return "<redacted>"
    out, cursor, number = [], 0, _first_free_param(part, tokens)
    for token in tokens:
        kind_is_number = token.name in ("ICONST", "FCONST")
        if token.name in _LITERALS and not (only_strings and kind_is_number):
            out.append(part[cursor : token.start] + f"${number[0]}")
            number[0] += 1
            cursor = token.end + 1
        elif token.name in _COMMENTS:
            out.append(part[cursor : token.start])
            cursor = token.end + 1
    out.append(part[cursor:])
    return "".join(out)
