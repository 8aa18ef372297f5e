"""Collection rules for the whole suite (tests/, the package's doctests, notebooks/).

Tiers: ``make test`` runs everything; ``make test-fast`` (``-m "not server"``) leaves out the
tests marked ``server``. That mark is set here, at collection, on every test that uses one of
SERVER_FIXTURES (directly or through another fixture) and on every notebook cell nbval runs
(a kernel). A test that starts a process some other way (a notebook render, promtool, pip,
JupyterLab) carries the mark itself (``@pytest.mark.server``); one that forgets fails, in
both tiers, naming the process it started.

Under pytest-xdist (``make test`` runs ``-n``), tests/scheduling.py decides which worker runs
what: a file's tests in one worker, the files sharing a costly session fixture together.
"""

import sys

import pytest

from tests import scheduling

# Fixtures that start a server process (or build what one serves): every fixture that needs
# PostgreSQL, Prometheus, VictoriaMetrics, the Kubernetes stand-in or a rendered live report
# depends on one of these (rendered_demo starts notebook kernels).
SERVER_FIXTURES = frozenset(
    {
        "pg_pool",
        "pg_server",
        "prometheus_blocks",
        "victoriametrics_server",
        "many_series_prometheus",
        "kube_api_server",
        "kube_api_factory",
        "rendered_demo",
    }
)
# Audit events (sys.addaudithook) of starting a process.
PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "os.fork"}
)
_unmarked_test: list[str] = []  # the nodeid of the test running now, when it is not `server`
_refusals: list[str] = []  # what the running test was refused (even if it caught the error)


def pytest_collection_modifyitems(config, items):
    """Docstring examples that only show a call against a live server (every line marked
    ``+SKIP``) are documentation, not tests: leave them out instead of reporting skips.
    The calls they show are exercised by the loader tests against the real servers.
    Then mark the server tier (see the module docstring)."""
    import doctest

    from _pytest.doctest import DoctestItem

    def documentation_only(item) -> bool:
        examples = item.dtest.examples
        return bool(examples) and all(e.options.get(doctest.SKIP) for e in examples)

    kept = [i for i in items if not (isinstance(i, DoctestItem) and documentation_only(i))]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
    for item in items:
        if item.path.suffix == ".ipynb" or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
    items[:] = notebook_cells_together_and_in_order(items)


def notebook_cells_together_and_in_order(items: list) -> list:
    """The cells of a notebook share one kernel, so they run together and in order: where a
    shuffled order (make test-stress) put a notebook's first cell, all its cells, in order.
    Other tests keep their places (a no-op for the file order)."""
    cells: dict = {}
    for item in items:
        if item.path.suffix == ".ipynb":
            cells.setdefault(item.path, []).append(item)
    ordered: list = []
    for item in items:
        if item.path.suffix != ".ipynb":
            ordered.append(item)
        elif item.path in cells:
            ordered += sorted(cells.pop(item.path), key=lambda cell: cell.cell_num)
    return ordered


def _refuse_processes_outside_the_server_tier(event: str, args: tuple) -> None:
    if _unmarked_test and event in PROCESS_EVENTS:
        started = " ".join(str(a) for a in (args[1] if event == "subprocess.Popen" else args))
        _refusals.append(
            f"{_unmarked_test[0]} started a process ({event}: {started[:120]}) but is not "
            "marked server: decorate it with @pytest.mark.server (or use a server fixture), "
            "so that make test-fast stays fast"
        )
        raise RuntimeError(_refusals[-1])


def pytest_configure(config):
    sys.addaudithook(_refuse_processes_outside_the_server_tier)


@pytest.hookimpl(tryfirst=True)  # before xdist's own tells the controller collection is done
def pytest_collection_finish(session):
    scheduling.write_units(session)  # an xdist worker tells the controller its work units


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    scheduling.name_units_file(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "load":  # -n's default; an explicit --dist is kept
        return scheduling.WorkUnitScheduling(config, log)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with _watching(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # Not teardown: the last test of a session tears down the session's servers, whatever
    # its tier.
    with _watching(item):
        return (yield)


class _watching:
    def __init__(self, item) -> None:
        self.unmarked = item.get_closest_marker("server") is None
        self.nodeid = item.nodeid

    def __enter__(self) -> None:
        if self.unmarked:
            _unmarked_test.append(self.nodeid)

    def __exit__(self, *exc_info) -> None:
        _unmarked_test.clear()
        refused = _refusals[:1]
        _refusals.clear()
        if refused:
            pytest.fail(refused[0], pytrace=False)
