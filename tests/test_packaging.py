"""The package's metadata: dependencies declared once per ecosystem, and kept in sync."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"python-kubernetes": "kubernetes"}


def _name_and_bound(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(>=\s*[0-9][^\s,;#]*)?", requirement)
    assert match, requirement
    return match.group(1).lower(), (match.group(2) or "").replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_name_and_bound(r) for r in requirements)


def _environment_yml() -> dict[str, str]:
    deps: dict[str, str] = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = re.match(r"\s+-\s+([^#]+)", line)
        if item and not item.group(1).strip().startswith("conda-forge"):
            name, bound = _name_and_bound(item.group(1))
            if name not in ("python", "pip"):  # pip: the installer of the PyPI-only ones
                deps[CONDA_TO_PYPI.get(name, name)] = bound
    return deps


def test_environment_yml_lists_the_same_dependencies_and_bounds_as_pyproject():
    assert _environment_yml() == _pyproject()


def test_every_dependency_has_a_lower_bound():
    unbounded = [name for name, bound in _pyproject().items() if not bound]
    assert unbounded == []


def test_constraints_pin_every_declared_dependency():
    pinned = {
        line.split("==")[0].lower()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    missing = sorted(set(_pyproject()) - pinned)
    assert missing == []


@pytest.mark.server  # starts a notebook kernel or another process
def test_cli_help_runs_from_the_installed_entry_point():
    exe = Path(sys.executable).with_name("dwcp-diag")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for command in ("render", "demo", "check"):
        assert command in out.stdout


@pytest.mark.server  # starts a notebook kernel or another process
def test_a_non_editable_install_has_its_notebooks_demo_data_and_template(tmp_path):
    """The CronJob image's case: a wheel installed into a prefix, run from elsewhere."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # built from a copy: setuptools writes build/ and *.egg-info next to the sources
    source = tmp_path / "source"
    skip = (".venv", ".cache", ".git", "build", "reports", "test-artifacts", "*.egg-info")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skip, "__pycache__"))
    build = [*pip, "wheel", str(source), "--no-deps", "-w", str(tmp_path / "wheel")]
    subprocess.run(build, check=True)
    (wheel,) = (tmp_path / "wheel").glob("dwcp_diag-*.whl")
    prefix = tmp_path / "prefix"
    # --ignore-installed: never uninstall this environment's own (editable) dwcp-diag
    install = [*pip, "install", "--no-deps", "--ignore-installed", "--prefix", str(prefix)]
    subprocess.run([*install, str(wheel)], check=True)
    assert Path(sys.executable).with_name("dwcp-diag").is_file(), "our own install was removed"
    (site,) = prefix.glob("lib/python*/site-packages")
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("DWCP_NOTEBOOK_DIR", None)
    probe = """if True:
        import json, dwcp_diag as dd, dwcp_diag.report.render as r
        from dwcp_diag.queries.sql import sql_names
        found = dd.session(source="demo").findings.memory()  # the shipped demo bundle
        print(json.dumps({
            "package": dd.__file__, "notebooks": str(r.notebook_dir()),
            "names": r.available_notebooks(), "checks": sorted({f.check for f in found}),
            "template": (r.TEMPLATE_DIR / "dwcp_report").is_dir(), "sql": sql_names(),
        }))
    """
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    installed = json.loads(run.stdout)
    assert installed["package"].startswith(str(site))  # the installed copy, not the source tree
    assert installed["notebooks"] == str(prefix / "share" / "dwcp-diag" / "notebooks")
    assert installed["names"] == sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "memory_leak" in installed["checks"] and installed["template"]
    shipped = sorted(p.stem for p in (ROOT / "dwcp_diag" / "queries" / "sql").rglob("*.sql"))
    assert installed["sql"] == shipped
