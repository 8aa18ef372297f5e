"""Test fixtures: real PostgreSQL and Prometheus, and a local Kubernetes API stand-in.

Each server fixture lives in its own module under tests/fixtures/ and is session-scoped; every
server listens on 127.0.0.1 on a free port and is stopped at the end of the session.
"""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.prometheus",
    "tests.fixtures.kubeapi",
    "tests.fixtures.live",
]
