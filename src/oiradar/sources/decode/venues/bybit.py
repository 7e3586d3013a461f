"""Bybit v5 (``bybit``): linear (USDT) and inverse (coin-margined) perpetuals.

Endpoints (https://bybit-exchange.github.io/docs/v5/market/), through ccxt's implicit API:

- ``GET /v5/market/kline``: ``result.list`` newest first, ``[start, open, high, low, close,
  volume, turnover]``; linear: volume base, turnover quote; inverse: volume USD, turnover base.
- ``GET /v5/market/open-interest`` (``intervalTime`` 5min 15min 30min 1h 4h 1d)::

    {"retCode": 0, "retMsg": "OK", "result": {"symbol": "BTCUSDT", "category": "linear",
     "list": [{"openInterest": "62129.45500000", "timestamp": "1739725200000"}],
     "nextPageCursor": "..."}, "retExtInfo": {}, "time": 1739725954780}

  Bybit documents ``openInterest`` as the sum of both sides, in base units for linear contracts
  and in USD for inverse ones. We store that figure as ``oi_raw`` with unit ``base_both_sides``
  (``usd_both_sides``) and derive the one-sided ``oi`` as half of it (SPEC section 1). The
  recorded ticker responses confirm ``openInterestValue = openInterest x markPrice`` (so the
  figure is base units, with the same sides convention as its value): decision 0502.
- ``GET /v5/market/funding/history``: ``{"symbol", "fundingRate", "fundingRateTimestamp"}``.
- ``GET /v5/market/account-ratio``: ``{"symbol", "buyRatio", "sellRatio", "timestamp"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.model import MarginType, Side, Timeframe
from oiradar.sources.decode.venues.base import (
    Dataset,
    MarketInfo,
    OiUnit,
    PayloadError,
    RestCall,
    Venue,
    funding_per_bar,
    last_per_bar,
    need,
    num,
    windows,
)

_KLINE_INTERVAL = {
    Timeframe.M5: "5", Timeframe.M15: "15", Timeframe.M30: "30", Timeframe.H1: "60",
    Timeframe.H2: "120", Timeframe.H4: "240", Timeframe.H6: "360", Timeframe.H12: "720",
    Timeframe.D1: "D",
}  # fmt: skip
_OI_INTERVAL = {
    Timeframe.M5: "5min", Timeframe.M15: "15min", Timeframe.M30: "30min", Timeframe.H1: "1h",
    Timeframe.H4: "4h", Timeframe.D1: "1d",
}  # fmt: skip
KLINES_PER_CALL = 1000
OI_PER_CALL = 200
LSR_PER_CALL = 500
FUNDING_PER_CALL = 200
# Funding can settle as often as hourly (intervals shrink in volatile markets): a window of one
# page of hourly settlements can never be truncated by the page limit.
FUNDING_STEP_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class BybitKline:
    """One ``/v5/market/kline`` row: ``[startTime, open, high, low, close, volume, turnover]``."""

    startTime: int
    openPrice: float
    highPrice: float
    lowPrice: float
    closePrice: float
    volume: float
    turnover: float

    @classmethod
    def from_json(cls, row: Any) -> BybitKline:
        row = need(row, list, "bybit kline")
        vals = [num(row, i, "bybit kline") for i in range(7)]
        return cls(int(vals[0]), *vals[1:])


@dataclass(frozen=True, slots=True)
class BybitOpenInterest:
    """One ``/v5/market/open-interest`` record."""

    openInterest: float
    timestamp: int

    @classmethod
    def from_json(cls, rec: Any) -> BybitOpenInterest:
        rec = need(rec, dict, "bybit open-interest")
        w = "bybit open-interest"
        return cls(num(rec, "openInterest", w), int(num(rec, "timestamp", w)))


@dataclass(frozen=True, slots=True)
class BybitFunding:
    """One ``/v5/market/funding/history`` record."""

    symbol: str
    fundingRate: float
    fundingRateTimestamp: int

    @classmethod
    def from_json(cls, rec: Any) -> BybitFunding:
        rec = need(rec, dict, "bybit funding/history")
        w = "bybit funding/history"
        return cls(
            str(rec.get("symbol")),
            num(rec, "fundingRate", w),
            int(num(rec, "fundingRateTimestamp", w)),
        )


@dataclass(frozen=True, slots=True)
class BybitAccountRatio:
    """One ``/v5/market/account-ratio`` record: shares of accounts long and short.

    ``{"symbol": "BTCUSDT", "buyRatio": "0.5707", "sellRatio": "0.4293", "timestamp": "1706745600000"}``;
    the canonical ``long_short_ratio`` is ``buyRatio / sellRatio`` (as Binance's ``longShortRatio``).
    """

    buyRatio: float
    sellRatio: float
    timestamp: int

    @classmethod
    def from_json(cls, rec: Any) -> BybitAccountRatio:
        rec = need(rec, dict, "bybit account-ratio")
        w = "bybit account-ratio"
        return cls(num(rec, "buyRatio", w), num(rec, "sellRatio", w), int(num(rec, "timestamp", w)))

    @property
    def ratio(self) -> float | None:
        return self.buyRatio / self.sellRatio if self.sellRatio > 0 else None


def result_list(payload: Any, what: str) -> list[Any]:
    """``payload['result']['list']`` of a v5 envelope; anything else is a :class:`PayloadError`."""
    env = need(payload, dict, what)
    if str(env.get("retCode")) != "0":
        raise PayloadError(f"{what}: retCode {env.get('retCode')}: {env.get('retMsg')}")
    result = need(env.get("result"), dict, f"{what} result")
    return need(result.get("list"), list, f"{what} result.list")


class Bybit(Venue):
    id = "bybit"
    oi_history = "since listing"
    liquidation_stream = "allLiquidation.<symbol>"
    ccxt_options: Mapping[str, Any] = {"fetchMarkets": {"types": ["linear", "inverse"]}}
    oi_periods: Mapping[Timeframe, str] = _OI_INTERVAL

    def _base(self, market: MarketInfo) -> dict[str, Any]:
        category = "inverse" if market.margin is MarginType.INVERSE else "linear"
        return {"category": category, "symbol": market.id}

    def calls(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> list[RestCall]:
        base = self._base(market)
        if dataset is Dataset.KLINES:
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetV5MarketKline",
                    start=s,
                    end=e,
                    params={
                        **base,
                        "interval": _KLINE_INTERVAL[tf],
                        "start": s,
                        "end": e - 1,
                        "limit": KLINES_PER_CALL,
                    },
                )
                for s, e in windows(start, end, tf.ms, KLINES_PER_CALL)
            ]
        if dataset is Dataset.FUNDING:
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetV5MarketFundingHistory",
                    start=s,
                    end=e,
                    params={**base, "startTime": s, "endTime": e - 1, "limit": FUNDING_PER_CALL},
                )
                for s, e in windows(start, end, FUNDING_STEP_MS, FUNDING_PER_CALL)
            ]
        if dataset is Dataset.OI:
            period, ptf = self.oi_period(tf)
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetV5MarketOpenInterest",
                    start=s,
                    end=e,
                    params={
                        **base,
                        "intervalTime": period,
                        "startTime": s + ptf.ms,
                        "endTime": e,
                        "limit": OI_PER_CALL,
                    },
                )
                for s, e in windows(start, end, ptf.ms, OI_PER_CALL)
            ]
        if dataset is Dataset.LONG_SHORT:
            period, ptf = self.oi_period(tf)
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetV5MarketAccountRatio",
                    start=s,
                    end=e,
                    params={
                        **base,
                        "period": period,
                        "startTime": s + ptf.ms,
                        "endTime": e,
                        "limit": LSR_PER_CALL,
                    },
                )
                for s, e in windows(start, end, ptf.ms, LSR_PER_CALL)
            ]
        return []

    def datasets(self) -> Sequence[Dataset]:
        return (Dataset.KLINES, Dataset.OI, Dataset.FUNDING, Dataset.LONG_SHORT)

    def decode(
        self, call: RestCall, payload: Any, market: MarketInfo, tf: Timeframe
    ) -> pl.DataFrame:
        rows = result_list(payload, f"bybit {call.method}")
        if call.dataset is Dataset.KLINES:
            return self._klines([BybitKline.from_json(r) for r in rows], market)
        if call.dataset is Dataset.FUNDING:
            recs = [BybitFunding.from_json(r) for r in rows]
            return funding_per_bar(
                [r.fundingRateTimestamp for r in recs], [r.fundingRate for r in recs], tf
            )
        if call.dataset is Dataset.LONG_SHORT:
            lsr = [BybitAccountRatio.from_json(r) for r in rows]
            frame = pl.DataFrame(
                {"_t": [r.timestamp for r in lsr], "long_short_ratio": [r.ratio for r in lsr]},
                schema={"_t": pl.Int64, "long_short_ratio": pl.Float64},
            )
            return last_per_bar(frame, tf)
        recs_oi = [BybitOpenInterest.from_json(r) for r in rows]
        unit = (
            OiUnit.QUOTE_BOTH_SIDES
            if market.margin is MarginType.INVERSE
            else OiUnit.BASE_BOTH_SIDES
        )
        frame = pl.DataFrame(
            {"_t": [r.timestamp for r in recs_oi], "oi_raw": [r.openInterest for r in recs_oi],
             "oi_unit": [unit.value] * len(recs_oi)},
            schema={"_t": pl.Int64, "oi_raw": pl.Float64, "oi_unit": pl.String},
        )  # fmt: skip
        return last_per_bar(frame, tf)

    def liquidation_side(self, liq: Mapping[str, Any]) -> Side:
        """``allLiquidation`` ``S`` is the **position** side (SPEC section 1): Buy = a long liquidated.

        Sample::

            {"topic": "allLiquidation.KSMUSDT", "type": "snapshot", "ts": 1706745600200,
             "data": [{"T": 1706745600150, "s": "KSMUSDT", "S": "Buy", "v": "3.2", "p": "29.95"}]}
        """
        side = str(need(liq.get("info"), dict, "bybit allLiquidation").get("S", ""))
        if side not in ("Buy", "Sell"):
            raise PayloadError(f"bybit allLiquidation: side S={side!r} is not Buy or Sell")
        return Side.LONG if side == "Buy" else Side.SHORT

    def current_oi_call(self, market: MarketInfo) -> RestCall:
        return RestCall(dataset=Dataset.OI, method="publicGetV5MarketOpenInterest",
                        params={**self._base(market), "intervalTime": "5min", "limit": 1}, start=0, end=0)  # fmt: skip

    def decode_current_oi(
        self, payload: Any, market: MarketInfo
    ) -> tuple[int, float, OiUnit, float | None]:
        rows = result_list(payload, "bybit open-interest")
        if not rows:
            raise PayloadError("bybit open-interest: empty list")
        rec = BybitOpenInterest.from_json(rows[0])
        unit = (
            OiUnit.QUOTE_BOTH_SIDES
            if market.margin is MarginType.INVERSE
            else OiUnit.BASE_BOTH_SIDES
        )
        return rec.timestamp, rec.openInterest, unit, None

    def _klines(self, rows: list[BybitKline], market: MarketInfo) -> pl.DataFrame:
        inverse = market.margin is MarginType.INVERSE
        rows = sorted(rows, key=lambda r: r.startTime)  # Bybit sends newest first
        return pl.DataFrame(
            {
                "ts": [r.startTime for r in rows],
                "open": [r.openPrice for r in rows],
                "high": [r.highPrice for r in rows],
                "low": [r.lowPrice for r in rows],
                "close": [r.closePrice for r in rows],
                "volume": [r.turnover if inverse else r.volume for r in rows],
                "quote_volume": [r.volume if inverse else r.turnover for r in rows],
                "quote_volume_estimated": [False] * len(rows),
            },
            schema={
                "ts": pl.Int64,
                "open": pl.Float64,
                "high": pl.Float64,
                "low": pl.Float64,
                "close": pl.Float64,
                "volume": pl.Float64,
                "quote_volume": pl.Float64,
                "quote_volume_estimated": pl.Boolean,
            },
        )
