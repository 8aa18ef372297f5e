"""``dwcp-diag sandbox up|down|status``: the demo simulator's cluster as a real local stack.

``up`` starts, on 127.0.0.1 and free ports, the servers the tests use: Prometheus on the
simulator's month of series (backfilled by promtool, :mod:`dwcp_diag.sandbox.prometheus`),
PostgreSQL 15 with the scenario schema, its workload and ``pg_stat_statements``
(:mod:`dwcp_diag.sandbox.postgres`, read through a generated ``dwcp_monitor`` role holding
``pg_monitor``), and the Kubernetes API stand-in (:mod:`dwcp_diag.sandbox.kubeapi`, with a
generated bearer token). Credentials are written to files readable by the owner only
(0600) and referenced, never printed. A ``sandbox`` profile pointing at them is written
into the user config file between two marker lines; ``down`` removes it again.

The state (``state.json``: each process's PID, start time, port) lives in the sandbox
directory: ``--dir``, else ``$DWCP_SANDBOX_DIR``, else
``$XDG_DATA_HOME/dwcp-diag/sandbox`` (``~/.local/share/dwcp-diag/sandbox``). ``down`` stops
only the processes recorded there (by PID and process group, after checking that each PID
is still the process that was started), then deletes the directory.

>>> sandbox_dir(environ={"DWCP_SANDBOX_DIR": "/tmp/sbx"})
PosixPath('/tmp/sbx')
>>> sandbox_dir(environ={"XDG_DATA_HOME": "/data"})
PosixPath('/data/dwcp-diag/sandbox')
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import requests
import yaml

from dwcp_diag.errors import DwcpDiagError

PROFILE_NAME = "sandbox"
STATE_FILE = "state.json"
MONITORING_ROLE = "dwcp_monitor"
DATABASE = "app_db"
BEGIN_MARKER = "# >>> dwcp-diag sandbox (written by `dwcp-diag sandbox up`, removed by `down`)"
END_MARKER = "# <<< dwcp-diag sandbox"
KUBEAPI_READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 20.0


class SandboxError(DwcpDiagError):
    """The sandbox cannot start, or its state is not what the command needs."""


@dataclass
class Component:
    """One process the sandbox started: ``pid`` leads its own process group."""

    name: str
    pid: int
    url: str
    started_at: str  # ISO-8601 UTC
    create_time: float  # the kernel's start time of ``pid``: tells a reused PID apart
    cleanup_dirs: list[str] = field(default_factory=list)  # removed by ``down``

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    def running(self) -> bool:
        """True while ``pid`` is still the process that was started."""
        return _same_process(self.pid, self.create_time)


def sandbox_dir(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """Where the sandbox keeps its state, data and credentials (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser()
    if environ.get("DWCP_SANDBOX_DIR"):
        return Path(environ["DWCP_SANDBOX_DIR"]).expanduser()
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "dwcp-diag" / "sandbox"


def user_config_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The config file the ``sandbox`` profile goes into: ``--config``/``$DWCP_CONFIG``, else
    ``$XDG_CONFIG_HOME/dwcp-diag/config.toml`` (``~/.config/dwcp-diag/config.toml``)."""
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get("DWCP_CONFIG")
    if chosen:
        return Path(chosen).expanduser()
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "dwcp-diag" / "config.toml"


def missing_requirements() -> list[str]:
    """One message per missing Debian package (PostgreSQL server and contrib, prometheus with
    promtool), each with its install command; empty when everything is there."""
    from dwcp_diag.sandbox.postgres import PostgresNotInstalled, check_installed
    from dwcp_diag.sandbox.prometheus import ServerError, require_binary

    problems = []
    try:
        check_installed()
    except PostgresNotInstalled as exc:
        problems.append(str(exc))
    for binary in ("prometheus", "promtool"):
        try:
            require_binary(binary, "prometheus")
        except ServerError as exc:
            problems.append(str(exc))
    return problems


# -- state -------------------------------------------------------------------------------------
def read_state(directory: Path) -> list[Component] | None:
    """The components recorded in ``directory``, or None when no sandbox was started there."""
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
        return [Component(**entry) for entry in document["components"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SandboxError(
            f"sandbox state {path} is unreadable ({exc}): remove {directory}"
        ) from None


def _write_state(directory: Path, components: list[Component], config_path: Path) -> None:
    document = {"components": [asdict(c) for c in components], "config": str(config_path)}
    _write_private(directory / STATE_FILE, json.dumps(document, indent=1) + "\n")


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` with ``mode`` (default: its owner only), atomically."""
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(scratch, mode)
    os.replace(scratch, path)


def _edit_config(path: Path, text: str) -> None:
    """Replace the config file's text, keeping its permissions (0600 for a new file)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    _write_private(path, text, mode)


# -- processes ---------------------------------------------------------------------------------
def _same_process(pid: int, create_time: float) -> bool:
    try:
        process = psutil.Process(pid)
        same = abs(process.create_time() - create_time) < 0.5
        return same and process.status() != psutil.STATUS_ZOMBIE  # killed, not yet reaped
    except psutil.NoSuchProcess:
        return False


def _component(name: str, pid: int, url: str, cleanup_dirs: list[Path] = ()) -> Component:
    started = psutil.Process(pid).create_time()
    return Component(
        name=name,
        pid=pid,
        url=url,
        started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        create_time=started,
        cleanup_dirs=[str(d) for d in cleanup_dirs],
    )


def stop_component(component: Component, grace_s: float = STOP_GRACE_S) -> bool:
    """Stop ``component``'s processes: SIGTERM to its process group (PostgreSQL: SIGINT, its
    fast shutdown), SIGKILL to what is left after ``grace_s``. Returns False when its leader
    was no longer running.

    What is left of a leader killed with -9 is stopped too: its group's members, and its
    program's processes working in its directories (PostgreSQL's backends each lead a group
    of their own, and work in the data directory). The group id is used only while the leader is the
    process that was started, or while no process holds its PID (the kernel reuses no PID
    still naming a group).
    """
    leader_alive = component.running()
    leader_pid_free = not psutil.pid_exists(component.pid)
    members = component_processes(component) if leader_alive or leader_pid_free else []
    first = signal.SIGINT if component.name == "postgres" else signal.SIGTERM
    if leader_alive or leader_pid_free:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(component.pid, first)
    _, alive = psutil.wait_procs(members, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=10)
    return leader_alive


def component_processes(component: Component) -> list[psutil.Process]:
    """The processes of ``component``: its leader's group and children, and the processes of
    its program (``postgres``) whose working directory is inside its ``cleanup_dirs`` (a
    shell that happens to be there is not one of them)."""
    roots = [Path(d).resolve() for d in component.cleanup_dirs]
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.pid == component.pid and not component.running():
                continue
            if os.getpgid(process.pid) == component.pid or (
                roots
                and process.name() == component.name
                and any(Path(process.cwd()).is_relative_to(root) for root in roots)
            ):
                found.append(process)
    if component.running():
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(component.pid).children(recursive=True)
    return list({p.pid: p for p in found}.values())


# -- up ----------------------------------------------------------------------------------------
def up(directory: Path, config_path: Path, say: Callable[[str], None] = print) -> int:
    """Start the sandbox (idempotent: a running one is reported, not started twice)."""
    existing = read_state(directory)
    if existing is not None:
        stopped = [c for c in existing if not c.running()]
        if stopped:
            names = ", ".join(f"{c.name} (pid {c.pid})" for c in stopped)
            raise SandboxError(
                f"sandbox in {directory} is partly down ({names} not running): "
                "run `dwcp-diag sandbox down`, then `up`"
            )
        say(f"sandbox already up ({directory}):")
        for line in status_lines(existing):
            say(line)
        return 0
    problems = missing_requirements()
    if problems:
        raise SandboxError("sandbox needs Debian packages: " + "; ".join(problems))
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    components: list[Component] = []
    try:
        for start in (_start_prometheus, _start_postgres, _start_kubeapi):
            components.append(start(directory, say))
            _write_state(directory, components, config_path)  # `down` cleans a failed `up`
        write_profile(config_path, directory, components)
    except BaseException as exc:
        for component in reversed(components):
            stop_component(component)
        _remove(directory, components)
        if isinstance(exc, RuntimeError):  # a server that failed to start: its first line
            raise SandboxError(f"sandbox up failed: {str(exc).splitlines()[0]}") from exc
        raise
    say(f"sandbox up ({directory}); profile {PROFILE_NAME!r} written to {config_path}:")
    for line in status_lines(components):
        say(line)
    _say_how_to_use(config_path, say)
    return 0


def _start_prometheus(directory: Path, say: Callable[[str], None]) -> Component:
    from dwcp_diag.sandbox.prometheus import PrometheusServer, build_tsdb_blocks

    say("sandbox: Prometheus (backfilling the simulated month with promtool on first use)...")
    server = PrometheusServer(build_tsdb_blocks(), directory / "prometheus" / "data")
    server.start()
    pid = server.detach()
    return _component("prometheus", pid, server.url)


def _start_postgres(directory: Path, say: Callable[[str], None]) -> Component:
    from dwcp_diag.sandbox.postgres import PostgresServer, load_scenario

    say("sandbox: PostgreSQL (scenario schema and workload)...")
    # As root the cluster runs as the postgres user, which cannot enter a home directory:
    # its files then go to a temporary directory, recorded for `down`.
    base_dir = None if os.geteuid() == 0 else directory / "postgres"
    server = PostgresServer.create(base_dir=base_dir)
    try:
        load_scenario(server, DATABASE)
        dsn = server.create_role(MONITORING_ROLE, dbname=DATABASE, grants=["pg_monitor"])
        # what the database report asks for to see sequences and column statistics (the
        # data is the simulator's: nothing to hide)
        server.execute(
            f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {MONITORING_ROLE}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {MONITORING_ROLE}",
            dbname=DATABASE,
        )
        _write_private(directory / "postgres.dsn", dsn + "\n")
        component = _component(
            "postgres", server.pid, f"postgresql://{server.host}:{server.port}", [server.base_dir]
        )
    except BaseException:
        server.destroy()
        raise
    return component


def _start_kubeapi(directory: Path, say: Callable[[str], None]) -> Component:
    say("sandbox: Kubernetes API stand-in...")
    kube_dir = directory / "kubernetes"
    kube_dir.mkdir(exist_ok=True)
    kubeconfig = kube_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    with (kube_dir / "kubeapi.log").open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dwcp_diag.sandbox", "kubeapi", str(kube_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = _wait_for_kubeapi(process, kubeconfig)
        return _component("kubernetes", process.pid, url)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise


def _wait_for_kubeapi(process: subprocess.Popen, kubeconfig: Path) -> str:
    """The stand-in's URL once it answers ``/version`` with its token."""
    deadline = time.monotonic() + KUBEAPI_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (kubeconfig.parent / "kubeapi.log").read_text(errors="replace")[-2000:]
            raise SandboxError(f"the Kubernetes API stand-in exited at start: {log}")
        if kubeconfig.is_file():
            config = yaml.safe_load(kubeconfig.read_text())
            url = config["clusters"][0]["cluster"]["server"]
            token = config["users"][0]["user"]["token"]
            with contextlib.suppress(requests.RequestException):
                headers = {"Authorization": f"Bearer {token}"}
                if requests.get(f"{url}/version", headers=headers, timeout=2).ok:
                    return url
        time.sleep(0.1)
    raise SandboxError(f"the Kubernetes API stand-in did not answer in {KUBEAPI_READY_TIMEOUT_S}s")


def serve_kubeapi(directory: Path) -> None:
    """Run the stand-in on the simulator's cluster until SIGTERM, with a generated token in
    ``directory/kubeconfig`` (0600): the sandbox's ``kubernetes`` process."""
    from dwcp_diag.demo.kube import build_kube_objects
    from dwcp_diag.sandbox.kubeapi import KubeApiStandIn
    from dwcp_diag.sandbox.prometheus import simulate_demo

    os.umask(0o077)  # the kubeconfig holds the token
    objects = build_kube_objects(simulate_demo())
    server = KubeApiStandIn(objects, token=secrets.token_urlsafe(24), directory=directory)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.start()
    try:
        while True:
            time.sleep(3600)
            server.requests.clear()  # a long-lived sandbox does not keep every request
    finally:
        server.stop()


# -- the profile ---------------------------------------------------------------------------
def profile_block(directory: Path, components: list[Component]) -> str:
    """The ``[profiles.sandbox.*]`` tables, between the marker lines.

    >>> comps = [Component("prometheus", 1, "http://127.0.0.1:9", "", 0.0)]
    >>> print(profile_block(Path("/s"), comps))  # doctest: +NORMALIZE_WHITESPACE
    # >>> dwcp-diag sandbox (written by `dwcp-diag sandbox up`, removed by `down`)
    [profiles.sandbox.prometheus]
    url = "http://127.0.0.1:9"
    scrape_interval_s = 120
    [profiles.sandbox.postgres]
    dsn = { file = "/s/postgres.dsn" }
    [profiles.sandbox.kubernetes]
    kubeconfig = "/s/kubernetes/kubeconfig"
    context = "dwcp-test"
    # <<< dwcp-diag sandbox
    """
    from dwcp_diag.demo import DEMO_SCRAPE_INTERVAL_S
    from dwcp_diag.sandbox.kubeapi import CONTEXT

    urls = {c.name: c.url for c in components}
    quoted = json.dumps  # a JSON string of a path or URL is a valid TOML basic string
    return "\n".join(
        [
            BEGIN_MARKER,
            f"[profiles.{PROFILE_NAME}.prometheus]",
            f"url = {quoted(urls['prometheus'])}",
            f"scrape_interval_s = {DEMO_SCRAPE_INTERVAL_S}",
            f"[profiles.{PROFILE_NAME}.postgres]",
            f"dsn = {{ file = {quoted(str(directory / 'postgres.dsn'))} }}",
            f"[profiles.{PROFILE_NAME}.kubernetes]",
            f"kubeconfig = {quoted(str(directory / 'kubernetes' / 'kubeconfig'))}",
            f"context = {quoted(CONTEXT)}",
            END_MARKER,
        ]
    )


def _without_block(text: str) -> str:
    if BEGIN_MARKER not in text:
        return text
    before, rest = text.split(BEGIN_MARKER, 1)
    after = rest.split(END_MARKER, 1)[1] if END_MARKER in rest else ""
    return before.rstrip("\n") + ("\n" if before.strip() else "") + after.lstrip("\n")


def write_profile(config_path: Path, directory: Path, components: list[Component]) -> None:
    """Put the ``sandbox`` profile into ``config_path`` (replacing the one an earlier ``up``
    wrote); refuse to overwrite a ``sandbox`` profile the user wrote."""
    from dwcp_diag.config import load_profile

    original = config_path.read_text() if config_path.is_file() else ""
    kept = _without_block(original)
    try:
        document = tomllib.loads(kept)
    except tomllib.TOMLDecodeError as exc:
        raise SandboxError(f"config file {config_path} is not valid TOML: {exc}") from None
    if PROFILE_NAME in document.get("profiles", {}):
        raise SandboxError(
            f"config file {config_path} already defines a profile {PROFILE_NAME!r} that "
            "`sandbox up` did not write: rename it, or pass another file with --config"
        )
    text = (kept.rstrip("\n") + "\n\n" if kept.strip() else "") + profile_block(
        directory, components
    )
    config_path.parent.mkdir(parents=True, exist_ok=True)
    _edit_config(config_path, text + "\n")
    try:
        load_profile(PROFILE_NAME, path=config_path, environ={})
    except DwcpDiagError:
        _edit_config(config_path, original)
        raise


def remove_profile(config_path: Path) -> bool:
    """Remove the block ``up`` wrote from ``config_path``; True when there was one."""
    if not config_path.is_file():
        return False
    text = config_path.read_text()
    if BEGIN_MARKER not in text:
        return False
    _edit_config(config_path, _without_block(text))
    return True


def _say_how_to_use(config_path: Path, say: Callable[[str], None]) -> None:
    from dwcp_diag.config import find_config_file
    from dwcp_diag.demo import DEMO_DAYS, DEMO_END

    start = (DEMO_END - pd.Timedelta(days=DEMO_DAYS)).date()
    say(
        f"  data covers {start}..{DEMO_END.date()}: e.g. "
        f"Session(profile={PROFILE_NAME!r}, now={str(DEMO_END.date())!r}), "
        f"or dwcp-diag render latency --profile {PROFILE_NAME} --end {DEMO_END.date()}"
    )
    found = find_config_file()
    if found is not None and found.resolve() != config_path.resolve():
        say(f"  note: {found} is read before {config_path}: pass --config {config_path}")


# -- status and down -----------------------------------------------------------------------
def status_lines(components: list[Component]) -> list[str]:
    """One line per process: name, running or not, PID, URL, since when.

    >>> comp = Component("prometheus", 2**22 + 7, "http://127.0.0.1:9", "2026-12-04T18:00:00Z", 0)
    >>> status_lines([comp])[0].split()[:3]
    ['prometheus', 'NOT', 'RUNNING']
    """
    lines = []
    for c in components:
        state = "running    " if c.running() else "NOT RUNNING"
        lines.append(f"  {c.name:<11} {state} pid {c.pid:<8} {c.url:<28} since {c.started_at}")
    return lines


def status(directory: Path, say: Callable[[str], None] = print) -> int:
    """Print what runs; 0 when every process runs, 1 when none was started or one is gone."""
    components = read_state(directory)
    if components is None:
        say(f"sandbox is not up ({directory}): start it with `dwcp-diag sandbox up`")
        return 1
    stopped = [c for c in components if not c.running()]
    say(f"sandbox {'partly down' if stopped else 'up'} ({directory}):")
    for line in status_lines(components):
        say(line)
    if stopped:
        say("  `dwcp-diag sandbox down` cleans up what is left; then `up` starts it again")
    return 1 if stopped else 0


def down(directory: Path, say: Callable[[str], None] = print) -> int:
    """Stop the processes ``up`` started, remove the profile and the sandbox directory."""
    components = read_state(directory)
    config_path = _recorded_config(directory)
    if components is None:
        say(f"sandbox is not up ({directory}): nothing to stop")
        return 0
    for component in reversed(components):
        was_running = stop_component(component)
        note = "stopped" if was_running else "was not running"
        say(f"sandbox: {component.name} (pid {component.pid}) {note}")
    if config_path is not None and remove_profile(config_path):
        say(f"sandbox: profile {PROFILE_NAME!r} removed from {config_path}")
    _remove(directory, components)
    say(f"sandbox down ({directory} removed)")
    return 0


def _recorded_config(directory: Path) -> Path | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return Path(json.loads((directory / STATE_FILE).read_text())["config"])
    return None


def _remove(directory: Path, components: list[Component]) -> None:
    for component in components:
        for extra in component.cleanup_dirs:
            shutil.rmtree(extra, ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)


def describe_for_lab(environ: Mapping[str, str] | None = None) -> str:
    """One line for ``dwcp-diag lab``: the sandbox profile to use, or how to start one."""
    directory = sandbox_dir(environ=environ)
    try:
        components = read_state(directory)
    except SandboxError:
        components = None
    if components and all(c.running() for c in components):
        return (
            f"lab: sandbox up: Session(profile={PROFILE_NAME!r}) reaches its Prometheus, "
            "PostgreSQL and Kubernetes API"
        )
    return "lab: for live servers on the demo data: dwcp-diag sandbox up (profile 'sandbox')"


def main(argv: list[str] | None = None) -> Any:
    """``python -m dwcp_diag.sandbox kubeapi DIR``: the stand-in process of ``up``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "kubeapi":
        raise SystemExit("usage: python -m dwcp_diag.sandbox kubeapi DIR")
    serve_kubeapi(Path(args[1]))
