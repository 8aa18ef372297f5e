"""dwcp_diag: diagnostics notebooks for the DWCP platform.

Prometheus, PostgreSQL and Kubernetes into tidy pandas frames; analysis into findings;
Papermill and nbconvert into self-contained HTML reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dwcp-diag")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
