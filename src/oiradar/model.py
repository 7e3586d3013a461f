"""Domain types: series keys, timeframes, the canonical bar and liquidation schemas.

Timestamps are int64 milliseconds since the epoch, UTC. A bar's ``ts`` is its **open** time;
an OI snapshot stamped ``T`` belongs to the bar that closes at ``T`` (SPEC section 1).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from oiradar.errors import InputError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def now_ms() -> int:
    """The wall clock in epoch milliseconds (UTC)."""
    return time.time_ns() // 1_000_000


class Timeframe(StrEnum):
    """Bar timeframes oiradar stores and computes on."""

    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H12 = "12h"
    D1 = "1d"

    @property
    def ms(self) -> int:
        return _TF_MS[self.value]

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        try:
            return cls(text.strip())
        except ValueError:
            valid = " ".join(t.value for t in cls)
            raise InputError(f"unknown timeframe {text!r}; use one of: {valid}") from None

    def bars(self, window_ms: int) -> int:
        """Number of bars of this timeframe in a window given in ms (at least 1)."""
        return max(1, window_ms // self.ms)


_TF_MS = {
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
}


class Source(StrEnum):
    """Where a row came from (provenance)."""

    ARCHIVE = "archive"
    REST = "rest"
    WS = "ws"
    FILE = "file"
    SIM = "sim"


class Side(StrEnum):
    """A position side: for liquidations, the side of the position that was liquidated."""

    LONG = "long"
    SHORT = "short"


class MarginType(StrEnum):
    LINEAR = "linear"  # USDT/USDC-margined, quantity in base units
    INVERSE = "inverse"  # coin-margined, contracts worth a fixed USD amount


_SYMBOL_RE = re.compile(r"(?P<base>[A-Z0-9]+)/(?P<quote>[A-Z0-9]+)(?::(?P<settle>[A-Z0-9]+))?")
SYMBOL_MAX_LEN = 64
# Exchange names become folder names in the catalog: letters, digits, '_' and '-' only (no '.',
# '/', backslash or control character: no path step), no leading '-' (read as an option), and
# short enough for any file system.
NAME_MAX_LEN = 64
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


def validate_exchange_name(name: object) -> str:
    """``name`` when it is a safe exchange name (e.g. ``binanceusdm``), else :class:`InputError`.

    The one check for every name that becomes part of a path: the catalog, the recorder and
    every command that takes ``--exchange`` call it before touching the disk.
    """
    if isinstance(name, str) and len(name) <= NAME_MAX_LEN and _NAME_RE.fullmatch(name):
        return name
    raise InputError(
        f"invalid exchange name {name!r}: use 1 to {NAME_MAX_LEN} letters, digits, '_' or '-', "
        "not starting with '-' (e.g. binanceusdm)"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SeriesKey:
    """Identifies a series: ``(exchange, symbol, timeframe)``."""

    exchange: str
    symbol: str
    timeframe: Timeframe

    def __post_init__(self) -> None:
        validate_exchange_name(self.exchange)
        parse_symbol(self.symbol)
        if not isinstance(self.timeframe, Timeframe):
            object.__setattr__(self, "timeframe", Timeframe.parse(str(self.timeframe)))

    @property
    def margin(self) -> MarginType:
        return margin_type(self.symbol)

    def with_timeframe(self, timeframe: Timeframe) -> SeriesKey:
        return SeriesKey(exchange=self.exchange, symbol=self.symbol, timeframe=timeframe)

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe.value}"


def parse_symbol(symbol: str) -> tuple[str, str, str | None]:
    """Split a ccxt unified symbol ``BASE/QUOTE[:SETTLE]`` into its parts."""
    m = _SYMBOL_RE.fullmatch(symbol) if isinstance(symbol, str) else None
    if m is None or len(symbol) > SYMBOL_MAX_LEN:
        raise InputError(
            f"invalid symbol {symbol!r}; use a ccxt unified symbol of at most {SYMBOL_MAX_LEN} "
            "characters such as "
            "'KSM/USDT:USDT' (USDT-margined) or 'BTC/USD:BTC' (coin-margined)"
        )
    return m["base"], m["quote"], m["settle"]


def margin_type(symbol: str) -> MarginType:
    """Coin-margined (inverse) when the settle currency is the base asset."""
    base, _quote, settle = parse_symbol(symbol)
    return MarginType.INVERSE if settle == base else MarginType.LINEAR


def symbol_slug(symbol: str) -> str:
    """A file-system-safe name for a symbol: ``KSM/USDT:USDT`` -> ``KSM-USDT-USDT``."""
    base, quote, settle = parse_symbol(symbol)
    return f"{base}-{quote}" + (f"-{settle}" if settle else "")


# The canonical bar columns (public contract, SPEC section 1), in order, with their storage types.
BAR_VALUE_COLUMNS: dict[str, pl.DataType] = {
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "quote_volume": pl.Float64(),
    "taker_buy_volume": pl.Float64(),
    "oi": pl.Float64(),
    "oi_value": pl.Float64(),
    "funding_rate": pl.Float64(),
    "long_short_ratio": pl.Float64(),
}
# Extra stored columns: the raw OI figure and its unit as the venue gave it, and provenance.
BAR_EXTRA_COLUMNS: dict[str, pl.DataType] = {
    "oi_raw": pl.Float64(),
    "oi_unit": pl.String(),
    "quote_volume_estimated": pl.Boolean(),
    "source": pl.String(),
    "ingested_at": pl.Int64(),
}
BAR_SCHEMA: dict[str, pl.DataType] = {"ts": pl.Int64(), **BAR_VALUE_COLUMNS, **BAR_EXTRA_COLUMNS}
BAR_COLUMNS: tuple[str, ...] = tuple(BAR_SCHEMA)

LIQUIDATION_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Int64(),
    "exchange": pl.String(),
    "symbol": pl.String(),
    "side": pl.String(),
    "price": pl.Float64(),
    "qty": pl.Float64(),
    "quote_qty": pl.Float64(),
    "source": pl.String(),
    "ingested_at": pl.Int64(),
}
LIQUIDATION_COLUMNS: tuple[str, ...] = tuple(LIQUIDATION_SCHEMA)


def empty_bars() -> pl.DataFrame:
    return pl.DataFrame(schema=BAR_SCHEMA)


def conform_bars(frame: pl.DataFrame) -> pl.DataFrame:
    """Add any missing canonical column as null and order/cast columns to :data:`BAR_SCHEMA`."""
    missing = [
        pl.lit(None, dtype=t).alias(c) for c, t in BAR_SCHEMA.items() if c not in frame.columns
    ]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select([pl.col(c).cast(t) for c, t in BAR_SCHEMA.items()])


def conform_liquidations(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [
        pl.lit(None, dtype=t).alias(c)
        for c, t in LIQUIDATION_SCHEMA.items()
        if c not in frame.columns
    ]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select([pl.col(c).cast(t) for c, t in LIQUIDATION_SCHEMA.items()])
