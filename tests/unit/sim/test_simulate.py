"""Determinism, presets, realistic ranges, regimes, and the planted/null contrast."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from oiradar.errors import InputError
from oiradar.model import Timeframe
from oiradar.sim import PRESETS, Regime, SimResult, resolve_params, simulate
from oiradar.store import resample_bars
from oiradar.timeutil import parse_instant


def _frames(res: SimResult) -> tuple[pl.DataFrame, ...]:
    return res.bars, res.liquidations, res.positions, res.regimes


def test_same_seed_same_output_different_seed_different() -> None:
    a, b = simulate("ksm", days=2, seed=5), simulate("ksm", days=2, seed=5)
    for x, y in zip(_frames(a), _frames(b), strict=True):
        assert x.equals(y)
    assert a.params == b.params
    c = simulate("ksm", days=2, seed=6)
    assert not np.array_equal(a.bars["close"].to_numpy(), c.bars["close"].to_numpy())
    assert not a.positions.equals(c.positions)


def test_timeframe_only_changes_the_aggregation() -> None:
    """One market, two bar sizes: the 5m bars resampled to 1h equal the 1h bars."""
    fine = simulate("ksm", days=2, seed=9, timeframe=Timeframe.M5)
    coarse = simulate("ksm", days=2, seed=9, timeframe=Timeframe.H1)
    assert fine.positions.equals(coarse.positions)
    assert fine.liquidations.equals(coarse.liquidations)
    up = resample_bars(fine.bars, Timeframe.M5, Timeframe.H1)
    assert up["ts"].to_list() == coarse.bars["ts"].to_list()
    for col in ("open", "high", "low", "close", "oi"):
        assert np.array_equal(up[col].to_numpy(), coarse.bars[col].to_numpy()), col
    for col in ("volume", "quote_volume", "taker_buy_volume", "funding_rate"):
        np.testing.assert_allclose(
            up[col].fill_null(0).to_numpy(), coarse.bars[col].fill_null(0).to_numpy(), rtol=1e-9
        )


def test_ksm_preset_has_realistic_ranges() -> None:
    res = simulate("ksm", days=60, seed=7, timeframe=Timeframe.H1)
    b = res.bars
    assert b["low"].min() >= 10 and b["high"].max() <= 60
    assert b["oi_value"].min() >= 1e6 and b["oi_value"].max() <= 100e6
    assert b["oi"].min() >= 0.1e6 and b["oi"].max() <= 3e6
    turnover = b["quote_volume"].sum() / 60
    assert 5e6 <= turnover <= 500e6  # a day's quote volume, of the order of the real perp's


def test_regimes_present_and_shaped_as_the_seed_describes() -> None:
    res = simulate("planted", days=60, seed=1, timeframe=Timeframe.H1)
    assert res.regimes["ts"].to_list() == res.bars["ts"].to_list()
    assert set(res.regimes["regime"].unique()) == {r.value for r in Regime}
    b = res.bars.join(res.regimes, on="ts")
    runs = (
        b.with_columns(run=pl.col("regime").ne(pl.col("regime").shift(1)).fill_null(True).cum_sum())
        .group_by("run", maintain_order=True)
        .agg(
            pl.col("regime").first(),
            oi_chg=pl.col("oi").last() / pl.col("oi").first() - 1,
            px_chg=pl.col("close").last() / pl.col("close").first() - 1,
        )
    )
    mean = runs.group_by("regime").agg(pl.col("oi_chg", "px_chg").mean())
    m = {r["regime"]: r for r in mean.iter_rows(named=True)}
    assert m["accumulation"]["oi_chg"] > 0.05 and abs(m["accumulation"]["px_chg"]) < 0.05
    assert m["breakout"]["oi_chg"] > 0.03 and m["breakout"]["px_chg"] > 0.04
    assert m["distribution"]["oi_chg"] < -0.12 and abs(m["distribution"]["px_chg"]) < 0.03
    assert m["cascade"]["px_chg"] < -0.04 and m["cascade"]["oi_chg"] < 0


def _forward_after_distribution(res: SimResult, hours: int = 24) -> np.ndarray:
    reg = res.regimes["regime"].to_numpy()
    close = res.bars["close"].to_numpy()
    ends = np.flatnonzero((reg[:-1] == "distribution") & (reg[1:] != "distribution")) + 1
    ends = ends[ends + hours < close.size]
    return close[ends + hours] / close[ends - 1] - 1


def test_planted_distribution_precedes_reversals_null_does_not() -> None:
    planted = _forward_after_distribution(simulate("planted", days=120, seed=1, timeframe=Timeframe.H1))
    null = _forward_after_distribution(simulate("null", days=120, seed=1, timeframe=Timeframe.H1))
    assert planted.size >= 5 and null.size >= 5
    assert planted.mean() < -0.04 and (planted < -0.03).mean() >= 0.7
    assert abs(null.mean()) < 0.03 and (null < -0.03).mean() < 0.5
    assert planted.mean() < null.mean() - 0.04


def test_null_chains_are_independent() -> None:
    res = simulate("null", days=30, seed=2, timeframe=Timeframe.H1)
    assert (res.regimes["regime"] != res.regimes["price_regime"]).mean() > 0.3
    coupled = simulate("planted", days=10, seed=2, timeframe=Timeframe.H1)
    assert coupled.regimes["regime"].equals(coupled.regimes["price_regime"], check_names=False)


def test_presets_and_overrides() -> None:
    assert set(PRESETS) == {"ksm", "planted", "null", "btc"}
    p = resolve_params("ksm", mmr_tiers=((float("inf"), 0.01, 0.0),))
    assert p.mmr_tiers[0][1] == 0.01 and p.preset == "ksm"
    res = simulate("ksm", days=1, seed=1, mmr_tiers=((float("inf"), 0.01, 0.0),))
    assert (res.positions["mmr"] == 0.01).all()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"preset": "ksn"}, "did you mean 'ksm'"),
        ({"trade_rat": 2.0}, "did you mean 'trade_rate'"),
        ({"leverage_weights": (0.5, 0.5, 0.5, 0.5, 0.5)}, "sum to 1"),
        ({"days": 0}, "days must be >= 1"),
        ({"start": parse_instant("2024-01-01T00:01")}, "aligned"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(kwargs: dict[str, object], needle: str) -> None:
    args: dict[str, object] = {"days": 1, "seed": 1, **kwargs}
    with pytest.raises(InputError, match=needle):
        simulate(**args)  # type: ignore[arg-type]


def test_progress_is_reported() -> None:
    seen: list[tuple[int, int]] = []
    simulate("ksm", days=6, seed=1, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6 * 1440, 6 * 1440)
    assert len(seen) >= 2 and all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
