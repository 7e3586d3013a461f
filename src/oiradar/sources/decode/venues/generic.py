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

from collections.abc import Mapping
from typing import Any

import polars as pl

from oiradar.model import MarginType, Timeframe
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

PER_CALL = 100
# Funding can settle as often as hourly (intervals shrink in volatile markets): a window of one
# page of hourly settlements can never be truncated by the page limit.
FUNDING_STEP_MS = 3_600_000


class GenericCcxt(Venue):
    oi_history = "per venue (ccxt unified)"
    oi_periods: Mapping[Timeframe, str] = {tf: tf.value for tf in Timeframe}

    def __init__(self, exchange_id: str) -> None:
        self.id = exchange_id

    @staticmethod
    def supports(exchange_id: str) -> bool:
        """Whether ccxt knows the venue and has its OI history (ccxt is imported only here: the
        decoders themselves never need it)."""
        import ccxt

        cls = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
        return cls is not None and cls().has.get("fetchOpenInterestHistory") is True

    def calls(
        self, dataset: Dataset, market: MarketInfo, tf: Timeframe, start: int, end: int
    ) -> list[RestCall]:
        sym = market.symbol
        if dataset is Dataset.KLINES:
            return [
                RestCall(
                    dataset=dataset,
                    method="fetch_ohlcv",
                    args=(sym, tf.value, s, PER_CALL),
                    params={"until": e - 1},
                    start=s,
                    end=e,
                )
                for s, e in windows(start, end, tf.ms, PER_CALL)
            ]
        if dataset is Dataset.OI:
            period, ptf = self.oi_period(tf)
            return [
                RestCall(
                    dataset=dataset,
                    method="fetch_open_interest_history",
                    args=(sym, period, s + ptf.ms, PER_CALL),
                    params={"until": e},
                    start=s,
                    end=e,
                )
                for s, e in windows(start, end, ptf.ms, PER_CALL)
            ]
        if dataset is Dataset.FUNDING:
            return [
                RestCall(
                    dataset=dataset,
                    method="fetch_funding_rate_history",
                    args=(sym, s, PER_CALL),
                    params={"until": e - 1},
                    start=s,
                    end=e,
                )
                for s, e in windows(start, end, FUNDING_STEP_MS, PER_CALL)
            ]
        return []

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
            recs = [need(r, dict, f"{self.id} funding") for r in rows]
            w = f"{self.id} funding"
            return funding_per_bar(
                [int(num(r, "timestamp", w)) for r in recs],
                [num(r, "fundingRate", w) for r in recs],
                tf,
            )
        return last_per_bar(self._oi(rows, market), tf)

    def _oi(self, rows: list[Any], market: MarketInfo) -> pl.DataFrame:
        inverse = market.margin is MarginType.INVERSE
        out = []
        for r in rows:
            rec = need(r, dict, f"{self.id} open interest")
            amount, value = rec.get("openInterestAmount"), rec.get("openInterestValue")
            if amount is not None:
                unit = OiUnit.CONTRACTS_QUOTE if inverse else OiUnit.CONTRACTS_BASE
                raw = float(amount)
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
