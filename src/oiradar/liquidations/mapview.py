"""What ``oiradar liqmap`` shows, as frames: the snapshot at a bar, the cascade band, the score.

Kept out of the CLI so the Python API, the docs and the tests use the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from oiradar.liquidations.cascade import Levels, band, cascade_table, clusters
from oiradar.liquidations.heatmap import MapSpec, build_heatmap, without_heat
from oiradar.liquidations.levels import PRESETS, LevelRun, level_inputs
from oiradar.liquidations.score import extremes_baseline, price_hits, summarize
from oiradar.model import DAY_MS, SIDES, Side

DEFAULT_MOVES = (-0.20, -0.15, -0.10, -0.05, -0.02, 0.02, 0.05, 0.10, 0.15, 0.20)


@dataclass(frozen=True)
class Snapshot:
    """The estimated map after the close of the last bar given (``ts`` is that bar's open time)."""

    ts: int
    price: float
    open_long_usd: float
    open_short_usd: float
    clusters: pl.DataFrame
    cascade: pl.DataFrame  # the chosen mix, with amplification columns when impact > 0
    band: pl.DataFrame  # min/max over the chosen mix and the presets
    mixes: tuple[str, ...]
    profile: pl.DataFrame | None = None  # estimated notional by liquidation price (price_profile)


PROFILE_BINS = 40
PROFILE_SPAN = 0.20


def price_profile(lv: Levels, price: float, bins: int = PROFILE_BINS,
                  span: float = PROFILE_SPAN) -> pl.DataFrame:  # fmt: skip
    """The open estimated notional by liquidation price, in ``bins`` equal bins over
    ``price x (1 -/+ span)``: the terminal's strip (``oiradar liqmap``). Levels outside are left
    out; the cascade table has them."""
    edges = np.linspace(price * (1 - span), price * (1 + span), bins + 1)
    out = {"price_lo": edges[:-1], "price_hi": edges[1:]}
    for side, name in ((Side.LONG, "est_long"), (Side.SHORT, "est_short")):
        mine = lv.side == side.sign
        out[name] = np.histogram(lv.price[mine], edges, weights=lv.notional[mine])[0]
    return pl.DataFrame(out)


def levels_of(run: LevelRun) -> Levels:
    """The open estimated levels after the last bar of ``run``."""
    return Levels.from_run(run)


def snapshot(
    bars: pl.DataFrame, spec: MapSpec, *, moves: tuple[float, ...] = DEFAULT_MOVES,
    impact_pct_per_musd: float = 0.0, cluster_min_share: float = 0.02,
) -> Snapshot:  # fmt: skip
    """Run the model (chosen mix and every preset) over ``bars`` and describe the last bar."""
    price = float(bars["close"][-1])
    tables, main = {}, None
    for name in dict.fromkeys([spec.mix.name, *PRESETS]):
        s = spec.with_mix(name) if name != spec.mix.name else spec
        run = build_heatmap(bars, s, record=False)
        lv = levels_of(run)
        tables[name] = cascade_table(lv, price, list(moves))
        if main is None:
            main = (run, lv)
    run, lv = main  # type: ignore[misc]
    return Snapshot(
        ts=int(bars["ts"][-1]), price=price, open_long_usd=lv.total(Side.LONG), open_short_usd=lv.total(Side.SHORT),
        clusters=clusters(lv, price, min_share=cluster_min_share),
        cascade=cascade_table(lv, price, list(moves), impact_pct_per_musd),
        band=band(tables), mixes=tuple(tables), profile=price_profile(lv, price),
    )  # fmt: skip


def score_mixes(
    bars: pl.DataFrame, liqs: pl.DataFrame, spec: MapSpec, bar_ms: int, *, n_boot: int = 1000,
    seed: int = 0, block_ms: int = DAY_MS,
) -> pl.DataFrame:  # fmt: skip
    """The by-price score of the chosen mix and of every preset (rows: mix x side), and of a
    ``baseline`` map that bets on the bar's extremes without any OI (:func:`extremes_baseline`)."""
    inputs = level_inputs(bars, spec.colour_long_share)
    out = []
    for name in dict.fromkeys([spec.mix.name, *PRESETS]):
        s = spec.with_mix(name)
        run = build_heatmap(bars, s, inputs=inputs)
        hits = price_hits(run, inputs.high, inputs.low, liqs, bar_ms, seed=seed)
        out.append(
            summarize(hits, n_boot=n_boot, seed=seed, block_ms=block_ms).with_columns(
                pl.lit(name).alias("mix")
            )
        )
        run = without_heat(run)  # one heatmap alive at a time (the next mix's, the baseline)
    base = extremes_baseline(run, inputs.close)
    hits = price_hits(base, inputs.high, inputs.low, liqs, bar_ms, seed=seed)
    out.append(
        summarize(hits, n_boot=n_boot, seed=seed, block_ms=block_ms).with_columns(
            pl.lit("baseline").alias("mix")
        )
    )
    return pl.concat(out).select("mix", pl.exclude("mix"))


def with_prices(bars: pl.DataFrame, price_bars: pl.DataFrame) -> pl.DataFrame:
    """OHLC from another series (e.g. spot candles) where ``bars`` has none; ``oi`` in base units
    from ``oi_value / close`` where only the USD value is known (Coinalyze reports USD)."""
    px = price_bars.select(
        "ts", *(pl.col(c).alias(f"_{c}") for c in ("open", "high", "low", "close"))
    )
    out = bars.join(px, on="ts", how="inner")
    out = out.with_columns(
        pl.coalesce(c, f"_{c}").alias(c) for c in ("open", "high", "low", "close")
    )
    out = out.drop("_open", "_high", "_low", "_close")
    return out.with_columns(
        pl.coalesce("oi", pl.col("oi_value") / pl.col("close")).alias("oi")
    ).sort("ts")


def realized_per_bar(liqs: pl.DataFrame, ts: np.ndarray, bar_ms: int) -> dict[Side, np.ndarray]:
    """Realized notional per bar and side (NaN for bars before the first / after the last record)."""
    t = liqs["ts"].to_numpy()
    lo, hi = int(t.min()), int(t.max())
    out = {}
    for side in SIDES:
        part = liqs.filter(pl.col("side") == side.value).with_columns(
            (pl.col("ts") - pl.col("ts") % bar_ms).alias("bar")
        )
        agg = dict(part.group_by("bar").agg(pl.col("quote_qty").sum()).iter_rows())
        vals = np.array([agg.get(int(t), 0.0) for t in ts])
        out[side] = np.where((ts + bar_ms > lo) & (ts <= hi), vals, np.nan)
    return out


def score_time_mixes(
    bars: pl.DataFrame, liqs: pl.DataFrame, spec: MapSpec, bar_ms: int, *, n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:  # fmt: skip
    """By-time score of each mix, plus a naive baseline that ranks bars by their adverse excursion
    (``(open - low) / open`` for longs, ``(high - open) / open`` for shorts): the model has to beat
    "big moves liquidate people" to show it knows *where* positions sit."""
    from oiradar.liquidations.score import score_by_time

    inputs = level_inputs(bars, spec.colour_long_share)
    ts = inputs.ts
    realized = realized_per_bar(liqs, ts, bar_ms)
    out = []
    for name in dict.fromkeys([spec.mix.name, *PRESETS]):
        run = build_heatmap(bars, spec.with_mix(name), inputs=inputs, record=False)
        est = {Side.LONG: run.liq_long, Side.SHORT: run.liq_short}
        out.append(
            score_by_time(est, realized, ts, n_boot=n_boot, seed=seed, bar_ms=bar_ms).with_columns(
                pl.lit(name).alias("mix")
            )
        )
    o = bars["open"].to_numpy()
    base = {Side.LONG: (o - inputs.low) / o, Side.SHORT: (inputs.high - o) / o}
    out.append(
        score_by_time(base, realized, ts, n_boot=n_boot, seed=seed, bar_ms=bar_ms).with_columns(
            pl.lit("baseline").alias("mix")
        )
    )
    return pl.concat(out).select("mix", pl.exclude("mix"))
