"""Record/replay bundles: every frame a run loads, saved so the run can be replayed offline.

A bundle is a directory::

    manifests/<writer>.json  format, package version, "now" of the run, one entry per call
                             (with the frame's ``attrs``, such as ``empty_reason``, if any);
                             optionally "data_start": the first sample the recorded server
                             held (the demo's simulated month), so windows reaching earlier
                             are answered from there
    data/<source>/<key>.parquet

Each writer (one notebook of a parallel render, or one interactive session) keeps its own
manifest so concurrent recorders never overwrite each other; a replay merges them all. Data
files are named by call key, so two writers recording the same call write the same file.

Each entry is keyed by ``(source, call, params)`` (see :func:`call_key`); a call that failed
live (an unreachable source) is recorded as its error, so a replay fails the same way and a
re-rendered report carries the same ``source_unavailable`` finding.

>>> import tempfile, pandas as pd
>>> bundle_dir = tempfile.mkdtemp()
>>> rec = Recorder(bundle_dir, now=pd.Timestamp("2026-11-16", tz="UTC"))
>>> rec.record("postgres", "tables", {}, pd.DataFrame({"relname": ["tasks"], "n_dead_tup": [3]}))
>>> SnapshotBundle(bundle_dir).load("postgres", "tables", {})["relname"].tolist()
['tasks']
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dwcp_diag import errors
from dwcp_diag.errors import ReplayMissing, SnapshotError
from dwcp_diag.sources import replay
from dwcp_diag.timewindow import format_duration

MANIFEST_DIR = "manifests"
DEMO_DIRECTORY = Path(__file__).resolve().parents[1] / "demo" / "bundle"
# mkstemp creates 0600 files; reports and bundles are meant to be read by the team
SHARED_FILE_MODE = 0o644
FORMAT_VERSION = 1
# Errors a replay may re-raise; anything else recorded is refused as corrupt.
_REPLAYABLE_ERRORS = {
    "SourceUnavailable": errors.SourceUnavailable,
    "AuthError": errors.AuthError,
    "QueryError": errors.QueryError,
    "QueryTimeout": errors.QueryTimeout,
    "StatsUnavailable": errors.StatsUnavailable,
}


def canonical_params(params: Mapping[str, Any]) -> str:
    """Params as canonical JSON: sorted keys, timestamps as ISO-8601 UTC strings."""

    def convert(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            return value.tz_convert("UTC").isoformat() if value.tzinfo else value.isoformat()
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return json.dumps(convert(dict(params)), sort_keys=True, separators=(",", ":"), default=str)


def call_key(source: str, call: str, params: Mapping[str, Any]) -> str:
    """Stable file-name-safe key of one loader call."""
    text = f"{source}\n{call}\n{canonical_params(params)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # a crash after the rename never leaves an empty file
        os.chmod(tmp, SHARED_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _frame_to_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet (zstd) with the encodings that suit long metric frames: times and counters as
    deltas, floats byte-split, labels as dictionaries; a month at 1m is half the plain size."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=True)
    encodings = {}
    for field in table.schema:
        if pa.types.is_timestamp(field.type) or pa.types.is_int64(field.type):
            encodings[field.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_float64(field.type):
            encodings[field.name] = "BYTE_STREAM_SPLIT"
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        compression="zstd",
        compression_level=9,
        use_dictionary=[name for name in table.column_names if name not in encodings],
        column_encoding=encodings,
    )
    return buffer.getvalue()


class Recorder:
    """Saves each loaded frame (or error) into a bundle directory as it is loaded. Thread-safe."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        now: pd.Timestamp,
        profile: str = "default",
        writer: str = "session",
    ) -> None:
        from dwcp_diag.version import __version__

        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._manifest_path = self.directory / MANIFEST_DIR / f"{writer}.json"
        if self._manifest_path.exists():
            self._manifest = _read_manifest(self._manifest_path)
        else:
            self._manifest = {
                "format": FORMAT_VERSION,
                "package_version": __version__,
                "now": now.isoformat(),
                "profile": profile,
                "entries": {},
            }

    def record(
        self, source: str, call: str, params: Mapping[str, Any], frame: pd.DataFrame
    ) -> None:
        key = call_key(source, call, params)
        data = _frame_to_parquet(frame)
        digest = hashlib.sha256(data).hexdigest()
        # the content hash in the name: the same call made by two writers at different moments
        # (pg_stat_activity now and a minute later) keeps both answers
        relative = f"data/{source}/{key}-{digest[:16]}.parquet"
        atomic_write_bytes(self.directory / relative, data)
        extra: dict[str, Any] = {"file": relative, "rows": len(frame), "sha256": digest}
        if frame.attrs:  # e.g. a Prometheus frame's "empty_reason", readable in the manifest
            extra["attrs"] = json.loads(json.dumps(frame.attrs, default=str))
        self._add(key, source, call, params, **extra)

    def record_error(
        self, source: str, call: str, params: Mapping[str, Any], error: errors.DwcpDiagError
    ) -> None:
        """Record that a call failed, so replaying it raises the same error."""
        key = call_key(source, call, params)
        info = {"type": type(error).__name__, "message": str(error)}
        if isinstance(error, errors.SourceUnavailable):
            info["source"] = error.source
        if isinstance(error, errors.StatsUnavailable):
            info["feature"], info["fix"] = error.feature, error.fix
        if isinstance(error, errors.QueryTimeout):
            info["setting"] = error.setting
        self._add(key, source, call, params, error=info)

    def _add(self, key: str, source: str, call: str, params: Mapping[str, Any], **extra: Any):
        entry = {
            "source": source,
            "call": call,
            "params": json.loads(canonical_params(params)),
            "captured_at": pd.Timestamp.now(tz="UTC").isoformat(),
            **extra,
        }
        with self._lock:
            self._manifest["entries"][key] = entry
            text = json.dumps(self._manifest, indent=1, sort_keys=True)
            atomic_write_bytes(self._manifest_path, text.encode())


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot manifest {path} is unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise SnapshotError(f"snapshot manifest {path} is not a format-{FORMAT_VERSION} manifest")
    return manifest


def _merge_manifests(directory: Path, prefer: str | None = None) -> dict[str, Any]:
    # the preferred writer's manifest is merged last, so its own recordings win
    paths = sorted(
        (directory / MANIFEST_DIR).glob("*.json"), key=lambda p: (p.stem == prefer, p.name)
    )
    if not paths:
        raise SnapshotError(
            f"snapshot bundle {directory} has no {MANIFEST_DIR}/*.json: not a recorded bundle"
        )
    merged: dict[str, Any] = {}
    for path in paths:
        manifest = _read_manifest(path)
        if not merged:
            merged = {**manifest, "entries": {}}
        # writers that pinned an earlier end (an incident window) do not move the bundle's now
        merged["now"] = max(merged["now"], manifest["now"], key=pd.Timestamp)
        if "data_start" in manifest:  # where the recorded server's samples begin (the demo's)
            merged["data_start"] = manifest["data_start"]
        merged["entries"].update(manifest["entries"])
    return merged


class SnapshotBundle:
    """Answers loader calls from a recorded bundle, offline, with bit-identical frames."""

    def __init__(self, directory: str | os.PathLike[str], writer: str | None = None) -> None:
        """``writer`` names the recorder whose answers win when several recorded a call."""
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SnapshotError(f"snapshot bundle {self.directory} does not exist")
        self.manifest = _merge_manifests(self.directory, prefer=writer)

    @property
    def now(self) -> pd.Timestamp:
        """The 'now' of the recorded run: relative windows replay against it."""
        return pd.Timestamp(self.manifest["now"])

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.manifest["entries"]

    @property
    def name(self) -> str:
        """``demo data`` for the bundle shipped in the package, ``snapshot DIR`` otherwise."""
        return (
            "demo data"
            if self.directory.resolve() == DEMO_DIRECTORY
            else f"snapshot {self.directory}"
        )

    def has(self, source: str, call: str, params: Mapping[str, Any]) -> bool:
        return call_key(source, call, params) in self.entries

    def load(self, source: str, call: str, params: Mapping[str, Any]) -> pd.DataFrame:
        """The recorded frame of this call (or its recorded error, raised).

        A call not recorded as such is answered from a recording that holds its answer (a
        range query's window and step inside a recording of the same query; see
        :mod:`dwcp_diag.sources.replay`); otherwise :class:`ReplayMissing` says, in one line,
        what the bundle covers.
        """
        entry = self.entries.get(call_key(source, call, params))
        if entry is not None:
            return self._read(entry, source, call)
        wanted = json.loads(canonical_params(params))
        frame = self._answer(source, call, wanted)
        if frame is None:
            raise ReplayMissing(self.missing_message(source, call, wanted))
        return frame

    def _answer(self, source: str, call: str, wanted: dict[str, Any]) -> pd.DataFrame | None:
        entries = self.entries.values()

        def read(entry: Mapping[str, Any]) -> pd.DataFrame:
            return self._read(entry, entry["source"], entry["call"])

        if source == "prometheus":
            data_start = self.manifest.get("data_start")
            start = pd.Timestamp(data_start) if data_start else None
            return replay.answer_prometheus(call, wanted, entries, read, start)
        if source == "postgres":
            return replay.answer_postgres(call, wanted, entries, read)
        if source == "kubernetes":
            return replay.answer_kubernetes(call, wanted, entries, read)
        return None

    def missing_message(self, source: str, call: str, wanted: Mapping[str, Any]) -> str:
        """One line: what was asked and what this bundle covers."""
        asked = replay.asked_text(call, wanted)
        covered = self._covered_text(source, call, wanted)
        if call in ("query", "explain"):
            return (
                f"{self.name} has no recording of {source}.{asked}: a recording answers the "
                f"SQL it ran ({self._count(source, call)} statement(s) here), not new SQL; "
                "run it against a live server"
            )
        if covered is not None:
            return covered
        if wanted.get("label_selector"):
            return (
                f"{self.name} has no recording of {source}.{asked}: a recording keeps a pod's "
                "labels only as its app and team columns; filter those instead "
                "(frame[frame['app'] == 'dwcp-api'])"
            )
        advice = (
            "it answers the calls its notebooks make, with any window, step, namespace or "
            "filter inside them; a free-form query needs a live server"
        )
        if self.name != "demo data":
            advice = "re-record with this call (--record on a live run)"
        return f"{self.name} has no recording of {source}.{asked}: {advice}"

    def _count(self, source: str, call: str) -> int:
        return sum(1 for e in self.entries.values() if e["source"] == source and e["call"] == call)

    def _covered_text(self, source: str, call: str, wanted: Mapping[str, Any]) -> str | None:
        """For a time or step outside what a recorded query covers: what it covers."""
        if source != "prometheus" or call not in ("range", "instant"):
            return None
        recorded = []
        for query, _filters in replay.query_variants(str(wanted.get("query", ""))):
            recorded += replay.range_recordings(self.entries.values(), query)
        if not recorded:
            return None
        first = min(pd.Timestamp(e["params"]["start"]) for e in recorded)
        # past "now" a recording holds only the server's lookback after the last sample
        last = min(max(pd.Timestamp(e["params"]["end"]) for e in recorded), self.now)
        step = min(float(e["params"]["step"]) for e in recorded)
        if call == "range":
            asked = (
                f"{replay.day_or_minute(wanted['start'])}..{replay.day_or_minute(wanted['end'])}"
                f" at {format_duration(float(wanted['step']))}"
            )
        else:
            asked = f"{replay.day_or_minute(wanted['time'])} (an instant)"
        return (
            f"{self.name} covers {replay.day_or_minute(first)}..{replay.day_or_minute(last)} "
            f"at {format_duration(step)} (steps: multiples of it); asked {asked}"
        )

    def _read(self, entry: Mapping[str, Any], source: str, call: str) -> pd.DataFrame:
        if "error" in entry:
            raise _recorded_error(entry["error"], source)
        path = self.directory / entry["file"]
        try:
            data = path.read_bytes()
        except OSError:
            raise SnapshotError(
                f"snapshot bundle {self.directory}: {entry['file']} ({source}.{call}) is missing"
            ) from None
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise SnapshotError(
                f"snapshot bundle {self.directory}: {entry['file']} ({source}.{call}) is corrupt "
                "(checksum mismatch)"
            )
        import io

        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise SnapshotError(
                f"snapshot bundle {self.directory}: {entry['file']} ({source}.{call}) "
                f"cannot be read: {exc}"
            ) from None
        frame = _restore_empty_categories(frame)
        frame.attrs.update(entry.get("attrs") or {})
        return frame


def _restore_empty_categories(frame: pd.DataFrame) -> pd.DataFrame:
    # Parquet keeps no dtype for the categories of an empty categorical; labels are strings.
    for column in frame.columns:
        dtype = frame[column].dtype
        empty = isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == 0
        if empty and dtype.categories.dtype == object:
            frame[column] = frame[column].cat.set_categories(pd.Index([], dtype="str"))
    return frame


def _recorded_error(info: Mapping[str, Any], source: str) -> errors.DwcpDiagError:
    cls = _REPLAYABLE_ERRORS.get(info.get("type", ""))
    if cls is None:
        return SnapshotError(f"recorded error of unknown type {info.get('type')!r}")
    if issubclass(cls, errors.SourceUnavailable):
        return cls(info.get("source", source), info["message"])
    if cls is errors.StatsUnavailable:
        return cls(info.get("feature", ""), info["message"], info.get("fix", ""))
    if cls is errors.QueryTimeout:
        return cls(info["message"], setting=info.get("setting", "statement_timeout_ms"))
    return cls(info["message"])
