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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.model import DAY_MS, Side, Timeframe
from oiradar.sources.decode.venues.base import Dataset, MarketInfo, OiUnit, Request, RestCall, Venue
from oiradar.sources.decode.venues.wire import PayloadError, Wire, canonical, need, num

_PERIODS = {tf: tf.value for tf in Timeframe}  # 5m 15m 30m 1h 2h 4h 6h 12h 1d
REST_OI_DAYS = 30  # openInterestHist: "only the data of the latest 1 month is available"


# ------------------------------------------------------------------------------ wire types
@dataclass(frozen=True, slots=True)
class Kline(Wire):
    """One ``/fapi/v1/klines`` (or ``/dapi/v1/klines``) array, fields named as Binance documents."""

    json = list
    what = "binance kline"
    columns = canonical(
        ts="open_time", open="open", high="high", low="low", close="close", volume="volume",
        quote_volume="quote_asset_volume", taker_buy_volume="taker_buy_base_asset_volume",
    )  # fmt: skip
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


@dataclass(frozen=True, slots=True)
class CoinmKline(Kline):
    """A ``/dapi/v1/klines`` array: the same fields, the taker buy base volume kept as well."""

    columns = canonical(Kline.columns, taker_buy_quote_volume="taker_buy_quote_asset_volume")


@dataclass(frozen=True, slots=True)
class OpenInterestHist(Wire):
    """One ``openInterestHist`` record (USD-M has ``symbol``, COIN-M ``pair`` + ``contractType``)."""

    what = "binance openInterestHist"
    columns = canonical(_t="timestamp", oi_raw="sumOpenInterest", oi_value="sumOpenInterestValue")
    sumOpenInterest: float
    sumOpenInterestValue: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class FundingRate(Wire):
    """One ``fundingRate`` record."""

    what = "binance fundingRate"
    columns = canonical(_t="fundingTime", funding_rate="fundingRate")
    symbol: str
    fundingTime: int
    fundingRate: float


@dataclass(frozen=True, slots=True)
class LongShortRatio(Wire):
    """One ``globalLongShortAccountRatio`` record."""

    what = "binance globalLongShortAccountRatio"
    columns = canonical(_t="timestamp", long_short_ratio="longShortRatio")
    longShortRatio: float
    timestamp: int


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
    # klines: weight 5 up to 1000 (1500 costs 10)
    per_call: Mapping[Dataset, int] = {Dataset.KLINES: 1000, Dataset.FUNDING: 1000,
                                       Dataset.OI: 500, Dataset.LONG_SHORT: 500}  # fmt: skip
    wire: Mapping[Dataset, type[Wire]] = {
        Dataset.KLINES: Kline, Dataset.OI: OpenInterestHist, Dataset.FUNDING: FundingRate,
        Dataset.LONG_SHORT: LongShortRatio,
    }  # fmt: skip

    def _id_params(self, market: MarketInfo) -> dict[str, Any]:
        return {"symbol": market.id}

    def oi_depth_ms(self, tf: Timeframe) -> int | None:
        return REST_OI_DAYS * DAY_MS  # REST only; the archive goes back years

    def request(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> Request:
        p, window = self.prefix, {"startTime": start, "endTime": end - 1}
        if dataset is Dataset.KLINES:
            params = {"symbol": market.id, "interval": tf.value, **window}
            return Request(f"{p}PublicGetKlines", params)
        if dataset is Dataset.FUNDING:
            return Request(f"{p}PublicGetFundingRate", {"symbol": market.id, **window})
        method = "OpenInterestHist" if dataset is Dataset.OI else "GlobalLongShortAccountRatio"
        period, ptf = self.oi_period(tf)
        # a snapshot at T closes bar T - period: bars [s, e) need snapshots in [s + period, e]
        snapshots = {"period": period, "startTime": start + ptf.ms, "endTime": end}
        return Request(f"{p}DataGet{method}", {**self._id_params(market), **snapshots})

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
    wire: Mapping[Dataset, type[Wire]] = {**BinanceUsdm.wire, Dataset.KLINES: CoinmKline}

    def _id_params(self, market: MarketInfo) -> dict[str, Any]:
        pair = market.extra.get("pair") or market.id.split("_")[0]
        return {"pair": pair, "contractType": "PERPETUAL"}

    def frame(self, dataset: Dataset, rows: list[Any], market: MarketInfo) -> pl.DataFrame:
        frame = super().frame(dataset, rows, market)
        if dataset is Dataset.KLINES:
            # USD-M names first (volume = contracts here), then the one COIN-M mapping
            return coinm_kline_volumes(frame, market.contract_size)
        if dataset is Dataset.OI:
            # sumOpenInterestValue is in the base coin here, not USD: oi_value is derived instead.
            return frame.with_columns(pl.lit(None, pl.Float64).alias("oi_value"))
        return frame


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
