"""Sweeps: batch kernel == single runs, executors agree, the hold-out stays unseen, FDR/DSR sane."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from oiradar.backtest import engine as eng
from oiradar.backtest.run import BacktestInputs, run_backtest
from oiradar.backtest.sweep import (
    SweepSpec,
    load_grid,
    margin_args,
    param_row,
    run_batch,
    run_sweep,
    windows_for,
)
from oiradar.errors import ConfigError

from .series import random_inputs

SPEC = SweepSpec(params={"take_profit_r": [0.0, 1.0, 2.0], "time_stop": [5, 20], "side": ["short", "long"]},
                 folds=3, holdout=0.25)  # fmt: skip


def test_batch_equals_single_runs_on_every_window():
    x = random_inputs(3, 600)
    configs = SPEC.configs()
    prm = np.stack([param_row(c) for c in configs])
    windows, _ = windows_for(x.n, 3, 0.25)
    out = run_batch(x.open, x.high, x.low, x.close, x.atr, x.entry[None, :], x.streak, x.oi_z,
                    x.funding, np.zeros(len(configs), dtype=np.int64), prm, windows,
                    *margin_args(x))  # fmt: skip
    for c, p in enumerate(configs):
        for w, (a, b) in enumerate(windows):
            res = run_backtest(x.slice(int(a), int(b)), p)
            assert out[c, w, eng.S_FINAL] == pytest.approx(res.metrics["final_equity"], rel=1e-12)
            assert out[c, w, eng.S_NTRADES] == res.trades.height


def test_executors_agree_and_table_shape():
    x = random_inputs(4, 800)
    a = run_sweep(x, SPEC, executor="threads")
    b = run_sweep(x, SPEC, executor="local", workers=2)
    assert a.table.equals(b.table)
    assert a.table.height == 12 and a.n_trials == 12
    assert {"p_value", "p_bh", "discovery", "take_profit_r"} <= set(a.table.columns)
    assert a.walk_forward.height == 3
    assert a.dev_end == 600
    assert 0.0 <= a.dsr <= 1.0 or np.isnan(a.dsr)


def test_holdout_is_never_seen_by_the_selection():
    x = random_inputs(5, 800)
    res = run_sweep(x, SPEC, executor="threads")
    # scramble everything after the development part: the selection must not change
    rng = np.random.default_rng(0)
    f = {
        k: getattr(x, k).copy()
        for k in ("open", "high", "low", "close", "atr", "streak", "oi_z", "funding")
    }
    for arr in f.values():
        arr[res.dev_end :] *= rng.uniform(0.5, 1.5, x.n - res.dev_end)
    f["high"] = np.maximum.reduce([f["high"], f["open"], f["close"]])
    f["low"] = np.minimum.reduce([f["low"], f["open"], f["close"]])
    entry = x.entry.copy()
    entry[res.dev_end :] = ~entry[res.dev_end :]
    y = BacktestInputs(**f, entry=entry, ts=x.ts, bar_ms=x.bar_ms)
    res2 = run_sweep(y, SPEC, executor="threads")
    assert res2.table.equals(res.table)
    assert res2.walk_forward.equals(res.walk_forward)
    assert res2.best == res.best
    assert res2.holdout != res.holdout


def _edge_series(seed: int, n: int, planted: bool) -> BacktestInputs:
    """Entries every 25 bars; with ``planted`` the 8 bars after each entry fall 0.8 % each."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0, 0.006, n)
    entry = np.zeros(n, dtype=bool)
    entry[30 : n - 10 : 25] = True
    if planted:
        for t in np.flatnonzero(entry):
            ret[t + 1 : t + 9] -= 0.008
    close = 100 * np.exp(np.cumsum(ret))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    return BacktestInputs(open=open_, high=high, low=low, close=close, atr=close * 0.006,
                          entry=entry, streak=np.zeros(n), oi_z=np.zeros(n), funding=np.zeros(n),
                          bar_ms=4 * 3_600_000)  # fmt: skip


def test_planted_edge_is_discovered_and_null_is_not():
    spec = SweepSpec(params={"take_profit_r": [0.0, 1.0, 2.0, 3.0], "time_stop": [4, 8, 16]},
                     folds=3, holdout=0.2)  # fmt: skip
    edge = run_sweep(_edge_series(1, 4000, True), spec, executor="threads")
    null = run_sweep(_edge_series(1, 4000, False), spec, executor="threads")
    assert edge.table["discovery"].sum() >= 10
    assert edge.dsr > 0.95
    assert edge.holdout["total_return"] > 0
    assert (edge.walk_forward["test_sharpe"] > 0).all()
    assert null.table["discovery"].sum() == 0
    assert null.dsr < 0.9


def test_signal_grid_uses_one_entry_array_per_combination():
    x = random_inputs(6, 500)
    e2 = np.zeros_like(x.entry)
    spec = SweepSpec(params={"time_stop": [5, 10]}, folds=2, holdout=0.2)
    res = run_sweep(x, spec, [x.entry, e2], [{"k": 1}, {"k": 2}], executor="threads")
    assert res.table.height == 4
    assert res.table.filter(res.table["signal.k"] == 2)["trades"].sum() == 0


def test_grid_file_errors_name_the_key(tmp_path):
    good = tmp_path / "g.toml"
    good.write_text("folds = 2\nholdout = 0.3\n[params]\ntake_profit_r = [1.0, 2.0]\n")
    spec = load_grid(good)
    assert spec.folds == 2 and len(spec.configs()) == 2
    bad = tmp_path / "b.toml"
    bad.write_text("[params]\ntake_proft_r = [1.0]\n")
    with pytest.raises(ConfigError, match="did you mean 'take_profit_r'"):
        load_grid(bad)
    bad.write_text("fold = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'folds'"):
        load_grid(bad)
    with pytest.raises(ConfigError, match="unknown executor"):
        run_sweep(random_inputs(1, 100), SweepSpec(params={"time_stop": [3]}), executor="rey")


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_executor_matches_local():
    import ray

    x = random_inputs(7, 400)
    spec = SweepSpec(params={"take_profit_r": [0.0, 1.0, 2.0], "time_stop": [5, 10, 20]}, folds=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        r = run_sweep(x, spec, executor="ray", workers=2)
    finally:
        ray.shutdown()
    assert r.table.equals(run_sweep(x, spec, executor="threads").table)
