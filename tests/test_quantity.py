"""Kubernetes quantity parsing: examples, and property tests against the grammar."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.sources.quantity import (
    BINARY_SI,
    DECIMAL_SI,
    QuantityError,
    parse_bytes,
    parse_cpu_cores,
    parse_quantity,
)

# The grammar, written independently of the parser (ASCII digits, int32 exponent checked apart).
GRAMMAR = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?",
    re.ASCII,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250m", 0.25),
        ("1.5", 1.5),
        ("2Gi", 2 * 2**30),
        ("500M", 500e6),
        ("1e3", 1000.0),
        ("128974848", 128974848.0),
        ("129e6", 129e6),
        ("123Mi", 123 * 2**20),
        ("1Ki", 1024.0),
        ("12345678n", 0.012345678),
        ("100u", 0.0001),
        ("0", 0.0),
        ("5.", 5.0),
        (".5", 0.5),
        ("+1k", 1000.0),
        ("-250m", -0.25),
        ("1E", 1e18),
        ("1E3", 1000.0),
        ("1e+3", 1000.0),
        ("2e-3", 0.002),
        ("1.5Gi", 1.5 * 2**30),
        ("0.5Ki", 512.0),
    ],
)
def test_examples(text: str, expected: float) -> None:
    assert parse_bytes(text) == expected
    assert parse_cpu_cores(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "+",
        "-",
        "e3",
        "1e",
        "1e3.5",
        " 1",
        "1 ",
        "1KiB",
        "1ki",
        "1K",
        "1Mb",
        "Mi",
        "--1",
        "1.2.3",
        "1,5",
        "١",
        "1e2147483648",
        "1e-2147483649",
        "0x10",
        "inf",
        "NaN",
        "1_000",
    ],
)
def test_malformed_is_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_error_names_value_and_context() -> None:
    context = "pod production/dwcp-api-x container api: memory limit"
    with pytest.raises(QuantityError) as caught:
        parse_bytes("12Mb", context)
    message = str(caught.value)
    assert "'12Mb'" in message and context in message
    assert caught.value.value == "12Mb" and caught.value.context == context
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DwcpDiagError)


def test_exponent_bounds_are_int32() -> None:
    assert parse_quantity("1e2147483647") == Decimal("1e2147483647")
    assert parse_quantity("1e-2147483648") == Decimal("1e-2147483648")
    assert parse_bytes("1e400") == math.inf  # exact Decimal, overflowing float


def test_numbers_and_non_strings() -> None:
    assert parse_bytes(1024) == 1024.0 and parse_cpu_cores(0.5) == 0.5
    for bad in (True, None, [1], math.nan, math.inf):
        with pytest.raises(QuantityError):
            parse_quantity(bad)  # type: ignore[arg-type]


def test_cache_keeps_context_per_call() -> None:
    with pytest.raises(QuantityError, match="first"):
        parse_bytes("bad!", "first")
    with pytest.raises(QuantityError, match="second"):
        parse_bytes("bad!", "second")


# -- properties --------------------------------------------------------------------------------
digits = st.text("0123456789", min_size=1, max_size=12)
suffixes = st.one_of(
    st.sampled_from(sorted(BINARY_SI)),
    st.sampled_from(sorted(DECIMAL_SI)),
    st.builds(
        lambda e, sign, exponent: f"{e}{sign}{exponent}",
        st.sampled_from("eE"),
        st.sampled_from(["", "+", "-"]),
        st.integers(0, 40),
    ),
)


@st.composite
def numbers(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A ``<signedNumber>`` string and its exact value."""
    sign = draw(st.sampled_from(["", "+", "-"]))
    whole, fraction = draw(digits), draw(digits)
    form = draw(st.sampled_from(["int", "int.frac", "int.", ".frac"]))
    forms = {"int": whole, "int.frac": f"{whole}.{fraction}", "int.": f"{whole}.", ".frac": "."}
    text = forms[form] + (fraction if form == ".frac" else "")
    whole_part = 0 if form == ".frac" else int(whole)
    frac_part = Fraction(int(fraction), 10 ** len(fraction)) if "frac" in form else 0
    value = whole_part + frac_part
    return sign + text, -value if sign == "-" else value


def multiplier(suffix: str) -> Fraction:
    if suffix in BINARY_SI:
        return Fraction(2 ** BINARY_SI[suffix])
    exponent = DECIMAL_SI[suffix] if suffix in DECIMAL_SI else int(suffix[1:])
    return Fraction(10) ** exponent


@given(numbers(), suffixes)
@example(("12345678", Fraction(12345678)), "n")
@example(("1", Fraction(1)), "E")
def test_valid_quantities_parse_exactly(number: tuple[str, Fraction], suffix: str) -> None:
    text, value = number
    expected = value * multiplier(suffix)
    parsed = parse_quantity(text + suffix)
    assert Fraction(parsed) == expected
    assert parse_bytes(text + suffix) == float(expected)  # one correct rounding to float


@given(st.text(max_size=12))
@example("1e")
@example("1.5ki")
def test_strings_outside_the_grammar_are_refused(text: str) -> None:
    if GRAMMAR.fullmatch(text):
        parse_quantity(text)  # inside the grammar: must parse
        return
    with pytest.raises(QuantityError):
        parse_quantity(text)


@given(numbers(), suffixes, st.sampled_from(list(" xX_,/iB\t")), st.data())
def test_a_stray_character_is_refused(number, suffix, junk, data) -> None:
    text = number[0] + suffix
    position = data.draw(st.integers(0, len(text)))
    mutated = text[:position] + junk + text[position:]
    assume(not GRAMMAR.fullmatch(mutated))  # "1E" + "i" is 1Ei: still a quantity
    with pytest.raises(QuantityError):
        parse_quantity(mutated)


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=9), suffixes)
def test_round_trip_format_then_parse(value: Decimal, suffix: str) -> None:
    text = f"{value:f}{suffix}"
    assert Fraction(parse_quantity(text)) == Fraction(value) * multiplier(suffix)
