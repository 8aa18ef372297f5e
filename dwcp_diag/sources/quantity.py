"""Kubernetes resource quantities (``250m``, ``2Gi``, ``1e3``) as numbers in base units.

The serialization grammar (k8s.io/apimachinery ``resource.Quantity``)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

As in apimachinery's parser, the exponent after ``e``/``E`` is a signed integer in the int32
range (``1E`` alone is exa, ``1E3`` is a thousand) and no whitespace is allowed. Values are
computed exactly with :class:`~decimal.Decimal` and rounded once to the nearest float; unlike
the apiserver, nothing is capped at 2^63-1 or rounded up to 1n (objects read from the API are
canonical already).

>>> parse_cpu_cores("250m"), parse_bytes("2Gi"), parse_bytes("129e6"), parse_bytes("1E")
(0.25, 2147483648.0, 129000000.0, 1e+18)
>>> try:
...     parse_bytes("12Mb", context="pod p/a: memory")
... except QuantityError as exc:
...     print(exc)
invalid Kubernetes quantity '12Mb' (pod p/a: memory): expected e.g. 250m, 1.5, 2Gi, 500M, 1e3
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX as _MAX_EMAX
from decimal import MIN_EMIN as _MIN_EMIN
from decimal import Decimal, localcontext
from functools import lru_cache

from dwcp_diag.errors import DwcpDiagError

BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_INT32 = 2**31
_NUMBER = re.compile(r"([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)")
_EXPONENT = re.compile(r"[eE]([+-]?[0-9]+)")


class QuantityError(DwcpDiagError, ValueError):
    """A string is not a Kubernetes quantity. ``value`` and ``context`` say which and where."""

    def __init__(self, value: object, context: str | None = None) -> None:
        where = f" ({context})" if context else ""
        super().__init__(
            f"invalid Kubernetes quantity {value!r}{where}: expected e.g. 250m, 1.5, 2Gi, 500M, 1e3"
        )
        self.value = value
        self.context = context


def parse_quantity(value: str | int | float, context: str | None = None) -> Decimal:
    """The exact value of a quantity, as a Decimal in base units.

    ``context`` names where the value came from; it goes into the error message.

    >>> parse_quantity("1.5Ki"), parse_quantity("12345678n"), parse_quantity("-2e-3")
    (Decimal('1536.0'), Decimal('0.012345678'), Decimal('-0.002'))
    """
    if isinstance(value, bool):
        raise QuantityError(value, context)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(value, context)
        return Decimal(value)
    if not isinstance(value, str):
        raise QuantityError(value, context)
    try:
        return _parse_text(value)
    except QuantityError:
        raise QuantityError(value, context) from None


def parse_cpu_cores(value: str | int | float, context: str | None = None) -> float:
    """A CPU quantity in cores: ``parse_cpu_cores("250m") == 0.25``.

    >>> parse_cpu_cores("1500m"), parse_cpu_cores("2"), parse_cpu_cores("123456n")
    (1.5, 2.0, 0.000123456)
    """
    return _as_float(value, context)


def parse_bytes(value: str | int | float, context: str | None = None) -> float:
    """A memory or storage quantity in bytes: ``parse_bytes("128Mi") == 134217728.0``.

    >>> parse_bytes("1Ki"), parse_bytes("500M"), parse_bytes("128974848")
    (1024.0, 500000000.0, 128974848.0)
    """
    return _as_float(value, context)


def _as_float(value: str | int | float, context: str | None) -> float:
    if isinstance(value, str):
        try:
            return _cached_float(value)
        except QuantityError:
            raise QuantityError(value, context) from None
    return float(parse_quantity(value, context))


@lru_cache(maxsize=4096)
def _cached_float(text: str) -> float:
    # Requests and limits repeat across thousands of pods: parse each distinct string once.
    return float(_parse_text(text))


def _parse_text(text: str) -> Decimal:
    match = _NUMBER.match(text)
    if match is None:
        raise QuantityError(text)
    sign, digits = match.groups()
    base, exponent = _interpret_suffix(text[match.end() :], text)
    number = Decimal(sign + digits)
    # A context wide enough that scaling and 2**k products are exact (no rounding).
    with localcontext() as ctx:
        ctx.prec = len(text) + 40
        ctx.Emax, ctx.Emin = _MAX_EMAX, _MIN_EMIN
        if base == 2:
            return number * (1 << exponent)
        return number.scaleb(exponent)


def _interpret_suffix(suffix: str, text: str) -> tuple[int, int]:
    """``(base, exponent)`` of a suffix: ``"Mi" -> (2, 20)``, ``"k" -> (10, 3)``."""
    if suffix in BINARY_SI:
        return 2, BINARY_SI[suffix]
    if suffix in DECIMAL_SI:
        return 10, DECIMAL_SI[suffix]
    match = _EXPONENT.fullmatch(suffix)
    if match is None:
        raise QuantityError(text)
    exponent = int(match.group(1))
    if not -_INT32 <= exponent < _INT32:
        raise QuantityError(text)
    return 10, exponent
