"""A deterministic synthetic market that every fake venue serves in its own wire format.

Every figure is a closed-form function of ``(symbol, ts)``, so any endpoint, any page and any
archive file agree with each other without shared state: the archive's OI for 2024-01-03 equals
what the REST endpoint returns for the same snapshot. One-sided OI in base units is the truth;
each venue encodes it its own way (contracts, both sides, ...), and a correct client decodes it back.
"""

from __future__ import annotations

import math
import zlib

FIVE_MIN = 300_000
HOUR = 3_600_000
DAY = 86_400_000
FUNDING_EVERY = 8 * HOUR


def _seed(symbol: str) -> int:
    return zlib.crc32(symbol.encode())


def _noise(symbol: str, ts: int) -> float:
    """A hash of (symbol, ts) in [-0.5, 0.5): reproducible jitter."""
    h = (ts // 1000 * 2654435761 + _seed(symbol)) % 2**32
    return h / 2**32 - 0.5


def base_price(symbol: str) -> float:
    return 20.0 + _seed(symbol) % 100


def price(symbol: str, ts: int) -> float:
    """Trade price at instant ``ts`` (ms)."""
    x = 0.12 * math.sin(2 * math.pi * ts / (9 * DAY)) + 0.03 * math.sin(
        2 * math.pi * ts / (13 * HOUR)
    )
    return round(base_price(symbol) * math.exp(x + 0.004 * _noise(symbol, ts)), 4)


def kline(symbol: str, ts: int, tf_ms: int) -> dict[str, float]:
    """The bar opening at ``ts``: close is the price at the bar's close."""
    o, c = price(symbol, ts), price(symbol, ts + tf_ms)
    scale = tf_ms / FIVE_MIN
    vol = round((1000 + 400 * _noise(symbol, ts + 7)) * scale, 3)
    return {
        "open": o,
        "high": round(max(o, c) * 1.002, 4),
        "low": round(min(o, c) * 0.998, 4),
        "close": c,
        "volume": vol,
        "quote_volume": round(vol * (o + c) / 2, 4),
        "taker_buy_volume": round(vol * (0.5 + 0.2 * _noise(symbol, ts + 11)), 3),
    }


def oi(symbol: str, ts: int) -> float:
    """One-sided open interest in base units, snapshot at instant ``ts``."""
    x = 0.3 * math.sin(2 * math.pi * ts / (11 * DAY)) + 0.05 * math.sin(
        2 * math.pi * ts / (7 * HOUR)
    )
    return round(50_000 * (1 + x) * (1 + 0.01 * _noise(symbol, ts + 3)), 1)


def funding(symbol: str, ts: int) -> float:
    """Funding rate settled at ``ts`` (a multiple of 8 h)."""
    return round(
        0.0001 * (1 + math.sin(2 * math.pi * ts / (5 * DAY))) + 0.00002 * _noise(symbol, ts), 8
    )


def long_short(symbol: str, ts: int) -> float:
    return round(1.0 + 0.5 * math.sin(2 * math.pi * ts / (3 * DAY)), 4)


def grid(start: int, end: int, step: int) -> range:
    """Multiples of ``step`` in ``[start, end]`` (inclusive, as the venues' startTime/endTime)."""
    first = start + (-start) % step
    return range(first, end + 1, step)
