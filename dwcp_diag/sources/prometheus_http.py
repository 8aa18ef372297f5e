"""HTTP to Prometheus: one ``requests.Session``, retries with backoff, errors a user can act on.

Every answer that is not a success becomes one of :mod:`dwcp_diag.errors` (unreachable:
:class:`SourceUnavailable` naming the masked URL; 400/422: :class:`QueryError` with
Prometheus's own message and the query; 401/403: :class:`AuthError`). Two subclasses tell the
loader that a smaller request may succeed: :class:`ServerBusy` (503, 504, a read timeout,
after the retries) and :class:`ResultTooLarge` (too many points or samples). Credentials are
sent as headers, never put into a URL, a message or a log line.

>>> from dwcp_diag.config import PrometheusSettings
>>> client = PrometheusHTTP(PrometheusSettings(url="http://user:pw@127.0.0.1:9"))
>>> client.display_url
'http://user:***@127.0.0.1:9'
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from dwcp_diag.config import PrometheusSettings
from dwcp_diag.credentials import mask_url, scrub
from dwcp_diag.errors import AuthError, ConfigError, QueryError, SourceUnavailable
from dwcp_diag.sources.prometheus_decode import DecodeError, parse_envelope

log = logging.getLogger("dwcp_diag.prometheus")

SOURCE = "prometheus"
# Longer query strings go in a POST body: proxies refuse long URLs (HTTP 414) at 4-8 KB.
MAX_GET_QUERY_BYTES = 4096
MAX_BACKOFF_S = 10.0
_TOO_LARGE = re.compile(
    r"exceeded maximum resolution|too many samples|maxSamplesPerQuery|maxPointsPerTimeseries"
    r"|cannot select more than|maximum number of (points|samples)",
    re.IGNORECASE,
)
_TIMED_OUT = re.compile(r"context deadline exceeded|query timed out", re.IGNORECASE)
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
T = TypeVar("T")


class ServerBusy(SourceUnavailable):
    """Prometheus timed out or was overloaded (503/504/read timeout) after every retry."""


class ResultTooLarge(QueryError):
    """Prometheus refused to compute this much at once (points per series or samples)."""


class PrometheusHTTP:
    """A connection to one Prometheus (or anything speaking its HTTP API)."""

    def __init__(self, settings: PrometheusSettings, *, backoff_s: float = 0.5) -> None:
        if not settings.url:
            raise ConfigError(
                "no Prometheus URL is configured: set DWCP_PROMETHEUS_URL or "
                "url in [profiles.NAME.prometheus]"
            )
        self.settings = settings
        self.base_url = settings.url.rstrip("/")
        self.display_url = mask_url(self.base_url)
        self.backoff_s = backoff_s
        self._secrets = _revealed_secrets(settings)
        self.session = build_session(settings)
        self._api_client: Any = None

    def close(self) -> None:
        self.session.close()
        if self._api_client is not None:
            self._api_client.close()

    # ------------------------------------------------------------------ requests

    def call(
        self,
        path: str,
        params: Mapping[str, Any],
        query: str | None = None,
        retries: int | None = None,
    ) -> bytes:
        """The body of a successful answer to ``path``, else a mapped error.

        Unreachable, 429 and 5xx answers are retried ``retries`` times (default: the
        settings') with exponential backoff; other errors are raised at once.
        """
        encoded = urlencode(params, doseq=True)
        url = f"{self.base_url}{path}"
        failure: SourceUnavailable | None = None
        retries = self.settings.retries if retries is None else retries
        for attempt in range(retries + 1):
            if attempt:
                self._sleep_before_retry(attempt, retries, failure)
            try:
                status, body = self._send(url, encoded)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                failure = self._transport_error(exc, path)
                continue
            if status < 300:
                return body
            error = self.error_for(status, body, path, query)
            if not _is_retryable(status):
                raise error
            failure = error  # type: ignore[assignment]  # 429 and 5xx are SourceUnavailable
        assert failure is not None
        raise failure

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A small JSON answer (status, metadata), parsed; errors as for :meth:`call`."""
        body = self.call(path, params or {})
        try:
            return parse_envelope(body)
        except DecodeError as exc:
            raise self.unavailable(f"answered {path} with something else: {exc}") from None

    def _send(self, url: str, encoded: str) -> tuple[int, bytes]:
        """Status and body; the body is read in one go (much faster than ``.content``)."""
        timeout = (min(10.0, self.settings.timeout_s), self.settings.timeout_s)
        if len(encoded) > MAX_GET_QUERY_BYTES:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            log.debug("POST %s (%d bytes of parameters)", self._shown(url), len(encoded))
            response = self.session.post(
                url, data=encoded, headers=headers, timeout=timeout, stream=True
            )
        else:
            target = f"{url}?{encoded}" if encoded else url
            response = self.session.get(target, timeout=timeout, stream=True)
        with response:
            return response.status_code, response.raw.read(decode_content=True)

    def _sleep_before_retry(
        self, attempt: int, retries: int, failure: SourceUnavailable | None
    ) -> None:
        delay = min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempt - 1))
        log.debug("retry %d/%d in %.2fs after: %s", attempt, retries, delay, failure)
        time.sleep(delay)

    # ------------------------------------------------------------------ errors

    def unavailable(self, what: str, cls: type[SourceUnavailable] = SourceUnavailable):
        """A :class:`SourceUnavailable` saying ``Prometheus at URL <what>``, secrets scrubbed."""
        return cls(SOURCE, self._scrub(f"Prometheus at {self.display_url} {what}"))

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _shown(self, url: str) -> str:
        """``url`` as it may be shown: the base URL's credentials masked."""
        return self.display_url + url.removeprefix(self.base_url)

    def _transport_error(self, exc: Exception, path: str) -> SourceUnavailable:
        if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
            return self.unavailable(
                f"did not answer {path} within {self.settings.timeout_s:g}s (timeout_s)", ServerBusy
            )
        reason = _ERRNO_TEXT.search(str(exc))
        detail = reason.group(1).strip() if reason else type(exc).__name__
        return self.unavailable(f"is unreachable ({detail})")

    def error_for(
        self, status: int, body: bytes, path: str, query: str | None = None
    ) -> QueryError | SourceUnavailable:
        """The error an unsuccessful answer means (not raised: the caller decides)."""
        if status in (401, 403):
            return self.unavailable(
                f"refused the credentials (HTTP {status}); {self._credential_hint()}", AuthError
            )
        error_type, message = _error_text(body)
        # A deadline reached inside storage rather than evaluation comes back as HTTP 422
        # "execution: context deadline exceeded": a timeout (smaller requests may pass), not a
        # bad query.
        timed_out = status == 422 and _TIMED_OUT.search(message) is not None
        if status in (400, 422) and not timed_out:
            text = f"Prometheus rejected the query (HTTP {status} {error_type}): {message}"
            text = self._scrub(f"{text}\n  query: {query}" if query else text)
            cls = ResultTooLarge if _TOO_LARGE.search(message) else QueryError
            return cls(text, query=query)
        if status == 404:
            return self.unavailable(
                f"has no {path} (HTTP 404): is the URL the Prometheus base URL, "
                "including any path prefix such as /prometheus?"
            )
        busy = status in (503, 504) or timed_out
        summary = f"answered {path} with HTTP {status} {error_type}: {message}".rstrip(": ")
        return self.unavailable(summary, ServerBusy if busy else SourceUnavailable)

    def _credential_hint(self) -> str:
        settings = self.settings
        if settings.token is not None:
            return f"check the bearer token from {settings.token.reference}"
        if settings.username:
            where = settings.password.reference if settings.password else "no password"
            return f"check user {settings.username!r} and the password from {where}"
        return "no credentials are configured: set token = { env = ... } in the profile"

    # ------------------------------------------------------------------ prometheus-api-client

    def api_client(self) -> Any:
        """A ``PrometheusConnect`` on this server for metadata look-ups, sharing our settings.

        Its answers pass through :meth:`error_for`, so it raises the same errors we do.
        """
        if self._api_client is None:
            from prometheus_api_client import PrometheusConnect
            from urllib3.util.retry import Retry

            session = build_session(self.settings)
            session.hooks["response"].append(self._raise_for_status)
            retry = Retry(
                total=self.settings.retries,
                backoff_factor=self.backoff_s,
                status_forcelist=(429, 502, 503, 504),
                raise_on_status=False,
            )
            self._api_client = PrometheusConnect(
                url=self.base_url, session=session, retry=retry, timeout=self.settings.timeout_s
            )
        return self._api_client

    def _raise_for_status(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code >= 300:
            path = urlsplit(response.url).path.removeprefix(urlsplit(self.base_url).path)
            raise self.error_for(response.status_code, response.content, path or "/")

    def metadata(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a ``PrometheusConnect`` method, turning transport failures into our errors."""
        try:
            return call(*args, **kwargs)
        except requests.RequestException as exc:
            raise self._transport_error(exc, what) from None
        except ValueError as exc:  # JSON decoding inside the client
            raise self.unavailable(f"answered {what} with something else ({exc})") from None


def server_identity(url: str) -> str:
    """Scheme, host, port and path of a server URL, without credentials: a cache key part.

    >>> server_identity("https://u:p@prom:9090/x/?token=t")
    'https://prom:9090/x'
    """
    parts = urlsplit(url.rstrip("/"))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _revealed_secrets(settings: PrometheusSettings) -> list[str]:
    return [s.reveal() for s in (settings.token, settings.password) if s is not None]


def _is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def build_session(settings: PrometheusSettings) -> requests.Session:
    """A session carrying the profile's credentials and TLS settings (no retries of its own)."""
    session = requests.Session()
    # push-down runs several phases at once, each with max_workers queries in flight
    adapter = HTTPAdapter(pool_maxsize=max(32, 4 * settings.max_workers), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = settings.ca_file or settings.verify_tls
    session.headers["Accept"] = "application/json"
    # Prometheus gzips large answers slowly (seconds for tens of MB); near the server, where
    # notebooks and report jobs run, plain bytes arrive sooner.
    session.headers["Accept-Encoding"] = "identity"
    if settings.token is not None:
        session.headers["Authorization"] = f"Bearer {settings.token.reveal()}"
    elif settings.username:
        password = settings.password.reveal() if settings.password is not None else ""
        session.auth = (settings.username, password)
    return session


def _error_text(body: bytes) -> tuple[str, str]:
    """Prometheus's ``errorType`` and ``error`` from an error answer (or a short body)."""
    try:
        document = parse_envelope(body)
        return str(document.get("errorType", "")), str(document.get("error", ""))
    except DecodeError:
        return "", body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
