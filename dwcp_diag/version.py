"""The package's version, for reports, manifests and ``--version``: a module of its own, so
that what writes it never imports the package's facade (``dwcp_diag/__init__.py``).

>>> __version__ != ""
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dwcp-diag")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
