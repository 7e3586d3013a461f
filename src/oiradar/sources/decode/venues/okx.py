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
- ``GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract``: ``[ts,
  longShortAcctRatio]`` rows (accounts long / accounts short, as Binance's ``longShortRatio``).
- ``GET /api/v5/public/funding-rate-history``: ``{"instId", "fundingRate", "realizedRate", "fundingTime"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.model import Side, Timeframe
from oiradar.sources.decode.venues.base import Dataset, MarketInfo, OiUnit, Request, RestCall, Venue
from oiradar.sources.decode.venues.wire import PayloadError, Wire, canonical, need, num

_BAR = {
    Timeframe.M5: "5m", Timeframe.M15: "15m", Timeframe.M30: "30m", Timeframe.H1: "1H",
    Timeframe.H2: "2H", Timeframe.H4: "4H", Timeframe.H6: "6Hutc", Timeframe.H12: "12Hutc",
    Timeframe.D1: "1Dutc",
}  # fmt: skip
PER_CALL = 100
OI_POINTS = 1440


@dataclass(frozen=True, slots=True)
class OkxCandle(Wire):
    """One ``history-candles`` row."""

    json = list
    what = "okx candle"
    columns = canonical(
        ts="ts", open="o", high="h", low="l", close="c", volume="volCcy", quote_volume="volCcyQuote"
    )
    ts: int
    o: float
    h: float
    l: float  # noqa: E741 (OKX's field name)
    c: float
    vol: float
    volCcy: float
    volCcyQuote: float
    confirm: str = "1"


@dataclass(frozen=True, slots=True)
class OkxOpenInterest(Wire):
    """One ``open-interest-history`` row ``[ts, oi, oiCcy, oiUsd]``."""

    json = list
    what = "okx open-interest-history"
    columns = canonical(_t="ts", oi_raw="oi", oi_value="oiUsd")
    ts: int
    oi: float
    oiCcy: float
    oiUsd: float


@dataclass(frozen=True, slots=True)
class OkxLongShortRatio(Wire):
    """One ``long-short-account-ratio-contract`` row ``[ts, longShortAcctRatio]``."""

    json = list
    what = "okx long-short-account-ratio-contract"
    columns = canonical(_t="ts", long_short_ratio="longShortAcctRatio")
    ts: int
    longShortAcctRatio: float


@dataclass(frozen=True, slots=True)
class OkxFunding(Wire):
    what = "okx funding-rate-history"
    columns = canonical(_t="fundingTime", funding_rate="fundingRate")
    instId: str
    fundingRate: float
    fundingTime: int


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
    oi_unit, oi_unit_inverse = OiUnit.CONTRACTS_BASE, OiUnit.CONTRACTS_QUOTE
    per_call: Mapping[Dataset, int] = dict.fromkeys(Dataset, PER_CALL)
    wire: Mapping[Dataset, type[Wire]] = {
        Dataset.KLINES: OkxCandle, Dataset.OI: OkxOpenInterest, Dataset.FUNDING: OkxFunding,
        Dataset.LONG_SHORT: OkxLongShortRatio,
    }  # fmt: skip

    def request(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> Request:
        inst, window = {"instId": market.id}, {"before": start - 1, "after": end}
        if dataset is Dataset.KLINES:
            return Request("publicGetMarketHistoryCandles", {**inst, "bar": _BAR[tf], **window})
        if dataset is Dataset.FUNDING:
            return Request("publicGetPublicFundingRateHistory", {**inst, **window})
        period, ptf = self.oi_period(tf)
        # both bounds exclusive (as ccxt notes)
        snapshots = {**inst, "period": period, "begin": start + ptf.ms - 1, "end": end + 1}
        if dataset is Dataset.OI:
            return Request("publicGetRubikStatContractsOpenInterestHistory", snapshots)
        return Request("publicGetRubikStatContractsLongShortAccountRatioContract", snapshots)

    def rows(self, call: RestCall, payload: Any) -> list[Any]:
        return data_list(payload, f"okx {call.method}")

    def frame(self, dataset: Dataset, rows: list[Any], market: MarketInfo) -> pl.DataFrame:
        if dataset is Dataset.KLINES:  # confirm "0": the bar is still open
            return OkxCandle.frame([r for r in OkxCandle.parse(rows) if r.confirm == "1"])
        return super().frame(dataset, rows, market)

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
        unit = self.oi_unit_for(market)
        return int(num(rec, "ts", w)), num(rec, "oi", w), unit, num(rec, "oiUsd", w)
