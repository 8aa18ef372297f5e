"""Human units: how a number with a unit is shown, in one place for findings, tables and axes.

Frames and findings keep raw numbers (``value`` in a finding, ``total_bytes`` in a frame);
these functions only make the text people read. Never scientific notation.

>>> human_value(1901000.0, "bytes"), human_value(110000.0, "tuples")
('1.8 MiB', '110,000 tuples')
>>> human_value(2.0, "$/month"), human_value(0.9935, "ratio"), human_value(12034.5, "rps")
('$2.00/month', '99.35 %', '12,034 rps')
"""

from __future__ import annotations

import math
from typing import Any

from dwcp_diag.timewindow import format_duration

DAY_S, HOUR_S = 86400.0, 3600.0
MIB, GIB = 2**20, 2**30  # binary units: columns named *_mib / *_gib hold value / MIB, / GIB


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def human_bytes(count: float) -> str:
    """Bytes for people: one decimal, binary units.

    >>> human_bytes(15187968), human_bytes(512), human_bytes(float("nan"))
    ('14.5 MiB', '512 B', 'unknown')
    """
    if _missing(count):
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """A duration rounded to its two largest units (``2d3h``, ``5m12s``); under a second in ms.

    >>> human_duration(93784), human_duration(312.4), human_duration(0.35)
    ('1d2h', '5m12s', '350 ms')
    >>> human_duration(float("nan"))
    'unknown'
    """
    if _missing(seconds):
        return "unknown"
    seconds = max(float(seconds), 0.0)
    if seconds < 1:
        return f"{human_number(seconds * 1000)} ms"
    step = next((unit for limit, unit in ((DAY_S, HOUR_S), (HOUR_S, 60.0)) if seconds >= limit), 1)
    return format_duration(round(seconds / step) * step)


def human_number(value: float) -> str:
    """Three significant digits, thousands separated, no exponent.

    >>> human_number(1234567.8), human_number(25.0014), human_number(0.000123), human_number(3)
    ('1,234,568', '25', '0.000123', '3')
    """
    if _missing(value):
        return "unknown"
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if number == 0 or abs(number) >= 100:
        return f"{number:,.0f}"
    decimals = min(2 - math.floor(math.log10(abs(number))), 9)
    return f"{number:,.{decimals}f}".rstrip("0").rstrip(".")


def human_money(usd: float, per: str = "") -> str:
    """Dollars with cents, the sign first: ``$1,234.50/month``, ``-$0.12``.

    >>> human_money(1234.5, "/month"), human_money(-0.123)
    ('$1,234.50/month', '-$0.12')
    """
    if _missing(usd):
        return "unknown"
    sign = "-" if float(usd) < 0 else ""
    return f"{sign}${abs(float(usd)):,.2f}{per}"


def human_percent(percent: float) -> str:
    """A percentage; near 100 with two decimals (availability 99.72 %, not 99.7 %).

    >>> human_percent(99.7193), human_percent(4.3857), human_percent(95.0)
    ('99.72 %', '4.39 %', '95 %')
    """
    if _missing(percent):
        return "unknown"
    number = float(percent)
    return f"{number:.2f} %" if 99 <= number < 100 else f"{human_number(number)} %"


def human_value(value: Any, unit: str | None) -> str:
    """``value`` in ``unit`` as a person reads it (a finding's ``value_text``).

    >>> human_value(89.86, "s"), human_value(69.34, "ms"), human_value(4500.0, "ms")
    ('1m30s', '69.3 ms', '4s')
    >>> human_value(1.99999, "x request"), human_value(3.7, "weeks"), human_value(None, "s")
    ('2.0× request', '3.7 weeks', '')
    """
    if value is None or isinstance(value, str):
        return value or ""
    if _missing(value):
        return "unknown"
    unit = (unit or "").strip()
    number = float(value)
    if unit == "bytes":
        return human_bytes(number)
    if unit in ("s", "seconds"):
        return human_duration(number)
    if unit == "ms":
        return f"{human_number(number)} ms" if number < 1000 else human_duration(number / 1000)
    if unit == "%":
        return human_percent(number)
    if unit == "ratio":
        return human_percent(number * 100)
    if unit.startswith("$"):
        return human_money(number, unit[1:])
    if unit.startswith("x "):
        return f"{number:.1f}× {unit[2:]}"
    text = human_number(number)
    return text if unit in ("", "count") else f"{text} {unit}"


def axis_format(unit: str | None) -> dict[str, Any]:
    """plotly axis properties that label ticks of ``unit`` (an axis title) without exponents
    or billions-as-"B": bytes in SI (``20 GB``), money with ``$``, ratios as %.

    >>> axis_format("bytes")
    {'exponentformat': 'SI', 'ticksuffix': 'B'}
    """
    unit = (unit or "").strip()
    if unit == "bytes":
        return {"exponentformat": "SI", "ticksuffix": "B"}
    if unit.startswith("$"):
        return {"tickprefix": "$", "tickformat": ",.2~f"}
    if unit == "ratio":
        return {"tickformat": ".0%"}
    if unit in ("s", "seconds"):
        return {"ticksuffix": " s", "exponentformat": "SI"}
    return {"exponentformat": "SI"}
