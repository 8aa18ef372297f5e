"""Write the simulated cluster's data: ``python -m dwcp_diag.demo COMMAND ...``.

Commands: ``openmetrics PATH`` (for ``promtool tsdb create-blocks-from openmetrics``),
``kube DIR`` (one ``<list>.json`` per Kubernetes list), ``sql PATH`` (the PostgreSQL setup
script) and ``truth`` (the seeded problems as JSON on stdout). ``--seed``, ``--days``,
``--end`` and ``--scrape-interval-s`` pick another variant of the cluster.

>>> main(["truth", "--days", "1"])  # doctest: +ELLIPSIS
{
  "seed": 20251110,
...
0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dwcp_diag.demo.kube import build_kube_objects
from dwcp_diag.demo.model import Cluster
from dwcp_diag.demo.openmetrics import write_cluster_openmetrics
from dwcp_diag.demo.simulator import (
    DEMO_DAYS,
    DEMO_END,
    DEMO_SCRAPE_INTERVAL_S,
    DEMO_SEED,
    simulate,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (options may come before or after the command's argument).

    >>> build_parser().parse_args(["kube", "out", "--days", "3"]).days
    3.0
    """
    variant = argparse.ArgumentParser(add_help=False)
    variant.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed")
    variant.add_argument("--days", type=float, default=DEMO_DAYS, help="days of history")
    variant.add_argument("--end", default=DEMO_END.isoformat(), help="end time (UTC)")
    variant.add_argument(
        "--scrape-interval-s", type=int, default=DEMO_SCRAPE_INTERVAL_S, help="seconds"
    )
    parser = argparse.ArgumentParser(
        prog="python -m dwcp_diag.demo", description="Write the simulated DWCP cluster's data."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, argument, help_text in (
        ("openmetrics", "path", "OpenMetrics text file for promtool"),
        ("kube", "directory", "directory for one JSON file per Kubernetes list"),
        ("sql", "path", "SQL script creating the PostgreSQL scenario"),
    ):
        command = commands.add_parser(name, parents=[variant], help=help_text)
        command.add_argument(argument, type=Path)
    commands.add_parser("truth", parents=[variant], help="print the seeded problems as JSON")
    return parser


def _write_kube(cluster: Cluster, directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    lists = build_kube_objects(cluster)
    for key, body in lists.items():
        (directory / f"{key}.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return f"wrote {len(lists)} lists to {directory}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    cluster = simulate(
        seed=args.seed, end=args.end, days=args.days, scrape_interval_s=args.scrape_interval_s
    )
    if args.command == "openmetrics":
        samples = write_cluster_openmetrics(cluster, args.path)
        print(f"wrote {samples} samples of {len(cluster.series)} series to {args.path}")
    elif args.command == "kube":
        print(_write_kube(cluster, args.directory))
    elif args.command == "sql":
        args.path.write_text(cluster.postgres_setup_sql(), encoding="utf-8")
        print(f"wrote the PostgreSQL scenario to {args.path}")
    else:
        print(json.dumps(cluster.truth, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
