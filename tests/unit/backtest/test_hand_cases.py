"""Hand-checked cases of the trade model (issue 5 'must show'), computed on paper."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.backtest.params import TradeParams
from oiradar.backtest.run import BacktestInputs, run_backtest
from oiradar.model import Side

from .series import random_inputs

NOCOST = TradeParams(fee=0.0, slippage=0.0, thesis_streak=0, take_profit_r=0.0)


def flat_bars(n: int, **over) -> dict:
    """Price pinned at 100 (range 99.5..100.5), ATR 1, entry signal at bar 0 only."""
    d = {
        "open": np.full(n, 100.0), "high": np.full(n, 100.5), "low": np.full(n, 99.5),
        "close": np.full(n, 100.0), "atr": np.ones(n), "entry": np.eye(1, n, 0, dtype=bool)[0],
        "streak": np.zeros(n), "oi_z": np.full(n, np.nan), "funding": np.zeros(n),
    }  # fmt: skip
    d.update(over)
    return d


def run(d: dict, p: TradeParams):
    return run_backtest(BacktestInputs(**d), p)


def test_short_receives_and_pays_funding_over_several_funding_times():
    # Entry at open[1] = 100; stop = high 100.5 + 0.5 x ATR 1 = 101; qty = 2 % x 10,000 / 1 = 200.
    # Funding at the open of bars 1 (entry bar: not yet held), 2 (+1 bp: receive 200x100x0.0001 = 2),
    # 4 (-2 bp: pay 4), 6 (+3 bp: receive 6; the time-stop exit fills at that open, so it was held
    # when funding settled) and 7 (after the exit: nothing). Net +4, received 8, paid 4.
    funding = np.zeros(10)
    funding[[1, 2, 4, 6, 7]] = [0.01, 0.0001, -0.0002, 0.0003, 0.01]
    res = run(flat_bars(10, funding=funding), NOCOST.with_(time_stop=5))
    (t,) = res.trades.iter_rows(named=True)
    assert (t["entry_bar"], t["exit_bar"], t["reason"]) == (1, 6, "time")
    assert (t["entry_price"], t["stop"], t["qty"]) == (100.0, 101.0, pytest.approx(200.0))
    assert t["funding"] == pytest.approx(4.0)
    assert t["pnl"] == pytest.approx(4.0)
    assert res.metrics["funding_received"] == pytest.approx(4.0)  # per trade, net
    assert res.metrics["funding_net"] == pytest.approx(4.0)
    assert res.metrics["final_equity"] == pytest.approx(10_004.0)
    # the same position long pays what the short received
    long_bars = flat_bars(10, funding=funding)
    res_l = run(long_bars, NOCOST.with_(time_stop=5, side=Side.LONG))
    assert res_l.trades["funding"][0] == pytest.approx(-4.0)
    assert res_l.metrics["funding_paid"] == pytest.approx(4.0)


def test_fifty_x_short_without_stop_is_liquidated_at_the_spec_price():
    # SPEC section 6, short: LP = EP x (1 + 1/L) / (1 + MMR) = 100 x 1.02 / 1.004 = 101.59363...
    high = np.full(8, 100.5)
    high[3] = 103.0
    d = flat_bars(8, high=high)
    p = NOCOST.with_(use_stop=False, leverage=50.0, mmr=0.004, time_stop=0)
    res = run(d, p)
    (t,) = res.trades.iter_rows(named=True)
    lp = 100.0 * (1 + 1 / 50) / (1 + 0.004)
    assert t["reason"] == "liquidation" and t["exit_bar"] == 3
    assert t["liq_price"] == pytest.approx(lp, rel=1e-12)
    assert t["exit_price"] == pytest.approx(lp, rel=1e-12)
    margin = t["qty"] * 100.0 / 50.0
    assert margin == pytest.approx(10_000.0)  # the whole equity backs a 50x position (no fee)
    assert t["pnl"] == pytest.approx(-margin)  # isolated: the margin is lost
    # the same bars with the SPEC's structure stop at 5x: stopped at 101, never liquidated
    res5 = run(d, NOCOST.with_(time_stop=0))
    assert res5.trades["reason"].to_list() == ["stop"]
    assert res5.trades["exit_price"][0] == pytest.approx(101.0)
    assert res5.trades["pnl"][0] == pytest.approx(-200.0)  # exactly the 2 % risk


@pytest.mark.parametrize(
    ("z", "scale"), [(np.nan, 1.0), (-1.5, 1.0), (0.0, 1.0), (1.0, 0.5), (3.0, 0.25)]
)
def test_size_shrinks_as_oi_z_grows(z, scale):
    oi_z = np.full(6, z)
    res = run(flat_bars(6, oi_z=oi_z), NOCOST.with_(time_stop=2))
    assert res.trades["qty"][0] == pytest.approx(200.0 * scale)
    assert res.trades["risk"][0] == pytest.approx(200.0 * scale)


def test_leverage_cap_binds_on_a_tight_stop():
    # ATR tiny and range tight: risk sizing asks 2 % / 0.06 = huge; the cap allows 5x equity.
    d = flat_bars(6, high=np.full(6, 100.05), low=np.full(6, 99.95), atr=np.full(6, 0.02))
    res = run(d, NOCOST.with_(time_stop=2))
    assert res.trades["qty"][0] * 100.0 == pytest.approx(50_000.0)
    assert run(d, NOCOST.with_(time_stop=2, venue_max_leverage=3)).trades["qty"][
        0
    ] == pytest.approx(300.0)


def test_gap_through_stop_fills_at_open_and_take_profit_at_target():
    open_ = np.full(8, 100.0)
    open_[3] = 102.0  # gaps over the 101 stop
    high = np.full(8, 100.5)
    high[3] = 102.5
    res = run(flat_bars(8, open=open_, high=high), NOCOST.with_(time_stop=0, slippage=0.001))
    t = res.trades.row(0, named=True)
    assert t["entry_price"] == pytest.approx(100.0 * 0.999)  # a short sells 10 bp below the open
    assert (t["reason"], t["exit_bar"]) == ("stop", 3)
    assert t["exit_price"] == pytest.approx(102.0 * 1.001)
    low = np.full(8, 99.5)
    low[4] = 97.0  # target = 100 - 2R = 98
    res = run(flat_bars(8, low=low), NOCOST.with_(time_stop=0, take_profit_r=2.0))
    t = res.trades.row(0, named=True)
    assert (t["reason"], t["exit_price"], t["pnl"]) == ("take_profit", 98.0, pytest.approx(400.0))


def test_thesis_exit_at_next_open_and_fees():
    streak = np.zeros(8)
    streak[3] = 2  # OI climbed two bars in a row while short
    res = run(flat_bars(8, streak=streak), TradeParams(slippage=0.0, time_stop=0))
    t = res.trades.row(0, named=True)
    assert (t["reason"], t["exit_bar"]) == ("thesis", 4)
    assert t["fees"] == pytest.approx(2 * 200 * 100 * 0.0005)
    assert t["r_multiple"] == pytest.approx(-20.0 / 200.0)


def test_gap_past_stop_before_entry_skips_the_trade():
    open_ = np.full(6, 100.0)
    open_[1] = 101.5  # opens above the would-be stop of 101
    assert run(flat_bars(6, open=open_), NOCOST).trades.height == 0


@given(seed=st.integers(0, 10_000), cut=st.integers(5, 200))
@settings(max_examples=60, deadline=None)
def test_no_look_ahead_trades_closed_before_the_cut_do_not_change(seed, cut):
    x = random_inputs(seed, 200)
    full = run_backtest(x).trades
    part = run_backtest(x.slice(0, cut)).trades
    done_full = full.filter(full["exit_bar"] < cut - 1)
    done_part = part.filter(part["exit_bar"] < cut - 1)
    assert done_full.equals(done_part)


@given(seed=st.integers(0, 10_000), side=st.sampled_from(list(Side)))
@settings(max_examples=40, deadline=None)
def test_metrics_equal_numpy_on_the_equity_curve(seed, side):
    """The engine's online statistics equal the plain expressions on its equity curve."""
    x = random_inputs(seed, 300)
    res = run_backtest(x, TradeParams(side=side))
    eq = res.equity["equity"].to_numpy()
    prev = np.r_[10_000.0, eq[:-1]]
    r = eq / prev - 1
    ann = np.sqrt(x.bars_per_year)
    m = res.metrics
    peak = np.maximum.accumulate(np.r_[10_000.0, eq])
    assert m["max_drawdown"] == pytest.approx(np.max(1 - np.r_[10_000.0, eq] / peak), abs=1e-12)
    if r.std() > 0 and (r < 0).any():
        assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * ann, rel=1e-9)
        assert m["sortino"] == pytest.approx(
            r.mean() / np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * ann, rel=1e-9
        )
    assert m["total_return"] == pytest.approx(eq[-1] / 10_000.0 - 1, rel=1e-12)
    assert m["exposure"] == pytest.approx(res.equity["in_position"].mean())
    t = res.trades
    if t.height:
        assert m["win_rate"] == pytest.approx((t["pnl"] > 0).mean())
        assert m["expectancy_r"] == pytest.approx(t["r_multiple"].mean())
        assert m["fees"] == pytest.approx(t["fees"].sum())
