"""Signals of one or many series: a features frame in, a frame of events out (SPEC section 3).

The same functions serve the scan, the backtest and live monitoring: they read nothing beyond the
bars they are given, and an event at bar ``t`` depends on bars ``<= t`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from oiradar.config import Settings, duration_ms
from oiradar.features.fused import PARALLEL_MIN_ROWS
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals import kernels as sk
from oiradar.signals.kernels import PHASES, SIG_INPUTS, STATES, many_states, serial_states

# (signal, side) of each state row; the order follows ``kernels.STATES``.
STATE_SIGNALS: tuple[tuple[str, str], ...] = (
    ("oi_extreme", "short"),
    ("oi_extreme", "long"),
    ("watch", "short"),
    ("trigger", "short"),
    ("divergence", "short"),
    ("trigger", "long"),
    ("divergence", "long"),
    ("entry", "short"),
    ("entry", "long"),
)
SIGNALS: tuple[str, ...] = (
    "oi_extreme",
    "watch",
    "trigger",
    "divergence",
    "entry",
    "exchange_divergence",
    "margin_divergence",
)
_ALREADY_EVENTS = ("entry", "entry_long")  # sequential: fire once by construction
VALUE_COLUMNS: tuple[str, ...] = (
    "close",
    "oi",
    "oi_ma_30d",
    "oi_z_30d",
    "oi_chg_7d",
    "oi_vol_ratio",
    "oi_vol_ratio_ma_30d",
    "oi_peak",
    "oi_dd",
    "oi_down_streak",
    "volume",
    "vol_ma_20d",
    "price_high",
    "price_low",
    "atr_14",
)
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Int64(),
    "exchange": pl.String(),
    "symbol": pl.String(),
    "timeframe": pl.String(),
    "signal": pl.String(),
    "side": pl.String(),
    **{c: pl.Float64() for c in VALUE_COLUMNS},
    "setup": pl.String(),
    "setup_ts": pl.Int64(),
    "chg": pl.Float64(),
    "others_median_chg": pl.Float64(),
    "others": pl.String(),
    "why": pl.String(),
}


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=EVENT_SCHEMA)


def signal_params(timeframe: Timeframe | str, settings: Settings | None = None) -> np.ndarray:
    """The kernel's parameter vector (layout: ``kernels.P_*``)."""
    s = settings or Settings()
    ss, fs = s.signals, s.features
    tf = Timeframe.parse(str(timeframe))
    p = np.zeros(sk.N_PARAMS)
    p[sk.P_Z], p[sk.P_WATCH_CHG] = ss.oi_z_alert, ss.watch_chg_7d
    p[sk.P_WATCH_BACK], p[sk.P_NEWHIGH_BACK] = ss.watch_lookback_bars, ss.trigger_new_high_bars
    p[sk.P_DOWN_STREAK], p[sk.P_DIV_DD] = ss.trigger_down_streak, ss.divergence_dd
    p[sk.P_ENTRY_WITHIN], p[sk.P_LONG] = ss.entry_within_bars, float(ss.long_side)
    p[sk.P_RANGE_N] = tf.bars(duration_ms(fs.peak_window))
    p[sk.P_SPIKE_N] = tf.bars(duration_ms(ss.phase_spike_window))
    p[sk.P_SPIKE], p[sk.P_RANGE_PCT] = ss.phase_oi_spike, ss.phase_range_pct
    p[sk.P_DIST_DD] = ss.phase_dist_dd
    p[sk.P_CASCADE_N] = tf.bars(duration_ms(ss.cascade_window))
    p[sk.P_CASCADE_ATR], p[sk.P_CASCADE_OI] = ss.cascade_atr, ss.cascade_oi_drop
    p[sk.P_LIQ_MULT] = ss.cascade_liq_mult
    p[sk.P_LIQ_N] = tf.bars(duration_ms(fs.z_window))
    return p


def signal_inputs(features: pl.DataFrame) -> np.ndarray:
    """The :data:`SIG_INPUTS` rows of a features frame as float64 (NaN = missing).

    ``liquidations`` (quote notional liquidated in the bar) is optional: without it the cascade
    phase does not require a liquidation burst.
    """
    exprs = []
    for c in SIG_INPUTS:
        if c in features.columns:
            exprs.append(pl.col(c).cast(pl.Float64))
        elif c == "complete":
            exprs.append(pl.lit(1.0).alias(c))
        else:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(c))
    frame = features.select(exprs).fill_null(np.nan)
    return np.ascontiguousarray(frame.to_numpy().T)


def _run(
    frames: Sequence[pl.DataFrame], params: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = np.concatenate([signal_inputs(f) for f in frames], axis=1)
    offsets = np.cumsum([0] + [f.height for f in frames]).astype(np.int64)
    with np.errstate(all="ignore"):
        parallel = x.shape[1] >= PARALLEL_MIN_ROWS and len(frames) > 1
        run = many_states if parallel else serial_states
        st, src, ph = run(x, offsets, np.stack(list(params)))
    return st, src, ph, offsets


def signal_states(
    features: pl.DataFrame, timeframe: Timeframe | str, settings: Settings | None = None
) -> pl.DataFrame:
    """Per-bar signal states (bool columns named as :data:`kernels.STATES`) and ``phase``."""
    st, _src, ph, _ = _run([features], [signal_params(timeframe, settings)])
    labels = np.array([*PHASES, None], dtype=object)[ph]  # -1 (incomplete bar) -> None
    return pl.DataFrame(
        {"ts": features["ts"], **{n: st[i] for i, n in enumerate(STATES)}, "phase": labels},
        schema_overrides={"phase": pl.String},
    )


def detect_signals(
    features: pl.DataFrame, key: SeriesKey, settings: Settings | None = None
) -> pl.DataFrame:
    """The events of one series (features from :func:`oiradar.features.compute_features`)."""
    return detect_many([features], [key], [settings])


def detect_many(
    frames: Sequence[pl.DataFrame],
    keys: Sequence[SeriesKey],
    settings: Sequence[Settings | None] | None = None,
) -> pl.DataFrame:
    """Events of many series (one parallel kernel call), sorted by ``ts``, ``exchange``, ``symbol``."""
    if not frames:
        return empty_events()
    settings = list(settings) if settings is not None else [None] * len(frames)
    params = [signal_params(k.timeframe, s) for k, s in zip(keys, settings, strict=True)]
    st, src, _ph, offsets = _run(frames, params)
    parts = []
    for i, (frame, key) in enumerate(zip(frames, keys, strict=True)):
        a, b = offsets[i], offsets[i + 1]
        part = _events_of(frame, key, st[:, a:b], src[:, a:b])
        if part.height:
            parts.append(part)
    if not parts:
        return empty_events()
    return pl.concat(parts).sort("ts", "exchange", "symbol", "signal", "side")


def _events_of(
    frame: pl.DataFrame, key: SeriesKey, st: np.ndarray, src: np.ndarray
) -> pl.DataFrame:
    fires = {
        name: st[j] if name in _ALREADY_EVENTS else sk.rising_edge(st[j])
        for j, name in enumerate(STATES)
    }
    ts = frame["ts"].to_numpy()
    parts = []
    for j, name in enumerate(STATES):
        idx = np.flatnonzero(fires[name])
        if idx.size == 0:
            continue
        signal, side = STATE_SIGNALS[j]
        part = {"_i": idx, "signal": signal, "side": side}
        if name in _ALREADY_EVENTS:
            origin = src[0 if name == "entry" else 1, idx]
            suffix = "" if name == "entry" else "_long"
            part["setup"] = _setup_names(fires, origin, suffix)
            part["setup_ts"] = ts[origin]
        parts.append(pl.DataFrame(part))
    if not parts:
        return empty_events()
    return _with_values(pl.concat(parts, how="diagonal"), frame, key)


def _setup_names(fires: dict[str, np.ndarray], origin: np.ndarray, suffix: str) -> list[str]:
    """Which setup(s) armed each entry: ``trigger``, ``divergence`` or ``trigger+divergence``."""
    trig = fires["trigger" + suffix][origin]
    div = fires["divergence" + suffix][origin]
    return [
        "+".join(n for n, f in (("trigger", t), ("divergence", d)) if f)
        for t, d in zip(trig, div, strict=True)
    ]


def _with_values(ev: pl.DataFrame, frame: pl.DataFrame, key: SeriesKey) -> pl.DataFrame:
    present = [c for c in VALUE_COLUMNS if c in frame.columns]
    vals = (
        frame.select("ts", *present).with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
    )
    out = ev.with_columns(pl.col("_i").cast(pl.Int64)).join(vals, on="_i", how="left")
    out = out.with_columns(
        pl.lit(key.exchange).alias("exchange"),
        pl.lit(key.symbol).alias("symbol"),
        pl.lit(key.timeframe.value).alias("timeframe"),
    )
    out = _conform(out)
    return out.with_columns(why=why_expr())


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [
        pl.lit(None, dtype=t).alias(c) for c, t in EVENT_SCHEMA.items() if c not in frame.columns
    ]
    return frame.with_columns(missing).select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])


def _r(col: str, digits: int = 4) -> pl.Expr:
    return pl.col(col).round_sig_figs(digits).cast(pl.String)


def _pct(col: str) -> pl.Expr:
    return pl.format("{}%", (pl.col(col) * 100).round(1).cast(pl.String))


def why_expr() -> pl.Expr:
    """A one-line human reason per event, built from the values that fired it."""
    sig, side = pl.col("signal"), pl.col("side")
    hi = side == "short"
    return (
        pl.when(sig == "oi_extreme")
        .then(pl.format("oi_z_30d {}", _r("oi_z_30d", 3)))
        .when(sig == "watch")
        .then(
            pl.format(
                "oi {} > ma {}; chg_7d {}; oi/vol {} > ma {}",
                _r("oi"),
                _r("oi_ma_30d"),
                _pct("oi_chg_7d"),
                _r("oi_vol_ratio", 3),
                _r("oi_vol_ratio_ma_30d", 3),
            )
        )
        .when(sig == "trigger")
        .then(
            pl.format(
                "{} after watch; oi down {} bars; volume {} < ma {}",
                pl.when(hi).then(pl.lit("new high")).otherwise(pl.lit("new low")),
                pl.col("oi_down_streak").cast(pl.Int64).cast(pl.String),
                _r("volume"),
                _r("vol_ma_20d"),
            )
        )
        .when(sig == "divergence")
        .then(
            pl.format(
                "oi {} below its peak {}; close {} near {}",
                _pct("oi_dd"),
                _r("oi_peak"),
                _r("close"),
                pl.when(hi)
                .then(pl.format("high {}", _r("price_high")))
                .otherwise(pl.format("low {}", _r("price_low"))),
            )
        )
        .when(sig == "entry")
        .then(
            pl.format(
                "{} candle after {} at {}",
                pl.when(hi)
                .then(pl.lit("bearish rejection"))
                .otherwise(pl.lit("bullish rejection")),
                pl.col("setup"),
                pl.from_epoch("setup_ts", time_unit="ms").dt.strftime("%Y-%m-%d %H:%M"),
            )
        )
        .otherwise(pl.lit(None, dtype=pl.String))
    )
