"""Polars wrappers around the kernels: bars in, bars plus every SPEC section 2 feature out.

The bar grid is made regular first: a missing bar becomes a row of nulls with
``complete = False``, so that windows given in time (``n(30d)`` bars) really span 30 days and a
gap shows up as missing feature values instead of silently stretching a window
(``docs/decisions/0300-features-nulls-and-gaps.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from oiradar.config import FeatureSettings, Settings, duration_ms
from oiradar.errors import InputError
from oiradar.features.declared import declared_features
from oiradar.features.fused import (
    PARALLEL_MIN_ROWS,
    fill_fallbacks,
    many_features,
    serial_features,
)
from oiradar.features.spec import (
    INPUTS,
    PARAMS,
    RULES,
    FeatureSpec,
    FeatureType,
    feature_specs,
)
from oiradar.model import Timeframe

REQUIRED = ("ts", "open", "high", "low", "close", "volume")


def _feature_settings(settings: Settings | FeatureSettings | None) -> FeatureSettings:
    if settings is None:
        return FeatureSettings()
    return settings.features if isinstance(settings, Settings) else settings


def windows(
    timeframe: Timeframe, settings: Settings | FeatureSettings | None = None
) -> dict[str, int]:
    """The feature windows of ``settings`` in bars of ``timeframe`` (``n(30d)`` etc.), named as
    :data:`~oiradar.features.spec.WINDOWS`."""
    fs = _feature_settings(settings)
    return {
        "z": timeframe.bars(duration_ms(fs.z_window)),
        "chg": timeframe.bars(duration_ms(fs.chg_window)),
        "turnover": timeframe.bars(duration_ms(fs.turnover_window)),
        "peak": timeframe.bars(duration_ms(fs.peak_window)),
        "vol": timeframe.bars(duration_ms(fs.vol_window)),
        "new_high": fs.new_high_bars,
        "atr": fs.atr_bars,
    }


def feature_params(timeframe: Timeframe, settings: Settings | FeatureSettings | None) -> np.ndarray:
    """The kernels' parameter vector, laid out as :data:`~oiradar.features.spec.PARAMS`."""
    fs = _feature_settings(settings)
    unknown = sorted(set(fs.rejection_rules) - set(RULES))
    if unknown:
        raise InputError(f"unknown rejection rule(s) {unknown}; valid: {list(RULES)}")
    values: dict[str, float] = {
        **windows(timeframe, fs),
        **{rule: float(rule in fs.rejection_rules) for rule in RULES},
        "near_pct": fs.near_pct,
        "min_coverage": fs.min_coverage,
    }
    return np.array([values[name] for name in PARAMS], dtype=np.float64)


def regular_grid(bars: pl.DataFrame, timeframe: Timeframe) -> pl.DataFrame:
    """``bars`` on a gap-free grid of ``timeframe``: missing bars become null rows, ``complete=False``.

    Raises :class:`InputError` for missing columns, duplicate or misaligned ``ts``.
    """
    step = timeframe.ms
    missing = [c for c in REQUIRED if c not in bars.columns]
    if missing:
        raise InputError(
            f"bars lack the column(s) {missing}; need {list(REQUIRED)}", column=missing[0]
        )
    if "complete" not in bars.columns:
        bars = bars.with_columns(pl.lit(True).alias("complete"))
    ts = bars["ts"].to_numpy()
    if ts.size and ts[0] % step == 0 and (np.diff(ts) == step).all():  # the common case
        if bars["complete"].null_count() == 0:
            return bars
        return bars.with_columns(pl.col("complete").fill_null(False))
    bars = bars.sort("ts")
    _check_ts(bars["ts"], timeframe)
    if bars.is_empty():
        return bars
    first, last = int(bars["ts"][0]), int(bars["ts"][-1])
    grid = pl.DataFrame({"ts": pl.int_range(first, last + step, step, eager=True, dtype=pl.Int64)})
    out = grid.join(bars, on="ts", how="left")
    return out.with_columns(pl.col("complete").fill_null(False))


def _check_ts(ts: pl.Series, tf: Timeframe) -> None:
    bad = ts.filter(ts % tf.ms != 0)
    if bad.len():
        row = int((ts % tf.ms != 0).arg_true()[0])
        raise InputError(
            f"ts is not aligned to the {tf.value} grid", row=row, column="ts", value=int(bad[0])
        )
    dup = ts.is_duplicated()
    if dup.any():
        row = int(dup.arg_true()[0])
        raise InputError("duplicate bar open time", row=row, column="ts", value=int(ts[row]))


def input_matrix(grid: pl.DataFrame, out: np.ndarray | None = None) -> np.ndarray:
    """The kernels' inputs (:data:`INPUTS` rows, float64, NaN = missing), written into ``out``
    (a ``len(INPUTS) x grid.height`` view) when given.

    ``quote_volume`` falls back to ``volume * (high + low + close) / 3`` (SPEC section 1) and
    ``oi_value`` to ``oi * close`` where the bar lacks them.
    """
    if out is None:
        out = np.empty((len(INPUTS), grid.height))
    for i, name in enumerate(INPUTS):
        out[i] = _column(grid, name)
    fill_fallbacks(out)
    return out


def _column(frame: pl.DataFrame, name: str) -> np.ndarray | float:
    if name not in frame.columns:
        return np.nan
    return frame[name].cast(pl.Float64).to_numpy()  # nulls become NaN


def feature_frame(values: np.ndarray, specs: Sequence[FeatureSpec]) -> pl.DataFrame:
    """Kernel output (one row per spec) to a typed polars frame: NaN -> null, booleans, counts.

    One polars expression per column over the whole matrix (run in parallel by polars)."""
    raw = pl.DataFrame({spec.name: values[i] for i, spec in enumerate(specs)})
    return raw.with_columns(_typed(spec) for spec in specs)


def _typed(spec: FeatureSpec) -> pl.Expr:
    col = pl.col(spec.name).fill_nan(None)
    if spec.type is FeatureType.COUNT:  # whole counts: a cast without range checks
        return col.cast(pl.Int32, wrap_numerical=True)
    return col > 0.5 if spec.type is FeatureType.BOOL else col


def feature_frames(
    grids: Sequence[pl.DataFrame],
    values: np.ndarray,
    offsets: np.ndarray,
    specs: Sequence[FeatureSpec],
) -> list[pl.DataFrame]:
    """Each grid with its features (one row of ``values`` per spec): one frame over all series
    (:func:`feature_frame`), sliced (zero-copy) per series, instead of a conversion per series."""
    feats = feature_frame(values, specs)
    return [
        g.hstack(feats.slice(int(offsets[i]), int(offsets[i + 1] - offsets[i])))
        for i, g in enumerate(grids)
    ]


def compute_features(
    bars: pl.DataFrame,
    timeframe: Timeframe,
    settings: Settings | FeatureSettings | None = None,
) -> pl.DataFrame:
    """``bars`` (on a regular grid) with every declared feature column added: the SPEC section 2
    ones, then the registered ones (:func:`~oiradar.features.spec.register_feature`).

    Pass ``settings.for_symbol(symbol)`` to apply a symbol's overrides.
    """
    return compute_features_many([bars], timeframe, [settings])[0]


def compute_features_many(
    frames: Sequence[pl.DataFrame],
    timeframe: Timeframe,
    settings: Sequence[Settings | FeatureSettings | None]
    | Settings
    | FeatureSettings
    | None = None,
) -> list[pl.DataFrame]:
    """:func:`compute_features` for many series in one parallel kernel call (one settings per frame)."""
    if settings is None or isinstance(settings, Settings | FeatureSettings):
        settings = [settings] * len(frames)
    if not frames:
        return []
    specs = feature_specs()  # one snapshot: a feature registered meanwhile waits for the next call
    grids, x, offsets = feature_inputs(frames, timeframe)
    params = np.stack([feature_params(timeframe, s) for s in settings])
    with np.errstate(all="ignore"):
        values = run_features(x, offsets, params, len(specs))
        declared_features(grids, x, offsets, params, values, specs)
    return feature_frames(grids, values, offsets, specs)


def feature_inputs(
    frames: Sequence[pl.DataFrame],
    timeframe: Timeframe,
    alloc: Callable[[tuple[int, int]], np.ndarray] = np.empty,
) -> tuple[list[pl.DataFrame], np.ndarray, np.ndarray]:
    """Regular grids of ``frames``, their stacked :data:`INPUTS` matrix (from ``alloc(shape)``)
    and the series offsets."""
    grids = [regular_grid(f, timeframe) for f in frames]
    offsets = np.cumsum([0] + [g.height for g in grids]).astype(np.int64)
    x = alloc((len(INPUTS), int(offsets[-1])))

    def fill(i: int) -> None:
        input_matrix(grids[i], x[:, offsets[i] : offsets[i + 1]])

    if len(grids) > 1 and x.shape[1] >= PARALLEL_MIN_ROWS:
        # the copies (numpy), casts (polars) and fallbacks (numba, nogil) release the GIL: two
        # threads fill the 0.7 GB matrix of 100 series x 1 year about twice as fast as one
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(fill, range(len(grids))))
    else:
        for i in range(len(grids)):
            fill(i)
    return grids, x, offsets


def run_features(x: np.ndarray, offsets: np.ndarray, params: np.ndarray, rows: int) -> np.ndarray:
    """The fused kernel into a (``rows`` x bars) matrix: parallel over series when there is
    enough work for the threads."""
    parallel = x.shape[1] >= PARALLEL_MIN_ROWS and offsets.size > 2
    return (many_features if parallel else serial_features)(x, offsets, params, rows)


def to_pandas(frame: pl.DataFrame):  # -> pandas.DataFrame; pandas is optional
    """A pandas view of a features (or bars) frame, indexed by the bar open time in UTC."""
    import pandas as pd

    pdf = frame.to_pandas()
    pdf.index = pd.DatetimeIndex(pd.to_datetime(pdf.pop("ts"), unit="ms", utc=True), name="ts")
    return pdf
