"""Signals of one or many series: a features frame in, a frame of events out (SPEC section 3).

The same functions serve the scan, the backtest and live monitoring: they read nothing beyond the
bars they are given, and an event at bar ``t`` depends on bars ``<= t`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

import numpy as np
import polars as pl

from oiradar.config import Settings, duration_ms
from oiradar.features import (
    FEATURE_COLUMNS,
    FEATURE_INDEX,
    INPUT_INDEX,
    INPUTS,
    PARALLEL_MIN_ROWS,
    declared_features,
    feature_frames,
    feature_inputs,
    feature_params,
    feature_specs,
    recycled,
    scratch_in,
)
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals import kernels as sk
from oiradar.signals.kernels import PHASES, STATES, many_states, serial_states

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
    "mtf_entry",  # signals.mtf: the setup on a coarser timeframe
    "liq_fade",  # liquidations.fade: needs the estimated liquidation levels
)
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


def signal_params(timeframe: Timeframe, settings: Settings | None = None) -> np.ndarray:
    """The kernel's parameter vector (layout: ``kernels.P_*``)."""
    s = settings or Settings()
    ss, fs = s.signals, s.features
    p = np.zeros(sk.N_PARAMS)
    p[sk.P_Z], p[sk.P_WATCH_CHG] = ss.oi_z_alert, ss.watch_chg_7d
    p[sk.P_WATCH_BACK], p[sk.P_NEWHIGH_BACK] = ss.watch_lookback_bars, ss.trigger_new_high_bars
    p[sk.P_DOWN_STREAK], p[sk.P_DIV_DD] = ss.trigger_down_streak, ss.divergence_dd
    p[sk.P_ENTRY_WITHIN], p[sk.P_LONG] = ss.entry_within_bars, float(ss.long_side)
    p[sk.P_RANGE_N] = timeframe.bars(duration_ms(fs.peak_window))
    p[sk.P_SPIKE_N] = timeframe.bars(duration_ms(ss.phase_spike_window))
    p[sk.P_SPIKE], p[sk.P_RANGE_PCT] = ss.phase_oi_spike, ss.phase_range_pct
    p[sk.P_DIST_DD] = ss.phase_dist_dd
    p[sk.P_CASCADE_N] = timeframe.bars(duration_ms(ss.cascade_window))
    p[sk.P_CASCADE_ATR], p[sk.P_CASCADE_OI] = ss.cascade_atr, ss.cascade_oi_drop
    p[sk.P_LIQ_MULT] = ss.cascade_liq_mult
    p[sk.P_LIQ_N] = timeframe.bars(duration_ms(fs.z_window))
    return p


def signal_inputs(features: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernels' inputs from a features frame: bar rows (``INPUTS``), feature rows, the
    ``complete`` flags and ``liquidations`` (optional: without it the cascade phase does not
    require a liquidation burst). Float64, NaN = missing."""
    bars = _rows(features, INPUTS)
    feats = _rows(features, FEATURE_COLUMNS)
    ok = (
        features["complete"].fill_null(False).to_numpy().astype(np.bool_)
        if "complete" in features.columns
        else np.ones(features.height, np.bool_)
    )
    liq = _rows(features, ("liquidations",))[0]
    return bars, feats, ok, liq


def _rows(frame: pl.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """``cols`` of ``frame`` as float64 rows; a missing column is a row of NaN (never a 1-row
    literal: a literal-only select would not broadcast to the frame's height)."""
    out = np.full((len(cols), frame.height), np.nan)
    present = [c for c in cols if c in frame.columns]
    if present:
        values = frame.select(pl.col(present).cast(pl.Float64)).fill_null(np.nan).to_numpy().T
        for c, row in zip(present, values, strict=True):
            out[cols.index(c)] = row
    return out


def _states(
    bars: np.ndarray,
    feats: np.ndarray,
    ok: np.ndarray,
    offsets: np.ndarray,
    params: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # numba does not check bounds: refuse mismatched inputs here rather than read past an array
    if not (bars.shape[1] == feats.shape[1] == ok.size == offsets[-1]):
        raise ValueError(
            f"signal inputs disagree: {bars.shape}, {feats.shape}, {ok.size}, {offsets[-1]}"
        )
    parallel = ok.size >= PARALLEL_MIN_ROWS and offsets.size > 2
    run = many_states if parallel else serial_states
    return run(bars, feats, ok, offsets, np.stack(params))


def signal_states(
    features: pl.DataFrame, timeframe: Timeframe, settings: Settings | None = None
) -> pl.DataFrame:
    """Per-bar signal states (bool columns named as :data:`kernels.STATES`) and ``phase``."""
    p = signal_params(timeframe, settings)
    bars, feats, ok, liq = signal_inputs(features)
    offsets = np.array([0, features.height], dtype=np.int64)
    with np.errstate(all="ignore"):
        sbits, _fbits, _src = _states(bars, feats, ok, offsets, [p])
        assert liq.size == ok.size
        ph = sk.phases(bars, feats, ok, liq, p)
    st = [(sbits >> j) & 1 == 1 for j in range(len(STATES))]
    return pl.DataFrame(
        {"ts": features["ts"], **{n: st[i] for i, n in enumerate(STATES)}, "phase": phase_labels(ph)}
    )


_PHASE_NAMES = pl.Series("phase", [*PHASES, None], dtype=pl.String)


def phase_labels(codes: np.ndarray) -> pl.Series:
    """Phase codes (:data:`PHASES` indices; -1 on an incomplete bar) -> a String series, null for
    -1. Gathered from a typed series: a numpy object array whose first value is None has no
    dtype polars can infer, and casting it fails (``cannot cast 'Object' type``)."""
    idx = np.where(codes < 0, len(PHASES), codes).astype(np.int64)
    return _PHASE_NAMES.gather(idx)


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
    """Events of many features frames, sorted by ``ts``, ``exchange``, ``symbol``."""
    if not frames:
        return empty_events()
    settings = list(settings) if settings is not None else [None] * len(frames)
    params = [signal_params(k.timeframe, s) for k, s in zip(keys, settings, strict=True)]
    parts = [signal_inputs(f) for f in frames]
    bars = np.concatenate([q[0] for q in parts], axis=1)
    feats = np.concatenate([q[1] for q in parts], axis=1)
    ok = np.concatenate([q[2] for q in parts])
    offsets = np.cumsum([0] + [f.height for f in frames]).astype(np.int64)
    ts = [f["ts"].to_numpy() for f in frames]
    return events_from_matrices(bars, feats, ok, offsets, ts, keys, params)


def analyse_many(
    frames: Sequence[pl.DataFrame],
    keys: Sequence[SeriesKey],
    settings: Sequence[Settings | None] | None = None,
    explain: bool = True,
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Features and events of many bar frames (all of one timeframe) in one parallel kernel pass
    (features and states of a series back to back: ``sk.many_analyse``), without a round trip
    through frames in between. Returns (features frames, events)."""
    if not frames:
        return [], empty_events()
    tf = keys[0].timeframe
    specs = feature_specs()  # the registered features are computed after the fused pass
    settings = list(settings) if settings is not None else [None] * len(frames)
    with ExitStack() as stack:  # the input matrix is reused scratch (events copy its values);
        # the feature matrix is recycled only once no frame holds it: polars keeps views of it
        take = scratch_in(stack)
        grids, bars, offsets = feature_inputs(frames, tf, take)
        fparams = np.stack([feature_params(tf, s) for s in settings])
        sparams = np.stack([signal_params(tf, s) for s in settings])
        ok = np.concatenate([g["complete"].to_numpy().astype(np.bool_) for g in grids])
        parallel = ok.size >= PARALLEL_MIN_ROWS and offsets.size > 2
        run = sk.many_analyse if parallel else sk.serial_analyse
        feats = recycled((len(specs), ok.size))
        with np.errstate(all="ignore"):
            feats, _sbits, fbits, src = run(bars, ok, offsets, fparams, sparams, feats, take)
            declared_features(grids, bars, offsets, fparams, feats, specs)
        ts = [g["ts"].to_numpy() for g in grids]
        events = events_from_bits(fbits, src, bars, feats, offsets, ts, keys, explain)
        frames_out = feature_frames(grids, feats, offsets, specs)
    return frames_out, events


def events_from_matrices(
    bars: np.ndarray,
    feats: np.ndarray,
    ok: np.ndarray,
    offsets: np.ndarray,
    ts: Sequence[np.ndarray],
    keys: Sequence[SeriesKey],
    params: list[np.ndarray],
    explain: bool = True,
) -> pl.DataFrame:
    """Run the state kernel and turn rising edges (and entries) into event rows with values
    (and the ``why`` text unless ``explain`` is False: formatting is the costliest part)."""
    with np.errstate(all="ignore"):
        _sbits, fbits, src = _states(bars, feats, ok, offsets, params)
    return events_from_bits(fbits, src, bars, feats, offsets, ts, keys, explain)


def events_from_bits(
    fbits: np.ndarray,
    src: np.ndarray,
    bars: np.ndarray,
    feats: np.ndarray,
    offsets: np.ndarray,
    ts: Sequence[np.ndarray],
    keys: Sequence[SeriesKey],
    explain: bool = True,
) -> pl.DataFrame:
    """Event rows from the fired bits of the state kernel, sorted by ``ts``, ``exchange``,
    ``symbol``, ``signal``, ``side``, with the values that fired them.

    Vectorised over all series at once: numba kernels list the rows in bar order, one stable
    integer sort orders them, and the values are read in bar order (the big matrices front to
    back) and written straight to their sorted place.
    """
    counts = sk.count_events(fbits, offsets)
    n = int(counts.sum())
    if n == 0:
        return empty_events()
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    idx, code, sid = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    setup, origin = np.empty(n, np.int64), np.empty(n, np.int64)
    sk.fill_events(fbits, src, offsets, starts, _CODE_ORDER, idx, code, sid, setup, origin)
    ev_ts, setup_ts = np.empty(n, np.int64), np.zeros(n, np.int64)
    for s in range(len(ts)):  # series-local gathers: no concatenated copy of every ts
        a, b, base = starts[s], starts[s + 1], offsets[s]
        ev_ts[a:b] = ts[s][idx[a:b] - base]
        has = origin[a:b] >= 0
        setup_ts[a:b][has] = ts[s][origin[a:b][has] - base]
    # order rows by (ts, exchange, symbol) with integer keys (no string sort); a stable sort keeps
    # each bar's rows in (signal, side) order
    key_rank = _rank([(k.exchange, k.symbol) for k in keys])[sid]
    order = _order(ev_ts, key_rank, len(keys))
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    values = recycled((len(VALUE_COLUMNS), n))  # its rows become the frame's columns
    sk.gather_values(bars, feats, _FROM_BARS, _VALUE_ROWS, idx, pos, values)
    code, sid, setup = code[order], sid[order], setup[order]
    cols = [pl.Series("ts", ev_ts[order])]
    cols += [pl.Series(c, values[i], nan_to_null=True) for i, c in enumerate(VALUE_COLUMNS)]
    out = pl.DataFrame(cols).with_columns(
        pl.Series("signal", [a for a, _ in STATE_SIGNALS], dtype=pl.String).gather(code),
        pl.Series("side", [b for _, b in STATE_SIGNALS], dtype=pl.String).gather(code),
        _SETUP_NAMES.gather(setup).alias("setup"),
        pl.when(pl.Series(setup > 0)).then(pl.Series(setup_ts[order])).alias("setup_ts"),
        pl.Series("exchange", [k.exchange for k in keys], dtype=pl.String).gather(sid),
        pl.Series("symbol", [k.symbol for k in keys], dtype=pl.String).gather(sid),
        pl.Series("timeframe", [k.timeframe.value for k in keys], dtype=pl.String).gather(sid),
    )
    out = conform_events(out)
    return with_why(out) if explain else out


def _order(ts: np.ndarray, rank: np.ndarray, n_keys: int) -> np.ndarray:
    """Stable order by (``ts``, ``rank``): ``np.lexsort((rank, ts))``, as one int64 key when
    ``ts * n_keys + rank`` cannot overflow."""
    lo, hi = int(ts.min()), int(ts.max())
    if lo >= 0 and hi < (2**62) // max(n_keys, 1):
        return np.argsort(ts * n_keys + rank, kind="stable")
    return np.lexsort((rank, ts))


def _rank(items: list) -> np.ndarray:
    """The rank of each item in sorted order (ties share no rank: order of appearance)."""
    order = sorted(range(len(items)), key=items.__getitem__)
    rank = np.empty(len(items), np.int64)
    rank[order] = np.arange(len(items))
    return rank


_CODE_RANK = _rank(list(STATE_SIGNALS))
_CODE_ORDER = np.argsort(_CODE_RANK).astype(np.int64)  # state codes in (signal, side) order
_FROM_BARS = np.array([c in INPUT_INDEX for c in VALUE_COLUMNS])  # else a feature row
_VALUE_ROWS = np.array(
    [INPUT_INDEX[c] if c in INPUT_INDEX else FEATURE_INDEX[c] for c in VALUE_COLUMNS], np.int64
)


_SETUP_NAMES = pl.Series("setup", [None, "trigger", "divergence", "trigger+divergence"], pl.String)


def conform_events(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as :data:`EVENT_SCHEMA`: its columns in order and typed, the missing ones null."""
    missing = [
        pl.lit(None, dtype=t).alias(c) for c, t in EVENT_SCHEMA.items() if c not in frame.columns
    ]
    return frame.with_columns(missing).select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])


def _r(col: str, digits: int = 4) -> pl.Expr:
    return pl.col(col).round_sig_figs(digits).cast(pl.String)


def _pct(col: str) -> pl.Expr:
    return pl.format("{}%", (pl.col(col) * 100).round(1).cast(pl.String))


def with_why(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with the ``why`` column filled: one format per signal, applied to that signal's
    rows only (a single when/then chain would format every row once per signal)."""
    if events.is_empty():
        return events
    indexed = events.with_row_index("_row")
    parts = [
        part.with_columns(why=WHY[str(name)]) if name in WHY else part
        for (name,), part in indexed.group_by("signal", maintain_order=True)
    ]
    return pl.concat(parts).sort("_row").drop("_row")


_HI = pl.col("side") == "short"
WHY: dict[str, pl.Expr] = {
    "oi_extreme": pl.format("oi_z_30d {}", _r("oi_z_30d", 3)),
    "watch": pl.format(
        "oi {} > ma {}; chg_7d {}; oi/vol {} > ma {}",
        _r("oi"), _r("oi_ma_30d"), _pct("oi_chg_7d"), _r("oi_vol_ratio", 3),
        _r("oi_vol_ratio_ma_30d", 3),
    ),
    "trigger": pl.format(
        "{} after watch; oi down {} bars; volume {} < ma {}",
        pl.when(_HI).then(pl.lit("new high")).otherwise(pl.lit("new low")),
        pl.col("oi_down_streak").cast(pl.Int64).cast(pl.String), _r("volume"), _r("vol_ma_20d"),
    ),
    "divergence": pl.format(
        "oi {} below its peak {}; close {} near {}",
        _pct("oi_dd"), _r("oi_peak"), _r("close"),
        pl.when(_HI).then(pl.format("high {}", _r("price_high")))
        .otherwise(pl.format("low {}", _r("price_low"))),
    ),
    "entry": pl.format(
        "{} candle after {} at {}",
        pl.when(_HI).then(pl.lit("bearish rejection")).otherwise(pl.lit("bullish rejection")),
        pl.col("setup"),
        pl.from_epoch("setup_ts", time_unit="ms").dt.strftime("%Y-%m-%d %H:%M"),
    ),
}  # fmt: skip
