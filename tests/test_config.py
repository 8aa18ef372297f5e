"""Configuration: precedence, environment overrides, and secrets that never show."""

from __future__ import annotations

import logging

import pytest

from dwcp_diag.config import load_profile
from dwcp_diag.credentials import Secret, mask_dsn, mask_url
from dwcp_diag.errors import ConfigError

SENTINEL = "s3ntinel-Secret-9731"

CONFIG = """
default_profile = "prod"

[defaults.slo]
p95_latency_ms = 250
error_rate_pct = 0.5

[defaults.prometheus]
url = "http://defaults.example:9090"
timeout_s = 30

[profiles.prod.prometheus]
url = "https://prom.prod.example:9090"
token = { env = "PROD_PROM_TOKEN" }

[profiles.prod.slo]
p95_latency_ms = 180

[profiles.prod.postgres]
dsn = { env = "PROD_PG_DSN" }
statement_timeout_ms = 3000

[profiles.prod.kubernetes]
context = "prod-eu"

[profiles.prod.thresholds.slow_query]
mean_ms = 50

[profiles.staging.prometheus]
url = "http://prom.staging.example:9090"
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "dwcp-diag.toml"
    path.write_text(CONFIG)
    return path


def test_precedence_is_defaults_then_file_defaults_then_profile_then_env(config_file):
    env = {"PROD_PROM_TOKEN": SENTINEL, "PROD_PG_DSN": "postgresql://u:pw@db/app"}
    profile = load_profile(path=config_file, environ=env)
    assert profile.name == "prod"  # the file's default_profile
    assert profile.prometheus.url == "https://prom.prod.example:9090"  # profile beats [defaults]
    assert profile.prometheus.timeout_s == 30  # [defaults] beats built-in 60
    assert profile.slo.p95_latency_ms == 180  # profile beats [defaults]
    assert profile.slo.error_rate_pct == 0.5  # [defaults] where the profile is silent
    assert profile.slo.availability_pct == 99.95  # built-in default
    assert profile.postgres.statement_timeout_ms == 3000
    assert profile.kubernetes.context == "prod-eu"
    assert profile.threshold("slow_query", "mean_ms", 20) == 50
    assert profile.threshold("slow_query", "calls", 100) == 100

    env["DWCP_PROMETHEUS_URL"] = "http://127.0.0.1:9999"
    env["DWCP_KUBE_CONTEXT"] = "other"
    overridden = load_profile(path=config_file, environ=env)
    assert overridden.prometheus.url == "http://127.0.0.1:9999"  # env beats everything
    assert overridden.kubernetes.context == "other"
    assert overridden.prometheus.token.reveal() == SENTINEL  # untouched by the URL override


def test_environment_alone_is_enough_for_live(tmp_path):
    env = {
        "DWCP_PROMETHEUS_URL": "http://127.0.0.1:9090",
        "DWCP_PG_DSN": "host=127.0.0.1 dbname=app",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "DWCP_KUBE_CONTEXT": "ctx",
        "HOME": str(tmp_path),
    }
    profile = load_profile(path=None, environ=env)
    assert profile.configured_sources() == ["prometheus", "postgres", "kubernetes"]
    assert profile.postgres.dsn.reveal() == "host=127.0.0.1 dbname=app"
    assert profile.kubernetes.kubeconfig == env["KUBECONFIG"]


def test_named_profile_and_unknown_profile(config_file):
    assert load_profile("staging", path=config_file, environ={}).prometheus.url.startswith(
        "http://prom.staging"
    )
    with pytest.raises(ConfigError, match=r"profile 'nope' is not defined.*prod, staging"):
        load_profile("nope", path=config_file, environ={})


def test_config_file_is_found_in_the_working_directory(config_file, monkeypatch):
    monkeypatch.chdir(config_file.parent)
    assert load_profile(environ={"PROD_PROM_TOKEN": "x"}).name == "prod"


def test_unknown_keys_are_named_with_the_valid_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[profiles.p.prometheus]\nurl = "http://x"\ntimeuot_s = 3\n')
    with pytest.raises(ConfigError, match=r"\['timeuot_s'\] in \[prometheus\].*timeout_s"):
        load_profile("p", path=path, environ={})


# One typo per area: each must fail at load, naming the valid keys (or check ids).
THRESHOLD_TYPOS = [
    ("latency_slo_breach", "min_duraton_s", "min_duration_s"),
    ("slow_query", "mean_msec", "critical_mean_ms"),
    ("memory_leak", "min_spn_h", "min_span_h"),
    ("overprovisioned_cpu", "cpu_percentil", "cpu_percentile"),
    ("headroom_low", "request_pct", "critical_requests_pct"),
    ("forecast_drift", "min_move", "min_moves"),
    ("consumer_lag_spike", "slack_s", "change_slack_s"),
    ("rollup", "abov", "floor_usd_per_month"),
]


@pytest.mark.parametrize(("check", "typo", "valid"), THRESHOLD_TYPOS)
def test_an_unknown_threshold_key_fails_at_load_in_every_area(tmp_path, check, typo, valid):
    path = tmp_path / "c.toml"
    path.write_text(f"[profiles.p.thresholds.{check}]\n{typo} = 48\n")
    with pytest.raises(ConfigError) as raised:
        load_profile("p", path=path, environ={})
    message = str(raised.value)
    assert f"[thresholds.{check}]: unknown key(s) ['{typo}']" in message
    assert "valid keys:" in message and valid in message


def test_an_unknown_check_id_or_a_non_number_fails_at_load(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[defaults.thresholds.slow_qeury]\nmean_ms = 50\n[profiles.p.slo]\n")
    with pytest.raises(
        ConfigError, match=r"\[thresholds.slow_qeury\]: unknown check id.*slow_query"
    ):
        load_profile("p", path=path, environ={})
    path.write_text('[profiles.p.thresholds.memory_leak]\nmin_span_h = "48h"\n')
    with pytest.raises(ConfigError, match=r"thresholds.memory_leak.min_span_h: expected a number"):
        load_profile("p", path=path, environ={})


def test_known_thresholds_of_every_area_load(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[profiles.p.thresholds.memory_leak]\nmin_span_h = 48\n"
        "[profiles.p.thresholds.idle_workload]\nmax_usage_share = 0.5\n"
        "[profiles.p.thresholds.rollup]\nabove = 5\n"
        "[profiles.p.thresholds.capacity_exhaustion]\npg_database_size_limit_bytes = 1e12\n"
    )
    profile = load_profile("p", path=path, environ={})
    assert profile.thresholds["memory_leak"] == {"min_span_h": 48}
    assert profile.thresholds["capacity_exhaustion"]["pg_database_size_limit_bytes"] == 1e12


def test_wrong_types_and_bad_toml_are_reported(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[profiles.p.slo]\np95_latency_ms = "fast"\n')
    with pytest.raises(ConfigError, match=r"slo\.p95_latency_ms: expected a number"):
        load_profile("p", path=path, environ={})
    path.write_text("[profiles.p\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile("p", path=path, environ={})


def test_literal_secret_in_the_file_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.p.prometheus]\nurl = "http://x"\ntoken = "{SENTINEL}"\n')
    with pytest.raises(ConfigError) as err:
        load_profile("p", path=path, environ={})
    assert SENTINEL not in str(err.value)
    assert 'token = { env = "MY_VARIABLE" }' in str(err.value)


def test_secrets_never_appear_in_repr_str_or_logs(config_file, caplog):
    env = {"PROD_PROM_TOKEN": SENTINEL, "PROD_PG_DSN": f"postgresql://u:{SENTINEL}@db/app"}
    profile = load_profile(path=config_file, environ=env)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("dwcp_diag.test").info("profile %s / %r", profile, profile)
    shown = repr(profile) + str(profile) + caplog.text + str(profile.postgres.display_dsn)
    assert SENTINEL not in shown
    assert "env:PROD_PROM_TOKEN" in repr(profile)
    assert profile.postgres.display_dsn == "postgresql://u:***@db/app"


def test_missing_secret_names_the_reference_only(tmp_path):
    with pytest.raises(ConfigError, match="secret env:NOPE_TOKEN is not set"):
        Secret.from_env("NOPE_TOKEN", {}).reveal()
    with pytest.raises(ConfigError, match="cannot be read"):
        Secret.from_file(tmp_path / "absent").reveal()
    token_file = tmp_path / "token"
    token_file.write_text(SENTINEL + "\n")
    assert Secret.from_file(token_file).reveal() == SENTINEL


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (
            "postgresql://app:pw@db:5432/x?sslmode=require",
            "postgresql://app:***@db:5432/x?sslmode=require",
        ),
        ("host=db password=pw user=app", "host=db password=*** user=app"),
        ("host=db password='p w' user=app", "host=db password=*** user=app"),
        ("postgresql://db/x?password=pw", "postgresql://db/x?password=%2A%2A%2A"),
    ],
)
def test_dsn_masking(raw, masked):
    assert mask_dsn(raw) == masked


def test_url_masking_keeps_user_and_host():
    assert mask_url("https://bob:pw@prom:9090/x") == "https://bob:***@prom:9090/x"
    assert mask_url("http://prom:9090") == "http://prom:9090"


def test_disk_cache_is_on_for_the_cli_off_with_no_cache_and_never_for_replays(
    monkeypatch, tmp_path
):
    from dwcp_diag.cli import _configure_cache
    from dwcp_diag.session import Session

    monkeypatch.delenv("DWCP_NO_CACHE", raising=False)
    monkeypatch.delenv("DWCP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Session(source="live").cache_dir is None  # the library alone: off
    _configure_cache(disabled=False)
    assert Session(source="live").cache_dir == str(tmp_path / "dwcp-diag" / "prometheus")
    _configure_cache(disabled=True)
    assert Session(source="live").cache_dir is None


@pytest.mark.parametrize(
    "dsn",
    [
        "host=db.prod user=dwcp_monitor dbname=app_db",
        "postgresql://dwcp_monitor@db.prod:5432/app_db?sslmode=require",
    ],
)
def test_a_literal_dsn_without_a_password_is_accepted(tmp_path, dsn):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.p.postgres]\ndsn = "{dsn}"\n')
    profile = load_profile("p", path=path, environ={})
    assert profile.postgres.dsn.reveal() == dsn and profile.configured_sources() == ["postgres"]
    assert profile.postgres.display_dsn == dsn and repr(profile.postgres.dsn) == "Secret(config)"


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=db user=mon password={SENTINEL} dbname=app",
        f"host=db user=mon password='{SENTINEL}' dbname=app",
        f"postgresql://mon:{SENTINEL}@db/app",
        f"postgresql://mon@db/app?password={SENTINEL}",
        f"host=db user=mon sslpassword={SENTINEL}",
    ],
)
def test_a_literal_dsn_with_a_password_is_still_refused_without_echoing_it(tmp_path, dsn):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.p.postgres]\ndsn = "{dsn}"\n')
    with pytest.raises(ConfigError) as err:
        load_profile("p", path=path, environ={})
    message = str(err.value)
    assert message.startswith("postgres.dsn holds a password") and SENTINEL not in message
    assert "PGPASSFILE" in message and "\n" not in message


def test_a_dsn_that_does_not_parse_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.p.postgres]\ndsn = "host=db password{SENTINEL}"\n')
    with pytest.raises(ConfigError, match="is not a valid PostgreSQL DSN") as err:
        load_profile("p", path=path, environ={})
    assert SENTINEL not in str(err.value)


def test_a_passwordless_dsn_connects_with_the_password_from_pgpassfile(
    pg_server, tmp_path, monkeypatch, capsys
):
    from urllib.parse import urlsplit

    from dwcp_diag.cli import main

    for name in ("DWCP_PROMETHEUS_URL", "DWCP_PG_DSN", "KUBECONFIG", "DWCP_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    password = urlsplit(pg_server.create_role("dwcp_pgpass")).password
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{pg_server.host}:{pg_server.port}:postgres:dwcp_pgpass:{password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    config = tmp_path / "dwcp-diag.toml"
    dsn = f"host={pg_server.host} port={pg_server.port} user=dwcp_pgpass dbname=postgres"
    config.write_text(f'[profiles.p.postgres]\ndsn = "{dsn}"\n')
    assert main(["check", "--config", str(config), "--profile", "p"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok   postgres   {dsn}  PostgreSQL 15") and password not in out
    pgpass.write_text("")  # no password anywhere: the server refuses, check says so
    assert main(["check", "--config", str(config), "--profile", "p"]) == 1
