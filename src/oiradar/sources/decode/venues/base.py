"""What every venue adapter provides: REST calls per dataset, wire decoding, OI normalisation.

A venue adapter never does I/O. It says which ccxt *implicit* endpoint methods to call for a time
window (:meth:`Venue.calls`) and decodes each raw JSON payload, through wire types that mirror the
venue's JSON verbatim, into a frame of canonical bar columns (:meth:`Venue.decode`). The fetcher
(:mod:`oiradar.sources.ingest.fetch`) runs the calls with retries and writes the frames.

Timestamp conventions, the same for every venue (SPEC section 1):

- klines: ``ts`` is the bar's open time as the venue gives it;
- OI and long/short ratio are snapshots: a snapshot at ``T`` belongs to the bar that closes at
  ``T``: ``ts = (T - 1) // tf * tf``; when several fall in one bar the last one wins (OI is a stock);
- funding: a settlement at ``T`` belongs to the bar that contains it, ``ts = T // tf * tf``, and
  settlements in one bar are summed (a flow). This matches
  :func:`oiradar.sources.decode.binance_archive.parse_funding`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import polars as pl

from oiradar.errors import SourceError
from oiradar.model import MarginType, Side, Timeframe


class Dataset(StrEnum):
    """What one REST endpoint family supplies."""

    KLINES = "klines"
    OI = "oi"
    FUNDING = "funding"
    LONG_SHORT = "long_short_ratio"


class OiUnit(StrEnum):
    """How a venue counts its raw OI figure (stored in ``oi_unit`` beside ``oi_raw``)."""

    BASE = "base"  # one side, base units (Binance USD-M)
    BASE_BOTH_SIDES = "base_both_sides"  # both sides summed, base units (Bybit linear, documented)
    QUOTE_BOTH_SIDES = "usd_both_sides"  # both sides summed, USD (Bybit inverse)
    QUOTE = "quote"  # one side, in the quote currency (venues that give only a value)
    CONTRACTS_BASE = "contracts_base"  # contracts worth ``contract_size`` base units (OKX linear)
    CONTRACTS_QUOTE = "contracts_usd"  # contracts worth ``contract_size`` USD (COIN-M, OKX inverse)


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketInfo:
    """The facts about one instrument that decoding needs, taken from ccxt's market."""

    symbol: str  # ccxt unified
    id: str  # the venue's id: KSMUSDT, BTCUSD_PERP, KSM-USDT-SWAP
    margin: MarginType
    contract_size: float
    extra: Mapping[str, Any] = field(default_factory=dict)  # venue-specific ids (COIN-M ``pair``)

    @classmethod
    def from_ccxt(cls, market: Mapping[str, Any]) -> MarketInfo:
        info = market.get("info") or {}
        return cls(
            symbol=market["symbol"],
            id=market["id"],
            margin=MarginType.INVERSE if market.get("inverse") else MarginType.LINEAR,
            contract_size=float(market.get("contractSize") or 1.0),
            extra={"pair": info.get("pair")} if isinstance(info, dict) else {},
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RestCall:
    """One request: a ccxt implicit method, its params, and the bar window ``[start, end)`` it covers."""

    dataset: Dataset
    method: str
    params: Mapping[str, Any]
    start: int
    end: int
    args: tuple[Any, ...] = ()  # positional arguments of a ccxt unified method (then params)

    @property
    def endpoint(self) -> str:
        return self.method


def windows(start: int, end: int, step: int, per_call: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into windows of at most ``per_call`` steps."""
    span = step * per_call
    return [(s, min(end, s + span)) for s in range(start, end, span)]


class Venue(ABC):
    """A venue adapter (no I/O). Subclasses set ``id`` and implement the abstract methods."""

    id: str = ""
    ccxt_options: Mapping[str, Any] = {}
    oi_unit: OiUnit = OiUnit.BASE
    # The timeframe the OI endpoint is asked for, per bar timeframe (a finer one is resampled).
    oi_periods: Mapping[Timeframe, str] = {}
    oi_history = ""  # how deep the venue's OI history goes (shown by `oiradar markets`)
    liquidation_stream = ""  # the websocket stream of realized liquidations

    def datasets(self) -> Sequence[Dataset]:
        return (Dataset.KLINES, Dataset.OI, Dataset.FUNDING)

    @abstractmethod
    def calls(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> list[RestCall]:
        """The requests that cover bars ``[start, end)`` of ``dataset``."""

    @abstractmethod
    def decode(
        self, call: RestCall, payload: Any, market: MarketInfo, tf: Timeframe
    ) -> pl.DataFrame:
        """A raw payload -> canonical columns (``ts`` + the dataset's columns), bars of ``tf``."""

    def oi_depth_ms(self, tf: Timeframe) -> int | None:
        """How far back the venue's REST OI history reaches (None: to the listing)."""
        return None

    def liquidation_side(self, liq: Mapping[str, Any]) -> Side:
        """The side of the **position** liquidated, from a ccxt.pro liquidation (raw ``info`` kept)."""
        raise SourceError(f"{self.id}: liquidations are not supported")

    def liquidation_price(self, liq: Mapping[str, Any]) -> float:
        """The price stored for a liquidation: ccxt's parsed ``price`` unless the venue says otherwise."""
        return float(liq["price"])

    def current_oi_call(self, market: MarketInfo) -> RestCall:
        """The request for the latest OI snapshot (``oiradar record`` polls it)."""
        raise SourceError(f"{self.id}: OI polling is not supported")

    def decode_current_oi(
        self, payload: Any, market: MarketInfo
    ) -> tuple[int, float, OiUnit, float | None]:
        """``(venue time ms, raw figure, unit, quote value or None)`` of a current-OI response."""
        raise SourceError(f"{self.id}: OI polling is not supported")

    def oi_period(self, tf: Timeframe) -> tuple[str, Timeframe]:
        """The OI endpoint's period for bars of ``tf``: the finest supported one that divides it."""
        for cand in reversed(list(Timeframe)):
            if cand.ms <= tf.ms and tf.ms % cand.ms == 0 and cand in self.oi_periods:
                return self.oi_periods[cand], cand
        raise SourceError(f"{self.id}: no OI history period fits {tf.value}")


# ------------------------------------------------------------------------------ helpers
def snapshot_bars(ts: pl.Expr, tf: Timeframe) -> pl.Expr:
    """Bar open of the bar a snapshot at ``ts`` closes: ``(ts - 1) // tf * tf``."""
    return ((ts - 1) // tf.ms) * tf.ms


def last_per_bar(frame: pl.DataFrame, tf: Timeframe, stamp: str = "_t") -> pl.DataFrame:
    """Snapshots -> one row per bar, the last non-null snapshot of each (pandas ``groupby(bar).last()``)."""
    if frame.is_empty():
        return frame.drop(stamp).with_columns(pl.lit(None, pl.Int64).alias("ts")).clear()
    values = [c for c in frame.columns if c != stamp]
    return (
        frame.with_columns(snapshot_bars(pl.col(stamp), tf).alias("ts"))
        .sort(stamp)
        .group_by("ts", maintain_order=True)
        .agg(pl.col(c).drop_nulls().last() for c in values)
        .sort("ts")
    )


def funding_per_bar(times: list[int], rates: list[float], tf: Timeframe) -> pl.DataFrame:
    """Settlements -> ``funding_rate`` summed per containing bar (``groupby(t // tf * tf).sum()``)."""
    frame = pl.DataFrame(
        {"_t": times, "funding_rate": rates}, schema={"_t": pl.Int64, "funding_rate": pl.Float64}
    )
    frame = frame.unique(subset="_t", keep="last", maintain_order=True)
    return (
        frame.group_by(((pl.col("_t") // tf.ms) * tf.ms).alias("ts"))
        .agg(pl.col("funding_rate").sum())
        .sort("ts")
    )


def oi_to_base(frame: pl.DataFrame, market: MarketInfo) -> pl.DataFrame:
    """Fill ``oi`` (one side, base units) and ``oi_value`` from ``oi_raw``/``oi_unit`` and ``close``.

    ``base``: oi = raw. ``base_both_sides``: raw / 2. ``usd_both_sides``: raw / 2 / close.
    ``quote``: raw / close.
    ``contracts_base``: raw x contract size. ``contracts_usd``: raw x contract size / close.
    ``oi_value`` (quote currency) keeps the venue's figure when it gave one, else oi x close.
    """
    if "oi_raw" not in frame.columns:
        return frame
    raw, unit, close = pl.col("oi_raw"), pl.col("oi_unit"), pl.col("close")
    size = market.contract_size
    oi = (
        pl.when(unit == OiUnit.BASE).then(raw)
        .when(unit == OiUnit.BASE_BOTH_SIDES).then(raw / 2)
        .when(unit == OiUnit.QUOTE_BOTH_SIDES).then(raw / 2 / close)
        .when(unit == OiUnit.QUOTE).then(raw / close)
        .when(unit == OiUnit.CONTRACTS_BASE).then(raw * size)
        .when(unit == OiUnit.CONTRACTS_QUOTE).then(raw * size / close)
    )  # fmt: skip
    given = pl.col("oi_value") if "oi_value" in frame.columns else pl.lit(None, pl.Float64)
    out = frame.with_columns(oi.alias("oi"))
    return out.with_columns(pl.coalesce(given, pl.col("oi") * close).alias("oi_value"))


class PayloadError(SourceError):
    """A response that does not have the documented shape: an error for its chunk, retried."""


def need(payload: Any, kind: type, what: str) -> Any:
    """``payload`` if it is a ``kind``; else a :class:`PayloadError` naming what was expected."""
    if not isinstance(payload, kind):
        got = f"{type(payload).__name__}: {str(payload)[:120]}"
        raise PayloadError(f"{what}: expected a JSON {kind.__name__}, got {got}")
    return payload


def num(record: Mapping[str, Any] | Sequence[Any], key: Any, what: str) -> float:
    """A number from a wire record (venues send numbers as strings); PayloadError when absent."""
    try:
        value = record[key]
        return float(value)
    except (KeyError, IndexError, TypeError, ValueError):
        raise PayloadError(
            f"{what}: field {key!r} missing or not a number in {str(record)[:160]}"
        ) from None


def opt_num(record: Mapping[str, Any], key: str, what: str) -> float | None:
    """Like :func:`num`, but an empty string or null is missing (None), never zero."""
    value = record.get(key)
    if value in (None, ""):
        return None
    return num(record, key, what)
