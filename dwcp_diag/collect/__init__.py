"""What each report loads, and its analysis run on it: one module per area.

The notebooks and ``s.findings.<area>()`` call these, so a report and an interactive session
ask the same questions and find the same things. Each ``collect_<area>`` function loads its
frames through the session (live, demo or snapshot), tolerating an unreachable source (it
becomes a ``source_unavailable`` finding and the frames that needed it are ``None``), then
runs the area's pure analysis and returns an :class:`~dwcp_diag.collect.area.AreaReport`.

- :mod:`~dwcp_diag.collect.area`: ``AreaReport``, ``UnreachableSources``, the session Protocol
- :mod:`~dwcp_diag.collect.latency`, :mod:`~dwcp_diag.collect.database`,
  :mod:`~dwcp_diag.collect.memory`, :mod:`~dwcp_diag.collect.cost`,
  :mod:`~dwcp_diag.collect.capacity`, :mod:`~dwcp_diag.collect.incident`: one per report
- :mod:`~dwcp_diag.collect.pushdown`: per-container statistics computed by Prometheus, for
  the memory and cost reports at fleet scale
"""
