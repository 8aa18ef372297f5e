"""Query-text redaction (dwcp_diag.sources.redact) without a server: PostgreSQL's own lexer
(pglast) decides what a literal is, so generated texts with every quoting form must come out
with no literal and with every identifier and keyword in place."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pglast.parser import scan

from dwcp_diag.config import PostgresSettings, load_profile
from dwcp_diag.errors import ConfigError
from dwcp_diag.sources.postgres.loader import OWN_QUERY_MARKER, is_own_statement, shown_query_texts
from dwcp_diag.sources.redact import (
    TRUNCATED_MARK,
    UNREADABLE_TEXT,
    redact_plan_line,
    redact_query,
)

SECRET = "Zq9Secret"
LITERAL_TOKENS = {"SCONST", "USCONST", "XCONST", "BCONST", "ICONST", "FCONST"}


def token_texts(text: str) -> list[tuple[str, str]]:
    return [(t.name, text[t.start : t.end + 1]) for t in scan(text)]


# -- generated texts -------------------------------------------------------------------------
_content = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
_secret_content = st.builds(lambda a, b: a + SECRET + b, _content, _content)


def _dollar(body: str, tag: str) -> str:
    delimiter = f"${tag}$"
    return delimiter + body.replace("$", "") + delimiter


_string_literals = st.one_of(
    _secret_content.map(lambda s: "'" + s.replace("'", "''") + "'"),
    _secret_content.map(lambda s: "E'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"),
    _secret_content.map(lambda s: "U&'" + s.replace("\\", "").replace("'", "''") + "'"),
    st.builds(_dollar, _secret_content, st.sampled_from(["", "q", "tag_1"])),
)
_other_literals = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e10", ".5", "0x1F", "1_000_000", "B'0101'", "X'FF'", "3.14E-2"]),
)
_KEYWORDS = ["SELECT", "FROM", "WHERE", "AND", "OR", "IN", "AS", "ORDER", "BY", "LIMIT", "IS"]
_identifiers = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(
        lambda w: not any(word in w for word in ("dblink", "pass", "key", "secret", "token"))
    ),
    st.from_regex(r'"[A-Za-z][A-Za-z0-9 ]{0,7}"', fullmatch=True),  # quoted identifiers
)
_comments = st.one_of(
    _secret_content.map(lambda s: "/* " + s.replace("*", "").replace("/", "") + " */"),
    _secret_content.map(
        lambda s: "/* a /* nested " + s.replace("*", "").replace("/", "") + " */ */"
    ),
    _secret_content.map(lambda s: "-- " + s.replace("\n", "").replace("\r", "") + "\n"),
)
_kept = st.one_of(
    st.sampled_from(_KEYWORDS), _identifiers, st.sampled_from(["=", "<>", "(", ")", ",", "*"])
)
_pieces = st.lists(
    st.one_of(
        _kept.map(lambda t: ("kept", t)),
        _string_literals.map(lambda t: ("literal", t)),
        _other_literals.map(lambda t: ("literal", t)),
        _comments.map(lambda t: ("comment", t)),
    ),
    min_size=1,
    max_size=12,
)


def sql_text(pieces: list[tuple[str, str]]) -> str:
    # a newline between two strings would make one literal of them (SQL string continuation)
    return "SELECT " + " ".join(text for _, text in pieces)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pieces)
def test_no_literal_survives_and_identifiers_and_keywords_do(pieces):
    text = sql_text(pieces)
    redacted = redact_query(text)
    assert SECRET not in redacted
    tokens = token_texts(redacted)
    assert not [t for t in tokens if t[0] in LITERAL_TOKENS]
    kept = [t for kind, t in pieces if kind == "kept"]
    survivors = [value for name, value in tokens if name not in ("PARAM",)]
    assert survivors == ["SELECT", *kept]
    assert redact_query(redacted) == redacted  # idempotent: replays may redact again


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pieces, st.data())
def test_a_text_cut_anywhere_shows_no_secret(pieces, data):
    """track_activity_query_size (and max_query_chars) cut texts mid-literal or mid-comment."""
    text = sql_text(pieces)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    redacted = redact_query(text[:cut])
    assert SECRET not in redacted
    if redacted != UNREADABLE_TEXT:
        assert not [t for t in token_texts(redacted) if t[0] in LITERAL_TOKENS]


# -- the statements of the issue ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("statement", "tag"),
    [
        ("CREATE ROLE app LOGIN PASSWORD 'Zq9Secret'", "CREATE ROLE"),
        (
            "create user app with encrypted password 'Zq9Secret' valid until 'infinity'",
            "CREATE ROLE",
        ),
        ('ALTER USER "App" PASSWORD $p$Zq9Secret$p$', "ALTER ROLE"),
        ('ALTER ROLE app PASSWORD "Zq9Secret"', "ALTER ROLE"),  # a typo still shows in activity
        ("CREATE GROUP ops", "CREATE ROLE"),
        (
            "CREATE USER MAPPING FOR app SERVER remote OPTIONS (user 'app', password 'Zq9Secret')",
            "CREATE USER MAPPING",
        ),
        (
            "ALTER USER MAPPING FOR app SERVER remote OPTIONS (SET password 'Zq9Secret')",
            "ALTER USER MAPPING",
        ),
        (
            "CREATE SUBSCRIPTION s CONNECTION 'host=db password=Zq9Secret' PUBLICATION p",
            "CREATE SUBSCRIPTION",
        ),
        ("ALTER SUBSCRIPTION s CONNECTION 'password=Zq9Secret'", "ALTER SUBSCRIPTION"),
        ("SELECT dblink_connect('c', 'host=db user=app password=Zq9Secret')", "SELECT"),
        ("SELECT * FROM dblink('password=Zq9Secret', 'SELECT 1') AS t(a int)", "SELECT"),
        ("SET app.api_token = Zq9Secret", "SET"),
        ("SET SESSION my.password TO 'Zq9Secret'", "SET"),
        ("ALTER DATABASE app SET app.key = Zq9Secret", "ALTER DATABASE"),  # KEY: a keyword
    ],
)
def test_credential_statements_are_reduced_to_their_tag(statement, tag):
    assert redact_query(statement) == tag
    assert redact_query(statement, "none") is None
    assert redact_query(statement, "full") == statement


def test_literals_in_activity_texts_become_placeholders():
    text = (
        "SELECT pgp_sym_encrypt(card, 'Zq9Secret') FROM payments "
        "WHERE email = 'alice@example.com' AND card_number = 4111111111111111 AND id = $1"
    )
    assert redact_query(text) == (
        "SELECT pgp_sym_encrypt(card, $2) FROM payments WHERE email = $3 AND card_number = $4 "
        "AND id = $1"
    )


def test_only_the_credential_statement_of_several_is_reduced():
    text = "BEGIN; UPDATE t SET a = 'x' WHERE id = 7; ALTER ROLE app PASSWORD 'Zq9Secret'; COMMIT"
    assert redact_query(text) == "BEGIN; UPDATE t SET a = $1 WHERE id = $2; ALTER ROLE; COMMIT"


def test_ordinary_settings_and_statements_keep_their_words():
    assert redact_query("SET search_path = public, app") == "SET search_path = public, app"
    normalised = "SELECT id FROM users WHERE email = $1 ORDER BY id LIMIT $2"
    assert redact_query(normalised) == normalised  # pg_stat_statements' own form is kept


@pytest.mark.parametrize(
    "text",
    ["SELECT 1abc", 'SELECT ""', "SELECT 1 \x00 'Zq9Secret'"],
)
def test_texts_the_lexer_cannot_read_are_dropped(text):
    assert redact_query(text) == UNREADABLE_TEXT


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("SELECT * FROM t WHERE e = 'alice@exam", f"SELECT * FROM t WHERE e = {TRUNCATED_MARK}"),
        ("SELECT a FROM t /* password=Zq9Sec", f"SELECT a FROM t {TRUNCATED_MARK}"),
        ('SELECT "Quoted Na', f"SELECT {TRUNCATED_MARK}"),
        ("SELECT $q$Zq9Secret", f"SELECT {TRUNCATED_MARK}"),
        ("SELECT a FROM t -- password=Zq9Sec", "SELECT a FROM t"),
    ],
)  # fmt: skip
def test_texts_cut_inside_a_token_keep_what_precedes_the_cut(text, shown):
    assert redact_query(text) == shown


def test_placeholders_for_text_postgresql_puts_in_place_of_a_query():
    for text in ("<insufficient privilege>", ""):
        assert redact_query(text) == text
    assert redact_query(None) is None and redact_query(pd.NA) is None


def test_explain_lines_lose_the_statement_literals_and_keep_their_own_numbers():
    plan = [
        "Index Scan using users_email_key on users  (cost=0.29..8.30 rows=1 width=40)",
        "  Index Cond: (email = 'alice@example.com'::text)",
        "  Filter: ((card_number = '4111111111111111'::bigint) AND (score > 42.5))",
        '  ->  Seq Scan on "it\'s"  (actual time=0.010..0.011 rows=1 loops=1)',
        "Sort Method: quicksort  Memory: 25kB",
        "Buffers: shared hit=3 read=1",
        "Planning Time: 0.123 ms",
    ]
    shown = [redact_plan_line(line) for line in plan]
    assert shown == [
        plan[0],
        "  Index Cond: (email = $1::text)",
        "  Filter: ((card_number = $1::bigint) AND (score > $2))",
        plan[3],
        plan[4],
        plan[5],
        plan[6],
    ]
    assert [redact_plan_line(line, "full") for line in plan] == plan


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="redacted, full, none"):
        redact_query("SELECT 1", "partial")


# -- the profile setting and the frames ----------------------------------------------------------
def test_query_text_policy_comes_from_the_profile(tmp_path):
    assert PostgresSettings().query_text == "redacted"
    config = tmp_path / "dwcp-diag.toml"
    config.write_text('[profiles.shared.postgres]\nquery_text = "full"\n')
    assert load_profile("shared", path=config, environ={}).postgres.query_text == "full"
    config.write_text('[profiles.shared.postgres]\nquery_text = "masked"\n')
    with pytest.raises(ConfigError, match=r"postgres\.query_text: expected one of redacted"):
        load_profile("shared", path=config, environ={})


def test_frames_shown_without_our_own_statements_and_sessions():
    statements = pd.DataFrame(
        {
            "queryid": [1, 2, 3],
            "query": [
                "SELECT * FROM users WHERE email = 'alice@example.com'",
                f"SELECT relname FROM pg_stat_user_tables\n{OWN_QUERY_MARKER}",
                # recorded before the marker existed: the SQL file's header names it
                "-- tables: access, churn and vacuum state\nSELECT 1",
            ],
        }
    )
    shown = shown_query_texts(statements, "redacted")
    assert shown["query"].tolist() == ["SELECT * FROM users WHERE email = $1"]
    assert shown_query_texts(statements, "none")["query"].isna().all()
    sessions = pd.DataFrame(
        {"pid": [1, 2], "application_name": ["dwcp-diag", "api"], "query": ["ROLLBACK", "BEGIN"]}
    )
    assert shown_query_texts(sessions, "full")["pid"].tolist() == [2]
    assert not is_own_statement("SELECT * FROM tables -- tables: x")


def test_findings_without_query_texts_say_so():
    """Under query_text = "none" a slow statement is known by its queryid only."""
    from dwcp_diag.analysis.database.statements import slow_query_findings

    frame = pd.DataFrame(
        {"queryid": [42], "query": ["SELECT 1"], "calls": [150], "total_exec_time_ms": [4500.0]}
    )
    [finding] = slow_query_findings(shown_query_texts(frame, "none"))
    assert finding.summary.endswith(": (query text not shown)")
    assert finding.evidence["query"] == "(query text not shown)"


def test_every_sql_file_carries_the_own_query_marker():
    """Files added later must carry it too, or their statements read as the workload."""
    from dwcp_diag.sources.postgres.loader import OWN_QUERY_MARKER

    sql_dir = Path(__file__).resolve().parents[1] / "dwcp_diag" / "queries" / "sql"
    unmarked = [p.name for p in sql_dir.glob("*.sql") if OWN_QUERY_MARKER not in p.read_text()]
    assert unmarked == []
