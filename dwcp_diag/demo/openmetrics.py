"""OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics`` (backfilling).

One ``# TYPE`` line per metric family before its samples, every series' samples in ascending
time, timestamps in seconds, ``# EOF`` at the end. Counter families are named without
``_total`` on the TYPE line; the classic histogram family carries ``_bucket``/``_count``/``_sum``.
A series whose values are all integers is written without fractions; any other series as
Python's shortest round-trip ``repr``, so no precision is lost (counters stay monotonic).

>>> import io
>>> from types import SimpleNamespace
>>> series = SimpleNamespace(family="up", kind="gauge", name="up", labels={"job": 'a"b'},
...                          first_index=0, values=np.array([1.0, 0.5]))
>>> out = io.StringIO()
>>> write_openmetrics_text(out, [series], np.array([10, 20]))
2
>>> print(out.getvalue(), end="")
# TYPE up gauge
up{job="a\\"b"} 1.0 10
up{job="a\\"b"} 0.5 20
# EOF
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from dwcp_diag.demo.model import Cluster, Series, unix_s

_WRITE_BUFFER_BYTES = 1 << 22
_EXACT_INTEGER_LIMIT = 2.0**53


def escape_label_value(value: str) -> str:
    r"""Escape a label value for the text formats (backslash, double quote, newline).

    >>> escape_label_value('C:\\dir "x"\n')
    'C:\\\\dir \\"x\\"\\n'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_prefix(name: str, labels: dict[str, str]) -> str:
    """``name{label="value",...} `` as it starts every sample line of a series.

    >>> series_prefix("up", {"job": "api"})
    'up{job="api"} '
    """
    if not labels:
        return f"{name} "
    pairs = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels.items())
    return f"{name}{{{pairs}}} "


def format_values(values: np.ndarray) -> list[str]:
    """Sample values as text: integers without a fraction, other floats round-trip exact.

    >>> format_values(np.array([3.0, 4.0])), format_values(np.array([0.1, 2.0]))
    (['3', '4'], ['0.1', '2.0'])
    """
    if not np.all(np.isfinite(values)):
        raise ValueError("the simulator writes finite sample values only")
    if np.all(values == np.rint(values)) and np.all(np.abs(values) < _EXACT_INTEGER_LIMIT):
        return list(map(str, values.astype(np.int64).tolist()))
    return list(map(repr, values.tolist()))


def series_lines(prefix: str, values: np.ndarray, line_ends: list[str]) -> str:
    """All sample lines of one series; ``line_ends[k]`` is ``" <timestamp>\\n"`` of sample k.

    >>> series_lines("up ", np.array([1.0, 0.5]), [" 10\\n", " 20\\n"])
    'up 1.0 10\\nup 0.5 20\\n'
    """
    if len(values) and np.all(values == values[0]):
        # kube-state-metrics style constants: no per-sample formatting at all.
        head = prefix + format_values(values[:1])[0]
        return head + head.join(line_ends)
    return prefix + prefix.join(map(str.__add__, format_values(values), line_ends))


def write_openmetrics_text(out: TextIO, series: Iterable[Series], grid_s: np.ndarray) -> int:
    """Write ``series`` (grouped by family, in order) to ``out``; return the sample count."""
    line_ends = [f" {stamp}\n" for stamp in np.asarray(grid_s, dtype=np.int64).tolist()]
    current_family: str | None = None
    finished_families: set[str] = set()
    samples = 0
    for one in series:
        if one.family != current_family:
            if one.family in finished_families:
                raise ValueError(f"metric family {one.family!r} is split: group series by family")
            if current_family is not None:
                finished_families.add(current_family)
            out.write(f"# TYPE {one.family} {one.kind}\n")
            current_family = one.family
        stop = one.first_index + len(one.values)
        out.write(
            series_lines(
                series_prefix(one.name, one.labels), one.values, line_ends[one.first_index : stop]
            )
        )
        samples += len(one.values)
    out.write("# EOF\n")
    return samples


def write_openmetrics(path: str | Path, series: Iterable[Series], grid_s: np.ndarray) -> int:
    """Write an OpenMetrics file at ``path``; return the number of samples written."""
    with open(path, "w", encoding="utf-8", newline="\n", buffering=_WRITE_BUFFER_BYTES) as out:
        return write_openmetrics_text(out, series, grid_s)


def write_cluster_openmetrics(
    cluster: Cluster,
    path: str | Path,
    start: pd.Timestamp | str | int | None = None,
    end: pd.Timestamp | str | int | None = None,
) -> int:
    """Write the cluster's series as OpenMetrics text (for promtool); return the sample count.

    ``start``/``end`` (Unix seconds or times) keep only samples with start <= t < end.
    promtool parses its whole input once per block it writes (2 hours by default): give
    it ``tsdb create-blocks-from --max-block-duration=8760h openmetrics`` (a flag 2.42
    accepts but does not list), or files of one 2-hour-aligned window each.

    >>> from dwcp_diag.demo.simulator import simulate
    >>> cluster = simulate(days=1)
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.om")
    >>> write_cluster_openmetrics(cluster, path, end=cluster.start_s + 7200) < cluster.sample_count
    True
    """
    if start is None and end is None:
        return write_openmetrics(path, cluster.series, cluster.grid_s)
    grid_s = cluster.grid_s
    first = 0 if start is None else int(np.searchsorted(grid_s, unix_s(start)))
    stop = len(grid_s) if end is None else int(np.searchsorted(grid_s, unix_s(end)))
    window = []
    for one in cluster.series:
        begin = max(first, one.first_index)
        finish = min(stop, one.first_index + len(one.values))
        if finish > begin:
            values = one.values[begin - one.first_index : finish - one.first_index]
            window.append(Series(one.family, one.kind, one.name, one.labels, begin - first, values))
    return write_openmetrics(path, window, grid_s[first:stop])
