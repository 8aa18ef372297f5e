"""How ``make test`` spreads the suite over pytest-xdist workers (``pytest -n N``).

Each worker is a pytest session of its own: it starts its own servers (the session fixtures,
on free loopback ports) for the tests it is given. xdist's own schedulers either split a
notebook's cells between workers (nbval runs them in order in one kernel) or hand every
worker tests that need every server. This one hands out *work units*:

- a test file is never split: a notebook's cells run in order in one kernel, and a module's
  fixtures are set up once;
- files whose tests use the same costly session fixture (:data:`SHARED_BY_FILES`: the live
  and the demo render of every notebook, PostgreSQL 18, VictoriaMetrics, the 200,000-series
  Prometheus) are one unit, so one worker builds it;
- the units that start servers go first, the longest first (:data:`MEASURED_S`), and the tests
  that need none (``make test-fast``'s) last, where they fill the workers' last minutes.

The controller collects nothing, so the workers tell it: each writes every test's unit to
the file the controller named (:func:`name_units_file`) when its collection ends, and the
scheduler reads it once every worker has collected.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

# Session fixtures that take long to build and are used by tests in several files: the files
# using one are one work unit.
SHARED_BY_FILES = (
    "rendered_live",
    "rendered_demo",
    "pg_server_each_version",
    "victoriametrics_server",
    "many_series_prometheus",
)
# Seconds per file, from `pytest --durations=0 --junitxml` of the whole suite in one process
# on 2 loaded cores (2026-12-04; the 8 other sessions on the machine stretched every figure).
# Only their order is used: the longest units start first, so that none starts last. A file
# not listed counts a second per test that starts a server.
MEASURED_S = {
    "tests/test_postmortem.py": 522,
    "tests/test_demo.py": 309,
    "tests/test_reports_browser.py": 248,
    "tests/test_render.py": 215,
    "tests/test_pushdown.py": 183,
    "tests/test_notify.py": 135,
    "tests/test_exit_status.py": 121,
    "tests/test_prometheus_listing.py": 112,
    "tests/test_schedule.py": 112,
    "tests/test_trends.py": 88,
    "tests/test_interactive.py": 70,
    "tests/test_compare.py": 61,
    "tests/test_lab.py": 60,
    "tests/test_secrets.py": 53,
    "tests/test_fault_reports.py": 50,
    "tests/test_database_findings.py": 49,
    "tests/test_simulator.py": 47,
    "tests/test_packaging.py": 43,
    "tests/test_redaction_live.py": 43,
    "notebooks/capacity.ipynb": 35,
    "notebooks/incident.ipynb": 33,
    "tests/test_prometheus_loader.py": 31,
    # files added later the same day, from their authors' runs on the same loaded machine
    "tests/test_sandbox.py": 160,
    "tests/test_demo_coverage.py": 100,
    "tests/test_notebook_platform.py": 60,
    "tests/test_analysis_platform.py": 60,
}
UNITS_FILE = "dwcp_units_file"  # the workerinput key naming the file


def name_units_file(node: Any) -> None:
    """Controller side (``pytest_configure_node``): where this worker writes its units."""
    config = node.config
    if not hasattr(config, "_dwcp_units_file"):
        folder = tempfile.mkdtemp(prefix="dwcp-xdist-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        config._dwcp_units_file = str(Path(folder) / "units.json")
    node.workerinput[UNITS_FILE] = config._dwcp_units_file


def write_units(session: pytest.Session) -> None:
    """Worker side (``pytest_collection_finish``): ``{nodeid: [unit, starts servers]}``."""
    path = getattr(session.config, "workerinput", {}).get(UNITS_FILE)
    if path is None:
        return
    units = work_units(session.items)
    servers = {item.nodeid: item.get_closest_marker("server") is not None for item in session.items}
    partial = f"{path}.{os.getpid()}"
    Path(partial).write_text(json.dumps({n: [units[n], servers[n]] for n in units}))
    os.replace(partial, path)  # every worker writes the same; a reader never sees half


def work_units(items: list[pytest.Item]) -> dict[str, str]:
    """Each test's unit: its file, or the first file of the files sharing a costly fixture.

    >>> class Item:
    ...     def __init__(self, nodeid, *fixturenames):
    ...         self.nodeid, self.fixturenames = nodeid, fixturenames
    >>> units = work_units([Item("a.py::t1", "rendered_live"), Item("a.py::t2"),
    ...                     Item("b.py::t", "tmp_path"), Item("c.py::t", "rendered_live")])
    >>> units == {"a.py::t1": "a.py", "a.py::t2": "a.py", "b.py::t": "b.py", "c.py::t": "a.py"}
    True
    """
    file_of = {item.nodeid: item.nodeid.split("::", 1)[0] for item in items}
    parent = {file: file for file in file_of.values()}  # union-find over files

    def root(file: str) -> str:
        while parent[file] != file:
            file = parent[file]
        return file

    first_file_using: dict[str, str] = {}
    for item in items:
        file = root(file_of[item.nodeid])
        for fixture in SHARED_BY_FILES:
            if fixture in getattr(item, "fixturenames", ()):
                other = root(first_file_using.setdefault(fixture, file))
                if other != file:
                    parent[file] = other
                    file = other
    return {nodeid: root(file) for nodeid, file in file_of.items()}


class WorkUnitScheduling(LoadScopeScheduling):
    """xdist's scope scheduler, with the units and the order of the module docstring."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.units: dict[str, list[Any]] = {}  # nodeid -> [unit, starts servers]
        self.ordered = False

    def _split_scope(self, nodeid: str) -> str:
        if not self.units:
            path = getattr(self.config, "_dwcp_units_file", None)
            if path is None or not Path(path).is_file():
                raise RuntimeError(f"no xdist worker wrote its work units ({path})")
            self.units = json.loads(Path(path).read_text())
        return self.units[nodeid][0]

    def _assign_work_unit(self, node: Any) -> None:
        if not self.ordered:  # the first assignment: the queue is complete
            self.workqueue = OrderedDict(sorted(self.workqueue.items(), key=self._weight))
            self.ordered = True
        super()._assign_work_unit(node)

    def _weight(self, unit: tuple[str, dict[str, bool]]) -> tuple[bool, float]:
        """Units that start servers first, then the longest first (sorting is stable)."""
        _, tests = unit
        servers = [nodeid for nodeid in tests if self.units[nodeid][1]]
        files = {nodeid.split("::", 1)[0] for nodeid in tests}
        known = sum(MEASURED_S.get(file, 0) for file in files)
        unknown = sum(1 for nodeid in servers if nodeid.split("::", 1)[0] not in MEASURED_S)
        return (not servers, -(known + unknown))
