"""Divergence across legs of one market: venues of a symbol, or margin types of a base asset.

``exchange_divergence``: one venue's ``oi`` change over ``cross_window`` (1d) is <= -5 % while the
median change of the other venues is within +-2 %. ``margin_divergence``: the same between the
USDT-margined and the coin-margined contracts of one base asset (SPEC section 3).

Changes are of ``oi`` in **base units** (canonical, one-sided), so venues that count OI differently
compare honestly once the importers have normalised them; USD values (``oi_value``) would move with
price alone. The event fires on the rising edge of the condition, per leg; a leg's incomplete bar
never fires and is left out of the others' median. The event's ``side`` is ``short``: a venue
unwinding alone is read, like the rest of the seed's framework, as a warning for longs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
from numba import njit

from oiradar.config import Settings, duration_ms
from oiradar.errors import InputError
from oiradar.features import kernels as fk
from oiradar.features import regular_grid
from oiradar.model import Timeframe, margin_type, parse_symbol
from oiradar.signals.frame import conform_events, empty_events
from oiradar.signals.kernels import rising_edge


@njit(cache=True, nogil=True)
def others_median(chg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each leg ``j`` and bar ``t``: the median of the other legs' valid changes, and their count.

    numpy: ``np.nanmedian(np.delete(chg, j, axis=0), axis=0)`` (NaN where no other leg is valid).
    """
    k, m = chg.shape
    med = np.full((k, m), np.nan)
    cnt = np.zeros((k, m), np.int64)
    buf = np.empty(k)
    for t in range(m):
        for j in range(k):
            n = 0
            for q in range(k):
                if q != j and not np.isnan(chg[q, t]):
                    buf[n] = chg[q, t]
                    n += 1
            cnt[j, t] = n
            if n > 0:
                med[j, t] = np.median(buf[:n])
    return med, cnt


def leg_changes(
    legs: Mapping[str, pl.DataFrame], timeframe: Timeframe, window: str = "1d"
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned ``oi`` changes over ``window`` (legs x bars; incomplete bars NaN) and the common ts."""
    lag = timeframe.bars(duration_ms(window))
    grids = {name: regular_grid(_bar_like(f), timeframe) for name, f in legs.items()}
    lo = min(int(g["ts"].to_numpy().min()) for g in grids.values() if g.height)
    hi = max(int(g["ts"].to_numpy().max()) for g in grids.values() if g.height)
    ts = np.arange(lo, hi + timeframe.ms, timeframe.ms, dtype=np.int64)
    chg = np.full((len(grids), ts.size), np.nan)
    for j, g in enumerate(grids.values()):
        full = pl.DataFrame({"ts": ts}).join(g, on="ts", how="left")
        oi = full["oi"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        ok = full["complete"].fill_null(False).to_numpy()
        chg[j] = np.where(ok, fk.pct_change_lag(oi, lag), np.nan)
    return chg, ts


def _bar_like(frame: pl.DataFrame) -> pl.DataFrame:
    """Only ``ts``, ``oi``, ``complete`` matter here; fill the OHLCV columns regular_grid checks."""
    keep = [c for c in ("ts", "oi", "complete") if c in frame.columns]
    base = frame.select(keep)
    fill = [
        pl.lit(None, dtype=pl.Float64).alias(c) for c in ("open", "high", "low", "close", "volume")
    ]
    return base.with_columns(fill)


def cross_divergence(
    legs: Mapping[str, pl.DataFrame],
    timeframe: Timeframe,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Rising edges of "leg change <= -drop while the others' median change is within +-band".

    Returns ``ts``, ``leg``, ``chg``, ``others_median_chg``, ``others`` (each other leg's change).
    """
    ss = (settings or Settings()).signals
    legs = {name: frame for name, frame in legs.items() if frame.height}
    names = list(legs)
    schema = {"ts": pl.Int64, "leg": pl.String, "chg": pl.Float64,
              "others_median_chg": pl.Float64, "others": pl.String}  # fmt: skip
    if len(names) < 2:
        return pl.DataFrame(schema=schema)
    chg, ts = leg_changes(legs, timeframe, ss.cross_window)
    med, cnt = others_median(chg)
    rows = []
    with np.errstate(invalid="ignore"):
        for j, name in enumerate(names):
            cond = (chg[j] <= -ss.exchange_div_drop) & (np.abs(med[j]) <= ss.exchange_div_band)
            for t in np.flatnonzero(rising_edge(cond & (cnt[j] > 0))):
                rows.append((int(ts[t]), name, chg[j, t], med[j, t], _others(names, chg[:, t], j)))
    return pl.DataFrame(rows, schema=schema, orient="row")


def _others(names: list[str], col: np.ndarray, j: int) -> str:
    return ", ".join(
        f"{n} {v * 100:+.1f}%"
        for q, (n, v) in enumerate(zip(names, col, strict=True))
        if q != j and not np.isnan(v)
    )


def _events(
    found: pl.DataFrame, signal: str, timeframe: Timeframe, exchange: pl.Expr, symbol: pl.Expr,
    window: str,
) -> pl.DataFrame:  # fmt: skip
    if found.is_empty():
        return empty_events()
    out = found.with_columns(
        exchange.alias("exchange"),
        symbol.alias("symbol"),
        pl.lit(timeframe.value).alias("timeframe"),
        pl.lit(signal).alias("signal"),
        pl.lit("short").alias("side"),
        pl.format(
            f"{{}} oi {{}}% over {window} while the others' median moved {{}}% ({{}})",
            pl.col("leg"),
            (pl.col("chg") * 100).round(1).cast(pl.String),
            (pl.col("others_median_chg") * 100).round(1).cast(pl.String),
            pl.col("others"),
        ).alias("why"),
    )
    return conform_events(out).sort("ts", "exchange", "symbol")


def exchange_divergence(
    venues: Mapping[str, pl.DataFrame],
    symbol: str,
    timeframe: Timeframe,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Events for one ``symbol`` traded on >= 2 venues (``venues``: exchange -> bars)."""
    found = cross_divergence(venues, timeframe, settings)
    window = (settings or Settings()).signals.cross_window
    return _events(found, "exchange_divergence", timeframe, pl.col("leg"), pl.lit(symbol), window)


def margin_divergence(
    contracts: Mapping[str, pl.DataFrame],
    exchange: str,
    timeframe: Timeframe,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Events between the USDT-margined and coin-margined contracts (symbol -> bars) of one base.

    Raises :class:`InputError` if the symbols do not share a base asset or are all of one margin type.
    """
    bases = {parse_symbol(s)[0] for s in contracts}
    kinds = {margin_type(s) for s in contracts}
    if len(bases) != 1 or len(kinds) != 2:
        raise InputError(
            f"margin_divergence needs linear and inverse contracts of one base, got {list(contracts)}"
        )
    found = cross_divergence(contracts, timeframe, settings)
    window = (settings or Settings()).signals.cross_window
    return _events(found, "margin_divergence", timeframe, pl.lit(exchange), pl.col("leg"), window)
