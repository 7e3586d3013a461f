"""The "new feature" recipe: one :class:`FeatureSpec` declaration, and ``compute_features``, the
scan's batch path and ``oiradar features`` all compute the feature; unregistered, it is gone.
Also: every index of the feature matrix is derived from the declarations."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.config import FeatureSettings
from oiradar.features import (
    FEATURE_COLUMNS,
    FEATURE_INDEX,
    FEATURE_ROW,
    INPUT_ROW,
    INPUTS,
    LONG_MIRROR,
    FeatureSpec,
    FeatureType,
    compute_features,
    feature_columns,
    feature_inputs,
    feature_output,
    feature_params,
    feature_specs,
    fused,
    oracle,
    register_feature,
    registered_feature,
    series_features,
    unregister_feature,
    windows,
)
from oiradar.features import kernels as fk
from oiradar.features import spec as spec_module
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import analyse_many
from oiradar.store import Catalog

OI_X2 = FeatureSpec(name="oi_x2", kernel=lambda cols, w: 2 * cols["oi"], inputs=("oi",))
# a window, a feature as input and a boolean: the declaration carries all of it
OI_CHG_2W = FeatureSpec(
    name="oi_chg_2w", kernel=lambda cols, w: fk.pct_change_lag(cols["oi"], 2 * w["chg"]),
    inputs=("oi",), windows=("chg",),
)  # fmt: skip
OI_OVER_MA = FeatureSpec(
    name="oi_over_ma", kernel=lambda cols, w: _above(cols["oi"], cols["oi_ma_30d"]),
    inputs=("oi", "oi_ma_30d"), type=FeatureType.BOOL,
)  # fmt: skip
DAY_Z = FeatureSettings(z_window="1d")  # oi_ma_30d over a day: values within the short series


def _above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a > b`` as 1.0 / 0.0, missing (NaN) where either is: a kernel says what is missing."""
    return np.where(np.isnan(a) | np.isnan(b), np.nan, a > b)


def _bars(m: int = 400, seed: int = 1) -> pl.DataFrame:
    return oracle.random_bars(m, HOUR_MS, seed=seed, gaps=0.02, null_oi=0.02)


def test_a_declared_feature_is_computed_by_compute_features() -> None:
    bars = _bars()
    with registered_feature(OI_X2):
        out = compute_features(bars, Timeframe.H1)
        assert feature_columns() == (*FEATURE_COLUMNS, "oi_x2")
    assert out.columns[-1] == "oi_x2"
    assert_series_equal(out["oi_x2"], (2 * out["oi"]).alias("oi_x2"))  # null where oi is
    assert out["oi_x2"].null_count() > 0
    assert "oi_x2" not in compute_features(bars, Timeframe.H1).columns  # gone once unregistered


def test_windows_feature_inputs_and_types_come_from_the_declaration() -> None:
    bars = _bars()
    with registered_feature(OI_CHG_2W), registered_feature(OI_OVER_MA):
        out = compute_features(bars, Timeframe.H1, DAY_Z)
    grid = out.to_pandas()
    lag = 2 * windows(Timeframe.H1, DAY_Z)["chg"]
    want = grid["oi"] / grid["oi"].shift(lag) - 1
    np.testing.assert_allclose(
        out["oi_chg_2w"].to_numpy(), want.to_numpy(dtype=float), rtol=1e-12, equal_nan=True
    )
    assert out["oi_chg_2w"].drop_nulls().len() > 10
    assert out.schema["oi_over_ma"] == pl.Boolean
    over = out.select(oi_over_ma=pl.col("oi") > pl.col("oi_ma_30d"))["oi_over_ma"]
    assert_series_equal(out["oi_over_ma"], over)
    assert over.drop_nulls().n_unique() == 2


def test_a_declared_feature_reads_any_bar_column() -> None:
    bars = _bars().with_columns(funding_rate=pl.lit(0.0001))
    spec = FeatureSpec(name="funding_bp", kernel=lambda cols, w: cols["funding_rate"] * 1e4,
                       inputs=("funding_rate",))  # fmt: skip
    with registered_feature(spec):
        out = compute_features(bars, Timeframe.H1)
    present = out.filter(pl.col("complete"))["funding_bp"]
    assert present.null_count() == 0 and np.allclose(present.to_numpy(), 1.0)


def test_the_scan_batch_path_computes_it_too() -> None:
    key = SeriesKey(exchange="okx", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)
    with registered_feature(OI_X2):
        frames, _events = analyse_many([_bars()], [key])
        want = compute_features(_bars(), Timeframe.H1)
    assert_series_equal(frames[0]["oi_x2"], want["oi_x2"])


def test_oiradar_features_prints_and_writes_it(tmp_path: Path) -> None:
    key = SeriesKey(exchange="okx", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)
    Catalog(tmp_path).write_bars(key, _bars(200).drop("complete"), "sim")
    out_file = tmp_path / "f.csv"
    args = ["--home", str(tmp_path), "features", "-e", "okx", "-s", key.symbol, "-t", "1h"]
    with registered_feature(OI_X2):
        shown = CliRunner().invoke(app, [*args, "--wide", "--format", "csv", "-n", "50"])
        wrote = CliRunner().invoke(app, [*args, "--out", str(out_file)])
    assert shown.exit_code == 0 and wrote.exit_code == 0, shown.output + wrote.output
    assert "x 21 features" in wrote.output
    for frame in (pl.read_csv(io.StringIO(shown.stdout)), pl.read_csv(out_file)):
        assert_series_equal(frame["oi_x2"], (2 * frame["oi"]).alias("oi_x2"))
    assert frame.height == 200 and frame["oi_x2"].drop_nulls().len() > 150


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(ValueError, match="taken"):
        register_feature(FeatureSpec(name="oi_z_30d", kernel=OI_X2.kernel, inputs=("oi",)))
    with pytest.raises(ValueError, match="unknown column"):
        register_feature(FeatureSpec(name="x", kernel=OI_X2.kernel, inputs=("oi_typo",)))
    with pytest.raises(ValueError, match="unknown window"):
        register_feature(FeatureSpec(name="x", kernel=OI_X2.kernel, inputs=(), windows=("w",)))
    with pytest.raises(ValueError, match="kernel must be a function"):
        register_feature(FeatureSpec(name="x", kernel="rolling_max_into", inputs=()))
    with pytest.raises(ValueError, match="no registered feature"):
        unregister_feature("oi_z_30d")
    bad = FeatureSpec(name="x", kernel=lambda cols, w: np.zeros(3), inputs=())
    with registered_feature(bad), pytest.raises(ValueError, match="shape"):
        compute_features(_bars(), Timeframe.H1)
    assert feature_specs() == spec_module.BUILTIN


def test_indices_are_derived_from_the_declarations() -> None:
    assert tuple(s.name for s in spec_module.BUILTIN) == FEATURE_COLUMNS
    assert all(
        getattr(FEATURE_ROW, n) == FEATURE_INDEX[n] == i for i, n in enumerate(FEATURE_COLUMNS)
    )
    assert all(getattr(INPUT_ROW, n) == i for i, n in enumerate(INPUTS))
    for short, long in LONG_MIRROR.items():  # a mirror is the same kind of feature
        a, b = (spec_module.BUILTIN[FEATURE_INDEX[n]] for n in (short, long))
        assert (a.type, a.windows) == (b.type, b.windows)


def test_the_fused_pass_writes_every_builtin_row_and_each_names_its_kernel() -> None:
    """A built-in the fused kernel does not compute would leave its row as it was."""
    _grids, x, off = feature_inputs([_bars()], Timeframe.H1)
    out = feature_output(x.shape[1])
    out[:] = 12345.0
    series_features(x, 0, int(off[1]), feature_params(Timeframe.H1, None), out)
    untouched = [n for n in FEATURE_COLUMNS if (out[FEATURE_INDEX[n]] == 12345.0).all()]
    assert untouched == []
    for spec in spec_module.BUILTIN:
        assert isinstance(spec.kernel, str)
        assert all(hasattr(fk, n) or hasattr(fused, n) for n in spec.kernel.split(", "))
