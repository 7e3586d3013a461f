"""COIN-M ``oi`` of imported archive bars, derived together with the bars already stored."""

from __future__ import annotations

import polars as pl

from oiradar.model import MarginType, SeriesKey, Source
from oiradar.sources.decode.binance_archive import (
    COINM_EXCHANGE,
    METRICS_OI_UNIT,
    coinm_contract_size,
)
from oiradar.sources.decode.venues.base import MarketInfo, oi_to_base
from oiradar.store import Catalog


def fill_coinm_oi(
    series: dict[SeriesKey, tuple[pl.DataFrame, Source]], catalog: Catalog
) -> list[str]:
    """Derive ``oi`` of ``binancecoinm`` bars from contracts and the bar's close, in place.

    Why here and not in the parser: the contracts (``metrics``) and the close (``klines``) come
    from different files that may arrive in different imports. For each COIN-M series the
    incoming frame is joined, on ``ts``, with the bars already stored, so either half may come
    first; the one conversion of the REST path,
    :func:`oiradar.sources.decode.venues.base.oi_to_base` (contracts x contract size / close), fills ``oi`` and ``oi_value`` (decisions 0505, 0506).
    Bars that have contracts but no close keep ``oi_raw``/``oi_unit`` with ``oi`` null: one
    note per series says how many, for the import report.
    """
    notes = []
    for key, (frame, source) in series.items():
        if key.exchange != COINM_EXCHANGE or "ts" not in frame.columns or frame.is_empty():
            continue
        filled, missing = _coinm_oi(key, frame, catalog)
        series[key] = (filled, source)
        if missing:
            notes.append(
                f"{key}: {missing} bar(s) keep oi_raw (contracts) with oi empty: no close for "
                f"them; import the {key.timeframe.value} klines of those days (now or later) "
                "to fill oi"
            )
    return notes


_OI_INPUTS = ("close", "oi_raw", "oi_unit")


def _coinm_oi(key: SeriesKey, frame: pl.DataFrame, catalog: Catalog) -> tuple[pl.DataFrame, int]:
    """``(frame with oi/oi_value filled, bars still without oi)`` for one COIN-M series."""
    base = key.symbol.split("/")[0]
    market = MarketInfo(
        symbol=key.symbol,
        id=f"{base}USD_PERP",
        margin=MarginType.INVERSE,
        contract_size=coinm_contract_size(base),
    )
    view = _with_stored(key, frame, catalog)
    derived = oi_to_base(view.select("ts", *_OI_INPUTS), market)
    contracts = pl.col("oi_unit") == METRICS_OI_UNIT["cm"]
    derived = derived.select(
        "ts",
        pl.when(contracts).then(pl.col("oi")).alias("_oi"),
        pl.when(contracts).then(pl.col("oi_value")).alias("_oi_value"),
        (contracts & pl.col("oi").is_null()).alias("_missing"),
    )
    out = frame.join(derived, on="ts", how="left", maintain_order="left")
    out = out.with_columns(
        pl.coalesce("_oi", _col_or_null(frame, "oi")).alias("oi"),
        pl.coalesce("_oi_value", _col_or_null(frame, "oi_value")).alias("oi_value"),
    )
    missing = int(out["_missing"].fill_null(False).sum())
    return out.drop("_oi", "_oi_value", "_missing"), missing


def _col_or_null(frame: pl.DataFrame, name: str, dtype: type[pl.DataType] = pl.Float64) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype).alias(name)


def _with_stored(key: SeriesKey, frame: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """``ts`` + close/oi_raw/oi_unit of the incoming bars, stored values where incoming are null."""
    types = {"close": pl.Float64, "oi_raw": pl.Float64, "oi_unit": pl.String}
    incoming = frame.select("ts", *[_col_or_null(frame, c, types[c]) for c in _OI_INPUTS])
    if not catalog.has_series(key):
        return incoming
    lo, hi = incoming.select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")).row(0)
    stored = catalog.read_stored(key, lo, hi + 1).select("ts", *_OI_INPUTS)
    joined = incoming.join(stored, on="ts", how="left", suffix="_stored", maintain_order="left")
    return joined.select("ts", *[pl.coalesce(c, f"{c}_stored").alias(c) for c in _OI_INPUTS])
