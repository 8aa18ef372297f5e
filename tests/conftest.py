"""Test fixtures: real PostgreSQL and Prometheus, and a local Kubernetes API stand-in.

Each server fixture lives in its own module under tests/fixtures/ and is session-scoped; every
server listens on 127.0.0.1 on a free port and is stopped at the end of the session.
"""

import os

import pytest

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.prometheus",
    "tests.fixtures.kubeapi",
    "tests.fixtures.live",
]


@pytest.fixture(scope="session", autouse=True)
def no_prometheus_disk_cache():
    """The CLI caches past Prometheus windows on disk by default; tests never read stale
    answers from it (the cache's own tests pass a directory explicitly)."""
    previous = os.environ.get("DWCP_NO_CACHE")
    os.environ["DWCP_NO_CACHE"] = "1"
    yield
    if previous is None:
        os.environ.pop("DWCP_NO_CACHE", None)
    else:
        os.environ["DWCP_NO_CACHE"] = previous
