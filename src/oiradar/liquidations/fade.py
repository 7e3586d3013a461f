"""``liq_fade``: fade a move into an estimated liquidation cluster once the cluster is consumed.

The article: "the high-probability trade is often to fade the move into the liquidation cluster
rather than chase it. The cascade happens, price reverses hard, and you ride the snap back."

The clusters are the level model's (:mod:`oiradar.liquidations.levels`, the map of ``oiradar
liqmap``), run over the series' own bars with the ``[liquidations]`` settings (leverage mix,
position size, the venue's tiers). On bar ``t`` the model says how much estimated notional the
bar's high (short positions) or low (long positions) consumed. ``liq_fade`` fires when one side's
consumed notional is at least ``signals.liq_fade_mult`` (3) times its mean over the last
``features.z_window`` (30 days) of bars, bar ``t`` included: a burst, by the rule the ``cascade``
phase applies to realized liquidations. Until that window is full it cannot fire (the model
starts with no levels, and the first weeks' estimates mean little).

- price rose through short levels: the fade is a **short** (``side = short``);
- price fell through long levels: the fade is a **long**.

Like every signal it fires on the rising edge of its condition, at the bar's close, never on an
incomplete bar. The model reads bars ``<= t`` only; the tiers of a coin-margined contract are
read at the series' first close (the liqmap uses the median close, which would look ahead).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.config import Settings, duration_ms
from oiradar.features import kernels as fk
from oiradar.liquidations.heatmap import MapSpec
from oiradar.liquidations.levels import PriceGrid, level_factors, level_inputs, run_levels
from oiradar.model import SeriesKey
from oiradar.signals.frame import VALUE_COLUMNS, conform_events, empty_events
from oiradar.signals.kernels import rising_edge

_GRID = PriceGrid(0.0, 1.0, 1)  # no heatmap is recorded: the bins do not matter here


def consumed(
    features: pl.DataFrame, key: SeriesKey, settings: Settings | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per bar: the estimated long and short notional the bar consumed (level model)."""
    s = settings or Settings()
    spec = MapSpec.from_settings(s.liquidations, key.exchange, key.symbol)
    inputs = level_inputs(features, spec.colour_long_share)
    tiers = spec.tiers()
    closes = inputs.close[np.isfinite(inputs.close)]
    ref = float(closes[0]) if tiers.in_base and closes.size else 1.0
    factors = level_factors(spec.mix, tiers, position_notional=spec.position_notional,
                            inverse=spec.inverse, ref_price=ref)  # fmt: skip
    run = run_levels(inputs, factors, _GRID, record=False, turnover=spec.turnover)
    return run.liq_long, run.liq_short


def burst(x: NDArray[np.float64], ok: NDArray[np.bool_], mult: float, n: int) -> NDArray[np.bool_]:
    """``ok & (x > 0) & (x >= mult x mean(x over the last n bars, t included))``; false until
    ``n`` bars are in (pandas: ``x.rolling(n).mean()``)."""
    ref = fk.rolling_mean(x, n, n)
    with np.errstate(invalid="ignore"):
        return ok & (x > 0) & (x >= mult * ref)


def liq_fade(
    features: pl.DataFrame, key: SeriesKey, settings: Settings | None = None
) -> pl.DataFrame:
    """The ``liq_fade`` events of one series (features from ``compute_features``), both sides."""
    s = settings or Settings()
    needed = ("high", "low", "close", "oi")
    if features.is_empty() or any(
        c not in features.columns or features[c].null_count() == features.height for c in needed
    ):
        return empty_events()
    liq_long, liq_short = consumed(features, key, s)
    ok = features["complete"].fill_null(False).to_numpy() if "complete" in features.columns \
        else np.ones(features.height, np.bool_)  # fmt: skip
    n = key.timeframe.bars(duration_ms(s.features.z_window))
    mult = s.signals.liq_fade_mult
    parts = [
        _events(features, key, rising_edge(burst(hit, ok.astype(np.bool_), mult, n)), side, hit,
                fk.rolling_mean(hit, n, n), s.features.z_window)
        for side, hit in (("short", liq_short), ("long", liq_long))
    ]  # fmt: skip
    return pl.concat([p for p in parts if p.height] or [empty_events()]).sort("ts", "side")


def _events(
    features: pl.DataFrame, key: SeriesKey, fired: NDArray[np.bool_], side: str,
    hit: NDArray[np.float64], mean: NDArray[np.float64], window: str,
) -> pl.DataFrame:  # fmt: skip
    rows = np.flatnonzero(fired)
    if rows.size == 0:
        return empty_events()
    values = features[rows].select([c for c in VALUE_COLUMNS if c in features.columns])
    held = "short" if side == "short" else "long"
    move = "rose" if side == "short" else "fell"
    why = [
        f"price {move} through estimated {held} liquidations: {h:,.4g} consumed, "
        f"{h / m:.1f}x their mean over {window}; fade: {side}"
        for h, m in zip(hit[rows], mean[rows], strict=True)
    ]
    out = values.with_columns(
        features["ts"].gather(rows),
        pl.lit(key.exchange).alias("exchange"),
        pl.lit(key.symbol).alias("symbol"),
        pl.lit(key.timeframe.value).alias("timeframe"),
        pl.lit("liq_fade").alias("signal"),
        pl.lit(side).alias("side"),
        pl.Series("why", why, dtype=pl.String),
    )
    return conform_events(out)


__all__ = ["burst", "consumed", "liq_fade"]
