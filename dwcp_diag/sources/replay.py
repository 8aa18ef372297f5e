"""How a recorded bundle answers calls it did not record word for word.

A bundle holds what its run loaded; a person exploring it asks the same questions with other
arguments. Each answer here is what the server would have said, computed from a recording
that holds it, never an approximation:

- Prometheus ``range``: any window inside a recording of the same query, at its step or a
  multiple of it (Prometheus evaluates at multiples of the step); a window reaching before
  first sample the server held (the bundle's ``data_start``) starts there. The
  ``labels`` argument only names the columns of an empty frame, so it does not pick the
  recording. A query with ``label="value"`` / ``label=~"regex"`` matchers on a label its
  answer keeps is answered by the recording without them, filtered (not when the query
  ranks, sorts or joins series: ``topk``, ``or``, ``on(...)``...).
- Prometheus ``instant``: the row at that time of a range recording of the query.
- PostgreSQL ``slow_queries``: a recording of every statement (``min_calls=1``,
  ``limit=None``), filtered, ordered and cut as the SQL does; ``wraparound``: the recording
  with the most tables, cut to ``table_limit``; ``activity`` at another ``max_query_chars``
  when no recorded text is longer.
- Kubernetes lists: the cluster-wide recording filtered to a namespace; ``events`` and
  ``rollouts`` in a time window, of some reasons. Not a label selector: a pod's labels are
  kept only as its ``app``/``team`` columns.

Anything else gets :class:`ReplayMissing` in one line that says what the bundle covers.

>>> promql_filters('sum by (namespace) (x{namespace="production",container!=""})')
[('namespace', '=', 'production')]
>>> without_filters('x{namespace="production",container!=""}', [("namespace", "=", "production")])
'x{container!=""}'
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

# one label matcher of a selector, and a selector's braces
_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_BRACES = re.compile(r"\{([^{}]*)\}")
# operations after which "filter the answer's rows" is not "filter the series first"
_CROSS_SERIES = re.compile(
    r"\b(topk|bottomk|limitk|limit_ratio|sort|sort_desc|sort_by_label|sort_by_label_desc|"
    r"absent|absent_over_time|label_replace|label_join|count_values|quantile|scalar|vector|"
    r"and|or|unless|on|ignoring|group_left|group_right)\b"
)
MAX_FILTERS = 4  # subsets of filters tried: 2^4 at most
Matcher = tuple[str, str, str]
Reader = Callable[[Mapping[str, Any]], pd.DataFrame]


def rows_where(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The rows where ``keep`` holds, as the server would have answered them: a fresh index,
    and categorical columns without the categories of the dropped rows."""
    part = frame[keep].reset_index(drop=True)
    for column in part.columns:
        if isinstance(part[column].dtype, pd.CategoricalDtype):
            part[column] = part[column].cat.remove_unused_categories()
    return part


# ------------------------------------------------------------------------------- PromQL text


def _selector_matchers(body: str) -> list[Matcher] | None:
    """The matchers of one ``{...}``, or None when it is not a plain matcher list."""
    parts = [p for p in _split_commas(body) if p.strip()]
    found = []
    for part in parts:
        match = _MATCHER.fullmatch(part)
        if match is None:
            return None
        found.append((match.group(1), match.group(2), match.group(3)))
    return found


def _split_commas(body: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in body:
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    parts.append(current)
    return parts


def promql_filters(query: str) -> list[Matcher]:
    """The ``=``/``=~`` matchers of ``query``'s selectors, each once, in order of appearance."""
    if _CROSS_SERIES.search(_BRACES.sub("{}", query)):
        return []
    found: list[Matcher] = []
    for body in _BRACES.findall(query):
        for matcher in _selector_matchers(body) or ():
            if matcher[1] in ("=", "=~") and matcher not in found:
                found.append(matcher)
    return found


def without_filters(query: str, removed: Iterable[Matcher]) -> str:
    """``query`` with every occurrence of the ``removed`` matchers taken out of its selectors
    (the remaining matchers joined by ``,``, empty braces dropped)."""
    gone = set(removed)

    def rewrite(match: re.Match[str]) -> str:
        matchers = _selector_matchers(match.group(1))
        if matchers is None or not gone & set(matchers):
            return match.group(0)
        kept = [
            f'{label}{op}"{value}"'
            for label, op, value in matchers
            if (label, op, value) not in gone
        ]
        return "{" + ",".join(kept) + "}" if kept else ""

    return _BRACES.sub(rewrite, query)


def _unquoted(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def matching_rows(frame: pd.DataFrame, filters: Iterable[Matcher]) -> pd.Series | None:
    """Which rows carry every filter's label value, or None when a label is not a column."""
    keep = pd.Series(True, index=frame.index)
    for label, op, value in filters:
        if label not in frame.columns:
            return None
        values = frame[label].astype("string").fillna("")
        wanted = _unquoted(value)
        if op == "=":
            keep &= values == wanted
        else:
            pattern = re.compile(wanted)
            keep &= values.map(lambda v, p=pattern: p.fullmatch(v) is not None).astype(bool)
    return keep


def query_variants(query: str) -> list[tuple[str, list[Matcher]]]:
    """``(query, [])`` first, then the query without each subset of its filters."""
    filters = promql_filters(query)[:MAX_FILTERS]
    variants = [(query, [])]
    for size in range(1, len(filters) + 1):
        for subset in itertools.combinations(filters, size):
            variants.append((without_filters(query, subset), list(subset)))
    return variants


# ------------------------------------------------------------------------ Prometheus answers


def _same_call(entry: Mapping[str, Any], source: str, call: str) -> bool:
    return entry["source"] == source and entry["call"] == call and "error" not in entry


def range_recordings(entries: Iterable[Mapping[str, Any]], query: str) -> list[Mapping[str, Any]]:
    """Range recordings of ``query`` (any labels argument)."""
    return [
        e
        for e in entries
        if _same_call(e, "prometheus", "range")
        and e["params"].get("query") == query
        and {"start", "end", "step"} <= e["params"].keys()
    ]


def _ms(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 10**6)


def covers_range(entry: Mapping[str, Any], start, end, step_s: float, data_start) -> bool:
    """Whether a range recording holds every evaluation time of ``start..end`` at ``step_s``
    (a start before the recording's is fine when the recording starts at ``data_start``, the
    first sample the recorded server held, if the bundle knows it)."""
    recorded = entry["params"]
    recorded_step_ms = round(float(recorded["step"]) * 1000)
    step_ms = round(step_s * 1000)
    if step_ms % recorded_step_ms or _ms(start) % recorded_step_ms:
        return False
    first = pd.Timestamp(recorded["start"])
    early_ok = start >= first or (data_start is not None and first <= data_start)
    return early_ok and end <= pd.Timestamp(recorded["end"])


def sub_range(frame: pd.DataFrame, start, end, step_s: float) -> pd.DataFrame:
    """The rows of a recorded range frame at the evaluation times ``start..end`` by ``step_s``."""
    step_ms = round(step_s * 1000)
    stamps = frame["timestamp"]
    offset_ms = (stamps - start) // pd.Timedelta(milliseconds=1)
    return rows_where(frame, (stamps >= start) & (stamps <= end) & (offset_ms % step_ms == 0))


def _with_label_columns(frame: pd.DataFrame, labels: Iterable[str]) -> pd.DataFrame:
    """An empty answer has exactly the label columns asked for, as the loader makes them."""
    if len(frame):
        return frame
    fixed = [c for c in ("timestamp", "value") if c in frame.columns]
    columns = {label: pd.Series([], dtype="category") for label in labels}
    if "__name__" in frame.columns:
        columns = {"__name__": frame["__name__"], **columns}
    empty = pd.DataFrame({**columns, **{c: frame[c] for c in fixed}})
    empty.attrs.update(frame.attrs)
    return empty


def _explained_empty(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    if not len(frame) and not frame.attrs.get("empty_reason"):
        frame.attrs["empty_reason"] = f"no series matched {one_line(query)} (replayed recording)"
    return frame


def answer_prometheus(
    call: str,
    params: Mapping[str, Any],
    entries: Iterable[Mapping[str, Any]],
    read: Reader,
    data_start: pd.Timestamp | None,
) -> pd.DataFrame | None:
    """A ``range``/``instant`` answer from the range recordings, or None."""
    entries = list(entries)
    if call == "range" and {"start", "end", "step"} <= params.keys():
        start, end = pd.Timestamp(params["start"]), pd.Timestamp(params["end"])
        step_s = float(params["step"])
    elif call == "instant" and "time" in params:
        start = end = pd.Timestamp(params["time"])
        step_s = None
    else:
        return None
    for query, filters in query_variants(str(params.get("query", ""))):
        for entry in range_recordings(entries, query):
            recorded_step = float(entry["params"]["step"])
            if not covers_range(entry, start, end, step_s or recorded_step, data_start):
                continue
            frame = sub_range(read(entry), start, end, step_s or recorded_step)
            if filters:
                keep = matching_rows(frame, filters)
                if keep is None:
                    continue
                frame = rows_where(frame, keep)
            frame = _with_label_columns(frame, params.get("labels") or ())
            return _explained_empty(frame, str(params["query"]))
    return None


# ------------------------------------------------------------------------ PostgreSQL answers

SLOW_QUERY_ORDERS = ("mean_exec_time_ms", "total_exec_time_ms", "max_exec_time_ms", "calls")
_SLOW_QUERY_TIES = ["queryid", "userid", "dbid", "toplevel"]


def answer_postgres(
    call: str, params: Mapping[str, Any], entries: Iterable[Mapping[str, Any]], read: Reader
) -> pd.DataFrame | None:
    """``slow_queries`` and ``wraparound`` from the widest recording, or None."""
    candidates = [e for e in entries if _same_call(e, "postgres", call)]
    if call == "slow_queries":
        for entry in candidates:
            recorded = entry["params"]
            whole = (
                recorded.get("min_calls", 1) <= params["min_calls"]
                and recorded.get("limit") is None
            )
            if whole and recorded.get("all_databases") == params["all_databases"]:
                frame = _slow_queries_from(read(entry), params)
                if frame is not None:
                    return frame
    if call == "activity":  # the same sessions with texts cut shorter: when none was longer
        for entry in candidates:
            frame = read(entry)
            if _texts_fit(frame, params["max_query_chars"]):
                return frame
    if call == "wraparound" and candidates:
        widest = max(candidates, key=lambda e: e["params"].get("table_limit", 0))
        frame = read(widest)
        tables = frame.index[frame["level"] == "table"]
        if len(tables) < widest["params"]["table_limit"] or params["table_limit"] <= len(tables):
            drop = tables[params["table_limit"] :]  # tables come oldest first
            return rows_where(frame, ~frame.index.isin(drop))
    return None


def _texts_fit(frame: pd.DataFrame, max_query_chars: int) -> bool:
    """Whether no recorded query text is longer than ``max_query_chars`` (then cutting at it,
    which the SQL does before redaction, changes nothing)."""
    longest = frame["query"].astype("string").str.len().max()
    return pd.isna(longest) or longest <= max_query_chars


def _slow_queries_from(frame: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame | None:
    """What slow_queries.sql answers for ``params``, from every statement's row: None when the
    recorded texts are longer than ``max_query_chars`` (the cut happens before redaction)."""
    if not _texts_fit(frame, params["max_query_chars"]):
        return None
    kept = frame[frame["calls"] >= params["min_calls"]].copy()
    total = kept["total_exec_time_ms"].sum()
    kept["share_of_total_time"] = kept["total_exec_time_ms"] / total if total else float("nan")
    order = params["order_by"]
    ranked = kept.sort_values(
        [order, *_SLOW_QUERY_TIES],
        ascending=[False] + [True] * len(_SLOW_QUERY_TIES),
        na_position="last",
        kind="stable",
    )
    if params.get("limit") is not None:
        ranked = ranked.head(params["limit"])
    return rows_where(ranked, pd.Series(True, index=ranked.index))


# ------------------------------------------------------------------------ Kubernetes answers


def answer_kubernetes(
    call: str, params: Mapping[str, Any], entries: Iterable[Mapping[str, Any]], read: Reader
) -> pd.DataFrame | None:
    """A list call from the cluster-wide (and, for events, all-time) recording, or None."""
    for entry in (e for e in entries if _same_call(e, "kubernetes", call)):
        recorded = entry["params"]
        if recorded.get("namespace") or recorded.get("label_selector") or recorded.get("reasons"):
            continue
        bounded = recorded.get("start") or recorded.get("end")  # events: also all-time
        if bounded and not _inside(params, recorded):
            continue
        frame = read(entry)
        keep = _kubernetes_rows(call, frame, params)
        if keep is not None:
            return rows_where(frame, keep)
    return None


def _inside(params: Mapping[str, Any], recorded: Mapping[str, Any]) -> bool:
    if not (params.get("start") and params.get("end")):
        return not (recorded.get("start") or recorded.get("end"))
    return pd.Timestamp(recorded["start"]) <= pd.Timestamp(params["start"]) and pd.Timestamp(
        params["end"]
    ) <= pd.Timestamp(recorded["end"])


def _kubernetes_rows(call: str, frame: pd.DataFrame, params: Mapping[str, Any]) -> pd.Series | None:
    keep = pd.Series(True, index=frame.index)
    if params.get("namespace"):
        keep &= frame["namespace"] == params["namespace"]
    if params.get("label_selector"):
        return None  # the frame keeps a pod's labels only as app/team columns: not exact
    start, end = params.get("start"), params.get("end")
    if call == "events":
        if start:
            keep &= frame["last_seen"] >= pd.Timestamp(start)
        if end:
            keep &= frame["first_seen"] <= pd.Timestamp(end)
        if params.get("reasons") is not None:
            keep &= frame["reason"].isin(params["reasons"])
    if call == "rollouts":
        keep &= (frame["time"] >= pd.Timestamp(start)) & (frame["time"] <= pd.Timestamp(end))
    return keep


# ------------------------------------------------------------------------------ the messages


def one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def day_or_minute(stamp: pd.Timestamp) -> str:
    """``2026-11-16`` at midnight, ``2026-11-15T18:00Z`` otherwise."""
    stamp = pd.Timestamp(stamp).tz_convert("UTC")
    return (
        stamp.strftime("%Y-%m-%d")
        if stamp == stamp.normalize()
        else stamp.strftime("%Y-%m-%dT%H:%MZ")
    )


def asked_text(call: str, params: Mapping[str, Any]) -> str:
    """The arguments of a call, short and in words (never the JSON of the key)."""
    first = [k for k in ("query", "sql") if k in params]
    ordered = {k: params[k] for k in [*first, *sorted(set(params) - set(first))]}
    shown = {k: v for k, v in ordered.items() if v not in (None, [], {}) and k != "labels"}
    if "query" in shown:
        shown["query"] = one_line(shown["query"], 100)
    if "sql" in shown:
        shown["sql"] = one_line(shown["sql"], 100)
    for key in ("start", "end", "time"):
        if key in shown:
            shown[key] = day_or_minute(shown[key])
    return (
        f"{call}(" + ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in shown.items()) + ")"
    )
