"""The built-in demo: a deterministic simulated DWCP cluster with seeded problems.

``simulate()`` builds the cluster; from it come the Prometheus series (OpenMetrics for
promtool, or :meth:`Cluster.iter_series`), Kubernetes API lists, a PostgreSQL scenario and
``cluster.truth``, the description of every planted problem.

>>> cluster = simulate(days=1)
>>> sorted(cluster.kube_objects())[:3]
['certificates', 'deployments', 'events']
"""

from dwcp_diag.demo.simulator import (
    DEMO_DAYS,
    DEMO_END,
    DEMO_SCRAPE_INTERVAL_S,
    DEMO_SEED,
    Cluster,
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
