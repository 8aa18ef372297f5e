"""The ``dwcp-diag`` command.

    dwcp-diag render NOTEBOOK... [--source live|demo|snapshot:DIR] [--window 7d | --start T --end T]
                     [-p key=value] [--out DIR] [--record DIR] [--show-code]
    dwcp-diag demo   [--out reports]
    dwcp-diag check  [--profile NAME]

Exit status 0 only when every requested report rendered without a failing cell (``render``,
``demo``) or every configured source answered (``check``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dwcp_diag import __version__
from dwcp_diag.config import Profile, load_profile
from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.report import render as rendering
from dwcp_diag.timewindow import TimeWindow

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
    if args.config:
        os.environ["DWCP_CONFIG"] = str(Path(args.config).resolve())  # kernels inherit it
    try:
        return args.func(args)
    except DwcpDiagError as exc:
        print(f"dwcp-diag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dwcp-diag: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dwcp-diag",
        description="Diagnostics reports for the DWCP platform (Prometheus, PostgreSQL, "
        "Kubernetes) rendered from Jupyter notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"dwcp-diag {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        help="config file (default: ./dwcp-diag.toml, then "
        "~/.config/dwcp-diag/config.toml; $DWCP_CONFIG)",
    )
    common.add_argument(
        "--profile",
        help="profile in the config file (default: $DWCP_PROFILE, "
        "the file's default_profile, else 'default')",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", parents=[common], help="render notebooks into reports")
    render.add_argument(
        "notebooks",
        nargs="+",
        metavar="NOTEBOOK",
        help=f"notebook names ({', '.join(rendering.available_notebooks())}) or .ipynb paths",
    )
    _add_render_options(render, default_out="reports/adhoc")
    render.set_defaults(func=cmd_render)

    demo = sub.add_parser(
        "demo", parents=[common], help="render every notebook against the built-in demo data"
    )
    demo.add_argument("--out", default="reports", help="output directory (default: reports)")
    demo.add_argument("--jobs", type=int, default=None, help="parallel renders (default: CPUs)")
    demo.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    demo.set_defaults(func=cmd_demo)

    check = sub.add_parser(
        "check", parents=[common], help="reachability and permissions of each configured source"
    )
    check.set_defaults(func=cmd_check)
    return parser


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
        help="notebook parameter (repeatable); values are JSON or strings",
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


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    """``["window=7d", "top=10"]`` -> ``{"window": "7d", "top": 10}``."""
    parameters: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DwcpDiagError(f"parameter {item!r} is not KEY=VALUE")
        try:
            parameters[key.strip()] = json.loads(value)
        except ValueError:
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
    paths = [rendering.resolve_notebook(name) for name in args.notebooks]
    jobs = []
    for path in paths:
        notebook_params = {
            "source": args.source,
            "profile": args.profile,
            "start": times["start"],
            "end": times["end"],
            **({"record": str(Path(args.record).resolve())} if args.record else {}),
            **parameters,
        }
        declared = rendering.notebook_parameters(path)
        # the standard parameters are offered to every notebook; only user -p keys must exist
        rendering.check_parameters(path, parameters)
        notebook_params = {k: v for k, v in notebook_params.items() if k in declared}
        if args.record and "record" not in declared:
            raise DwcpDiagError(f"notebook {path.stem!r} cannot record (no 'record' parameter)")
        jobs.append(
            rendering.RenderJob(
                notebook=str(path),
                out_dir=args.out,
                parameters=notebook_params,
                header=_header(args, times),
                show_code=args.show_code,
                cell_timeout_s=args.cell_timeout,
                progress=len(paths) == 1 and sys.stderr.isatty() and not os.environ.get("CI"),
            )
        )
    return _run(jobs, args.jobs, Path(args.out))


def _header(args: argparse.Namespace, times: dict[str, str | None]) -> dict[str, str]:
    window = f"{times['start'] or '(notebook default)'} .. {times['end'] or '(bundle now)'}"
    return {"window": window, "source": args.source, "profile": args.profile or "default"}


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
    )
    return cmd_render(ns)


def _run(jobs: list[rendering.RenderJob], workers: int | None, out_dir: Path) -> int:
    from dwcp_diag.report.index import write_index

    results = rendering.render_all(jobs, workers)
    index = write_index(out_dir)
    failed = [r for r in results if not r.ok]
    print(
        f"{len(results) - len(failed)}/{len(results)} report(s) rendered into {out_dir}; "
        f"index: {index}",
        file=sys.stderr,
    )
    for result in failed:
        print(f"dwcp-diag: FAILED {result.error}", file=sys.stderr)
    return 1 if failed else 0


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
