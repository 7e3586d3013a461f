"""Bybit v5 (``bybit``): linear (USDT) and inverse (coin-margined) perpetuals.

Endpoints (https://bybit-exchange.github.io/docs/v5/market/), through ccxt's implicit API:

- ``GET /v5/market/kline``: ``result.list`` newest first (decoding sorts it), ``[start, open,
  high, low, close, volume, turnover]``; linear: volume base, turnover quote; inverse: volume USD,
  turnover base.
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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.model import MarginType, Side, Timeframe
from oiradar.sources.decode.venues.base import Dataset, MarketInfo, OiUnit, Request, RestCall, Venue
from oiradar.sources.decode.venues.wire import PayloadError, Wire, canonical, need

_KLINE_INTERVAL = {
    Timeframe.M5: "5", Timeframe.M15: "15", Timeframe.M30: "30", Timeframe.H1: "60",
    Timeframe.H2: "120", Timeframe.H4: "240", Timeframe.H6: "360", Timeframe.H12: "720",
    Timeframe.D1: "D",
}  # fmt: skip
_OI_INTERVAL = {
    Timeframe.M5: "5min", Timeframe.M15: "15min", Timeframe.M30: "30min", Timeframe.H1: "1h",
    Timeframe.H4: "4h", Timeframe.D1: "1d",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class BybitKline(Wire):
    """One ``/v5/market/kline`` row: ``[startTime, open, high, low, close, volume, turnover]``."""

    json = list
    what = "bybit kline"
    columns = canonical(
        ts="startTime", open="openPrice", high="highPrice", low="lowPrice", close="closePrice",
        volume="volume", quote_volume="turnover",
    )  # fmt: skip
    startTime: int
    openPrice: float
    highPrice: float
    lowPrice: float
    closePrice: float
    volume: float  # linear: base; inverse: USD
    turnover: float  # linear: quote; inverse: base


@dataclass(frozen=True, slots=True)
class BybitInverseKline(BybitKline):
    """The same row of an inverse contract, where ``volume`` is USD and ``turnover`` the base."""

    columns = canonical(BybitKline.columns, volume="turnover", quote_volume="volume")


@dataclass(frozen=True, slots=True)
class BybitOpenInterest(Wire):
    """One ``/v5/market/open-interest`` record."""

    what = "bybit open-interest"
    columns = canonical(_t="timestamp", oi_raw="openInterest")
    openInterest: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class BybitFunding(Wire):
    """One ``/v5/market/funding/history`` record."""

    what = "bybit funding/history"
    columns = canonical(_t="fundingRateTimestamp", funding_rate="fundingRate")
    symbol: str
    fundingRate: float
    fundingRateTimestamp: int


@dataclass(frozen=True, slots=True)
class BybitAccountRatio(Wire):
    """One ``/v5/market/account-ratio`` record: shares of accounts long and short.

    ``{"symbol": "BTCUSDT", "buyRatio": "0.5707", "sellRatio": "0.4293", "timestamp": "1706745600000"}``;
    the canonical ``long_short_ratio`` is ``buyRatio / sellRatio`` (as Binance's ``longShortRatio``).
    """

    what = "bybit account-ratio"
    columns = canonical(_t="timestamp", long_short_ratio="ratio")
    buyRatio: float
    sellRatio: float
    timestamp: int

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
    oi_unit, oi_unit_inverse = OiUnit.BASE_BOTH_SIDES, OiUnit.QUOTE_BOTH_SIDES
    per_call: Mapping[Dataset, int] = {Dataset.KLINES: 1000, Dataset.OI: 200,
                                       Dataset.LONG_SHORT: 500, Dataset.FUNDING: 200}  # fmt: skip
    wire: Mapping[Dataset, type[Wire]] = {
        Dataset.KLINES: BybitKline, Dataset.OI: BybitOpenInterest, Dataset.FUNDING: BybitFunding,
        Dataset.LONG_SHORT: BybitAccountRatio,
    }  # fmt: skip

    def _base(self, market: MarketInfo) -> dict[str, Any]:
        category = "inverse" if market.margin is MarginType.INVERSE else "linear"
        return {"category": category, "symbol": market.id}

    def request(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> Request:
        base = self._base(market)
        if dataset is Dataset.KLINES:
            window = {"interval": _KLINE_INTERVAL[tf], "start": start, "end": end - 1}
            return Request("publicGetV5MarketKline", {**base, **window})
        if dataset is Dataset.FUNDING:
            window = {"startTime": start, "endTime": end - 1}
            return Request("publicGetV5MarketFundingHistory", {**base, **window})
        period, ptf = self.oi_period(tf)
        snapshots = {"startTime": start + ptf.ms, "endTime": end}
        if dataset is Dataset.OI:
            params = {**base, "intervalTime": period, **snapshots}
            return Request("publicGetV5MarketOpenInterest", params)
        return Request("publicGetV5MarketAccountRatio", {**base, "period": period, **snapshots})

    def rows(self, call: RestCall, payload: Any) -> list[Any]:
        return result_list(payload, f"bybit {call.method}")

    def frame(self, dataset: Dataset, rows: list[Any], market: MarketInfo) -> pl.DataFrame:
        if dataset is Dataset.KLINES and market.margin is MarginType.INVERSE:
            return BybitInverseKline.frame(BybitInverseKline.parse(rows))
        return super().frame(dataset, rows, market)

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
        return rec.timestamp, rec.openInterest, self.oi_unit_for(market), None
