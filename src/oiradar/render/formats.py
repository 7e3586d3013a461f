"""How single values read for people: dates, percents, money, counts. Plain Python, no polars.

Every table and line the CLI prints goes through these, so one value reads the same everywhere:
dates as ISO UTC (never epoch milliseconds), fractions as percents, money with thousands
separators and its unit. Machine outputs (``--format csv|json``, ``--out``) keep the raw types.
"""

from __future__ import annotations

import math
from enum import StrEnum

from oiradar.timeutil import ISO_MINUTE, iso_utc


class OutFormat(StrEnum):
    """What a command prints: a table for people, or CSV / JSON for programs."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class Kind(StrEnum):
    """How a table column's values read (:mod:`oiradar.render.tables` picks one per column)."""

    TIME = "time"  # epoch ms -> 2024-01-31 12:00
    FRACTION = "fraction"  # 0.088 -> 8.8%
    PCT = "pct"  # already in percent units: -6.75 -> -6.75%
    USD = "usd"  # 1409016.3 -> $1,409,016
    RATIO = "ratio"  # a z-score, a Sharpe ratio: 0.842175 -> 0.84
    NUMBER = "number"  # 51840 -> 51,840; 0.0423579 as it is
    TEXT = "text"


class TsFormat(StrEnum):
    """Timestamps in CSV exports: epoch milliseconds (the catalog's own) or ISO-8601 UTC text."""

    MS = "ms"
    ISO = "iso"


def iso(ms: int | None, fmt: str = ISO_MINUTE) -> str:
    """Epoch ms as UTC text, ``2024-01-31 12:00``; empty for a missing value."""
    return "" if ms is None else iso_utc(ms, fmt)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def number(v: float | int | None) -> str:
    """A count or a measurement: ``51,840``, ``10,881.2``, ``0.0423579``; ``n/a`` when missing."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return "n/a" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    # six significant digits, but never an exponent for big amounts (1,409,016 not 1.40902e+06)
    return f"{v:,.0f}" if abs(v) >= 1e6 else f"{v:,.6g}"


def ratio(v: float | None) -> str:
    """A ratio or a z-score, two decimals: ``0.84``, ``-1.03``."""
    return f"{v:,.2f}" if finite(v) else "n/a"


def percent(fraction: float | None, digits: int = 1, *, sign: bool = False) -> str:
    """A fraction as a percent: ``0.0881`` -> ``8.8%`` (``+8.8%`` with ``sign``)."""
    if not finite(fraction):
        return "n/a"
    assert fraction is not None
    return f"{100 * fraction:{'+' if sign else ''}.{digits}f}%"


def pct(value: float | None, digits: int = 2) -> str:
    """A value already in percent units (``distance_pct``): ``-6.75`` -> ``-6.75%``."""
    if not finite(value):
        return "n/a"
    assert value is not None
    return f"{value:,.{digits}f}%".replace(".00%", "%")


def money(amount: float | None, unit: str = "USD", digits: int = 0) -> str:
    """An amount with thousands separators and its unit: ``$1,409,016``, ``10,881.20 USDT``."""
    if not finite(amount):
        return "n/a"
    assert amount is not None
    if unit == "USD":
        sign = "-" if amount < 0 else ""
        return f"{sign}${abs(amount):,.{digits}f}"
    return f"{amount:,.{digits}f} {unit}"


def short_money(amount: float, unit: str = "USD") -> str:
    """Millions shortened for summaries: ``$26.8M``; below a million as :func:`money`."""
    if abs(amount) < 1e6:
        return money(amount, unit)
    return f"${amount / 1e6:,.1f}M" if unit == "USD" else f"{amount / 1e6:,.1f}M {unit}"


def settle_unit(symbol: str) -> str:
    """The currency amounts of ``symbol`` are counted in: ``KSM/USDT:USDT`` -> ``USDT``."""
    return symbol.rpartition(":")[2] or symbol.partition("/")[2] or "USD"


__all__ = [
    "ISO_MINUTE",
    "Kind",
    "OutFormat",
    "TsFormat",
    "finite",
    "iso",
    "money",
    "number",
    "pct",
    "percent",
    "ratio",
    "settle_unit",
    "short_money",
]
