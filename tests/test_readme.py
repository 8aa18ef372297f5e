"""Every public function the README shows exists, has an example, and a test calls it; and
every python block of the README runs.

"Exercised" is checked where tests live: a call in tests/, a doctest example of the package
that is not skipped, or a notebook cell (nbval runs every notebook).

The python blocks run as written against the demo, with no source configured, each after the
blocks before it (they build on each other). A block the README runs against the local
sandbox says so on the line before its fence: ``<!-- readme-test: sandbox -->``; those run in
tests/test_sandbox.py while its sandbox is up.
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


SANDBOX_MARK = "<!-- readme-test: sandbox -->"


def runnable_blocks() -> list[tuple[str, str, int]]:
    """``(target, code, line)`` of every python block: target ``demo`` or ``sandbox``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"(?:^([^\n]*)\n)?```python\n(.*?)```", text, flags=re.DOTALL | re.M):
        target = "sandbox" if SANDBOX_MARK in (match.group(1) or "") else "demo"
        blocks.append((target, match.group(2), text.count("\n", 0, match.start(2))))
    return blocks


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


@pytest.fixture
def readme_demo(tmp_path, monkeypatch):
    """A new user's shell: no DWCP_* variable, no config file, a fresh working directory."""
    for name in ("DWCP_PROMETHEUS_URL", "DWCP_PG_DSN", "KUBECONFIG", "DWCP_CONFIG", "DWCP_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def test_the_readme_has_python_blocks_to_run():
    blocks = runnable_blocks()
    assert blocks and all(target in ("demo", "sandbox") for target, _, _ in blocks)
    assert any('dd.session(source="demo")' in code for _, code, _ in blocks)


def demo_blocks() -> list[tuple[str, int]]:
    return [(code, line) for target, code, line in runnable_blocks() if target == "demo"]


def sandbox_blocks() -> list[tuple[str, int]]:
    return [(code, line) for target, code, line in runnable_blocks() if target == "sandbox"]


def test_the_readme_marks_its_sandbox_blocks():
    assert any('dd.session("sandbox"' in code for code, _ in sandbox_blocks())
    assert not any("sandbox" in code for code, _ in demo_blocks())


@pytest.mark.parametrize("index", range(len(demo_blocks())))
def test_every_python_block_of_the_readme_runs(index, readme_demo):
    blocks = demo_blocks()
    code, line = blocks[index]
    namespace: dict = {"__name__": "readme"}
    for earlier, _ in blocks[:index]:  # the blocks build on each other, as in a notebook
        exec(compile(earlier, "README.md", "exec"), namespace)
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
    assert namespace.get("s") is not None
