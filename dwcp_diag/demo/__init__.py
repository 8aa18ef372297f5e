"""The built-in demo: a deterministic simulated DWCP cluster with seeded problems.

``simulate()`` (:mod:`~dwcp_diag.demo.simulator`) builds the cluster
(:mod:`~dwcp_diag.demo.model`); from it come the Prometheus series (OpenMetrics for promtool,
:mod:`~dwcp_diag.demo.openmetrics`, or :meth:`Cluster.iter_series`), Kubernetes API lists
(:mod:`~dwcp_diag.demo.kube`), a PostgreSQL scenario and ``cluster.truth``, the description
of every planted problem.

>>> from dwcp_diag.demo.kube import build_kube_objects
>>> cluster = simulate(days=1)
>>> sorted(build_kube_objects(cluster))[:3]
['certificates', 'configmaps', 'deployments']
"""

from dwcp_diag.demo.model import Cluster
from dwcp_diag.demo.simulator import (
    DEMO_DAYS,
    DEMO_END,
    DEMO_SCRAPE_INTERVAL_S,
    DEMO_SEED,
    simulate,
)

__all__ = [
    "DEMO_DAYS",
    "DEMO_END",
    "DEMO_SCRAPE_INTERVAL_S",
    "DEMO_SEED",
    "Cluster",
    "simulate",
]
