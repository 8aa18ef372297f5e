"""The check registry: every name it holds resolves, thresholds resolve and reject typos."""

from __future__ import annotations

import ast
import importlib
import math
import re
from importlib import resources
from pathlib import Path

import pytest

import dwcp_diag
from dwcp_diag.checks import (
    CHECKS,
    SETTINGS_TABLES,
    URGENCY,
    Check,
    check_thresholds,
    measure_spec,
    notebook_checks,
    threshold_tables,
    validate_thresholds,
)
from dwcp_diag.config import Profile
from dwcp_diag.errors import ConfigError
from dwcp_diag.queries import promql

NOTEBOOKS = ("latency", "database", "memory", "cost", "capacity", "incident", "platform", "all")


def resolve_emitter(path: str) -> object:
    """The object a ``module:qualname`` path names, or AssertionError naming the path."""
    module_name, _, qualname = path.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise AssertionError(
            f"emitter {path!r}: module {module_name!r} not found ({exc})"
        ) from None
    for part in qualname.split("."):
        if not hasattr(target, part):
            raise AssertionError(f"emitter {path!r}: {part!r} not found in {target!r}")
        target = getattr(target, part)
    return target


def resolve_query(name: str) -> None:
    """AssertionError naming ``name`` unless it is a PromQL builder or a SQL file."""
    if name.startswith("promql."):
        builder = getattr(promql, name.removeprefix("promql."), None)
        assert callable(builder), f"query {name!r}: no such builder in dwcp_diag/queries/promql.py"
    elif name.startswith("sql/"):
        sql = resources.files("dwcp_diag.queries").joinpath(name)
        assert sql.is_file(), f"query {name!r}: no such file in dwcp_diag/queries/sql/"
    else:
        raise AssertionError(f"query {name!r}: expected promql.BUILDER or sql/NAME.sql")


@pytest.mark.parametrize("check", list(CHECKS.values()), ids=list(CHECKS))
def test_every_emitter_resolves_to_a_function(check: Check) -> None:
    assert callable(resolve_emitter(check.emitter)), f"emitter {check.emitter!r} is not callable"


@pytest.mark.parametrize("check", list(CHECKS.values()), ids=list(CHECKS))
def test_every_named_query_resolves(check: Check) -> None:
    for name in check.queries:
        resolve_query(name)


def test_an_unresolved_path_is_named_in_the_failure() -> None:
    with pytest.raises(
        AssertionError, match=re.escape("dwcp_diag.analysis.memory:no_such_function")
    ):
        resolve_emitter("dwcp_diag.analysis.memory:no_such_function")
    with pytest.raises(AssertionError, match=re.escape("promql.no_such_builder")):
        resolve_query("promql.no_such_builder")
    with pytest.raises(AssertionError, match=re.escape("sql/no_such_file.sql")):
        resolve_query("sql/no_such_file.sql")


def test_registry_entries_are_complete_and_consistent() -> None:
    assert all(check_id == check.id for check_id, check in CHECKS.items())
    assert {c.notebook for c in CHECKS.values()} == set(NOTEBOOKS)
    assert sorted(URGENCY) == sorted(CHECKS), "URGENCY must list every check exactly once"
    for check in CHECKS.values():
        assert check.description and check.ranked_by, check.id
        measure_spec(check.measure)  # raises on a measure the findings cannot rank by
        for key, threshold in check.thresholds.items():
            assert threshold.unit and threshold.meaning and threshold.source, (check.id, key)
    assert not set(SETTINGS_TABLES) & set(CHECKS)


def test_notebook_checks_keep_registry_order() -> None:
    assert notebook_checks("incident") == (
        "deployment_in_window",
        "scaling_in_window",
        "consumer_lag_spike",
    )
    assert sum(len(notebook_checks(n)) for n in NOTEBOOKS) == len(CHECKS)


def test_check_thresholds_overrides_defaults_from_a_profile_or_a_mapping() -> None:
    profile = Profile(thresholds={"memory_leak": {"min_span_h": 48}})
    leak = check_thresholds(profile, "memory_leak")
    assert leak["min_span_h"] == 48.0 and leak["min_growth_mib_per_h"] == 1.0
    assert check_thresholds({"vacuum_lag": {"warning_age_s": 60}}, "vacuum_lag") == {
        "min_dead_tup": 1000.0,
        "trigger_factor": 2.0,
        "warning_age_s": 60.0,
        "critical_age_s": 172800.0,
    }
    assert check_thresholds(None, "duplicate_index") == {}
    assert math.isnan(check_thresholds(None, "capacity_exhaustion")["pg_database_size_limit_bytes"])
    # another check's table does not concern this one
    assert check_thresholds({"memory_leak": {"x": 1}}, "slow_query")["mean_ms"] == 20.0


def test_check_thresholds_rejects_an_unknown_key_naming_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        check_thresholds(Profile(thresholds={"memory_leak": {"min_spn_h": 48}}), "memory_leak")
    message = str(raised.value)
    assert "[thresholds.memory_leak]" in message and "'min_spn_h'" in message
    assert "min_span_h" in message and "critical_hours_to_limit" in message
    with pytest.raises(ConfigError, match=r"unknown check id 'slow_qery'.*slow_query"):
        check_thresholds(None, "slow_qery")


def test_validate_thresholds_names_the_valid_check_ids_and_keys() -> None:
    validate_thresholds({"slow_query": {"mean_ms": 50}, "rollup": {"above": 5}})
    with pytest.raises(
        ConfigError, match=r"\[thresholds.slow_qery\]: unknown check id.*slow_query"
    ):
        validate_thresholds({"slow_qery": {"mean_ms": 50}})
    with pytest.raises(ConfigError, match=r"\[thresholds.rollup\].*'abov'.*above"):
        validate_thresholds({"rollup": {"abov": 5}})
    with pytest.raises(ConfigError, match=r"\[thresholds.duplicate_index\].*valid keys: none"):
        validate_thresholds({"duplicate_index": {"min_bytes": 1}})


def test_measure_spec_refuses_an_unknown_measure() -> None:
    assert measure_spec("value") == ("value", None, 1.0)
    assert measure_spec("none") == ("none", None, 1.0)
    with pytest.raises(ValueError, match=re.escape("unknown measure 'evidense.x'")):
        measure_spec("evidense.x")


def test_every_threshold_key_is_read_somewhere_in_the_package() -> None:
    """A registry key no code reads would be accepted at profile load and then ignored: each
    key appears in the package (outside the registry) as a string or a parameter name."""
    names: set[str] = set()
    for path in Path(dwcp_diag.__file__).parent.rglob("*.py"):
        if path.name == "checks.py" and path.parent.name == "dwcp_diag":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    for table, thresholds in threshold_tables().items():
        unread = [key for key in thresholds if key not in names]
        assert not unread, f"[thresholds.{table}] keys no code reads: {unread}"
