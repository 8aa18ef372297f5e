"""Every public function the README shows exists, has an example, and a test calls it.

"Exercised" is checked where tests live: a call in tests/, a doctest example of the package
that is not skipped, or a notebook cell (nbval runs every notebook).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import dwcp_diag
from dwcp_diag import plots
from dwcp_diag.queries import promql
from dwcp_diag.session import AreaFindings, Session
from dwcp_diag.sources.kubernetes import KubernetesLoader
from dwcp_diag.sources.postgres.loader import PostgresLoader
from dwcp_diag.sources.prometheus import PrometheusLoader

ROOT = Path(__file__).resolve().parents[1]
OWNERS = {
    "dd": dwcp_diag,
    "dd.plots": plots,
    "s": Session,
    "s.prom": PrometheusLoader,
    "s.pg": PostgresLoader,
    "s.k8s": KubernetesLoader,
    "s.findings": AreaFindings,
    "promql": promql,
}
CALL = re.compile(r"(?<![\w.])(dd\.plots|dd|s\.prom|s\.pg|s\.k8s|s\.findings|s|promql)\.(\w+)\(")
COLLECT_CALL = re.compile(r"\b(collect_\w+)\(")


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def documented() -> list[tuple[str, str, object]]:
    text = "\n".join(python_blocks((ROOT / "README.md").read_text(encoding="utf-8")))
    found = {(owner, name) for owner, name in CALL.findall(text)}
    found |= {("collect", name) for name in COLLECT_CALL.findall(text)}
    return sorted((owner, name, _documented_function(owner, name)) for owner, name in found)


def _documented_function(owner: str, name: str) -> object:
    """``collect_<area>`` lives in ``dwcp_diag.collect.<area>``; the rest on their owner."""
    if owner != "collect":
        return getattr(OWNERS[owner], name, None)
    try:
        module = importlib.import_module(f"dwcp_diag.collect.{name.removeprefix('collect_')}")
    except ModuleNotFoundError:
        return None
    return getattr(module, name, None)


def exercising_sources() -> str:
    """Test code, non-skipped doctest lines of the package, and notebook code."""
    parts = [p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py")]
    parts = [p for p in parts if "def documented(" not in p]  # not this file's own lists
    for module in (ROOT / "dwcp_diag").rglob("*.py"):
        for line in module.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith((">>>", "...")) and "doctest: +SKIP" not in stripped:
                parts.append(stripped)
    parts += [p.read_text(encoding="utf-8") for p in (ROOT / "notebooks").glob("*.ipynb")]
    return "\n".join(parts)


def test_the_readme_documents_the_interactive_api():
    names = {f"{owner}.{name}" for owner, name, _ in documented()}
    expected = {"dd.session", "s.prom.range", "s.pg.slow_queries", "s.k8s.containers"}
    assert expected | {"s.findings.memory", "dd.show", "dd.plots.timeseries"} <= names


@pytest.mark.parametrize(("owner", "name", "function"), documented())
def test_documented_function_exists_with_an_example(owner, name, function):
    assert callable(function), f"README shows {owner}.{name}(), which does not exist"
    doc = inspect.getdoc(function) or ""
    assert ">>>" in doc or (owner == "promql" and doc), f"{owner}.{name} has no example"


@pytest.mark.parametrize(("owner", "name", "function"), documented())
def test_documented_function_is_called_by_a_test(owner, name, function):
    calls = re.compile(rf"(?<![\w]){re.escape(name)}\(|\.{re.escape(name)}\(")
    assert calls.search(exercising_sources()), f"no test, doctest or notebook calls {name}()"
