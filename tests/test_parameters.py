"""Notebook parameters: types read from the parameters cells, `-p` checked before any kernel."""

from __future__ import annotations

import pytest

from dwcp_diag.cli import main
from dwcp_diag.report.parameters import ParameterError, notebook_parameter_types, parameter_type
from dwcp_diag.report.render import available_notebooks, resolve_notebook

# What a reader of each parameters cell understands; the inference must agree.
EXPECTED_KINDS = {
    ("latency", "window"): "duration",
    ("latency", "start"): "time",
    ("latency", "source"): "choice",
    ("latency", "endpoints"): "list",
    ("latency", "p95_target_ms"): "number",
    ("latency", "availability_target_pct"): "number",
    ("memory", "step"): "duration",
    ("memory", "namespaces"): "list",
    ("incident", "namespaces"): "list",
    ("incident", "margin"): "duration",
    ("incident", "incident_id"): "str",
    ("database", "top"): "int",
    ("database", "pg_selector"): "mapping",
    ("database", "connection_saturation_ratio"): "number",
    ("cost", "group_by"): "choice",
    ("cost", "cpu_core_hour"): "number",
    ("capacity", "horizon_weeks"): "int",
    ("explore", "namespace"): "str",
    ("explore", "profile"): "str",
}


def test_every_notebook_parameter_gets_the_type_its_cell_declares():
    found = {
        (name, parameter): kind.kind
        for name in available_notebooks()
        for parameter, kind in notebook_parameter_types(resolve_notebook(name)).items()
    }
    assert {key: found.get(key) for key in EXPECTED_KINDS} == EXPECTED_KINDS
    # every example the error messages offer is itself accepted
    for name in available_notebooks():
        for parameter in notebook_parameter_types(resolve_notebook(name)).values():
            parameter.convert(parameter.example.split("=", 1)[1])


@pytest.mark.parametrize(
    ("default", "help_text", "text", "value"),
    [
        ("15", "rows per table", "20", 20),
        ("False", "", "true", True),
        ("0.5", "", "0.25", 0.25),
        ('"5m"', "resolution", "1h30m", "1h30m"),
        ('"team"', "team | workload | namespace", "workload", "workload"),
        ('"demo"', "live | demo | snapshot:DIR", "snapshot:/tmp/bundle", "snapshot:/tmp/bundle"),
        ("None", 'paths, e.g. ["/a"]; None: all', "/a,/b", ["/a", "/b"]),
        ("None", 'paths, e.g. ["/a"]; None: all', '["/a"]', ["/a"]),
        ("None", 'labels, e.g. {"instance": "db:9187"}', '{"job": "pg"}', {"job": "pg"}),
        ("None", "ISO-8601 UTC", "2026-11-12T14:00Z", "2026-11-12T14:00Z"),
        ("None", "ISO-8601 UTC", "null", None),
        ("None", "a profile name", "123", "123"),  # a string stays a string
    ],
)
def test_values_are_converted_to_the_declared_type(default, help_text, text, value):
    assert parameter_type("x", default, help_text).convert(text) == value


@pytest.mark.parametrize(
    ("name", "default", "help_text", "text", "message"),
    [
        ("step", '"5m"', "", "abc", "-p step='abc' is not a duration; e.g. -p step=5m"),
        ("window", '"7d"', "", "0s", "-p window='0s' must be longer than zero; e.g. -p window=7d"),
        ("top", "15", "", "1.5", "-p top='1.5' is not a whole number; e.g. -p top=15"),
        ("fail", "False", "", "maybe", "-p fail='maybe' is not true or false; e.g. -p fail=false"),
        ("p95_target_ms", "None", "(default 200 ms)", "-5", "must not be negative; e.g. -p p95"),
        ("share_pct", "None", "", "150", "-p share_pct='150' is over 100; e.g. -p share_pct=1"),
        ("group_by", '"team"', "team | workload", "pod", "is not one of team | workload"),
        ("start", "None", "ISO-8601 UTC", "yesterday", "e.g. -p start=2026-11-12T14:00Z"),
        ("sel", "None", 'e.g. {"a": "b"}', "[1]", 'is not a JSON object; e.g. -p sel={"a":"b"}'),
    ],
)
def test_a_bad_value_is_one_line_naming_parameter_value_and_a_valid_example(
    name, default, help_text, text, message
):
    with pytest.raises(ParameterError) as caught:
        parameter_type(name, default, help_text).convert(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_annotation_wins_over_the_default():
    assert parameter_type("limit", "None", "", "int").kind == "int"


@pytest.mark.parametrize(
    ("notebook", "parameter", "example"),
    [
        ("latency", "window=7x", "-p window=7d"),
        ("memory", "step=abc", "-p step=5m"),
        ("latency", "p95_target_ms=abc", "-p p95_target_ms=200"),
        ("latency", "start=tuesday", "-p start=2026-11-12T14:00Z"),
    ],
)
def test_cli_refuses_a_bad_value_before_a_kernel_starts(
    notebook, parameter, example, tmp_path, capsys
):
    out = tmp_path / "out"
    assert main(["render", notebook, "--source", "demo", "-p", parameter, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err  # one line, no traceback, no kernel output
    name, value = parameter.split("=")
    assert lines[0].startswith(f"dwcp-diag: error: -p {name}={value!r} ") and example in lines[0]
    assert not out.exists()  # nothing ran, nothing written
