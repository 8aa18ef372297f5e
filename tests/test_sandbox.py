"""``dwcp-diag sandbox up|down|status`` end to end: real servers started by the command (in a
child process, as a user runs it), read through the ``sandbox`` profile it writes, stopped by
``down``; a crashed server; missing Debian packages; the profile block in a user's config."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from dwcp_diag.cli import main
from dwcp_diag.config import load_profile
from dwcp_diag.demo import DEMO_END
from dwcp_diag.sandbox import postgres, prometheus, stack
from dwcp_diag.session import Session
from tests.test_readme import sandbox_blocks


def sandbox(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``dwcp-diag sandbox ARGS`` in a child process."""
    command = [sys.executable, "-m", "dwcp_diag.cli", "sandbox", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def sandbox_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private state directory and user config; nothing configured otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DWCP_", "KUBE"))}
    env.update(
        DWCP_SANDBOX_DIR=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        DWCP_NO_CACHE="1",
    )
    yield env
    # a failed assertion must not leave servers running: stop what the state still names
    with contextlib.suppress(stack.SandboxError):
        for component in stack.read_state(tmp_path / "state") or []:
            stack.stop_component(component, grace_s=5)


def processes_of(components: list[stack.Component]) -> list[psutil.Process]:
    return [p for c in components for p in stack.component_processes(c)]


def alive(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    return False


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.server
def test_up_serves_every_source_through_the_profile_and_down_leaves_nothing(
    sandbox_env, monkeypatch
):
    state = Path(sandbox_env["DWCP_SANDBOX_DIR"])
    config = Path(sandbox_env["XDG_CONFIG_HOME"]) / "dwcp-diag" / "config.toml"
    started = sandbox(sandbox_env, "up")
    assert started.returncode == 0, started.stderr
    components = stack.read_state(state)
    assert [c.name for c in components] == ["prometheus", "postgres", "kubernetes"]
    assert all(c.running() and port_open(c.port) for c in components)

    # credentials: generated, in files only their owner reads, never printed
    password = conninfo_to_dict((state / "postgres.dsn").read_text().strip())["password"]
    kubeconfig = state / "kubernetes" / "kubeconfig"
    token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
    assert len(password) >= 12 and len(token) >= 24
    for secret_file in (state / "postgres.dsn", kubeconfig, state / "state.json", config):
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600, secret_file
    printed = started.stdout + started.stderr
    assert password not in printed and token not in printed
    assert password not in config.read_text() and token not in config.read_text()

    again = sandbox(sandbox_env, "up")
    assert again.returncode == 0 and "already up" in again.stdout
    assert [c.pid for c in stack.read_state(state)] == [c.pid for c in components]

    # a Session on the written profile reads real frames from each source
    session = Session(load_profile("sandbox", path=config, environ={}), now=DEMO_END)
    requests_rate = session.prom.range("sum(rate(http_requests_total[10m]))", window="6h")
    assert len(requests_rate) > 100 and (requests_rate.drop(columns="timestamp") > 0).all().all()
    slow = session.pg.slow_queries()
    assert slow["query"].str.contains("pg_sleep").any()
    pods = session.k8s.pods()
    assert len(pods) > 5 and {"production"} <= set(pods["namespace"])

    # the README's sandbox blocks run as written, on the user config `up` wrote
    monkeypatch.setenv("XDG_CONFIG_HOME", sandbox_env["XDG_CONFIG_HOME"])
    monkeypatch.setenv("DWCP_SANDBOX_DIR", sandbox_env["DWCP_SANDBOX_DIR"])
    for name in ("DWCP_CONFIG", "DWCP_PROFILE", "DWCP_PROMETHEUS_URL", "DWCP_PG_DSN", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    blocks = sandbox_blocks()
    assert blocks, "README.md has no block marked <!-- readme-test: sandbox -->"
    for code, line in blocks:
        namespace: dict = {"__name__": "readme"}
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
        assert namespace["s"].profile.name == "sandbox"

    status = sandbox(sandbox_env, "status")
    assert status.returncode == 0
    lab_line = stack.describe_for_lab({"DWCP_SANDBOX_DIR": str(state)})
    assert "sandbox up: Session(profile='sandbox')" in lab_line
    for component in components:
        assert f"pid {component.pid}" in status.stdout and component.url in status.stdout
        assert component.started_at in status.stdout

    members = processes_of(components)
    assert len(members) > len(components) + 3  # PostgreSQL's checkpointer, walwriter, ...
    stopped = sandbox(sandbox_env, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert [p.pid for p in members if alive(p)] == []
    assert not any(port_open(c.port) for c in components)
    assert not state.exists()
    assert "profiles.sandbox" not in config.read_text()
    assert "dwcp-diag sandbox up" in stack.describe_for_lab({"DWCP_SANDBOX_DIR": str(state)})
    assert sandbox(sandbox_env, "status").returncode == 1


@pytest.mark.server
def test_a_killed_server_is_reported_and_down_still_cleans_up(sandbox_env):
    state = Path(sandbox_env["DWCP_SANDBOX_DIR"])
    assert sandbox(sandbox_env, "up").returncode == 0
    components = stack.read_state(state)
    pg = next(c for c in components if c.name == "postgres")
    members = processes_of(components)
    os.kill(pg.pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pg.pid)], timeout=10)

    status = sandbox(sandbox_env, "status")
    assert status.returncode == 1
    assert f"postgres    NOT RUNNING pid {pg.pid}" in status.stdout
    assert "prometheus  running" in status.stdout
    refused = sandbox(sandbox_env, "up")
    assert refused.returncode == 2
    assert "partly down (postgres" in refused.stderr and "sandbox down" in refused.stderr

    stopped = sandbox(sandbox_env, "down")
    assert stopped.returncode == 0
    assert f"postgres (pid {pg.pid}) was not running" in stopped.stdout
    assert [p.pid for p in members if alive(p)] == []
    assert not any(port_open(c.port) for c in components)
    assert not state.exists()


@pytest.mark.server
@pytest.mark.parametrize(
    ("present", "named", "not_named"),
    [
        ((), ["initdb", "prometheus is not installed", "promtool is not installed"], []),
        (("prometheus",), ["promtool is not installed: apt-get install prometheus"], ["initdb"]),
    ],
)
def test_a_missing_debian_package_is_one_line_with_the_install_command(
    present, named, not_named, tmp_path, monkeypatch, capsys
):
    """Only what is on PATH exists: binaries are hidden by PATH, deterministically."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for binary in present:
        (bin_dir / binary).symlink_to(prometheus.require_binary(binary, "prometheus"))
    if "initdb" in named:  # hide PostgreSQL too: neither pg_config nor Debian's layout
        monkeypatch.setattr(postgres, "DEBIAN_PG_ROOT", tmp_path / "no-postgresql")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(prometheus, "SYSTEM_BIN", tmp_path / "no-usr-bin")
    monkeypatch.setenv("DWCP_SANDBOX_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    assert main(["sandbox", "up"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dwcp-diag: error: sandbox needs")
    for text in named:
        assert text in err
    if "initdb" in named:
        assert "apt-get install postgresql postgresql-contrib" in err
    for text in not_named:
        assert text not in err
    assert not (tmp_path / "state").exists() and not (tmp_path / "config").exists()


USER_CONFIG = """# my settings
default_profile = "prod"

[profiles.prod.prometheus]
url = "https://prometheus.prod.example:9090"
"""


def fake_components() -> list[stack.Component]:
    return [stack.Component("prometheus", 1, "http://127.0.0.1:9", "2026-12-04T18:00:00Z", 0.0)]


def test_the_profile_block_joins_a_users_config_and_leaves_it_as_it_was(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(USER_CONFIG)
    config.chmod(0o644)
    stack.write_profile(config, tmp_path / "state", fake_components())
    stack.write_profile(config, tmp_path / "state", fake_components())  # a second up replaces
    assert config.read_text().count(stack.BEGIN_MARKER) == 1
    assert stat.S_IMODE(config.stat().st_mode) == 0o644
    sandbox_profile = load_profile("sandbox", path=config, environ={})
    assert sandbox_profile.prometheus.url == "http://127.0.0.1:9"
    assert sandbox_profile.postgres.dsn.reference.endswith("postgres.dsn")
    assert load_profile(None, path=config, environ={}).name == "prod"
    assert stack.remove_profile(config)
    assert config.read_text() == USER_CONFIG


def test_a_sandbox_profile_the_user_wrote_is_not_overwritten(tmp_path):
    config = tmp_path / "config.toml"
    mine = USER_CONFIG + '[profiles.sandbox.prometheus]\nurl = "http://mine:9090"\n'
    config.write_text(mine)
    with pytest.raises(stack.SandboxError, match="already defines a profile 'sandbox'"):
        stack.write_profile(config, tmp_path / "state", fake_components())
    assert config.read_text() == mine
