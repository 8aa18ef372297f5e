r"""Prometheus query answers into numpy arrays and tidy frames, with no per-sample Python loop.

The hot path is a ``query_range`` matrix. Its sample arrays hold only numbers
(``[1763251200,"0.25"]``), so they are cut out of the answer's bytes and parsed in C by
pyarrow's CSV reader, while orjson parses the small remainder (the label sets). Anything
unexpected in that layout falls back to a full orjson parse: same result, just slower.

Frames (the contract of :mod:`dwcp_diag.frames`): one categorical column per label
(``__name__`` first when the answer has it, then the others by name), ``timestamp``
(datetime64[ns, UTC]) and ``value`` (float64; ``"NaN"``, ``"+Inf"``, ``"-Inf"`` become
floats); rows sorted by labels, then time. A label
named ``timestamp`` or ``value`` becomes column ``label_timestamp``/``label_value``. With no
series the frame has the requested label columns (``labels=``), ``timestamp`` and ``value``.

>>> body = (b'{"status":"success","data":{"resultType":"matrix","result":['
...         b'{"metric":{"job":"api"},"values":[[60,"1"],[120,"NaN"],[180,"+Inf"]]}]}}')
>>> frame = to_frame(parse_result(body))
>>> frame["value"].tolist(), str(frame["timestamp"].iloc[0]), frame["job"].dtype.name
([1.0, nan, inf], '1970-01-01 00:01:00+00:00', 'category')
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from dwcp_diag.frames import empty_frame

log = logging.getLogger("dwcp_diag.prometheus")

NAME_LABEL = "__name__"
RESERVED_COLUMNS = ("timestamp", "value")
_VALUES_KEY = b'"values":['
# '[t,"v"],[t,"v"]' -> 't,v\n,t,v\n': drop '[' and '"', end each sample's line at its ']'.
_SAMPLES_TO_CSV = bytes.maketrans(b"]", b"\n")
_CSV_READ = pa_csv.ReadOptions(column_names=["_", "t", "v"], use_threads=True)
_CSV_PARSE = pa_csv.ParseOptions(quote_char=False, double_quote=False, escape_char=False)
_CSV_CONVERT = pa_csv.ConvertOptions(
    include_columns=["t", "v"],
    column_types={"t": pa.float64(), "v": pa.float64()},
    null_values=[],  # "NaN" is a value, not a missing one
    strings_can_be_null=False,
)


class DecodeError(ValueError):
    """The answer is not a Prometheus query result (HTML from a proxy, truncated JSON, ...)."""


@dataclass(frozen=True)
class Matrix:
    """Series of one answer: ``counts[i]`` samples of ``metrics[i]``, concatenated in order."""

    metrics: list[dict[str, str]]
    counts: np.ndarray  # int64, one per series
    timestamps_ms: np.ndarray  # int64 Unix milliseconds
    values: np.ndarray  # float64

    @property
    def samples(self) -> int:
        return len(self.values)


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The parsed JSON of an answer (any status), or :class:`DecodeError`.

    >>> parse_envelope(b'{"status":"error","error":"x"}')["error"]
    'x'
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise DecodeError(f"the answer is not JSON (it starts with {body[:60]!r})") from None
    if not isinstance(document, dict) or "status" not in document:
        raise DecodeError(f"the answer is JSON but not a Prometheus answer ({body[:60]!r})")
    return document


def parse_result(body: bytes) -> Matrix:
    """Decode a ``query``/``query_range`` answer of any numeric result type.

    Vectors and scalars become one sample per series; a ``string`` result is refused.

    >>> parse_result(b'{"status":"success","data":{"resultType":"scalar","result":[1,"-Inf"]}}')
    ... # doctest: +ELLIPSIS
    Matrix(metrics=[{}], counts=array([1]), timestamps_ms=array([1000]), values=array([-inf]))
    """
    fast = _parse_matrix_fast(body) if _VALUES_KEY in body else None
    if fast is not None:
        return fast
    document = parse_envelope(body)
    _log_warnings(document)
    data = document.get("data")
    if not isinstance(data, dict) or "resultType" not in data:
        raise DecodeError("the answer has no data.resultType")
    kind, result = data["resultType"], data.get("result")
    if kind == "matrix":
        return _matrix_from_items(result, "values")
    if kind == "vector":
        return _matrix_from_items(result, "value")
    if kind == "scalar":
        return _matrix_from_items([{"metric": {}, "value": result}], "value")
    raise DecodeError(f"result type {kind!r} cannot become a frame of numbers")


def _log_warnings(document: Mapping[str, Any]) -> None:
    for warning in document.get("warnings") or ():
        log.warning("Prometheus warning: %s", warning)


def _cut_sample_arrays(body: bytes) -> tuple[bytes, list[tuple[int, int]]] | None:
    """The answer without the insides of its ``"values"`` arrays, and where those were."""
    pieces, spans, position = [], [], 0
    while (found := body.find(_VALUES_KEY, position)) >= 0:
        inner = found + len(_VALUES_KEY)
        if body[inner : inner + 1] == b"]":
            end = inner  # an empty array
        else:
            close = body.find(b"]]", inner)
            if close < 0:
                return None
            end = close + 1
        pieces.append(body[position:inner])
        spans.append((inner, end))
        position = end
    pieces.append(body[position:])
    return b"".join(pieces), spans


def _parse_matrix_fast(body: bytes) -> Matrix | None:
    """The fast path for matrices; None when the layout is not the expected one."""
    cut = _cut_sample_arrays(body)
    if cut is None:
        return None
    skeleton, spans = cut
    try:
        document = orjson.loads(skeleton)
        data = document["data"]
        result = data["result"]
        layout_ok = data["resultType"] == "matrix" and len(result) == len(spans)
        layout_ok = layout_ok and all(item["values"] == [] for item in result)
        metrics = [item["metric"] for item in result]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not layout_ok:
        return None
    counts = np.fromiter((body.count(b"[", *span) for span in spans), np.int64, len(spans))
    timestamps_ms, values = _parse_samples(body, spans)
    if len(values) != counts.sum():
        return None
    _log_warnings(document)
    return Matrix(metrics, counts, timestamps_ms, values)


def _parse_samples(body: bytes, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Parse the sample arrays at ``spans`` of ``body`` as one CSV text, in C."""
    view = memoryview(body)
    if not any(end > start for start, end in spans):
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    # ',[t,"v"],[t,"v"]...' for all series at once (one copy), then ',t,v\n,t,v\n...'
    joined = b",".join([b"", *(view[start:end] for start, end in spans if end > start)])
    text = joined.translate(_SAMPLES_TO_CSV, b'["')
    del joined
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text),
            read_options=_CSV_READ,
            parse_options=_CSV_PARSE,
            convert_options=_CSV_CONVERT,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    del text
    return _milliseconds(table.column("t").to_numpy()), table.column("v").to_numpy()


def _milliseconds(seconds: np.ndarray) -> np.ndarray:
    # Prometheus timestamps have millisecond precision; round so 0.1 s steps stay exact.
    return np.rint(seconds * 1000.0).astype(np.int64)


def _matrix_from_items(result: Any, key: str) -> Matrix:
    """The slow, general path: ``result`` already parsed by orjson."""
    if not isinstance(result, list):
        raise DecodeError("the answer's data.result is not a list")
    try:
        metrics = [item["metric"] for item in result]
        if key == "values":
            per_series = [item["values"] for item in result]
            counts = np.fromiter(map(len, per_series), dtype=np.int64, count=len(per_series))
            flat = list(itertools.chain.from_iterable(itertools.chain.from_iterable(per_series)))
        else:
            counts = np.ones(len(result), dtype=np.int64)
            flat = list(itertools.chain.from_iterable(item["value"] for item in result))
        pairs = np.array(flat, dtype=object).reshape(-1, 2)
        seconds = pairs[:, 0].astype(np.float64)
        values = pairs[:, 1].astype(np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(
            f"the answer's samples cannot be read ({type(exc).__name__}: {exc}); "
            "native histograms and string results are not supported"
        ) from None
    return Matrix(metrics, counts, _milliseconds(seconds), values)


def label_columns(label_names: Iterable[str]) -> dict[str, str]:
    """Column name -> label name: ``__name__`` first, then by name; reserved names prefixed.

    >>> list(label_columns(["path", "__name__", "value", "le"]))
    ['__name__', 'le', 'path', 'label_value']
    """
    names = set(label_names)
    ordered = ([NAME_LABEL] if NAME_LABEL in names else []) + sorted(names - {NAME_LABEL})
    return {(f"label_{name}" if name in RESERVED_COLUMNS else name): name for name in ordered}


def frame_schema(labels: Sequence[str] = ()) -> dict[str, str]:
    """The schema of a frame with these label columns (see :mod:`dwcp_diag.frames`)."""
    schema = {column: "category" for column in label_columns(labels)}
    return {**schema, "timestamp": "timestamp", "value": "float64"}


def to_frame(parts: Matrix | Sequence[Matrix], labels: Sequence[str] = ()) -> pd.DataFrame:
    """One tidy frame from one answer or from chunks of one range query (in time order).

    Chunks are stitched per series by label set; ``labels`` are columns the frame has even
    when no series carries them.
    """
    parts = [parts] if isinstance(parts, Matrix) else list(parts)
    pieces: dict[tuple[tuple[str, str], ...], list[tuple[int, int, int]]] = {}
    for index, part in enumerate(parts):
        stops = np.cumsum(part.counts)
        starts = (stops - part.counts).tolist()
        for metric, start, stop in zip(part.metrics, starts, stops.tolist(), strict=True):
            pieces.setdefault(tuple(sorted(metric.items())), []).append((index, start, stop))
    columns = label_columns({name for key in pieces for name, _ in key} | set(labels))
    if not pieces:
        return empty_frame(frame_schema(labels))
    metrics = [dict(key) for key in pieces]
    order = sorted(range(len(metrics)), key=lambda i: _sort_key(metrics[i], columns.values()))
    keys = list(pieces)
    spans = [pieces[keys[i]] for i in order]
    counts = np.array([sum(stop - start for _, start, stop in s) for s in spans], np.int64)
    ordered = [metrics[i] for i in order]
    data: dict[str, Any] = {
        column: _label_column(label, ordered, counts) for column, label in columns.items()
    }
    data["timestamp"] = _utc_timestamps(_gather(parts, spans, "timestamps_ms"))
    data["value"] = _gather(parts, spans, "values")
    return pd.DataFrame(data, copy=False)


def labels_frame(metrics: Sequence[Mapping[str, str]], labels: Sequence[str] = ()) -> pd.DataFrame:
    """Label sets as a frame: one categorical column per label, one sorted row per set.

    >>> labels_frame([{"pod": "b"}, {"pod": "a", "node": "n1"}]).to_dict("list")
    {'node': ['n1', nan], 'pod': ['a', 'b']}
    """
    columns = label_columns({name for metric in metrics for name in metric} | set(labels))
    if not metrics:
        return empty_frame(dict.fromkeys(columns, "category"))
    ordered = sorted(metrics, key=lambda metric: _sort_key(metric, columns.values()))
    ones = np.ones(len(ordered), dtype=np.int64)
    return pd.DataFrame({c: _label_column(label, ordered, ones) for c, label in columns.items()})


# A /api/v1/series answer as Prometheus writes it: compact, the data array last.
_SERIES_HEAD = b'{"status":"success","data":['
_SERIES_TAIL = b"]}"
# Between two label sets of the data array, and between a label name and its value. Inside a
# label value a quote is escaped, so these only occur there in ways that leave the rewritten
# text invalid JSON (which sends the answer to the general path).
_BETWEEN_SETS = b'"},{"'
_BEFORE_VALUE = b'":"'
# Prefixed to every value so that pyarrow infers no timestamps; cut off after parsing.
_VALUE_MARK = b"~"
_JSON_PARSE = pa_json.ParseOptions(newlines_in_values=False, unexpected_field_behavior="infer")


def listing_size(body: bytes) -> int:
    """How many label sets (``/api/v1/series``) or values (``/api/v1/label/NAME/values``) an
    answer holds, counted in its bytes without decoding it (exact unless a label value itself
    contains the separator; never less than the true count).

    >>> listing_size(b'{"status":"success","data":[{"a":"1"},{"a":"2"}]}')
    2
    >>> listing_size(b'{"status":"success","data":["x","y","z"]}'), listing_size(b'{"data":[]}')
    (3, 0)
    """
    start = body.find(b'"data":[')
    if start < 0 or body[start + 8 : start + 9] == b"]":
        return 0
    separator = _BETWEEN_SETS if body[start + 8 : start + 9] == b"{" else b'","'
    return body.count(separator, start) + 1


def series_frame(body: bytes) -> pd.DataFrame:
    """A ``/api/v1/series`` answer as a frame (as :func:`labels_frame` makes it), decoded in C.

    The label sets become newline-delimited JSON read by pyarrow, so no Python object is
    made per series; an answer of another layout (warnings, pretty-printed, odd values)
    takes the general path: same frame, more memory.

    >>> series_frame(b'{"status":"success","data":[{"__name__":"up","job":"b"},'
    ...              b'{"__name__":"up","job":"a","x":"2026-11-16"}]}').to_dict("list")
    {'__name__': ['up', 'up'], 'job': ['a', 'b'], 'x': ['2026-11-16', nan]}
    """
    fast = _series_frame_fast(body)
    if fast is not None:
        return fast
    document = parse_envelope(body)
    _log_warnings(document)
    data = document.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise DecodeError("the answer's data is not a list of label sets")
    return labels_frame(data)


def _series_frame_fast(body: bytes) -> pd.DataFrame | None:
    if not (body.startswith(_SERIES_HEAD) and body.endswith(_SERIES_TAIL)):
        return None
    if len(body) == len(_SERIES_HEAD) + len(_SERIES_TAIL):
        return labels_frame([])
    lines = body[len(_SERIES_HEAD) : -len(_SERIES_TAIL)].replace(_BETWEEN_SETS, b'"}\n{"')
    lines = lines.replace(_BEFORE_VALUE, _BEFORE_VALUE + _VALUE_MARK)
    try:
        table = pa_json.read_json(io.BytesIO(lines), parse_options=_JSON_PARSE)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    del lines
    if not all(pa.types.is_string(field.type) for field in table.schema):
        return None
    columns = label_columns(table.column_names)
    table = pa.table(
        {
            name: pc.utf8_slice_codeunits(table.column(name), len(_VALUE_MARK))
            for name in columns.values()
        }
    )
    # Missing labels sort last (as pandas sorts missing categories); strings by code point.
    order = pc.sort_indices(
        table, sort_keys=[(name, "ascending", "at_end") for name in columns.values()]
    )
    table = table.take(order)
    return pd.DataFrame(
        {column: _arrow_categorical(table.column(label)) for column, label in columns.items()}
    )


def _arrow_categorical(values: pa.ChunkedArray) -> pd.Categorical:
    """Strings (with nulls) as a categorical of sorted ``str`` categories, as
    :func:`_label_column` makes them."""
    distinct = pc.drop_null(pc.unique(values))
    categories = pc.take(distinct, pc.sort_indices(distinct))
    codes = pc.fill_null(pc.index_in(values, value_set=categories), -1).to_numpy()
    return _categorical(pd.Index(categories.to_pandas(), dtype="str"), codes)


def values_frame(label: str, values: Sequence[str]) -> pd.DataFrame:
    """The values of one label as a one-column frame (as :func:`labels_frame` makes it from
    ``[{label: value}, ...]``, without a dict per value).

    >>> values_frame("status", ["500", "200"])["status"].tolist()
    ['200', '500']
    """
    column = next(iter(label_columns([label])))
    categories = pd.Index(sorted(set(values)), dtype="str")
    return pd.DataFrame({column: _categorical(categories, np.arange(len(categories)))})


def _categorical(categories: pd.Index, codes: np.ndarray) -> pd.Categorical:
    dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes.astype(_code_type(categories), copy=False), dtype=dtype)


def _utc_timestamps(milliseconds: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``datetime64[ns, UTC]`` values of Unix milliseconds (the array is reused in place)."""
    nanoseconds = np.multiply(milliseconds, 1_000_000, out=milliseconds).view("M8[ns]")
    return pd.Series(nanoseconds, copy=False).dt.tz_localize("UTC").array


def _sort_key(metric: Mapping[str, str], labels: Iterable[str]) -> tuple:
    # Missing labels sort last, as pandas sorts missing categories.
    values = (metric.get(label) for label in labels)
    return tuple((0, value) if value is not None else (1, "") for value in values)


def _gather(parts: Sequence[Matrix], spans: list, field: str) -> np.ndarray:
    arrays = [getattr(parts[index], field)[start:stop] for s in spans for index, start, stop in s]
    return np.concatenate(arrays)


def _label_column(label: str, metrics: list[dict[str, str]], counts: np.ndarray) -> pd.Categorical:
    per_series = [metric.get(label) for metric in metrics]
    categories = sorted({value for value in per_series if value is not None})
    position = {value: code for code, value in enumerate(categories)}
    series_codes = np.array([position.get(v, -1) for v in per_series], dtype=_code_type(categories))
    return _categorical(pd.Index(categories, dtype="str"), np.repeat(series_codes, counts))


def _code_type(categories: Sequence[str]) -> type:
    # The smallest signed integer holding every code and -1 (missing), as pandas would pick.
    for code_type in (np.int8, np.int16, np.int32):
        if len(categories) < np.iinfo(code_type).max:
            return code_type
    return np.int64
