"""How checks write figures in their one-sentence details: units, thousands, signs."""

from __future__ import annotations

import math


UNITS = ("ms", "s", "fraction", "rps", "usd", "tokens", "count", "ratio")
"""Every ``CheckResult.unit`` a check reports."""

_BROKEN = {"<=": ">", ">=": "<"}
_WHOLE_FROM = 100
"""Figures from this size up are written without decimals."""


def holds_sign(valid: bool, sign: str) -> str:
    """``sign`` (``<=`` or ``>=``) when the bound holds, its negation when it does not."""
    return sign if valid else _BROKEN[sign]


def number(value: float) -> str:
    """A readable figure: thousands separated, three significant digits for small ones."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) or abs(value) >= _WHOLE_FROM:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def amount(value: float, unit: str) -> str:
    """``value`` in ``unit`` as a reader expects it: fractions as percentages, USD with $."""
    if unit == "fraction":
        return f"{value * 100:.2f}%"
    if unit == "usd":
        return f"${value:.3g}"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "ratio":
        return f"{value:.3g}"
    if unit == "count":
        return number(value)
    return f"{number(value)} {unit}"


def count(value: int, noun: str) -> str:
    """``1,204 requests``; singular for one."""
    return f"{value:,} {noun if value == 1 else noun + 's'}"


def span(start_s: float, end_s: float) -> str:
    """``20.0-50.0 s``."""
    return f"{start_s:.1f}-{end_s:.1f} s"
