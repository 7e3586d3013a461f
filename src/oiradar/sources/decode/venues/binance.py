"""Binance USD-M (``binanceusdm``) and COIN-M (``binancecoinm``) futures: wire types and decoding.

Endpoints (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api,
and the same pages under ``coin-margined-futures``), called through ccxt's implicit API:

- klines ``GET /fapi/v1/klines`` (``/dapi/v1/klines``), 12-field arrays::

    [1704067200000, "102.29", "102.50", "101.55", "101.75", "11740.164", 1704070799999,
     "1197804.90", 100, "5742.977", "584370.30", "0"]

  USD-M: index 5 volume (base), 7 quote volume, 9 taker buy volume (base). COIN-M: index 5 is
  volume in **contracts**, 7 the base-asset volume, 10 taker buy base volume.
- OI history ``GET /futures/data/openInterestHist`` (last 30 days only)::

    {"symbol": "KSMUSDT", "sumOpenInterest": "47536.9", "sumOpenInterestValue": "4862958.31",
     "timestamp": 1704067200000}

  USD-M ``sumOpenInterest`` is one side in base units, ``sumOpenInterestValue`` USDT. COIN-M
  (``pair`` + ``contractType`` instead of ``symbol``): ``sumOpenInterest`` is in **contracts**
  (100 USD for BTC, 10 USD for other coins), ``sumOpenInterestValue`` in the **base** coin.
- funding ``GET /fapi/v1/fundingRate``: ``{"symbol", "fundingTime", "fundingRate", "markPrice"}``
- long/short ``GET /futures/data/globalLongShortAccountRatio``:
  ``{"symbol", "longShortRatio", "longAccount", "shortAccount", "timestamp"}``

The public archive (``data.binance.vision``) holds the OI history beyond 30 days, for USD-M
(``um``, base units) and COIN-M (``cm``, contracts as on REST; decision 0505); see
:mod:`oiradar.sources.clients.archive`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.model import DAY_MS, Side, Timeframe
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

_PERIODS = {tf: tf.value for tf in Timeframe}  # 5m 15m 30m 1h 2h 4h 6h 12h 1d
KLINES_PER_CALL = 1000  # weight 5 (1500 costs 10)
OI_PER_CALL = 500
FUNDING_PER_CALL = 1000
# Funding can settle as often as hourly (intervals shrink in volatile markets): a window of one
# page of hourly settlements can never be truncated by the page limit.
FUNDING_STEP_MS = 3_600_000
REST_OI_DAYS = 30  # openInterestHist: "only the data of the latest 1 month is available"


# ------------------------------------------------------------------------------ wire types
@dataclass(frozen=True, slots=True)
class Kline:
    """One ``/fapi/v1/klines`` (or ``/dapi/v1/klines``) array, fields named as Binance documents."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # USD-M: base; COIN-M: contracts
    close_time: int
    quote_asset_volume: float  # USD-M: quote; COIN-M: base asset volume
    number_of_trades: int
    taker_buy_base_asset_volume: float  # COIN-M: contracts
    taker_buy_quote_asset_volume: float  # COIN-M: base

    @classmethod
    def from_json(cls, row: Any) -> Kline:
        row = need(row, list, "binance kline")
        w = "binance kline"
        return cls(
            int(num(row, 0, w)), num(row, 1, w), num(row, 2, w), num(row, 3, w), num(row, 4, w),
            num(row, 5, w), int(num(row, 6, w)), num(row, 7, w), int(num(row, 8, w)),
            num(row, 9, w), num(row, 10, w),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class OpenInterestHist:
    """One ``openInterestHist`` record (USD-M has ``symbol``, COIN-M ``pair`` + ``contractType``)."""

    sumOpenInterest: float
    sumOpenInterestValue: float
    timestamp: int

    @classmethod
    def from_json(cls, rec: Any) -> OpenInterestHist:
        rec = need(rec, dict, "binance openInterestHist")
        w = "binance openInterestHist"
        return cls(
            num(rec, "sumOpenInterest", w),
            num(rec, "sumOpenInterestValue", w),
            int(num(rec, "timestamp", w)),
        )


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One ``fundingRate`` record."""

    symbol: str
    fundingTime: int
    fundingRate: float

    @classmethod
    def from_json(cls, rec: Any) -> FundingRate:
        rec = need(rec, dict, "binance fundingRate")
        w = "binance fundingRate"
        return cls(
            str(rec.get("symbol")), int(num(rec, "fundingTime", w)), num(rec, "fundingRate", w)
        )


@dataclass(frozen=True, slots=True)
class LongShortRatio:
    """One ``globalLongShortAccountRatio`` record."""

    longShortRatio: float
    timestamp: int

    @classmethod
    def from_json(cls, rec: Any) -> LongShortRatio:
        rec = need(rec, dict, "binance globalLongShortAccountRatio")
        w = "binance globalLongShortAccountRatio"
        return cls(num(rec, "longShortRatio", w), int(num(rec, "timestamp", w)))


def _records(payload: Any, what: str) -> Sequence[Any]:
    return need(payload, list, what)


# ------------------------------------------------------------------------------ adapters
class BinanceUsdm(Venue):
    """USD-M: OI in base units already (``oi_unit = base``)."""

    id = "binanceusdm"
    oi_history = "30d REST + archive (years)"
    liquidation_stream = "!forceOrder@arr"
    prefix = "fapi"
    oi_unit = OiUnit.BASE
    oi_periods: Mapping[Timeframe, str] = _PERIODS
    archive_market: str | None = "um"

    def datasets(self) -> Sequence[Dataset]:
        return (Dataset.KLINES, Dataset.OI, Dataset.FUNDING, Dataset.LONG_SHORT)

    def _id_params(self, market: MarketInfo) -> dict[str, Any]:
        return {"symbol": market.id}

    def oi_depth_ms(self, tf: Timeframe) -> int | None:
        return REST_OI_DAYS * DAY_MS  # REST only; the archive goes back years

    def calls(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> list[RestCall]:
        p = self.prefix
        if dataset is Dataset.KLINES:
            return [
                RestCall(
                    dataset=dataset,
                    method=f"{p}PublicGetKlines",
                    start=s,
                    end=e,
                    params={
                        "symbol": market.id,
                        "interval": tf.value,
                        "startTime": s,
                        "endTime": e - 1,
                        "limit": KLINES_PER_CALL,
                    },
                )
                for s, e in windows(start, end, tf.ms, KLINES_PER_CALL)
            ]
        if dataset is Dataset.FUNDING:
            return [
                RestCall(
                    dataset=dataset,
                    method=f"{p}PublicGetFundingRate",
                    start=s,
                    end=e,
                    params={
                        "symbol": market.id,
                        "startTime": s,
                        "endTime": e - 1,
                        "limit": FUNDING_PER_CALL,
                    },
                )
                for s, e in windows(start, end, FUNDING_STEP_MS, FUNDING_PER_CALL)
            ]
        method = (
            "DataGetOpenInterestHist"
            if dataset is Dataset.OI
            else "DataGetGlobalLongShortAccountRatio"
        )
        period, ptf = self.oi_period(tf)
        # a snapshot at T closes bar T - period: bars [s, e) need snapshots in [s + period, e]
        return [
            RestCall(
                dataset=dataset,
                method=f"{p}{method}",
                start=s,
                end=e,
                params={
                    **self._id_params(market),
                    "period": period,
                    "startTime": s + ptf.ms,
                    "endTime": e,
                    "limit": OI_PER_CALL,
                },
            )
            for s, e in windows(start, end, ptf.ms, OI_PER_CALL)
        ]

    def decode(
        self, call: RestCall, payload: Any, market: MarketInfo, tf: Timeframe
    ) -> pl.DataFrame:
        if call.dataset is Dataset.KLINES:
            return self._klines(
                [Kline.from_json(r) for r in _records(payload, "binance klines")], market
            )
        if call.dataset is Dataset.FUNDING:
            fr = [FundingRate.from_json(r) for r in _records(payload, "binance fundingRate")]
            return funding_per_bar([r.fundingTime for r in fr], [r.fundingRate for r in fr], tf)
        if call.dataset is Dataset.LONG_SHORT:
            lsr = [LongShortRatio.from_json(r) for r in _records(payload, "binance longShortRatio")]
            frame = pl.DataFrame({"_t": [r.timestamp for r in lsr], "long_short_ratio": [r.longShortRatio for r in lsr]},
                                 schema={"_t": pl.Int64, "long_short_ratio": pl.Float64})  # fmt: skip
            return last_per_bar(frame, tf)
        recs = [
            OpenInterestHist.from_json(r) for r in _records(payload, "binance openInterestHist")
        ]
        return last_per_bar(self._oi_frame(recs), tf)

    def liquidation_side(self, liq: Mapping[str, Any]) -> Side:
        """``forceOrder`` ``o.S`` is the side of the liquidation **order**: SELL closes a long.

        Sample (``!forceOrder@arr``)::

            {"e": "forceOrder", "E": 1706745600123, "o": {"s": "KSMUSDT", "S": "SELL", "o": "LIMIT",
             "f": "IOC", "q": "12.5", "p": "30.10", "ap": "30.05", "X": "FILLED", "l": "12.5",
             "z": "12.5", "T": 1706745600100}}
        """
        side = str(need(liq.get("info"), dict, "binance forceOrder").get("S", "")).upper()
        if side not in ("BUY", "SELL"):
            raise PayloadError(f"binance forceOrder: side S={side!r} is not BUY or SELL")
        return Side.LONG if side == "SELL" else Side.SHORT

    def liquidation_price(self, liq: Mapping[str, Any]) -> float:
        """The order price ``p``, not the average fill ``ap`` that ccxt reports: the same meaning
        as the ``price`` of imported forceOrder recordings (decision 0104)."""
        return num(need(liq.get("info"), dict, "binance forceOrder"), "p", "binance forceOrder")

    def current_oi_call(self, market: MarketInfo) -> RestCall:
        return RestCall(dataset=Dataset.OI, method=f"{self.prefix}PublicGetOpenInterest",
                        params={"symbol": market.id}, start=0, end=0)  # fmt: skip

    def decode_current_oi(
        self, payload: Any, market: MarketInfo
    ) -> tuple[int, float, OiUnit, float | None]:
        """``{"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}``."""
        rec = need(payload, dict, "binance openInterest")
        w = "binance openInterest"
        return int(num(rec, "time", w)), num(rec, "openInterest", w), self.oi_unit, None

    def _klines(self, rows: list[Kline], market: MarketInfo) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ts": [r.open_time for r in rows],
                "open": [r.open for r in rows],
                "high": [r.high for r in rows],
                "low": [r.low for r in rows],
                "close": [r.close for r in rows],
                "volume": [r.volume for r in rows],
                "quote_volume": [r.quote_asset_volume for r in rows],
                "taker_buy_volume": [r.taker_buy_base_asset_volume for r in rows],
                "quote_volume_estimated": [False] * len(rows),
            },
            schema=_KLINE_SCHEMA,
        )

    def _oi_frame(self, recs: list[OpenInterestHist]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "_t": [r.timestamp for r in recs],
                "oi_raw": [r.sumOpenInterest for r in recs],
                "oi_unit": [self.oi_unit.value] * len(recs),
                "oi_value": [r.sumOpenInterestValue for r in recs],
            },
            schema=_OI_SCHEMA,
        )


class BinanceCoinm(BinanceUsdm):
    """COIN-M: OI in contracts of ``contractSize`` USD -> base = contracts x size / price."""

    id = "binancecoinm"
    prefix = "dapi"
    oi_unit = OiUnit.CONTRACTS_QUOTE
    # The archive's COIN-M metrics files (data/futures/cm/daily/metrics/BTCUSD_PERP/...) count
    # contracts too, as REST does: the parser keeps them as ``oi_raw`` in this unit and the
    # fetcher converts both sources with the same ``oi_to_base`` (decision 0505).
    archive_market = "cm"
    oi_history = "30d REST + archive (years)"

    def _id_params(self, market: MarketInfo) -> dict[str, Any]:
        pair = market.extra.get("pair") or market.id.split("_")[0]
        return {"pair": pair, "contractType": "PERPETUAL"}

    def _klines(self, rows: list[Kline], market: MarketInfo) -> pl.DataFrame:
        # USD-M names first (volume = contracts here), then the one COIN-M mapping
        frame = super()._klines(rows, market).with_columns(
            pl.Series("taker_buy_quote_volume", [r.taker_buy_quote_asset_volume for r in rows],
                      pl.Float64)
        )  # fmt: skip
        return coinm_kline_volumes(frame, market.contract_size)

    def _oi_frame(self, recs: list[OpenInterestHist]) -> pl.DataFrame:
        # sumOpenInterestValue is in the base coin here, not USD: oi_value is derived instead.
        frame = super()._oi_frame(recs)
        return frame.with_columns(pl.lit(None, pl.Float64).alias("oi_value"))


def coinm_kline_volumes(frame: pl.DataFrame, contract_size: float) -> pl.DataFrame:
    """COIN-M klines, columns named by their USD-M position -> canonical volumes.

    The REST path (``/dapi/v1/klines``) and the archive's COIN-M kline files (same 12 columns)
    both go through here. By position: ``volume`` is in contracts, ``quote_volume`` is the
    base-asset volume, ``taker_buy_volume`` taker buys in contracts, ``taker_buy_quote_volume``
    taker buys in the base asset. Canonical: ``volume`` = base volume, ``quote_volume`` =
    contracts x ``contract_size`` (USD), ``taker_buy_volume`` = taker buy base volume.
    """
    return frame.with_columns(
        pl.col("quote_volume").alias("volume"),
        (pl.col("volume") * contract_size).alias("quote_volume"),
        pl.col("taker_buy_quote_volume").alias("taker_buy_volume"),
    ).drop("taker_buy_quote_volume")


_KLINE_SCHEMA = {
    "ts": pl.Int64, "open": pl.Float64, "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
    "volume": pl.Float64, "quote_volume": pl.Float64, "taker_buy_volume": pl.Float64,
    "quote_volume_estimated": pl.Boolean,
}  # fmt: skip
_OI_SCHEMA = {"_t": pl.Int64, "oi_raw": pl.Float64, "oi_unit": pl.String, "oi_value": pl.Float64}
