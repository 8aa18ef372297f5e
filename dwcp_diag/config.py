"""Configuration: TOML profiles, environment overrides, secrets by reference.

Precedence, lowest first: built-in defaults < the file's ``[defaults]`` table < the chosen
``[profiles.NAME]`` table < environment variables (``DWCP_PROMETHEUS_URL``, ``DWCP_PG_DSN``,
``KUBECONFIG``, ``DWCP_KUBE_CONTEXT``, ...). With no config file at all, the environment
variables alone configure a ``live`` run.

The file is the first of: ``--config PATH`` / ``$DWCP_CONFIG``, ``./dwcp-diag.toml``,
``$XDG_CONFIG_HOME/dwcp-diag/config.toml`` (``~/.config/dwcp-diag/config.toml``).

Example file::

    default_profile = "prod"

    [defaults.slo]
    p95_latency_ms = 200

    [profiles.prod.prometheus]
    url = "https://prometheus.prod.example:9090"
    token = { env = "PROM_TOKEN" }          # or { file = "/run/secrets/prom-token" }

    [profiles.prod.postgres]
    dsn = { env = "PROD_PG_DSN" }

    [profiles.prod.kubernetes]
    context = "prod-eu"

>>> profile = load_profile(path=None, environ={"DWCP_PROMETHEUS_URL": "http://127.0.0.1:9090"})
>>> profile.prometheus.url, profile.slo.p95_latency_ms, profile.postgres.dsn is None
('http://127.0.0.1:9090', 200.0, True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dwcp_diag.checks import validate_thresholds
from dwcp_diag.credentials import Secret, literal_dsn, mask_dsn, mask_url, secret_from_config
from dwcp_diag.errors import ConfigError
from dwcp_diag.sources.redact import QUERY_TEXT_POLICIES

CONFIG_FILE_NAME = "dwcp-diag.toml"
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class PrometheusSettings:
    """How to reach Prometheus (or anything speaking its HTTP query API: Thanos, Mimir, VM).

    ``max_series`` bounds the listing calls (``series()``, ``label_values()``): an answer with
    more series (or values) than this is refused with an error advising to aggregate or
    narrow the selector, before it is decoded; ``0`` means no limit.

    ``pushdown`` (default true): the memory and cost reports ask Prometheus for one number
    per container and statistic (``max_over_time``, ``quantile_over_time``, ...) instead of
    every raw series; ``max_series_fetched`` bounds the series they still fetch in full
    (leak candidates; the rest are summarised in a finding).
    """

    url: str | None = None
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_s: float = 60.0
    scrape_interval_s: float = 60.0
    max_workers: int = 4
    retries: int = 3
    max_series: int = 100_000
    pushdown: bool = True
    max_series_fetched: int = 200

    @property
    def display_url(self) -> str | None:
        return mask_url(self.url) if self.url else None


@dataclass(frozen=True)
class PostgresSettings:
    """PostgreSQL connection: the DSN is a secret reference, since it may hold a password."""

    dsn: Secret | None = None
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 1000
    connect_timeout_s: int = 5
    # pgstattuple_approx / pgstatindex scans of the largest relations per bloat() call (0: none)
    bloat_scan_budget_s: float = 10.0
    # "redacted" | "full" | "none": what query texts reports show (dwcp_diag.sources.redact)
    query_text: str = "redacted"

    def __post_init__(self) -> None:
        if self.query_text not in QUERY_TEXT_POLICIES:
            raise ConfigError(
                f"postgres.query_text: expected one of {', '.join(QUERY_TEXT_POLICIES)}, "
                f"got {self.query_text!r}"
            )

    @property
    def display_dsn(self) -> str | None:
        if self.dsn is None:
            return None
        try:
            return mask_dsn(self.dsn.reveal())
        except ConfigError:
            return f"<{self.dsn.reference} not set>"


@dataclass(frozen=True)
class KubernetesSettings:
    """Which kubeconfig and context to use (or the in-cluster ServiceAccount)."""

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    request_timeout_s: float = 30.0
    page_size: int = 500
    team_label: str = "team"
    app_label: str = "app"

    @property
    def configured(self) -> bool:
        return self.in_cluster or self.kubeconfig is not None or self.context is not None


@dataclass(frozen=True)
class SLOTargets:
    """Service level objectives; defaults are the runbook's SLAs."""

    p95_latency_ms: float = 200.0
    error_rate_pct: float = 0.1
    availability_pct: float = 99.95
    period_days: float = 30.0


@dataclass(frozen=True)
class Prices:
    """Unit prices in dollars; defaults are OpenCost's defaults."""

    cpu_core_hour: float = 0.031611
    memory_gib_hour: float = 0.004237
    pv_gib_month: float = 0.04
    hours_per_month: float = 730.0


@dataclass(frozen=True)
class MetricNames:
    """Metric and label names the PromQL templates are built from (the runbook's by default)."""

    http_duration_bucket: str = "http_request_duration_seconds_bucket"
    http_requests: str = "http_requests_total"
    path_label: str = "path"
    status_label: str = "status"
    memory_working_set: str = "container_memory_working_set_bytes"
    cpu_usage: str = "container_cpu_usage_seconds_total"
    resource_requests: str = "kube_pod_container_resource_requests"
    resource_limits: str = "kube_pod_container_resource_limits"
    restarts: str = "kube_pod_container_status_restarts_total"
    last_terminated_reason: str = "kube_pod_container_status_last_terminated_reason"
    pod_owner: str = "kube_pod_owner"
    pv_phase: str = "kube_persistentvolume_status_phase"
    pv_capacity: str = "kube_persistentvolume_capacity_bytes"
    node_allocatable: str = "kube_node_status_allocatable"
    volume_used: str = "kubelet_volume_stats_used_bytes"
    consumer_lag: str = "kafka_consumergroup_lag"
    pg_activity_count: str = "pg_stat_activity_count"
    pg_max_connections: str = "pg_settings_max_connections"
    pg_database_size: str = "pg_database_size_bytes"
    # the platform report (kube-state-metrics, cert-manager, blackbox_exporter, redis_exporter)
    pod_created: str = "kube_pod_created"
    pod_ready: str = "kube_pod_status_ready"
    cert_expiration: str = "certmanager_certificate_expiration_timestamp_seconds"
    cert_ready: str = "certmanager_certificate_ready_status"
    probe_ssl_expiry: str = "probe_ssl_earliest_cert_expiry"
    redis_clients: str = "redis_connected_clients"
    redis_max_clients: str = "redis_config_maxclients"
    redis_rejected: str = "redis_rejected_connections_total"
    redis_memory_used: str = "redis_memory_used_bytes"
    redis_memory_max: str = "redis_memory_max_bytes"
    redis_evicted: str = "redis_evicted_keys_total"
    redis_commands_duration: str = "redis_commands_duration_seconds_total"
    redis_commands: str = "redis_commands_total"
    redis_instance_label: str = "instance"


@dataclass(frozen=True)
class Profile:
    """Everything one run needs to know about where data comes from and what is 'bad'.

    ``thresholds`` maps a finding's check id to its settings, e.g.
    ``{"slow_query": {"mean_ms": 20, "calls": 100}}``; the check registry
    (:data:`dwcp_diag.checks.CHECKS`) holds the valid keys and their defaults.
    """

    name: str = DEFAULT_PROFILE
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
    slo: SLOTargets = field(default_factory=SLOTargets)
    prices: Prices = field(default_factory=Prices)
    metrics: MetricNames = field(default_factory=MetricNames)
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    cache_dir: str | None = None
    source_path: str | None = None

    def secret_values(self) -> list[str]:
        """The values of the secrets this profile references that can be read (Prometheus
        token and password, a URL's user-info password, the PostgreSQL DSN and its password):
        what must never appear in a parameter, a report or a message.

        >>> from dwcp_diag.credentials import Secret
        >>> dsn = Secret.from_env("DSN", {"DSN": "host=db user=m password=Pw0rd-x"})
        >>> Profile(postgres=PostgresSettings(dsn=dsn)).secret_values()[1:]
        ['Pw0rd-x']
        """
        values = []
        for secret in (self.prometheus.token, self.prometheus.password, self.postgres.dsn):
            if secret is not None and secret.is_available():
                values.append(secret.reveal())
        if self.postgres.dsn is not None and self.postgres.dsn.is_available():
            from psycopg import Error as PsycopgError
            from psycopg.conninfo import conninfo_to_dict

            with contextlib.suppress(PsycopgError):
                values.append(conninfo_to_dict(self.postgres.dsn.reveal()).get("password"))
        with contextlib.suppress(ValueError):
            values.append(urlsplit(self.prometheus.url or "").password)
        return [v for v in values if isinstance(v, str) and len(v) >= 4]

    def configured_sources(self) -> list[str]:
        """Names of the sources this profile can reach live, in a fixed order."""
        found = []
        if self.prometheus.url:
            found.append("prometheus")
        if self.postgres.dsn is not None:
            found.append("postgres")
        if self.kubernetes.configured:
            found.append("kubernetes")
        return found

    def threshold(self, check: str, key: str, default: float) -> float:
        """A configured threshold or ``default``: ``threshold("slow_query", "mean_ms", 20)``."""
        return float(self.thresholds.get(check, {}).get(key, default))


_SECTIONS: dict[str, type] = {
    "prometheus": PrometheusSettings,
    "postgres": PostgresSettings,
    "kubernetes": KubernetesSettings,
    "slo": SLOTargets,
    "prices": Prices,
    "metrics": MetricNames,
}
_SECRET_FIELDS = {("prometheus", "token"), ("prometheus", "password"), ("postgres", "dsn")}
_TOP_LEVEL_KEYS = {"thresholds", "cache_dir"}


def find_config_file(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config file that applies, or None. An explicit path that does not exist is an error."""
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get("DWCP_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    candidates = [Path.cwd() / CONFIG_FILE_NAME]
    xdg = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    candidates.append(Path(xdg) / "dwcp-diag" / "config.toml")
    return next((p for p in candidates if p.is_file()), None)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def load_profile(
    name: str | None = None,
    path: str | os.PathLike[str] | bool | None = False,
    environ: Mapping[str, str] | None = None,
) -> Profile:
    """Load profile ``name`` from the config file, then apply environment overrides.

    ``path=False`` (the default) searches the usual places; ``path=None`` uses no file at all;
    a path uses that file. ``name`` defaults to ``$DWCP_PROFILE``, then the file's
    ``default_profile``, then ``"default"``.
    """
    environ = dict(os.environ if environ is None else environ)
    if path is False:
        file_path = find_config_file(None, environ)
    elif path is None:
        file_path = None
    else:
        file_path = find_config_file(path, environ)
    document = read_config_file(file_path) if file_path else {}
    unknown = set(document) - {"default_profile", "defaults", "profiles", "suites", "notify"}
    if unknown:
        raise ConfigError(
            f"config file {file_path}: unknown top-level key(s) {sorted(unknown)}; "
            "expected default_profile, [defaults], [profiles.NAME], [suites.NAME]"
        )
    profiles = document.get("profiles", {})
    chosen = name or environ.get("DWCP_PROFILE") or document.get("default_profile")
    if chosen and chosen not in profiles and (chosen != DEFAULT_PROFILE or profiles):
        known = ", ".join(sorted(profiles)) or "none"
        where = f"config file {file_path}" if file_path else "no config file was found"
        raise ConfigError(f"profile {chosen!r} is not defined ({where}; profiles: {known})")
    chosen = chosen or DEFAULT_PROFILE
    merged = _deep_merge(document.get("defaults", {}), profiles.get(chosen, {}))
    merged = _deep_merge(merged, _environment_overrides(environ))
    return _build_profile(chosen, merged, environ, str(file_path) if file_path else None)


def _environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, dict[str, Any]] = {}

    def put(section: str, key: str, value: Any) -> None:
        overrides.setdefault(section, {})[key] = value

    if environ.get("DWCP_PROMETHEUS_URL"):
        put("prometheus", "url", environ["DWCP_PROMETHEUS_URL"])
    if environ.get("DWCP_PROMETHEUS_TOKEN"):
        put("prometheus", "token", {"env": "DWCP_PROMETHEUS_TOKEN"})
    if environ.get("DWCP_PROMETHEUS_TOKEN_FILE"):
        put("prometheus", "token", {"file": environ["DWCP_PROMETHEUS_TOKEN_FILE"]})
    if environ.get("DWCP_PROMETHEUS_USERNAME"):
        put("prometheus", "username", environ["DWCP_PROMETHEUS_USERNAME"])
    if environ.get("DWCP_PROMETHEUS_PASSWORD"):
        put("prometheus", "password", {"env": "DWCP_PROMETHEUS_PASSWORD"})
    if environ.get("DWCP_PG_DSN"):
        put("postgres", "dsn", {"env": "DWCP_PG_DSN"})
    if environ.get("KUBECONFIG"):
        put("kubernetes", "kubeconfig", environ["KUBECONFIG"])
    if environ.get("DWCP_KUBE_CONTEXT"):
        put("kubernetes", "context", environ["DWCP_KUBE_CONTEXT"])
    return overrides


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        is_table = isinstance(value, Mapping) and isinstance(merged.get(key), Mapping)
        # secret references ({env=...}) replace each other whole, they are not tables to merge
        if is_table and not _looks_like_reference(value):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _looks_like_reference(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)) in {"env", "file"}


def _build_profile(
    name: str, merged: Mapping[str, Any], environ: Mapping[str, str], source_path: str | None
) -> Profile:
    unknown = set(merged) - set(_SECTIONS) - _TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(
            f"profile {name!r}: unknown key(s) {sorted(unknown)}; "
            f"expected {sorted(set(_SECTIONS) | _TOP_LEVEL_KEYS)}"
        )
    sections = {}
    for section, cls in _SECTIONS.items():
        sections[section] = _build_section(name, section, cls, merged.get(section, {}), environ)
    thresholds = merged.get("thresholds", {})
    if not isinstance(thresholds, Mapping) or not all(
        isinstance(v, Mapping) for v in thresholds.values()
    ):
        raise ConfigError(
            f"profile {name!r}: [thresholds] must hold one table per check, "
            "e.g. [thresholds.slow_query] mean_ms = 20"
        )
    _check_thresholds_table(name, thresholds)
    return Profile(
        name=name,
        thresholds={k: dict(v) for k, v in thresholds.items()},
        cache_dir=merged.get("cache_dir"),
        source_path=source_path,
        **sections,
    )


def _check_thresholds_table(profile: str, thresholds: Mapping[str, Mapping[str, Any]]) -> None:
    """Unknown ``[thresholds.X]`` tables or keys, and values that are not numbers, are errors
    at load, in every area (a typo would otherwise be ignored silently).

    >>> _check_thresholds_table("prod", {"memory_leak": {"min_spn_h": 48}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dwcp_diag.errors.ConfigError: profile 'prod': [thresholds.memory_leak]: unknown key(s) ...
    """
    try:
        validate_thresholds(thresholds)
    except ConfigError as exc:
        raise ConfigError(f"profile {profile!r}: {exc}") from None
    for check, values in thresholds.items():
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(
                    f"profile {profile!r}: thresholds.{check}.{key}: expected a number, "
                    f"got {value!r}"
                )


def _build_section(
    profile: str, section: str, cls: type, values: Any, environ: Mapping[str, str]
) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"profile {profile!r}: [{section}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(
            f"profile {profile!r}: unknown key(s) {sorted(unknown)} in [{section}]; "
            f"valid keys: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        label = f"{section}.{key}"
        if (section, key) == ("postgres", "dsn") and isinstance(value, str):
            kwargs[key] = literal_dsn(value, label)  # accepted only without a password
            continue
        if (section, key) in _SECRET_FIELDS:
            kwargs[key] = secret_from_config(value, label, environ)
            continue
        default = fields[key].default
        kwargs[key] = _coerce(label, value, default)
    return cls(**kwargs)


def _coerce(label: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{label}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int | float) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{label}: expected a number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{label}: must not be negative, got {value!r}")
        if isinstance(default, int) and value != int(value):
            raise ConfigError(f"{label}: expected a whole number, got {value!r}")
        return type(default)(value)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{label}: expected a string, got {value!r}")
    return value
