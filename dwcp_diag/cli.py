"""The ``dwcp-diag`` command.

    dwcp-diag render NOTEBOOK... [--source live|demo|snapshot:DIR] [--window 7d | --start T --end T]
                     [-p key=value] [--out DIR] [--record DIR] [--show-code]
                     [--compare EARLIER_DIR] [--notify]
    dwcp-diag demo   [--out reports]
    dwcp-diag due    [--out reports] [--suite NAME]  (vs the previous period; notifies per [notify])
    dwcp-diag postmortem INCIDENT --start T --end T [--out DIR]
    dwcp-diag check  [--profile NAME]
    dwcp-diag sandbox up|down|status [--dir DIR]  (local servers on the demo data)

Exit status of ``render``, ``demo``, ``due`` and ``postmortem`` (:data:`EXIT_STATUS_HELP`):
0 every report rendered and every source it needed answered; 1 at least one report failed;
3 every report rendered, but a source was unavailable or a ``no_data`` finding fired; 2 bad
usage, refused before anything ran. ``check``: 0 every configured source answered, 1 not,
2 none configured. ``sandbox status``: 0 every process runs, 1 not up or one is gone;
``sandbox up``: 2 when it cannot start (missing package, partly down). Errors are one line;
``-v`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dwcp_diag.config import Profile, load_profile
from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.report import compare
from dwcp_diag.report import notify as notifying
from dwcp_diag.report import render as rendering
from dwcp_diag.report.parameters import notebook_parameters
from dwcp_diag.timewindow import TimeWindow
from dwcp_diag.version import __version__

log = logging.getLogger("dwcp_diag")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # papermill logs every notebook's paths at INFO; our own one-line status is enough
    logging.getLogger("papermill").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    # jupyter_client logs a kernel that cannot start with a traceback; the report's one line
    # (and its report_failed finding) says it, -v shows the rest
    logging.getLogger("traitlets").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    if args.config:
        os.environ["DWCP_CONFIG"] = str(Path(args.config).resolve())  # kernels inherit it
    _configure_cache(args.no_cache)
    try:
        return args.func(args)
    except DwcpDiagError as exc:  # bad usage: the message names what was wrong
        _print_error(f"dwcp-diag: error: {exc}", args.verbose, hint=False)
        return rendering.EXIT_USAGE
    except OSError as exc:  # an unwritable --out, a full disk: one line
        _print_error(f"dwcp-diag: error: {exc}", args.verbose)
        return rendering.EXIT_USAGE
    except KeyboardInterrupt:
        print("dwcp-diag: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, the traceback with -v
        _print_error(f"dwcp-diag: internal error: {type(exc).__name__}: {exc}", args.verbose)
        return rendering.EXIT_FAILED


def _print_error(line: str, verbose: bool, hint: bool = True) -> None:
    """One line on stderr; with ``-v`` the traceback before it."""
    if verbose:
        traceback.print_exc()
    print(line + (" (-v shows the traceback)" if hint and not verbose else ""), file=sys.stderr)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dwcp-diag" / "prometheus"


def _configure_cache(disabled: bool) -> None:
    """The CLI caches past Prometheus windows by default; kernels inherit the setting."""
    if disabled:
        os.environ["DWCP_NO_CACHE"] = "1"
    elif not os.environ.get("DWCP_CACHE_DIR"):
        os.environ["DWCP_CACHE_DIR"] = str(default_cache_dir())


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="config file (default: ./dwcp-diag.toml, then "
        "~/.config/dwcp-diag/config.toml; $DWCP_CONFIG)",
    )
    parser.add_argument(
        "--profile",
        help="profile in the config file (default: $DWCP_PROFILE, "
        "the file's default_profile, else 'default')",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--copy-to",
        metavar="URL",
        help="also copy the reports below URL (a path, or s3://, gs://, ... through "
        "papermill's I/O handlers)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="do not use the on-disk cache of past Prometheus windows",
    )


EXIT_STATUS_HELP = """exit status of render, demo, due and postmortem:
  0  every report rendered and every source it needed answered
  1  at least one report failed (its findings hold a report_failed finding)
  3  every report rendered, but a source was unavailable or a no_data finding fired
  2  bad usage (unknown notebook or parameter, bad value, no source configured for due):
     refused before anything ran
cron and CI alert on non-zero; to accept partial reports: dwcp-diag due || [ $? = 3 ]"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dwcp-diag",
        description="Diagnostics reports for the DWCP platform (Prometheus, PostgreSQL, "
        "Kubernetes) rendered from Jupyter notebooks.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dwcp-diag {__version__}")
    # The global options go before or after the command: `dwcp-diag --profile prod render ...`
    # and `dwcp-diag render ... --profile prod`. After the command they default to SUPPRESS,
    # so a subparser never overwrites what was given before it.
    _add_global_options(parser)
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _add_global_options(common)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser(
        "render", parents=[common], help="render notebooks into reports", **_exit_status_epilog()
    )
    render.add_argument(
        "notebooks",
        nargs="+",
        metavar="NOTEBOOK",
        help=f"notebook names ({', '.join(rendering.available_notebooks())}) or .ipynb paths",
    )
    _add_render_options(render, default_out="reports/adhoc")
    render.add_argument(
        "--compare",
        metavar="DIR",
        help="an earlier output folder: mark findings new/persisting, list the resolved ones",
    )
    render.add_argument(
        "--notify", action="store_true", help="send the [notify] message once rendered"
    )
    render.set_defaults(func=cmd_render)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="render every notebook against the built-in demo data",
        **_exit_status_epilog(),
    )
    demo.add_argument("--out", default="reports", help="output directory (default: reports)")
    demo.add_argument("--jobs", type=int, default=None, help="parallel renders (default: CPUs)")
    demo.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    demo.set_defaults(func=cmd_demo)

    due = sub.add_parser(
        "due",
        parents=[common],
        help="render the scheduled suites that are due (cron-safe, locked)",
        **_exit_status_epilog(),
    )
    due.add_argument("--out", default="reports", help="reports root (default: reports)")
    due.add_argument("--suite", action="append", help="only this suite (repeatable)")
    due.add_argument("--source", default="live", help="live (default), demo or snapshot:DIR")
    due.add_argument("--now", help="pretend it is this UTC time (catch-up checks, tests)")
    due.add_argument("--jobs", type=int, default=None, help="parallel renders (default: CPUs)")
    due.set_defaults(func=cmd_due, record=None)

    post = sub.add_parser(
        "postmortem",
        parents=[common],
        help="incident bundle: reports + recorded data + README, zipped",
        **_exit_status_epilog(),
    )
    post.add_argument("incident", metavar="INCIDENT", help="incident id, e.g. INC-2026-042")
    post.add_argument("--start", required=True, help="incident start, ISO-8601 UTC")
    post.add_argument("--end", required=True, help="incident end, ISO-8601 UTC")
    post.add_argument("--out", help="bundle directory (default: reports/postmortems/INCIDENT)")
    post.add_argument(
        "--source",
        default="live",
        help="live (records data/ and zips), or snapshot:DIR to re-render",
    )
    post.add_argument(
        "--notebooks",
        default=",".join(_postmortem_notebooks()),
        help="comma-separated notebooks (default: %(default)s)",
    )
    post.add_argument("--jobs", type=int, default=None, help="parallel renders (default: CPUs)")
    post.set_defaults(func=cmd_postmortem)

    lab = sub.add_parser(
        "lab",
        parents=[common],
        help="JupyterLab on 127.0.0.1 with this environment's kernel registered",
    )
    lab.add_argument("--port", type=int, default=8888, help="port (default: %(default)s)")
    lab.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="working copy of the notebooks (default: $DWCP_LAB_DIR or ~/dwcp-notebooks)",
    )
    lab.set_defaults(func=cmd_lab)

    sandbox = sub.add_parser(
        "sandbox",
        parents=[common],
        help="a local stack on the demo data (Prometheus, PostgreSQL, Kubernetes API stand-in) "
        "and a 'sandbox' profile for it",
        description="up: start it on 127.0.0.1 and write the 'sandbox' profile into the user "
        "config (or --config); status: what runs, where, since when (exit 1 if not all); "
        "down: stop what up started and remove its state and profile",
    )
    sandbox.add_argument("action", choices=["up", "down", "status"])
    sandbox.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="state directory (default: $DWCP_SANDBOX_DIR or ~/.local/share/dwcp-diag/sandbox)",
    )
    sandbox.set_defaults(func=cmd_sandbox)

    check = sub.add_parser(
        "check", parents=[common], help="reachability and permissions of each configured source"
    )
    check.set_defaults(func=cmd_check)
    return parser


def _exit_status_epilog() -> dict[str, Any]:
    return {"epilog": EXIT_STATUS_HELP, "formatter_class": argparse.RawDescriptionHelpFormatter}


def _postmortem_notebooks() -> tuple[str, ...]:
    from dwcp_diag.report.postmortem import DEFAULT_NOTEBOOKS

    return DEFAULT_NOTEBOOKS


def _add_render_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument(
        "--source",
        default="live",
        help="live (the profile's servers), demo, or snapshot:DIR (default: live)",
    )
    parser.add_argument("--window", help="window ending at --end (or now), e.g. 24h, 7d")
    parser.add_argument("--start", help="window start, ISO-8601 UTC (e.g. 2026-11-12T14:00Z)")
    parser.add_argument(
        "--end",
        help="window end, ISO-8601 UTC (default: now, or the "
        "bundle's 'now' for demo/snapshot sources)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter (repeatable), checked against the type its notebook declares "
        "(7d, 2026-11-12T14:00Z, 15, 0.5, true, a,b or a JSON list, a JSON object)",
    )
    parser.add_argument("--out", default=default_out, help=f"output dir (default: {default_out})")
    parser.add_argument("--record", help="record every loaded frame into this bundle directory")
    parser.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    parser.add_argument("--jobs", type=int, default=None, help="parallel renders (default: CPUs)")
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=rendering.DEFAULT_CELL_TIMEOUT_S,
        help="seconds a single cell may run (default: %(default)s)",
    )


def parse_parameters(items: Sequence[str]) -> dict[str, str]:
    """``["window=7d", "top=10"]`` -> ``{"window": "7d", "top": "10"}``: still text, each
    notebook converts it to the type it declares (:mod:`dwcp_diag.report.parameters`)."""
    parameters: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DwcpDiagError(f"parameter {item!r} is not KEY=VALUE (e.g. -p window=7d)")
        parameters[key.strip()] = value
    return parameters


def resolve_window(args: argparse.Namespace) -> dict[str, str | None]:
    """The window parameters handed to every notebook: explicit ISO start/end when known."""
    from dwcp_diag.session import Session

    session = Session(_profile(args), source=args.source)
    if args.start and args.window:
        raise DwcpDiagError("give --start or --window, not both")
    if not (args.start or args.window or args.end):
        # A replay's notebooks use the bundle's 'now' and their own default windows (so they
        # ask what was recorded); a live run pins 'now' once for all its notebooks.
        end = None if session.replay is not None else session.now.isoformat()
        return {"start": None, "end": end, "window": None}
    window = (
        TimeWindow.parse(
            window=args.window or None, start=args.start, end=args.end, now=session.now
        )
        if (args.start or args.window)
        else None
    )
    end = window.end if window else TimeWindow.parse(window="1s", end=args.end, now=session.now).end
    return {
        "start": window.start.isoformat() if window else None,
        "end": end.isoformat(),
        "window": None,
    }


def _profile(args: argparse.Namespace) -> Profile:
    return load_profile(args.profile)


def cmd_render(args: argparse.Namespace) -> int:
    parameters = parse_parameters(args.parameter)
    times = resolve_window(args)
    jobs = build_jobs(args, args.notebooks, times, parameters, Path(args.out))
    notify = _notify_settings() if getattr(args, "notify", False) else None
    if getattr(args, "compare", None):
        jobs = compare.attach_history(jobs, compare.history_until(args.compare))
    status = _run(jobs, args.jobs, _output_dir(args.out), getattr(args, "copy_to", None))
    if notify is not None:
        out = Path(args.out)
        notifying.notify_period(notify, out, "adhoc", out.resolve().name, out)
    return status


def _output_dir(path: str | os.PathLike[str]) -> Path:
    """``--out``, created: a file in the way is a usage error (one line), before any kernel."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DwcpDiagError(f"--out {out}: a file is in the way; give a directory") from None
    return out


def _notify_settings() -> notifying.NotifySettings:
    settings = notifying.load_notify()
    if settings is None or not settings.channels():
        raise DwcpDiagError("--notify: the config file has no [notify.webhook] or [notify.email]")
    return settings


def build_jobs(
    args: argparse.Namespace,
    notebooks: Sequence[str],
    times: dict[str, str | None],
    parameters: dict[str, Any],
    out_dir: Path,
    record: str | None = None,
) -> list[rendering.RenderJob]:
    """One render job per notebook; the standard parameters go to those that declare them.

    Every check happens here, before any kernel starts: unknown or secret-looking
    parameters, and ``-p`` text that does not fit the type its notebook declares."""
    from dwcp_diag.report.parameters import convert

    record = record or getattr(args, "record", None)
    paths = [rendering.resolve_notebook(name) for name in notebooks]
    if parameters:  # a secret's value typed into -p would be stored in the report
        rendering.check_parameter_values(parameters, _profile(args).secret_values())
    jobs = []
    for path in paths:
        offered = {
            "source": _absolute_source(args.source),
            "profile": args.profile,
            "start": times["start"],
            "end": times["end"],
            **({"record": str(Path(record).resolve())} if record else {}),
        }
        # only the user's -p keys must exist; standard ones go to notebooks that declare them
        rendering.check_parameters(path, parameters)
        offered.update(convert(path, parameters))
        declared = notebook_parameters(path)
        if record and "record" not in declared:
            raise DwcpDiagError(f"notebook {path.stem!r} cannot record (no 'record' parameter)")
        jobs.append(
            rendering.RenderJob(
                notebook=str(path),
                out_dir=str(out_dir),
                parameters={k: v for k, v in offered.items() if k in declared},
                header=_header(args, times),
                show_code=getattr(args, "show_code", False),
                cell_timeout_s=getattr(args, "cell_timeout", rendering.DEFAULT_CELL_TIMEOUT_S),
                progress=len(paths) == 1 and sys.stderr.isatty() and not os.environ.get("CI"),
            )
        )
    return jobs


def _absolute_source(source: str) -> str:
    """``snapshot:DIR`` with DIR made absolute: kernels run in the notebooks' directory."""
    if source.startswith("snapshot:"):
        return f"snapshot:{Path(source.split(':', 1)[1]).expanduser().resolve()}"
    return source


def _header(args: argparse.Namespace, times: dict[str, str | None]) -> dict[str, str]:
    window = f"{times['start'] or '(notebook default)'} .. {times['end'] or '(bundle now)'}"
    return {"window": window, "source": args.source, "profile": args.profile or "default"}


def cmd_due(args: argparse.Namespace) -> int:
    from dwcp_diag.report.index import write_index
    from dwcp_diag.report.schedule import (
        ScheduleState,
        due_periods,
        load_suites,
        retry_reason,
        schedule_lock,
    )
    from dwcp_diag.timewindow import parse_time

    suites = load_suites()
    unknown = sorted(set(args.suite or ()) - set(suites))
    if unknown:
        raise DwcpDiagError(f"unknown suite(s) {unknown}; configured: {sorted(suites)}")
    if args.source == "live" and not _profile(args).configured_sources():
        # every report would be made of source_unavailable findings: refuse, write nothing
        raise DwcpDiagError(
            "no source configured: set DWCP_PROMETHEUS_URL, DWCP_PG_DSN or KUBECONFIG, or "
            "write a profile (see README); nothing rendered, no period marked done"
        )
    now = parse_time(args.now) if args.now else _source_clock(args.source)
    root = _output_dir(args.out)
    with schedule_lock(root) as acquired:
        if not acquired:
            print("dwcp-diag due: another run holds the lock; nothing done", file=sys.stderr)
            return rendering.EXIT_OK
        state = ScheduleState(root)
        notify = notifying.load_notify()
        if notify is not None:
            notifying.retry_pending(notify, root)
        all_results: list[rendering.RenderResult] = []
        for suite in (suites[name] for name in (args.suite or sorted(suites))):
            for period in due_periods(suite, now, state.resume_after(suite.name)):
                print(f"due: {suite.name} {period.label}", file=sys.stderr)
                times = {"start": period.start.isoformat(), "end": period.end.isoformat()}
                out_dir = root / suite.name / period.label
                jobs = build_jobs(args, suite.notebooks, times, {}, out_dir)
                earlier = compare.earlier_periods(root / suite.name, period.label)
                results = rendering.render_all(compare.attach_history(jobs, earlier), args.jobs)
                all_results += results
                reason = retry_reason(results)
                if reason is None:
                    state.mark_done(suite.name, period)
                    if notify is not None and suite.name in (notify.suites or (suite.name,)):
                        notifying.notify_period(notify, root, suite.name, period.label, out_dir)
                    continue
                attempts, retried = state.record_failure(suite, period, reason)
                outcome = "retried next run" if retried else "given up, marked done"
                print(
                    f"due: {suite.name} {period.label} attempt {attempts}/{suite.max_attempts} "
                    f"{outcome}: {reason}",
                    file=sys.stderr,
                )
                if retried:  # later periods wait, so none is skipped
                    break
        write_index(root)
        _copy(all_results, root, args.copy_to)
    if not all_results:
        print("dwcp-diag due: nothing due", file=sys.stderr)
    return rendering.exit_status(all_results)


def _source_clock(source: str) -> pd.Timestamp:
    """Now for a live source; a demo or snapshot's recorded 'now' (its periods are in the data)."""
    from dwcp_diag.session import parse_source
    from dwcp_diag.sources.snapshot import SnapshotBundle

    _mode, bundle_dir = parse_source(source)
    if bundle_dir is None:
        return pd.Timestamp.now(tz="UTC")
    return SnapshotBundle(bundle_dir).now


def cmd_postmortem(args: argparse.Namespace) -> int:
    from dwcp_diag.report import postmortem
    from dwcp_diag.session import parse_source

    incident = postmortem.check_incident_id(args.incident)
    window = TimeWindow.parse(start=args.start, end=args.end)
    out_dir = Path(args.out or f"reports/postmortems/{incident}")
    if out_dir.exists() and not out_dir.is_dir():
        raise DwcpDiagError(f"--out {out_dir}: a file is in the way; give a directory")
    mode, bundle_dir = parse_source(args.source)
    if bundle_dir is not None and not bundle_dir.is_dir():
        raise DwcpDiagError(f"snapshot bundle {bundle_dir} does not exist")
    live = mode == "live"
    record = str(out_dir / "data") if live else None
    if live and (out_dir / "data").exists():  # a new live run: not mixed with an older one
        shutil.rmtree(out_dir / "data")
    times = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    names = [name for name in args.notebooks.split(",") if name]
    jobs = []
    for name in names:
        declared = notebook_parameters(rendering.resolve_notebook(name))
        extra = {"incident_id": incident} if "incident_id" in declared else {}
        jobs += build_jobs(args, [name], times, extra, out_dir, record=record)
    _output_dir(out_dir)
    results = rendering.render_all(jobs, args.jobs)
    _copy(results, out_dir.parent, args.copy_to)
    ok = {r.name: r.ok for r in results}
    statuses = {r.name: r.status for r in results}
    replayed_from = None if live else args.source
    postmortem.write_readme(
        out_dir, incident, window.start, window.end, names, statuses, replayed_from
    )
    zip_target = out_dir.with_name(f"{out_dir.name}.zip")  # ids may contain dots
    zip_path = postmortem.zip_directory(out_dir, zip_target) if live else None
    print(
        f"postmortem {incident}: {sum(ok.values())}/{len(ok)} report(s) in {out_dir}"
        + (f"; bundle {zip_path}" if zip_path else ""),
        file=sys.stderr,
    )
    _print_failures(results)
    return rendering.exit_status(results)


def cmd_demo(args: argparse.Namespace) -> int:
    names = rendering.available_notebooks()
    if not names:
        raise DwcpDiagError(f"no notebooks found in {rendering.notebook_dir()}")
    ns = argparse.Namespace(
        notebooks=names,
        source="demo",
        window=None,
        start=None,
        end=None,
        parameter=[],
        out=args.out,
        record=None,
        show_code=args.show_code,
        jobs=args.jobs,
        cell_timeout=rendering.DEFAULT_CELL_TIMEOUT_S,
        profile=args.profile,
        copy_to=args.copy_to,
    )
    return cmd_render(ns)


def _copy(results: list[rendering.RenderResult], root: Path, url: str | None) -> None:
    if url:
        copied = rendering.copy_reports(results, root, url)
        print(f"copied {len(copied)} file(s) to {url}", file=sys.stderr)


def _run(
    jobs: list[rendering.RenderJob],
    workers: int | None,
    out_dir: Path,
    args_copy_to: str | None = None,
) -> int:
    from dwcp_diag.report.index import write_index

    results = rendering.render_all(jobs, workers)
    index = write_index(out_dir)
    _copy(results, out_dir, args_copy_to)
    failed = [r for r in results if not r.ok]
    print(
        f"{len(results) - len(failed)}/{len(results)} report(s) rendered into {out_dir}; "
        f"index: {index}",
        file=sys.stderr,
    )
    _print_failures(results)
    return rendering.exit_status(results)


def _print_failures(results: Sequence[rendering.RenderResult]) -> None:
    """One line per failed report, then one per report that rendered without seeing all."""
    for result in results:
        if not result.ok:
            print(f"dwcp-diag: FAILED {result.error}", file=sys.stderr)
    for result in results:
        if result.ok and result.blind_spots:
            print(f"dwcp-diag: PARTIAL {result.name}: {result.blind_spots[0]}", file=sys.stderr)


def cmd_lab(args: argparse.Namespace) -> int:
    from dwcp_diag.lab import run_lab

    return run_lab(rendering.notebook_dir(), args.port, args.dir)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from dwcp_diag.sandbox import stack

    directory = stack.sandbox_dir(args.dir)
    if args.action == "up":
        return stack.up(directory, stack.user_config_path(args.config))
    if args.action == "down":
        return stack.down(directory)
    return stack.status(directory)


def cmd_check(args: argparse.Namespace) -> int:
    from dwcp_diag.session import Session

    session = Session(_profile(args), source="live")
    configured = session.profile.configured_sources()
    if not configured:
        print(
            "dwcp-diag: no source configured: set DWCP_PROMETHEUS_URL, DWCP_PG_DSN or "
            "KUBECONFIG, or write a profile (see README)",
            file=sys.stderr,
        )
        return 2
    loaders = {
        "prometheus": lambda: session.prom,
        "postgres": lambda: session.pg,
        "kubernetes": lambda: session.k8s,
    }
    failures = 0
    for name in configured:
        result = loaders[name]().check()
        print(result.line())
        failures += not result.ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
