"""A local stand-in for the Kubernetes API server: the read-only list endpoints dwcp-diag uses.

It speaks real Kubernetes JSON over plain HTTP on 127.0.0.1: List objects with
``limit``/``continue`` pagination (opaque continue tokens, ``metadata.continue``,
``remainingItemCount``), ``labelSelector``/``fieldSelector``, bearer-token authentication, and
``Status`` objects for 401/403/404/405/410/503. Every request's method and path is recorded.

>>> server = KubeApiStandIn({"pods": {"kind": "PodList", "apiVersion": "v1", "items": []}})
>>> server.start().url.startswith("http://127.0.0.1:")
True
>>> server.stop()
"""

from __future__ import annotations

import base64
import bisect
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson
import yaml

DEFAULT_TOKEN = "dwcp-test-token-3f9a1c"
CONTEXT = "dwcp-test"
SERVICE_ACCOUNT = "system:serviceaccount:monitoring:dwcp-diag"
VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.4",
    "gitCommit": "a51b3b711150f57ffc1f526a640ec058514ed596",
    "gitTreeState": "clean",
    "buildDate": "2024-08-14T19:04:53Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_UNCHANGED: Any = object()


@dataclass(frozen=True)
class Resource:
    """One list endpoint: its key in the objects dict, URL prefix, plural and List kind."""

    key: str
    prefix: str  # "/api/v1" or "/apis/GROUP/VERSION"
    plural: str
    list_kind: str
    namespaced: bool

    @property
    def group(self) -> str:
        return "" if self.prefix == "/api/v1" else self.prefix.split("/")[2]

    @property
    def api_version(self) -> str:
        return "v1" if self.prefix == "/api/v1" else "/".join(self.prefix.split("/")[2:4])


RESOURCES = (
    Resource("pods", "/api/v1", "pods", "PodList", True),
    Resource("nodes", "/api/v1", "nodes", "NodeList", False),
    Resource("persistentvolumes", "/api/v1", "persistentvolumes", "PersistentVolumeList", False),
    Resource(
        "persistentvolumeclaims",
        "/api/v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaimList",
        True,
    ),
    Resource("events", "/api/v1", "events", "EventList", True),
    Resource("replicasets", "/apis/apps/v1", "replicasets", "ReplicaSetList", True),
    Resource("deployments", "/apis/apps/v1", "deployments", "DeploymentList", True),
    Resource("statefulsets", "/apis/apps/v1", "statefulsets", "StatefulSetList", True),
    Resource("pod_metrics", "/apis/metrics.k8s.io/v1beta1", "pods", "PodMetricsList", True),
    Resource("certificates", "/apis/cert-manager.io/v1", "certificates", "CertificateList", True),
    Resource("configmaps", "/api/v1", "configmaps", "ConfigMapList", True),
)


def _route_pattern(resource: Resource) -> re.Pattern[str]:
    namespaced = r"(?:/namespaces/(?P<ns>[a-z0-9-]+))?" if resource.namespaced else ""
    return re.compile(re.escape(resource.prefix) + namespaced + "/" + resource.plural)


_ROUTES = [(_route_pattern(r), r) for r in RESOURCES]


class Request(NamedTuple):
    """A recorded request: ``method`` and the raw ``path`` (with its query string)."""

    method: str
    path: str

    @property
    def route(self) -> str:
        """The path without the query: ``/api/v1/pods``."""
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}


class ApiError(Exception):
    """Answered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.details = code, reason, details or {}

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": str(self),
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def _item_key(item: Mapping[str, Any]) -> str:
    meta = item.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class _Index:
    """The items of one resource, sorted by (namespace, name) as etcd keys are."""

    def __init__(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.items = sorted(items, key=_item_key)
        self.keys = [_item_key(i) for i in self.items]


class KubeApiStandIn:
    """The server. ``configure`` changes what it answers; ``requests`` is what it was asked."""

    def __init__(
        self,
        objects: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        token: str | None = DEFAULT_TOKEN,
        directory: str | Path | None = None,
    ) -> None:
        self.default_objects = dict(objects or {})
        self.default_token = token
        self.directory = Path(directory or tempfile.mkdtemp(prefix="kubeapi-"))
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._resource_version = 1000
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- configuration -------------------------------------------------------------------
    def configure(
        self,
        *,
        objects: Mapping[str, Mapping[str, Any]] | None = None,
        forbidden: Iterable[str] | None = None,
        metrics_api: bool | str | None = None,
        token: str | None = _UNCHANGED,
        expire_continue: bool | None = None,
        missing_apis: Iterable[str] | None = None,
    ) -> KubeApiStandIn:
        """Change the answers. ``objects`` replaces every list (missing keys are empty);
        ``forbidden`` names resource keys answered 403; ``metrics_api`` is True, False (404) or
        ``"unavailable"`` (503); ``token`` is the bearer token required (None: no auth);
        ``expire_continue`` answers 410 Expired to every continue token; ``missing_apis``
        names resource keys answered 404, as for a CRD that is not installed."""
        with self._lock:
            if objects is not None:
                self._indexes = {
                    r.key: _Index(objects.get(r.key, {}).get("items", [])) for r in RESOURCES
                }
                self._resource_version += 1
            if forbidden is not None:
                unknown = set(forbidden) - {r.key for r in RESOURCES}
                if unknown:
                    raise ValueError(f"unknown resource key(s) {sorted(unknown)}")
                self.forbidden = set(forbidden)
            if metrics_api is not None:
                self.metrics_api = metrics_api
            if token is not _UNCHANGED:
                self.token = token
            if expire_continue is not None:
                self.expire_continue = expire_continue
            if missing_apis is not None:
                self.missing_apis = set(missing_apis)
        return self

    def reset(self) -> KubeApiStandIn:
        """Back to the default objects, nothing forbidden, metrics API present, no requests."""
        self.forbidden: set[str] = set()
        self.metrics_api: bool | str = True
        self.token = self.default_token
        self.expire_continue = False
        self.missing_apis: set[str] = set()
        self.configure(objects=self.default_objects)
        self.requests.clear()
        return self

    def requests_to(self, route_prefix: str) -> list[Request]:
        """Recorded requests whose path starts with ``route_prefix``."""
        return [r for r in self.requests if r.route.startswith(route_prefix)]

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> KubeApiStandIn:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kubeapi-stand-in",
            daemon=True,
        )
        self._thread.start()
        self.write_kubeconfig()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> KubeApiStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the stand-in server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.directory / "kubeconfig"

    def write_kubeconfig(self, token: str | None = _UNCHANGED) -> Path:
        """A kubeconfig whose context ``dwcp-test`` points at this server with a token."""
        token = self.default_token if token is _UNCHANGED else token
        user = {"token": token} if token else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": user}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"},
                }
            ],
            "current-context": CONTEXT,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        self.kubeconfig_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return self.kubeconfig_path

    # -- answering -----------------------------------------------------------------------
    def answer(self, method: str, target: str, authorization: str | None) -> tuple[int, Any]:
        """``(status code, JSON document)`` for one request."""
        with self._lock:
            self.requests.append(Request(method, target))
        try:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"the server does not allow {method} here")
            self._authenticate(authorization)
            split = urlsplit(target)
            if split.path in ("/version", "/version/"):
                return 200, VERSION
            resource, namespace = self._route(split.path)
            return 200, self._list(resource, namespace, parse_qs(split.query))
        except ApiError as exc:
            return exc.code, exc.status()

    def _authenticate(self, authorization: str | None) -> None:
        if self.token is not None and authorization != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def _route(self, path: str) -> tuple[Resource, str | None]:
        for pattern, resource in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            namespace = match.groupdict().get("ns")
            if resource.key == "pod_metrics" and self.metrics_api is not True:
                self._refuse_metrics()
            if resource.key in self.missing_apis:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if resource.key in self.forbidden:
                self._refuse_forbidden(resource, namespace)
            return resource, namespace
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _refuse_metrics(self) -> None:
        if self.metrics_api == "unavailable":
            raise ApiError(
                503, "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _refuse_forbidden(self, resource: Resource, namespace: str | None) -> None:
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        group = resource.group
        raise ApiError(
            403,
            "Forbidden",
            f"{resource.plural}{'.' + group if group else ''} is forbidden: User "
            f'"{SERVICE_ACCOUNT}" cannot list resource "{resource.plural}" in API group '
            f'"{group}" {scope}',
            {"group": group, "kind": resource.plural},
        )

    def _list(
        self, resource: Resource, namespace: str | None, query: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        def one(name: str) -> str | None:
            return query[name][-1] if name in query else None

        with self._lock:
            index = self._indexes[resource.key]
            version = str(self._resource_version)
        labels, fields = one("labelSelector"), one("fieldSelector")
        items, keys = index.items, index.keys
        if namespace or labels or fields:
            match = _matcher(namespace, labels, fields)
            items = [i for i in items if match(i)]
            keys = [_item_key(i) for i in items]
        start = 0
        if one("continue"):
            start = bisect.bisect_right(keys, self._decode_continue(one("continue"), version))
        limit = int(one("limit") or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        metadata: dict[str, Any] = {"resourceVersion": version}
        if end < len(items):
            metadata["continue"] = _encode_continue(version, keys[end - 1])
            if not labels and not fields:
                metadata["remainingItemCount"] = len(items) - end
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": metadata,
            "items": items[start:end],
        }

    def _decode_continue(self, token: str, version: str) -> str:
        try:
            state = orjson.loads(base64.urlsafe_b64decode(token.encode()))
            start, token_version = state["start"], state["rv"]
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "BadRequest", "continue key is not valid") from None
        if self.expire_continue or token_version != version:
            raise ApiError(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter.",
            )
        return start


def _encode_continue(version: str, last_key: str) -> str:
    state = {"v": "meta.k8s.io/v1", "rv": version, "start": last_key}
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode()


# -- selectors ---------------------------------------------------------------------------------
_SET_REQUIREMENT = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    """Split on commas outside parentheses: ``"a in (x,y),b=c" -> ["a in (x,y)", "b=c"]``."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in (p.strip() for p in parts) if p]


def _requirement(text: str, lookup: Callable[[Mapping, str], str | None]) -> Callable:
    """One selector requirement as a predicate on an item."""
    set_match = _SET_REQUIREMENT.match(text)
    if set_match:
        key, op, values = set_match.groups()
        allowed = {v.strip() for v in values.split(",")}
        if op == "in":
            return lambda item: lookup(item, key) in allowed
        return lambda item: lookup(item, key) not in allowed
    for op in ("!=", "==", "="):
        if op in text:
            key, value = (s.strip() for s in text.split(op, 1))
            if op == "!=":
                return lambda item: lookup(item, key) != value
            return lambda item: lookup(item, key) == value
    if text.startswith("!"):
        return lambda item: lookup(item, text[1:].strip()) is None
    return lambda item: lookup(item, text) is not None


def _label(item: Mapping, key: str) -> str | None:
    return (item.get("metadata", {}).get("labels") or {}).get(key)


def _field(item: Mapping, path: str) -> str | None:
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return None if value is None else str(value)


def _matcher(namespace: str | None, labels: str | None, fields: str | None) -> Callable:
    tests = [_requirement(t, _label) for t in _split_selector(labels or "")]
    tests += [_requirement(t, _field) for t in _split_selector(fields or "")]
    if namespace:
        tests.append(lambda item: item.get("metadata", {}).get("namespace") == namespace)
    return lambda item: all(test(item) for test in tests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
    server_state: KubeApiStandIn

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # a write attempt's body: read it, refuse the write
        code, document = self.server_state.answer(
            self.command, self.path, self.headers.get("Authorization")
        )
        body = orjson.dumps(document)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond

    def log_message(self, format: str, *args: Any) -> None:
        pass
