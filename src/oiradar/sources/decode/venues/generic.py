"""Any other ccxt venue with OI history, through ccxt's **unified** methods.

For venues without a dedicated adapter (``gate``, ``kucoinfutures``, ``htx``, ``bitfinex``, ...)
whose ``has['fetchOpenInterestHistory']`` is true. ccxt has already parsed the payloads, so the
"wire" types here are ccxt's unified structures:

- ``fetch_ohlcv``: ``[timestamp, open, high, low, close, volume]`` (volume as ccxt reports it);
- ``fetch_open_interest_history``: ``{"timestamp", "openInterestAmount", "openInterestValue", ...}``,
  where ``openInterestAmount`` counts **contracts** (x ``contractSize``: base units for linear
  contracts, USD for inverse ones) and ``openInterestValue`` is in the quote currency;
- ``fetch_funding_rate_history``: ``{"timestamp", "fundingRate", ...}``.

Venue conventions that ccxt does not normalise (a both-sides figure, say) are not corrected here:
that is what the dedicated adapters are for, and ``oi_raw``/``oi_unit`` keep what was received.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.model import Timeframe
from oiradar.sources.decode.venues.base import (
    Dataset,
    MarketInfo,
    OiUnit,
    Request,
    RestCall,
    Venue,
    funding_per_bar,
    last_per_bar,
)
from oiradar.sources.decode.venues.wire import PayloadError, Wire, canonical, need, num

PER_CALL = 100


@dataclass(frozen=True, slots=True)
class FundingRate(Wire):
    """One ccxt unified funding rate (``fetch_funding_rate_history``), the fields oiradar reads."""

    columns = canonical(_t="timestamp", funding_rate="fundingRate")
    timestamp: int
    fundingRate: float


class GenericCcxt(Venue):
    oi_history = "per venue (ccxt unified)"
    oi_periods: Mapping[Timeframe, str] = {tf: tf.value for tf in Timeframe}
    oi_unit, oi_unit_inverse = OiUnit.CONTRACTS_BASE, OiUnit.CONTRACTS_QUOTE
    per_call: Mapping[Dataset, int] = dict.fromkeys(Dataset, PER_CALL)
    limit_param = None  # a unified method takes the limit as an argument

    def __init__(self, exchange_id: str) -> None:
        self.id = exchange_id

    @staticmethod
    def supports(exchange_id: str) -> bool:
        """Whether ccxt knows the venue and has its OI history (ccxt is imported only here: the
        decoders themselves never need it)."""
        import ccxt

        cls = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
        return cls is not None and cls().has.get("fetchOpenInterestHistory") is True

    def datasets(self) -> Sequence[Dataset]:
        return (Dataset.KLINES, Dataset.OI, Dataset.FUNDING)

    def request(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> Request:
        sym = market.symbol
        if dataset is Dataset.KLINES:
            return Request("fetch_ohlcv", {"until": end - 1}, (sym, tf.value, start, PER_CALL))
        if dataset is Dataset.FUNDING:
            return Request("fetch_funding_rate_history", {"until": end - 1}, (sym, start, PER_CALL))
        period, ptf = self.oi_period(tf)
        args = (sym, period, start + ptf.ms, PER_CALL)
        return Request("fetch_open_interest_history", {"until": end}, args)

    def decode(
        self, call: RestCall, payload: Any, market: MarketInfo, tf: Timeframe
    ) -> pl.DataFrame:
        rows = need(payload, list, f"{self.id} {call.method}")
        if call.dataset is Dataset.KLINES:
            w = f"{self.id} ohlcv"
            cols = [[num(need(r, list, w), i, w) for i in range(6)] for r in rows]
            frame = pl.DataFrame(
                cols, schema=["ts", "open", "high", "low", "close", "volume"], orient="row"
            )
            return frame.with_columns(pl.col("ts").cast(pl.Int64)).filter(
                pl.col("ts").is_between(call.start, call.end, closed="left")
            )
        if call.dataset is Dataset.FUNDING:
            recs = FundingRate.parse(rows, f"{self.id} funding")
            return funding_per_bar(FundingRate.frame(recs), tf)
        return last_per_bar(self._oi(rows, market), tf)

    def _oi(self, rows: list[Any], market: MarketInfo) -> pl.DataFrame:
        out = []
        for r in rows:
            rec = need(r, dict, f"{self.id} open interest")
            amount, value = rec.get("openInterestAmount"), rec.get("openInterestValue")
            if amount is not None:
                unit, raw = self.oi_unit_for(market), float(amount)
            elif value is not None:
                unit, raw = OiUnit.QUOTE, float(value)
            else:
                raise PayloadError(
                    f"{self.id} open interest: neither amount nor value in {str(rec)[:120]}"
                )
            out.append({"_t": int(num(rec, "timestamp", self.id)), "oi_raw": raw, "oi_unit": unit.value,
                        "oi_value": None if value is None else float(value)})  # fmt: skip
        return pl.DataFrame(out, schema={"_t": pl.Int64, "oi_raw": pl.Float64, "oi_unit": pl.String,
                                         "oi_value": pl.Float64})  # fmt: skip
