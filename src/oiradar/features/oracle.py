"""Plain pandas versions of every feature and signal: the oracle of the tests and the benchmark's peer.

Written the obvious way, straight from SPEC sections 2 and 3, without sharing code with the
kernels; slow and clear on purpose. Needs pandas (the ``dev`` / ``bench`` extras).
Input: one series on a regular grid (``regular_grid``), a pandas frame with the bar columns
(NaN = missing) and a bool ``complete`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INF = [np.inf, -np.inf]


def _clean(s: pd.Series) -> pd.Series:
    return s.replace(INF, np.nan)


def _roll(s: pd.Series, n: int, coverage: float = 1.0):
    """``s.rolling(n, min_periods=ceil(coverage * n))``."""
    return s.rolling(n, min_periods=max(1, int(np.ceil(coverage * n - 1e-9))))


def streak(cond: pd.Series, valid: pd.Series) -> pd.Series:
    """Consecutive True values of ``cond`` ending at each bar (NaN where ``valid`` is False)."""
    out = cond.groupby((~cond).cumsum()).cumsum().astype(float)
    return out.where(valid)


def wilder_atr(h: pd.Series, lo: pd.Series, c: pd.Series, n: int) -> pd.Series:
    """Wilder's ATR: SMA seed of the first ``n`` TRs, then ``ewm(alpha=1/n, adjust=False)``;
    restarts after a missing TR."""
    pc = c.shift(1)
    tr = pd.concat([h - lo, (h - pc).abs(), (lo - pc).abs()], axis=1).max(axis=1, skipna=True)
    tr = tr.where((h - lo).notna())
    out = pd.Series(np.nan, index=tr.index)
    for _, seg in tr.groupby(tr.isna().cumsum()):
        seg = seg.dropna()
        if len(seg) < n:
            continue
        x = seg.copy()
        x.iloc[: n - 1] = np.nan
        x.iloc[n - 1] = seg.iloc[:n].mean()
        out.loc[x.index] = x.ewm(alpha=1 / n, adjust=False).mean()
    return out


def rejection(df: pd.DataFrame, rules: tuple[str, ...], bullish: bool = False) -> pd.Series:
    o, h, lo, c = df["open"], df["high"], df["low"], df["close"]
    body, rng = (c - o).abs(), h - lo
    upper, lower = h - np.maximum(o, c), np.minimum(o, c) - lo
    near, far = (lower, upper) if bullish else (upper, lower)
    a = (rng > 0) & (near >= 2 * body) & (near >= 0.5 * rng) & (far <= 0.25 * rng)
    po, pc = o.shift(), c.shift()
    bigger = body > (pc - po).abs()
    if bullish:
        b = (c > o) & (pc < po) & (o <= pc) & (c >= po) & bigger
        t = c > h.shift()
    else:
        b = (c < o) & (pc > po) & (o >= pc) & (c <= po) & bigger
        t = c < lo.shift()
    hit = pd.Series(False, index=df.index)
    for name, rule in (("wick", a), ("engulfing", b), ("close_below_low", t)):
        if name in rules:
            hit |= rule
    return hit.astype(float).where(o.notna() & h.notna() & lo.notna() & c.notna())


def features(
    df: pd.DataFrame, w: dict, near_pct: float = 0.03, rules=None, coverage: float = 1.0
) -> pd.DataFrame:
    """Every SPEC section 2 feature; ``w`` holds the windows in bars (``features.windows``)."""

    def roll(s: pd.Series, n: int):
        return _roll(s, n, coverage)

    rules = rules or ("wick", "engulfing", "close_below_low")
    oi, h, lo, c, v = df["oi"], df["high"], df["low"], df["close"], df["volume"]
    qv = df["quote_volume"].fillna(v * (h + lo + c) / 3)
    oiv = df["oi_value"].fillna(oi * c)
    out = pd.DataFrame(index=df.index)
    with np.errstate(all="ignore"):
        out["oi_ma_30d"] = roll(oi, w["z"]).mean()
        out["oi_sd_30d"] = roll(oi, w["z"]).std(ddof=1)
        out["oi_z_30d"] = _clean((oi - out["oi_ma_30d"]) / out["oi_sd_30d"])
        out["oi_chg_7d"] = _clean(oi / oi.shift(w["chg"]) - 1)
        out["oi_vol_ratio"] = _clean(oiv / roll(qv, w["turnover"]).sum())
        out["oi_vol_ratio_ma_30d"] = roll(out["oi_vol_ratio"], w["z"]).mean()
        out["oi_peak"] = roll(oi, w["peak"]).max()
        out["oi_dd"] = 1 - _clean(oi / out["oi_peak"])
        out["oi_down_streak"] = streak(oi < oi.shift(), oi.notna())
        out["oi_up_streak"] = streak(oi > oi.shift(), oi.notna())
        out["vol_ma_20d"] = roll(v, w["vol"]).mean()
        out["price_high"] = roll(h, w["peak"]).max()
        prior_h = roll(h.shift(1), w["new_high"]).max()
        out["new_high"] = (h > prior_h).astype(float).where(prior_h.notna() & h.notna())
        ph = out["price_high"]
        out["near_high"] = (c >= (1 - near_pct) * ph).astype(float).where(c.notna() & ph.notna())
        out["atr_14"] = wilder_atr(h, lo, c, w["atr"])
        out["rejection"] = rejection(df, rules)
        out["price_low"] = roll(lo, w["peak"]).min()
        prior_l = roll(lo.shift(1), w["new_high"]).min()
        out["new_low"] = (lo < prior_l).astype(float).where(prior_l.notna() & lo.notna())
        pl_ = out["price_low"]
        out["near_low"] = (c <= (1 + near_pct) * pl_).astype(float).where(c.notna() & pl_.notna())
        out["rejection_bull"] = rejection(df, rules, bullish=True)
    return out


def _any_last(b: pd.Series, n: int) -> pd.Series:
    return b.astype(float).rolling(n, min_periods=1).max() > 0


def _entries(setup: pd.Series, rej: pd.Series, within: int) -> tuple[pd.Series, pd.Series]:
    """The first rejection in ``s+1 .. s+within`` after each setup ``s``; a newer setup re-arms."""
    fire = np.zeros(len(setup), bool)
    src = np.full(len(setup), -1)
    starts = np.flatnonzero(setup.to_numpy())
    r = rej.to_numpy()
    for k, s in enumerate(starts):
        stop = s + within if k + 1 == len(starts) else min(s + within, starts[k + 1])
        hits = np.flatnonzero(r[s + 1 : stop + 1])
        if hits.size:
            fire[s + 1 + hits[0]] = True
            src[s + 1 + hits[0]] = s
    return pd.Series(fire, index=setup.index), pd.Series(src, index=setup.index)


def states(df: pd.DataFrame, f: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Per-bar signal states (SPEC section 3); ``p`` holds the thresholds (see ``signal_params``)."""
    ok = df["complete"].fillna(False).astype(bool)
    z = f["oi_z_30d"]
    out = pd.DataFrame(index=df.index)
    out["oi_extreme_high"] = ok & (z >= p["z"])
    out["oi_extreme_low"] = ok & (z <= -p["z"])
    watch = ok & (df["oi"] > f["oi_ma_30d"]) & (f["oi_chg_7d"] >= p["watch_chg"])
    watch &= f["oi_vol_ratio"] > f["oi_vol_ratio_ma_30d"]
    out["watch"] = watch
    falling = (f["oi_down_streak"] >= p["down_streak"]) & (df["volume"] < f["vol_ma_20d"])
    base = ok & _any_last(watch, p["watch_back"]) & falling
    nh = (f["new_high"] == 1) & ok
    nl = (f["new_low"] == 1) & ok
    out["trigger"] = base & _any_last(nh, p["newhigh_back"])
    out["divergence"] = ok & (f["oi_dd"] >= p["div_dd"]) & (f["near_high"] == 1)
    off = pd.Series(False, index=df.index)
    out["trigger_long"] = base & _any_last(nl, p["newhigh_back"]) if p["long"] else off
    near_low = f["near_low"] == 1
    out["divergence_long"] = ok & (f["oi_dd"] >= p["div_dd"]) & near_low if p["long"] else off
    edge = {k: out[k] & ~out[k].shift(1, fill_value=False) for k in out.columns}
    rej = ok & (f["rejection"] == 1)
    out["entry"], _ = _entries(edge["trigger"] | edge["divergence"], rej, p["within"])
    rej_l = ok & (f["rejection_bull"] == 1)
    setup_l = edge["trigger_long"] | edge["divergence_long"]
    out["entry_long"] = _entries(setup_l, rej_l, p["within"])[0] if p["long"] else off
    return out


def phases(df: pd.DataFrame, f: pd.DataFrame, p: dict) -> pd.Series:
    """Phase label per bar (SPEC section 3, "Phases"); first match wins; None on incomplete bars."""
    ok = df["complete"].fillna(False).astype(bool)
    c, h, lo, oi = df["close"], df["high"], df["low"], df["oi"]
    nc, nr, ns = p["cascade_n"], p["range_n"], p["spike_n"]
    with np.errstate(all="ignore"):
        drop = c - c.rolling(nc, min_periods=nc).max()
        oi_off = oi / oi.rolling(nc, min_periods=nc).max() - 1
        burst = pd.Series(True, index=df.index)
        if "liquidations" in df:
            liq = df["liquidations"]
            liq_sum = liq.rolling(nc, min_periods=nc).sum()
            liq_ref = liq_sum.rolling(p["liq_n"], min_periods=p["liq_n"]).mean()
            burst = liq.isna() | ((liq_sum > 0) & (liq_sum >= p["liq_mult"] * liq_ref))
        cascade = (drop <= -p["cascade_atr"] * f["atr_14"]) & (oi_off <= -p["cascade_oi"]) & burst
        up = h > h.shift().rolling(nr, min_periods=nr).max()
        dn = lo < lo.shift().rolling(nr, min_periods=nr).min()
        spike = _clean(oi / oi.shift(ns) - 1)
        breakout = (up | dn) & (spike >= p["spike"])
        recent_rej = (f["rejection"] == 1).astype(float).rolling(ns, min_periods=1).max() > 0
        dist = (f["near_high"] == 1) & (f["oi_dd"] >= p["dist_dd"]) & recent_rej
        width = (f["price_high"] - f["price_low"]) / c
        chg = f["oi_chg_7d"]
        acc = (width <= p["range_pct"]) & (chg > 0) & (chg < p["watch_chg"])
    label = np.select(
        [cascade, breakout, dist, acc], ["cascade", "breakout", "distribution", "accumulation"],
        "neutral",
    )  # fmt: skip
    return pd.Series(label, index=df.index, dtype=object).where(ok, None)


def events(st: pd.DataFrame) -> pd.DataFrame:
    """(bar index, state name) of every event: rising edges, entries as they are."""
    rows = []
    for name in st.columns:
        s = st[name]
        fire = s if name.startswith("entry") else s & ~s.shift(1, fill_value=False)
        rows += [(i, name) for i in np.flatnonzero(fire.to_numpy())]
    return pd.DataFrame(rows, columns=["i", "state"]).sort_values(["i", "state"], ignore_index=True)


def random_bars(
    m: int,
    step_ms: int,
    seed: int = 0,
    gaps: float = 0.0,
    null_oi: float = 0.0,
    null_quote: float = 0.3,
    start_ms: int = 1_700_006_400_000,
):
    """Random bars (polars) for tests and the benchmark: a price random walk, volumes, an OI walk
    with build-ups and unwinds; ``gaps`` drops that share of rows, ``null_oi`` nulls OI cells."""
    import polars as pl

    rng = np.random.default_rng(seed)
    ret = rng.normal(0, 0.01, m)
    c = 100 * np.exp(np.cumsum(ret))
    o = np.r_[c[0], c[:-1]] * (1 + rng.normal(0, 0.001, m))
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.004, m)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.004, m)))
    v = rng.lognormal(3, 0.6, m)
    drift = np.repeat(rng.normal(0, 0.004, m // 50 + 1), 50)[:m]
    oi = 1e5 * np.exp(np.cumsum(drift + rng.normal(0, 0.006, m)))
    frame = pl.DataFrame(
        {
            "ts": start_ms - start_ms % step_ms + np.arange(m, dtype=np.int64) * step_ms,
            "open": o, "high": h, "low": lo, "close": c, "volume": v,
            "quote_volume": v * c, "oi": oi, "oi_value": oi * c,
        }
    )  # fmt: skip
    mask = lambda share: pl.Series(rng.random(m) < share)  # noqa: E731
    frame = frame.with_columns(
        pl.when(mask(null_oi)).then(None).otherwise(pl.col("oi")).alias("oi"),
        pl.when(mask(null_quote))
        .then(None)
        .otherwise(pl.col("quote_volume"))
        .alias("quote_volume"),
        pl.when(mask(null_quote)).then(None).otherwise(pl.col("oi_value")).alias("oi_value"),
        complete=pl.lit(True),
    )
    return frame.filter(~mask(gaps)) if gaps else frame
