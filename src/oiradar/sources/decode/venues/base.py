"""What every venue adapter provides: REST calls per dataset, wire decoding, OI normalisation.

A venue adapter never does I/O. It says which ccxt *implicit* endpoint methods to call for a time
window (:meth:`Venue.calls`) and decodes each raw JSON payload, through wire types that mirror the
venue's JSON verbatim, into a frame of canonical bar columns (:meth:`Venue.decode`). The fetcher
(:mod:`oiradar.sources.ingest.fetch`) runs the calls with retries and writes the frames.

Both are template methods, the same for every venue: an adapter supplies only what differs, its
endpoints and their params (:meth:`Venue.request`, :attr:`Venue.per_call`), its envelope
(:meth:`Venue.rows`), a wire type per dataset (:attr:`Venue.wire`, each naming the canonical
column every field fills) and its OI units (:attr:`Venue.oi_unit`, :attr:`Venue.oi_unit_inverse`).

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
from typing import Any, NamedTuple

import polars as pl

from oiradar.errors import SourceError
from oiradar.model import MarginType, Side, Timeframe
from oiradar.sources.decode.venues.wire import PayloadError as PayloadError  # clients catch it
from oiradar.sources.decode.venues.wire import Wire, need


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


class Request(NamedTuple):
    """What a venue asks for one window: a ccxt method, its params (the page limit is added to
    them), and the positional arguments of a ccxt unified method."""

    method: str
    params: dict[str, Any]
    args: tuple[Any, ...] = ()


# Funding can settle as often as hourly (intervals shrink in volatile markets): a window of one
# page of hourly settlements can never be truncated by the page limit.
FUNDING_STEP_MS = 3_600_000


def windows(start: int, end: int, step: int, per_call: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into windows of at most ``per_call`` steps."""
    span = step * per_call
    return [(s, min(end, s + span)) for s in range(start, end, span)]


class Venue(ABC):
    """A venue adapter (no I/O). Subclasses set ``id``, ``per_call`` and ``wire`` (or override
    :meth:`decode`) and implement :meth:`request`."""

    id: str = ""
    ccxt_options: Mapping[str, Any] = {}
    oi_unit: OiUnit = OiUnit.BASE
    oi_unit_inverse: OiUnit | None = None  # the unit of inverse markets, when it differs
    # Rows one request returns at most, per dataset (the endpoint's page limit), and the param
    # that asks for it (None: the venue's :meth:`request` passes it itself).
    per_call: Mapping[Dataset, int] = {}
    limit_param: str | None = "limit"
    # The wire type of one record of each dataset, for :meth:`decode`.
    wire: Mapping[Dataset, type[Wire]] = {}
    # The timeframe the OI endpoint is asked for, per bar timeframe (a finer one is resampled).
    oi_periods: Mapping[Timeframe, str] = {}
    oi_history = ""  # how deep the venue's OI history goes (shown by `oiradar markets`)
    liquidation_stream = ""  # the websocket stream of realized liquidations

    def datasets(self) -> Sequence[Dataset]:
        """What the venue supplies: the datasets it declares a wire type for."""
        return tuple(self.wire)

    def calls(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> list[RestCall]:
        """The requests that cover bars ``[start, end)`` of ``dataset``: one per page of rows."""
        if dataset not in self.datasets():
            return []
        limit = self.per_call[dataset]
        out = []
        for s, e in windows(start, end, self.row_ms(dataset, tf), limit):
            method, params, args = self.request(dataset, market, tf, s, e)
            if self.limit_param is not None:
                params = {**params, self.limit_param: limit}
            out.append(
                RestCall(dataset=dataset, method=method, params=params, args=args, start=s, end=e)
            )
        return out

    @abstractmethod
    def request(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> Request:
        """The endpoint and params that ask for the rows of bars ``[start, end)`` of ``dataset``."""

    def row_ms(self, dataset: Dataset, tf: Timeframe) -> int:
        """The time one row covers: a bar, an hour of funding, or the OI history's period."""
        if dataset is Dataset.KLINES:
            return tf.ms
        if dataset is Dataset.FUNDING:
            return FUNDING_STEP_MS
        return self.oi_period(tf)[1].ms

    def decode(
        self, call: RestCall, payload: Any, market: MarketInfo, tf: Timeframe
    ) -> pl.DataFrame:
        """A raw payload -> canonical columns (``ts`` + the dataset's columns), bars of ``tf``.

        Klines come sorted by ``ts``; funding is summed per bar and snapshots (OI, long/short
        ratio) keep the last of each bar (see the module docstring).
        """
        frame = self.frame(call.dataset, self.rows(call, payload), market)
        if call.dataset is Dataset.KLINES:
            frame = frame.with_columns(quote_volume_estimated=pl.lit(False))
            return frame.sort("ts", maintain_order=True)
        if call.dataset is Dataset.FUNDING:
            return funding_per_bar(frame, tf)
        if call.dataset is Dataset.OI:
            unit = pl.lit(self.oi_unit_for(market).value, pl.String).alias("oi_unit")
            frame = frame.select("_t", "oi_raw", unit, pl.exclude("_t", "oi_raw"))
        return last_per_bar(frame, tf)

    def rows(self, call: RestCall, payload: Any) -> list[Any]:
        """The records of a payload, out of the venue's envelope (here: a bare JSON list)."""
        return need(payload, list, f"{self.id} {call.method}")

    def frame(self, dataset: Dataset, rows: list[Any], market: MarketInfo) -> pl.DataFrame:
        """Records -> the columns their wire type names (OI: ``oi_unit`` is added after)."""
        cls = self.wire[dataset]
        return cls.frame(cls.parse(rows))

    def oi_unit_for(self, market: MarketInfo) -> OiUnit:
        """How the venue counts OI for ``market``."""
        if market.margin is MarginType.INVERSE and self.oi_unit_inverse is not None:
            return self.oi_unit_inverse
        return self.oi_unit

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


def funding_per_bar(frame: pl.DataFrame, tf: Timeframe) -> pl.DataFrame:
    """Settlements (``_t``, ``funding_rate``) -> ``funding_rate`` summed per containing bar
    (``groupby(t // tf * tf).sum()``); a settlement given twice counts once."""
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
