"""A local stack from the demo simulator: real PostgreSQL and Prometheus, and the Kubernetes
API stand-in, on 127.0.0.1 (``dwcp-diag sandbox up|down|status``; the tests' fixtures start
the same servers)."""
