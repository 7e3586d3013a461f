"""Domain types: series keys, timeframes, the canonical bar and liquidation schemas.

Timestamps are int64 milliseconds since the epoch, UTC. A bar's ``ts`` is its **open** time;
an OI snapshot stamped ``T`` belongs to the bar that closes at ``T`` (SPEC section 1).
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from oiradar.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl
    from numpy.typing import ArrayLike, NDArray

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


# The numeric sign of a side, the one encoding kernels and arithmetic use (``side * move`` is the
# position's gain): a long gains when price rises, a short when it falls. Per-side array slots
# (``[long, short]``) are indexed 0 and 1, in :data:`SIDES` order.
LONG = 1
SHORT = -1


class Side(StrEnum):
    """A position side, as stored and typed ("long"/"short"); for a liquidation, the side of the
    position that was liquidated. :attr:`sign` and :meth:`from_sign` are the one conversion to and
    from the numeric sign: +1 long, -1 short (:data:`LONG`, :data:`SHORT`)."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return LONG if self is Side.LONG else SHORT

    @classmethod
    def from_sign(cls, sign: float) -> Side:
        """``+1`` (or any positive number) is long, ``-1`` (any negative one) short."""
        if sign > 0:
            return cls.LONG
        if sign < 0:
            return cls.SHORT
        raise ValueError(f"a side's sign is +1 (long) or -1 (short), got {sign!r}")

    @classmethod
    def parse(cls, text: str) -> Side:
        """A side typed by a user: ``long``/``short`` (``buy``/``sell`` accepted), any case."""
        side = _SIDE_WORDS.get(text.strip().lower()) if isinstance(text, str) else None
        if side is None:
            raise InputError(f"side must be long or short, got {text!r}")
        return side


SIDES: tuple[Side, Side] = (Side.LONG, Side.SHORT)
_SIDE_WORDS = {"long": Side.LONG, "buy": Side.LONG, "short": Side.SHORT, "sell": Side.SHORT}


def side_names(signs: ArrayLike) -> NDArray[np.str_]:
    """``"long"``/``"short"`` per element of an array of signs (the kernels hold only +1/-1): the
    vectorised :meth:`Side.from_sign`."""
    import numpy as np  # here, not at import: the model stays light for the CLI's start

    return np.where(np.asarray(signs) > 0, Side.LONG.value, Side.SHORT.value)


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
# Written as polars type names: the polars schemas below are built on first use, so that importing
# the model (every command's start, ``oiradar --help`` included) does not load polars.
_BAR_VALUE_TYPES = {
    "open": "Float64",
    "high": "Float64",
    "low": "Float64",
    "close": "Float64",
    "volume": "Float64",
    "quote_volume": "Float64",
    "taker_buy_volume": "Float64",
    "oi": "Float64",
    "oi_value": "Float64",
    "funding_rate": "Float64",
    "long_short_ratio": "Float64",
}
# Extra stored columns: the raw OI figure and its unit as the venue gave it, and provenance.
_BAR_EXTRA_TYPES = {
    "oi_raw": "Float64",
    "oi_unit": "String",
    "quote_volume_estimated": "Boolean",
    "source": "String",
    "ingested_at": "Int64",
}
_LIQUIDATION_TYPES = {
    "ts": "Int64",
    "exchange": "String",
    "symbol": "String",
    "side": "String",
    "price": "Float64",
    "qty": "Float64",
    "quote_qty": "Float64",
    "source": "String",
    "ingested_at": "Int64",
}
BAR_COLUMNS: tuple[str, ...] = ("ts", *_BAR_VALUE_TYPES, *_BAR_EXTRA_TYPES)
LIQUIDATION_COLUMNS: tuple[str, ...] = tuple(_LIQUIDATION_TYPES)

if TYPE_CHECKING:  # built by __getattr__ on first access
    BAR_VALUE_COLUMNS: dict[str, pl.DataType]
    BAR_EXTRA_COLUMNS: dict[str, pl.DataType]
    BAR_SCHEMA: dict[str, pl.DataType]
    LIQUIDATION_SCHEMA: dict[str, pl.DataType]


@functools.cache
def _schemas() -> dict[str, dict[str, pl.DataType]]:
    import polars as pl

    def build(types: dict[str, str]) -> dict[str, pl.DataType]:
        return {c: getattr(pl, t)() for c, t in types.items()}

    value, extra = build(_BAR_VALUE_TYPES), build(_BAR_EXTRA_TYPES)
    return {
        "BAR_VALUE_COLUMNS": value,
        "BAR_EXTRA_COLUMNS": extra,
        "BAR_SCHEMA": {"ts": pl.Int64(), **value, **extra},
        "LIQUIDATION_SCHEMA": build(_LIQUIDATION_TYPES),
    }


def __getattr__(name: str) -> dict[str, pl.DataType]:
    """The polars schemas, built on first access (PEP 562)."""
    if name not in ("BAR_VALUE_COLUMNS", "BAR_EXTRA_COLUMNS", "BAR_SCHEMA", "LIQUIDATION_SCHEMA"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _schemas()[name]


def empty_bars() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema=_schemas()["BAR_SCHEMA"])


def conform_bars(frame: pl.DataFrame) -> pl.DataFrame:
    """Add any missing canonical column as null and order/cast columns to :data:`BAR_SCHEMA`."""
    return _conform(frame, _schemas()["BAR_SCHEMA"])


def conform_liquidations(frame: pl.DataFrame) -> pl.DataFrame:
    return _conform(frame, _schemas()["LIQUIDATION_SCHEMA"])


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    import polars as pl

    missing = [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in frame.columns]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
