r"""Why a Prometheus query came back empty: the metric names it mentions, and the explanation.

A query that returns no series is usually a typo in a metric name, a metric this Prometheus
does not scrape, or a selector or window that matches nothing. :func:`metric_names` finds the
metric names in PromQL (not functions, keywords, label names, durations or strings) and
:func:`explain_empty` says which it is, given the server's list of metric names. The loader
puts the explanation into ``frame.attrs["empty_reason"]`` (:data:`EMPTY_REASON`).

>>> metric_names('sum by (path) (rate(http_requests_total{status=~"5.."}[5m])) / on() bool 2')
['http_requests_total']
>>> print(explain_empty(["http_request_total"], ["http_requests_total", "up"], "today"))
no series: Prometheus has no metric named 'http_request_total' (did you mean 'http_requests_total'?)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence

EMPTY_REASON = "empty_reason"
"""The ``DataFrame.attrs`` key holding the one-line reason a range/instant frame is empty."""

# Keywords that are followed by a parenthesised list of label names, not an expression.
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = _LABEL_LIST_KEYWORDS | {"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"}
_STRING = r'"(?:\\.|[^"\\])*"|' + r"'(?:\\.|[^'\\])*'|`[^`]*`"
_TOKENS = re.compile(
    rf"""
      (?P<comment>\#[^\n]*)
    | (?P<string>{_STRING})
    | (?P<braces>\{{(?:{_STRING}|[^}}"'`])*\}})
    | (?P<brackets>\[[^\]]*\])
    | (?P<number>\d[0-9a-zA-Z_.]*|\.\d[0-9a-zA-Z_.]*)
    | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_NAME_MATCHER = re.compile(
    r"""(?:^|[{,])\s*__name__\s*=\s*(?:"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)')"""
)


def metric_names(query: str) -> list[str]:
    """The metric names ``query`` selects, in order of first mention, each once.

    Names come from bare selectors (``up``, ``http_requests_total{...}``) and from
    ``{__name__="..."}`` equality matchers; function and aggregation names, keywords
    (``by``, ``on``, ``offset``, ``bool``, ...), label lists after ``by``/``without``/``on``/
    ``ignoring``/``group_left``/``group_right``, durations, numbers and strings are skipped.

    >>> metric_names('label_replace(up, "dst", "$1", "src", "(.*)") + ignoring(instance) '
    ...              'max_over_time(node_load1[1h:5m] offset 1d) or {__name__="process_up"}')
    ['up', 'node_load1', 'process_up']
    >>> metric_names("vector(1) > bool 0"), metric_names("time() - 1e3")
    ([], [])
    """
    tokens = [(m.lastgroup, m.group()) for m in _TOKENS.finditer(query)]
    tokens = [(kind, text) for kind, text in tokens if kind not in ("space", "comment")]
    found: dict[str, None] = {}
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][0] if index + 1 < len(tokens) else None
        if following == "ident" and tokens[index + 1][1].lower() in ("by", "without"):
            following = "open"  # an aggregation with its modifier first: sum by (x) (...)
        if kind == "braces":
            for match in _NAME_MATCHER.finditer(text[1:-1]):
                found.setdefault(_unescape(match.group(1) or match.group(2) or ""), None)
        elif kind == "ident":
            lowered = text.lower()
            if lowered in _LABEL_LIST_KEYWORDS and following == "open":
                index = _after_parenthesis(tokens, index + 1)
                continue
            if following != "open" and lowered not in _KEYWORDS:
                found.setdefault(text, None)
        index += 1
    found.pop("", None)
    return list(found)


def _after_parenthesis(tokens: Sequence[tuple[str | None, str]], opening: int) -> int:
    """The index after the parenthesis that closes the one at ``opening``."""
    depth = 0
    for index in range(opening, len(tokens)):
        kind = tokens[index][0]
        depth += (kind == "open") - (kind == "close")
        if depth == 0:
            return index + 1
    return len(tokens)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def explain_empty(names: Sequence[str], known: Collection[str] | None, where: str) -> str:
    """One line saying why a query mentioning metrics ``names`` found no series ``where``.

    ``known`` is the server's list of metric names (None when it could not be read).

    >>> explain_empty(["up"], ["up"], "at 2026-11-16T00:00Z")
    "no series: metric 'up' exists but no series matched the selector at 2026-11-16T00:00Z"
    >>> explain_empty([], ["up"], "in the window")
    'no series: the query (which names no metric) returned nothing in the window'
    """
    if not names:
        return f"no series: the query (which names no metric) returned nothing {where}"
    if known is None:
        return f"no series matched {where} (whether {_quoted(names)} exist could not be checked)"
    known_set = set(known)
    unknown = [name for name in names if name not in known_set]
    if not unknown:
        verb = "exists" if len(names) == 1 else "exist"
        noun = "metric" if len(names) == 1 else "metrics"
        return (
            f"no series: {noun} {_quoted(names)} {verb} but no series matched the selector {where}"
        )
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        described.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    noun = "metric" if len(unknown) == 1 else "metrics"
    return f"no series: Prometheus has no {noun} named {' or '.join(described)}"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
