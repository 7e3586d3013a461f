"""OKX v5 (``okx``): USDT-margined (linear) and coin-margined (inverse) perpetual swaps.

Endpoints (https://www.okx.com/docs-v5/en/#public-data-rest-api), through ccxt's implicit API:

- ``GET /api/v5/market/history-candles``: newest first, ``[ts, o, h, l, c, vol, volCcy,
  volCcyQuote, confirm]``; ``vol`` is in contracts, ``volCcy`` in base, ``volCcyQuote`` in quote;
  ``confirm`` "0" marks a bar still open (dropped). Pages with ``after`` (ts < after) and
  ``before`` (ts > before), 100 rows at most.
- ``GET /api/v5/rubik/stat/contracts/open-interest-history`` (``instId``, ``period``, ``begin``,
  ``end``; OKX keeps the latest 1,440 points)::

    {"code": "0", "msg": "", "data": [["1790550000000", "2800476.45", "28006.5419", "2360916466.88"]]}

  ``[ts, oi (contracts), oiCcy (base), oiUsd]``. The canonical ``oi`` is contracts x ``ctVal``
  (linear: ``ctVal`` is in base, e.g. 0.01 BTC; inverse: in USD, so / price as well).
- ``GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract``: ``[ts, ratio]`` rows
  (accounts long / accounts short, as Binance's ``longShortRatio``).
- ``GET /api/v5/public/funding-rate-history``: ``{"instId", "fundingRate", "realizedRate", "fundingTime"}``.
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

_BAR = {
    Timeframe.M5: "5m", Timeframe.M15: "15m", Timeframe.M30: "30m", Timeframe.H1: "1H",
    Timeframe.H2: "2H", Timeframe.H4: "4H", Timeframe.H6: "6Hutc", Timeframe.H12: "12Hutc",
    Timeframe.D1: "1Dutc",
}  # fmt: skip
PER_CALL = 100
OI_POINTS = 1440
# Funding can settle as often as hourly (intervals shrink in volatile markets): a window of one
# page of hourly settlements can never be truncated by the page limit.
FUNDING_STEP_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class OkxCandle:
    """One ``history-candles`` row."""

    ts: int
    o: float
    h: float
    l: float  # noqa: E741 (OKX's field name)
    c: float
    vol: float
    volCcy: float
    volCcyQuote: float
    confirm: str

    @classmethod
    def from_json(cls, row: Any) -> OkxCandle:
        row = need(row, list, "okx candle")
        vals = [num(row, i, "okx candle") for i in range(8)]
        confirm = str(row[8]) if len(row) > 8 else "1"
        return cls(
            int(vals[0]), vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], confirm
        )


@dataclass(frozen=True, slots=True)
class OkxOpenInterest:
    """One ``open-interest-history`` row ``[ts, oi, oiCcy, oiUsd]``."""

    ts: int
    oi: float
    oiCcy: float
    oiUsd: float

    @classmethod
    def from_json(cls, row: Any) -> OkxOpenInterest:
        row = need(row, list, "okx open-interest-history")
        vals = [num(row, i, "okx open-interest-history") for i in range(4)]
        return cls(int(vals[0]), vals[1], vals[2], vals[3])


@dataclass(frozen=True, slots=True)
class OkxFunding:
    instId: str
    fundingRate: float
    fundingTime: int

    @classmethod
    def from_json(cls, rec: Any) -> OkxFunding:
        rec = need(rec, dict, "okx funding-rate-history")
        w = "okx funding-rate-history"
        return cls(
            str(rec.get("instId")), num(rec, "fundingRate", w), int(num(rec, "fundingTime", w))
        )


def data_list(payload: Any, what: str) -> list[Any]:
    env = need(payload, dict, what)
    if str(env.get("code")) != "0":
        raise PayloadError(f"{what}: code {env.get('code')}: {env.get('msg')}")
    return need(env.get("data"), list, f"{what} data")


class Okx(Venue):
    id = "okx"
    oi_history = "last 1,440 points"
    liquidation_stream = "liquidation-orders"
    ccxt_options: Mapping[str, Any] = {"fetchMarkets": ["swap"]}
    oi_periods: Mapping[Timeframe, str] = _BAR

    def calls(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> list[RestCall]:
        inst = {"instId": market.id}
        if dataset is Dataset.KLINES:
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetMarketHistoryCandles",
                    start=s,
                    end=e,
                    params={
                        **inst,
                        "bar": _BAR[tf],
                        "before": s - 1,
                        "after": e,
                        "limit": PER_CALL,
                    },
                )
                for s, e in windows(start, end, tf.ms, PER_CALL)
            ]
        if dataset is Dataset.FUNDING:
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetPublicFundingRateHistory",
                    start=s,
                    end=e,
                    params={**inst, "before": s - 1, "after": e, "limit": PER_CALL},
                )
                for s, e in windows(start, end, FUNDING_STEP_MS, PER_CALL)
            ]
        if dataset is Dataset.OI:
            period, ptf = self.oi_period(tf)
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetRubikStatContractsOpenInterestHistory",
                    start=s,
                    end=e,
                    params={
                        **inst,
                        "period": period,
                        "begin": s + ptf.ms - 1,  # both bounds exclusive (as ccxt notes)
                        "end": e + 1,
                        "limit": PER_CALL,
                    },
                )
                for s, e in windows(start, end, ptf.ms, PER_CALL)
            ]
        if dataset is Dataset.LONG_SHORT:
            period, ptf = self.oi_period(tf)
            return [
                RestCall(
                    dataset=dataset,
                    method="publicGetRubikStatContractsLongShortAccountRatioContract",
                    start=s,
                    end=e,
                    params={
                        **inst,
                        "period": period,
                        "begin": s + ptf.ms - 1,
                        "end": e + 1,
                        "limit": PER_CALL,
                    },
                )
                for s, e in windows(start, end, ptf.ms, PER_CALL)
            ]
        return []

    def datasets(self) -> Sequence[Dataset]:
        return (Dataset.KLINES, Dataset.OI, Dataset.FUNDING, Dataset.LONG_SHORT)

    def decode(
        self, call: RestCall, payload: Any, market: MarketInfo, tf: Timeframe
    ) -> pl.DataFrame:
        rows = data_list(payload, f"okx {call.method}")
        if call.dataset is Dataset.KLINES:
            return self._klines([OkxCandle.from_json(r) for r in rows])
        if call.dataset is Dataset.FUNDING:
            recs = [OkxFunding.from_json(r) for r in rows]
            return funding_per_bar([r.fundingTime for r in recs], [r.fundingRate for r in recs], tf)
        if call.dataset is Dataset.LONG_SHORT:
            w = "okx long-short-account-ratio-contract"
            pairs = [need(r, list, w) for r in rows]
            frame = pl.DataFrame(
                {
                    "_t": [int(num(r, 0, w)) for r in pairs],
                    "long_short_ratio": [num(r, 1, w) for r in pairs],
                },
                schema={"_t": pl.Int64, "long_short_ratio": pl.Float64},
            )
            return last_per_bar(frame, tf)
        oi = [OkxOpenInterest.from_json(r) for r in rows]
        unit = (
            OiUnit.CONTRACTS_QUOTE if market.margin is MarginType.INVERSE else OiUnit.CONTRACTS_BASE
        )
        frame = pl.DataFrame(
            {"_t": [r.ts for r in oi], "oi_raw": [r.oi for r in oi], "oi_unit": [unit.value] * len(oi),
             "oi_value": [r.oiUsd for r in oi]},
            schema={"_t": pl.Int64, "oi_raw": pl.Float64, "oi_unit": pl.String, "oi_value": pl.Float64},
        )  # fmt: skip
        return last_per_bar(frame, tf)

    def oi_depth_ms(self, tf: Timeframe) -> int | None:
        return OI_POINTS * self.oi_period(tf)[1].ms  # OKX keeps the latest 1,440 points

    def liquidation_side(self, liq: Mapping[str, Any]) -> Side:
        """``liquidation-orders`` ``side`` is the liquidation **order** side: buy closes a short.

        Sample::

            {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [{"details": [
              {"bkLoss": "0", "bkPx": "30.2", "ccy": "", "posSide": "short", "side": "buy",
               "sz": "40", "ts": "1706745600300"}], "instId": "KSM-USDT-SWAP", "instType": "SWAP"}]}
        """
        side = str(liq.get("side") or "").lower()
        if side not in ("buy", "sell"):
            raise PayloadError(f"okx liquidation-orders: side {side!r} is not buy or sell")
        return Side.SHORT if side == "buy" else Side.LONG

    def current_oi_call(self, market: MarketInfo) -> RestCall:
        return RestCall(dataset=Dataset.OI, method="publicGetPublicOpenInterest",
                        params={"instType": "SWAP", "instId": market.id}, start=0, end=0)  # fmt: skip

    def decode_current_oi(
        self, payload: Any, market: MarketInfo
    ) -> tuple[int, float, OiUnit, float | None]:
        """``{"instId": "BTC-USDT-SWAP", "oi": "2663107.3", "oiCcy": "26631.07", "oiUsd": "1676426045.35", "ts": "1728728314766"}``."""
        rows = data_list(payload, "okx open-interest")
        if not rows:
            raise PayloadError("okx open-interest: empty data")
        rec = need(rows[0], dict, "okx open-interest")
        w = "okx open-interest"
        unit = (
            OiUnit.CONTRACTS_QUOTE if market.margin is MarginType.INVERSE else OiUnit.CONTRACTS_BASE
        )
        return int(num(rec, "ts", w)), num(rec, "oi", w), unit, num(rec, "oiUsd", w)

    def _klines(self, rows: list[OkxCandle]) -> pl.DataFrame:
        rows = sorted((r for r in rows if r.confirm == "1"), key=lambda r: r.ts)
        return pl.DataFrame(
            {
                "ts": [r.ts for r in rows],
                "open": [r.o for r in rows],
                "high": [r.h for r in rows],
                "low": [r.l for r in rows],
                "close": [r.c for r in rows],
                "volume": [r.volCcy for r in rows],
                "quote_volume": [r.volCcyQuote for r in rows],
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
