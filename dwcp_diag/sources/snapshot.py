"""Record/replay bundles: every frame a run loads, saved so the run can be replayed offline.

A bundle is a directory::

    manifests/<writer>.json  format, package version, "now" of the run, one entry per call
                             (with the frame's ``attrs``, such as ``empty_reason``, if any)
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

MANIFEST_DIR = "manifests"
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
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=True, compression="zstd")
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

    def has(self, source: str, call: str, params: Mapping[str, Any]) -> bool:
        return call_key(source, call, params) in self.entries

    def load(self, source: str, call: str, params: Mapping[str, Any]) -> pd.DataFrame:
        """The recorded frame of this call (or its recorded error, raised).

        A range query not recorded as such is answered from a recording of the same query
        whose window covers it, at the same step or a finer one that divides it: Prometheus
        evaluates at multiples of the step, so those samples are exactly what it would answer.
        """
        key = call_key(source, call, params)
        entry = self.entries.get(key)
        if entry is None and call == "range":
            covering = self._covering_range(source, params)
            if covering is not None:
                return _sub_range(self._read(covering, source, call), params)
        if entry is None:
            raise ReplayMissing(
                f"snapshot bundle {self.directory} has no recording of {source}.{call}"
                f"({canonical_params(params)}); re-record the bundle with this call "
                "(e.g. `make demo-record` for the demo bundle, or --record on a live run)"
            )
        return self._read(entry, source, call)

    def _covering_range(self, source: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
        wanted = json.loads(canonical_params(params))
        if not {"start", "end", "step"} <= wanted.keys():
            return None
        start, end = pd.Timestamp(wanted["start"]), pd.Timestamp(wanted["end"])
        step_ms = round(float(wanted["step"]) * 1000)
        same = {k: v for k, v in wanted.items() if k not in ("start", "end", "step")}
        for entry in self.entries.values():
            recorded = entry["params"]
            if entry["source"] != source or entry["call"] != "range" or "error" in entry:
                continue
            if not {"start", "end", "step"} <= recorded.keys():
                continue
            if {k: v for k, v in recorded.items() if k not in ("start", "end", "step")} != same:
                continue
            recorded_step_ms = round(float(recorded["step"]) * 1000)
            if step_ms % recorded_step_ms or int(start.value // 10**6) % recorded_step_ms:
                continue
            if pd.Timestamp(recorded["start"]) <= start and end <= pd.Timestamp(recorded["end"]):
                return entry
        return None

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


def _sub_range(frame: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of a recorded range frame at the evaluation times of ``params``."""
    start = pd.Timestamp(params["start"])
    end = pd.Timestamp(params["end"])
    step_ms = round(float(params["step"]) * 1000)
    stamps = frame["timestamp"]
    offset_ms = (stamps - start) // pd.Timedelta(milliseconds=1)
    return rows_where(frame, (stamps >= start) & (stamps <= end) & (offset_ms % step_ms == 0))


def rows_where(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The rows where ``keep`` holds, as the server would have answered them: a fresh index,
    and categorical columns without the categories of the dropped rows."""
    part = frame[keep].reset_index(drop=True)
    for column in part.columns:
        if isinstance(part[column].dtype, pd.CategoricalDtype):
            part[column] = part[column].cat.remove_unused_categories()
    return part


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
