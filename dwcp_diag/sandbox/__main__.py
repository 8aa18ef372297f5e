"""``python -m dwcp_diag.sandbox kubeapi DIR``: the Kubernetes API stand-in process that
``dwcp-diag sandbox up`` starts (see :mod:`dwcp_diag.sandbox.stack`)."""

from dwcp_diag.sandbox.stack import main

main()
