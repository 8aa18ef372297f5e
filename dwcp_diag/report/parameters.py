"""Notebook parameters: the type each one declares, and ``-p`` values checked before a kernel.

A notebook's cell tagged ``parameters`` declares each parameter's type by its default and its
comment, the way a reader would understand it:

=====================================================  ===========================================
``top = 15``, ``fail = False``, ``rate = 0.5``          int, bool, number (the default's type)
``step = "5m"``                                         duration (the default parses as one)
``group_by = "team"  # team | workload | namespace``    choice (``DIR``-like capitals: any text)
``start = None  # ISO-8601 UTC``                        time
``endpoints = None  # e.g. ["/api/v1/tasks"]``          the type of the example (list, mapping, ...)
``p95_target_ms = None``                                number (the name ends with a unit)
``profile = None  # profile name``                      str
=====================================================  ===========================================

A type annotation (``top: int = 15``) wins over all of these. A parameter whose default is
``None`` also accepts ``null``. :func:`convert` turns ``-p`` strings into those values, or
raises one line naming the parameter, the value and a valid example:

>>> step = parameter_type("step", '"5m"', "resolution of the range queries")
>>> step.convert("1h")
'1h'
>>> step.convert("abc")
Traceback (most recent call last):
...
dwcp_diag.report.parameters.ParameterError: -p step='abc' is not a duration; e.g. -p step=5m
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dwcp_diag.errors import DwcpDiagError, TimeWindowError
from dwcp_diag.timewindow import parse_duration, parse_time

KINDS = ("bool", "int", "number", "duration", "time", "choice", "list", "mapping", "str")
# The project names quantities with their unit (p95_target_ms, cpu_core_hour, ...): such a
# parameter is a number even when its default is None.
_UNIT_SUFFIXES = (
    "ms",
    "s",
    "pct",
    "ratio",
    "hour",
    "month",
    "days",
    "weeks",
    "bytes",
    "cores",
    "calls",
    "scans",
    "count",
)
# The largest value a share may take, and an example when the comment gives no number.
_UNIT_MAXIMUM = {"pct": 100.0, "ratio": 1.0}
_UNIT_EXAMPLE = {"pct": "1", "ratio": "0.8", "hour": "0.05", "month": "0.05"}
_CHOICES = re.compile(r"[\w.:/-]+(?:\s*\|\s*[\w.:/-]+)+")
_EXAMPLE = re.compile(r"e\.g\.\s*(.+)")
_NUMBER_IN_HELP = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")
_ANNOTATIONS = {"bool": "bool", "int": "int", "float": "number", "str": "str"}
_ANNOTATIONS |= {"list": "list", "dict": "mapping"}
_NULLS = ("null", "none", "")


class ParameterError(DwcpDiagError):
    """A ``-p`` value does not fit the type its notebook declares."""


@dataclass(frozen=True)
class ParameterType:
    """What a notebook parameter accepts: a kind (one of :data:`KINDS`), whether ``None`` is
    allowed (its default is None), the choices of a ``choice``, and a valid ``-p`` example."""

    name: str
    kind: str
    optional: bool = False
    choices: tuple[str, ...] = ()
    example: str = ""

    def convert(self, text: str) -> Any:
        """The value of ``-p NAME=text`` for the notebook; raises :class:`ParameterError`."""
        if self.optional and text.strip().lower() in _NULLS:
            return None
        try:
            return _PARSERS[self.kind](self, text)
        except (ValueError, TimeWindowError) as exc:
            reason = str(exc) if isinstance(exc, _Reason) else f"is not {_ARTICLE[self.kind]}"
            raise ParameterError(
                f"-p {self.name}={text!r} {reason}; e.g. -p {self.example}"
            ) from None


class _Reason(ValueError):
    """A parse failure whose message is the reason to show (``is not one of ...``)."""


def _bool(p: ParameterType, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError(text)


def _int(p: ParameterType, text: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise _Reason("must not be negative")
    return value


def _number(p: ParameterType, text: str) -> int | float:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError(text)
    if value < 0:
        raise _Reason("must not be negative")
    maximum = _UNIT_MAXIMUM.get(_unit_of(p.name))
    if maximum is not None and value > maximum:
        raise _Reason(f"is over {maximum:g}")
    return int(value) if value.is_integer() and "." not in text else value


def _unit_of(name: str) -> str | None:
    """The unit suffix of a parameter name (``p95_target_ms`` -> ``ms``), if it has one."""
    head, _, suffix = name.rpartition("_")
    return suffix if head and suffix in _UNIT_SUFFIXES else None


def _duration(p: ParameterType, text: str) -> str:
    if parse_duration(text) <= 0:
        raise _Reason("must be longer than zero")
    return text.strip()


def _time(p: ParameterType, text: str) -> str:
    parse_time(text)  # checked here; the notebook parses it against its own clock ("now-6h")
    return text.strip()


def _choice(p: ParameterType, text: str) -> str:
    value = text.strip()
    for choice in p.choices:
        prefix, _, placeholder = choice.partition(":")
        if value == choice or (placeholder.isupper() and value.startswith(prefix + ":")):
            return value
    raise _Reason(f"is not one of {' | '.join(p.choices)}")


def _list(p: ParameterType, text: str) -> list[Any]:
    stripped = text.strip()
    if stripped.startswith("["):
        value = json.loads(stripped)
        if isinstance(value, list):
            return value
        raise ValueError(text)
    items = [item.strip() for item in stripped.split(",") if item.strip()]
    if not items:
        raise ValueError(text)
    return items


def _mapping(p: ParameterType, text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(text)
    return value


def _str(p: ParameterType, text: str) -> str:
    return text


_PARSERS = {
    "bool": _bool,
    "int": _int,
    "number": _number,
    "duration": _duration,
    "time": _time,
    "choice": _choice,
    "list": _list,
    "mapping": _mapping,
    "str": _str,
}
_ARTICLE = {
    "bool": "true or false",
    "int": "a whole number",
    "number": "a number",
    "duration": "a duration",
    "time": "an ISO-8601 time",
    "choice": "a valid choice",
    "list": "a list (a,b or a JSON list)",
    "mapping": "a JSON object",
    "str": "a string",
}


def parameter_type(
    name: str, default_source: str, help_text: str = "", annotation: str = ""
) -> ParameterType:
    """The type a parameters-cell line declares (see the module docstring).

    >>> parameter_type("window", '"7d"', "the length of the window").kind
    'duration'
    >>> p = parameter_type("p95_target_ms", "None", "None: the profile's SLO (default 200 ms)")
    >>> p.kind, p.optional, p.example
    ('number', True, 'p95_target_ms=200')
    """
    try:
        default = ast.literal_eval(default_source)
    except (ValueError, SyntaxError):  # an expression: its value is only known in the kernel
        default = None
    optional = default is None
    declared = _ANNOTATIONS.get(annotation.strip().removeprefix("typing.").split("[")[0].lower())
    example = _example_in(help_text)
    kind, choices = declared or "str", ()
    if declared is None and not optional:
        kind, choices = _kind_of_value(default, help_text)
    elif declared is None and example is not _NO_EXAMPLE:
        kind, _ = _kind_of_value(example, "")
    elif declared is None and "iso-8601" in help_text.lower():
        kind = "time"
    elif declared is None and re.search(r"\ba list\b|\blist of\b", help_text):
        kind = "list"
    elif declared is None and _unit_of(name):
        kind = "number"
    shown = default if not optional else example
    return ParameterType(
        name, kind, optional, choices, f"{name}={_example_text(name, kind, shown, help_text)}"
    )


_NO_EXAMPLE = object()


def _example_in(help_text: str) -> Any:
    """The literal after ``e.g.`` in a comment (up to a ``;``), or ``_NO_EXAMPLE``."""
    match = _EXAMPLE.search(help_text)
    if not match:
        return _NO_EXAMPLE
    text = match.group(1).split(";")[0].strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _NO_EXAMPLE


def _kind_of_value(value: Any, help_text: str) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, bool):
        return "bool", ()
    if isinstance(value, int):
        return "int", ()
    if isinstance(value, float):
        return "number", ()
    if isinstance(value, list | tuple):
        return "list", ()
    if isinstance(value, dict):
        return "mapping", ()
    if isinstance(value, str):
        choices = _CHOICES.search(help_text)
        options = tuple(o.strip() for o in choices.group(0).split("|")) if choices else ()
        if value in options:
            return "choice", options
        try:
            parse_duration(value)
        except TimeWindowError:
            return "str", ()
        if not re.fullmatch(r"\d+(\.\d+)?", value.strip()):
            return "duration", ()
    return "str", ()


def _example_text(name: str, kind: str, value: Any, help_text: str) -> str:
    """A value as typed after ``-p NAME=`` (JSON for lists and mappings)."""
    if value is not _NO_EXAMPLE and value is not None:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list | tuple | dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)
    if kind == "number":
        number = _NUMBER_IN_HELP.search(help_text)
        return number.group(1) if number else _UNIT_EXAMPLE.get(_unit_of(name) or "", "10")
    return {"time": "2026-11-12T14:00Z", "int": "10", "bool": "true", "list": "a,b"}.get(
        kind, "text"
    )


def notebook_parameters(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parameters a notebook declares in its cell tagged ``parameters`` (papermill's
    reading: ``default``, ``help``, ``inferred_type_name`` per name)."""
    import papermill

    try:
        return dict(papermill.inspect_notebook(str(path)))
    except Exception as exc:  # not JSON, not a notebook: name the file, no traceback
        raise ParameterError(f"{path} is not a readable notebook: {exc}") from None


def notebook_parameter_types(path: str | os.PathLike[str]) -> dict[str, ParameterType]:
    """Every parameter a notebook declares, with its type."""
    return {
        name: parameter_type(
            name,
            str(info.get("default", "None")),
            str(info.get("help") or ""),
            str(info.get("inferred_type_name") or ""),
        )
        for name, info in notebook_parameters(path).items()
    }


def convert(path: str | os.PathLike[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """``-p`` values (strings) converted to the types ``path`` declares; other values (set by
    the program, not typed by a person) pass unchanged. Unknown names are left to
    :func:`dwcp_diag.report.render.check_parameters`."""
    types = notebook_parameter_types(path)
    converted = dict(values)
    for name, value in values.items():
        if isinstance(value, str) and name in types:
            converted[name] = types[name].convert(value)
    return converted
