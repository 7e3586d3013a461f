"""The trade model's liquidation check uses the symbol's venue tiers: the maintenance rate and amount
of the position's tier and its maximum leverage (not a flat 0.4 % and 125x). Hand-computed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.backtest.paper import run_paper
from oiradar.backtest.params import TradeParams
from oiradar.backtest.run import BacktestInputs, run_backtest
from oiradar.liquidations.tiers import load_tiers
from oiradar.model import Side

from .series import random_inputs
from .test_hand_cases import flat_bars

BTC = load_tiers("binanceusdm", "BTC/USDT:USDT")
BIG = TradeParams(fee=0.0, slippage=0.0, thesis_streak=0, take_profit_r=0.0, time_stop=0,
                  use_stop=False, initial_equity=10_000_000.0)  # fmt: skip


def _short_into(high3: float) -> dict:
    """Price pinned at 100 with a spike to ``high3`` at bar 3; a short signal at bar 0."""
    high = np.full(8, 100.5)
    high[3] = high3
    return flat_bars(8, high=high)


def test_a_position_in_a_higher_tier_liquidates_at_its_tiers_price():
    """10,000,000 of equity at 5x, no stop: qty = 10,000,000 / (100 x 1/5) = 500,000 units, a
    notional of 50,000,000 USDT: BTCUSDT bracket 5 (12M..70M: MMR 2 %, cum 131,450, 25x).
    Short LP = (EP (1 + 1/L) + cum/Q) / (1 + MMR) = (120 + 0.2629) / 1.02 = 117.9048
    (at that price the notional, 58.95M, is still bracket 5). The flat 0.4 % of before gives
    120 / 1.004 = 119.5219: a spike to 118.5 liquidates the tiered position only."""
    lp = (120 + 131_450 / 500_000) / 1.02
    assert lp == pytest.approx(117.9048, abs=1e-4)
    x = BacktestInputs(**_short_into(118.5), tiers=BTC)
    (t,) = run_backtest(x, BIG).trades.iter_rows(named=True)
    assert t["qty"] == pytest.approx(500_000)
    assert (t["reason"], t["exit_bar"]) == ("liquidation", 3)
    assert t["liq_price"] == pytest.approx(lp, rel=1e-12)
    assert t["pnl"] == pytest.approx(-10_000_000)  # the isolated margin, 50M / 5
    flat = run_backtest(BacktestInputs(**_short_into(118.5)), BIG)
    (f,) = flat.trades.iter_rows(named=True)
    assert f["liq_price"] == pytest.approx(120 / 1.004, rel=1e-12)
    assert f["reason"] == "end"


def test_the_leverage_is_capped_by_the_tier_of_the_size():
    """The same account at a 50x setting: 10,000,000 / (100 x 1/50) = 5,000,000 units = 500M USDT,
    bracket 9 (480M..600M) allows 4x. At 4x: 10,000,000 / (100 x 1/4) = 400,000 units = 40M,
    bracket 5 (25x >= 4x): the position opens at 4x. Short LP = (100 x 1.25 + 131,450 / 400,000)
    / 1.02 = 125.3286 / 1.02 = 122.8712; a 125 spike liquidates it, losing the 10M margin."""
    x = BacktestInputs(**_short_into(125.0), tiers=BTC)
    (t,) = run_backtest(x, BIG.with_(leverage=50.0)).trades.iter_rows(named=True)
    assert t["qty"] == pytest.approx(400_000)
    assert t["liq_price"] == pytest.approx((125 + 131_450 / 400_000) / 1.02, rel=1e-12)
    assert t["reason"] == "liquidation"
    assert t["pnl"] == pytest.approx(-10_000_000)  # margin = 40M / 4
    # without tiers the 50x position of before: 500M of notional, liquidated at 102 / 1.004
    (f,) = run_backtest(BacktestInputs(**_short_into(125.0)), BIG.with_(leverage=50.0)).trades.iter_rows(named=True)
    assert f["qty"] == pytest.approx(5_000_000)
    assert f["liq_price"] == pytest.approx(102 / 1.004, rel=1e-12)


def test_small_positions_keep_the_first_tier_unless_the_price_moves_them_up():
    """8,000 of equity at 5x: 400 units, 40,000 USDT, BTCUSDT bracket 1 (0.4 %, cum 0): the flat
    0.4 % price of before, 120 / 1.004 = 119.5219 (notional there 47,809: still bracket 1).
    10,000 of equity: 500 units, 50,000 USDT at entry (bracket 1) but 59,761 at 119.52, bracket 2
    (0.5 %, cum 50) where Binance recalculates: (120 + 50 / 500) / 1.005 = 119.5025."""
    (t,) = run_backtest(BacktestInputs(**_short_into(100.5), tiers=BTC),
                        BIG.with_(initial_equity=8_000.0)).trades.iter_rows(named=True)  # fmt: skip
    assert t["liq_price"] == pytest.approx(120 / 1.004, rel=1e-12)
    (t,) = run_backtest(BacktestInputs(**_short_into(100.5), tiers=BTC),
                        BIG.with_(initial_equity=10_000.0)).trades.iter_rows(named=True)  # fmt: skip
    assert t["liq_price"] == pytest.approx(120.1 / 1.005, rel=1e-12)


@pytest.mark.parametrize(("exchange", "lp"), [
    # Bybit tier 1 of 2M (0.5 %): LP = EP (1 + 1/L - MMR) = 100 x 1.195 = 119.5 for 10,000 x 5
    ("bybit", 119.5),
    # OKX tier 1 (0.4 % + 0.05 % fee), 500 units = 500 BTC-equivalent is tier 5 (400..800: 1.5 %):
    # LP = 120 / (1 + 0.015 + 0.0005) = 118.1684
    ("okx", 120 / 1.0155),
])  # fmt: skip
def test_other_venues_formulas_reach_the_engine(exchange, lp):
    p = BIG.with_(initial_equity=10_000.0)
    x = BacktestInputs(**_short_into(100.5), tiers=load_tiers(exchange, "BTC/USDT:USDT"))
    (t,) = run_backtest(x, p).trades.iter_rows(named=True)
    assert t["qty"] == pytest.approx(500)
    assert t["liq_price"] == pytest.approx(lp, rel=1e-12)


@given(
    seed=st.integers(0, 2**31), n=st.integers(2, 200),
    venue=st.sampled_from(["binanceusdm", "bybit", "okx"]),
    symbol=st.sampled_from(["BTC/USDT:USDT", "ETH/USDT:USDT", "KSM/USDT:USDT"]),
    equity=st.sampled_from([1e4, 1e6, 1e8]), leverage=st.sampled_from([3.0, 20.0, 100.0]),
    use_stop=st.booleans(), side=st.sampled_from(list(Side)),
)  # fmt: skip
@settings(max_examples=150, deadline=None)
def test_engine_equals_paper_with_venue_tiers(seed, n, venue, symbol, equity, leverage, use_stop, side):
    tiers = load_tiers(venue, symbol)
    x = random_inputs(seed, n, vol=0.03)
    x = BacktestInputs(**{**{k: getattr(x, k) for k in x.__dataclass_fields__}, "tiers": tiers})
    p = TradeParams(side=side, initial_equity=equity, leverage=leverage, use_stop=use_stop)
    res = run_backtest(x, p)
    ref, curve = run_paper(x.as_dict(), p, tiers)
    assert res.trades.height == len(ref)
    for row, r in zip(res.trades.iter_rows(named=True), ref, strict=True):
        assert (row["entry_bar"], row["exit_bar"], row["reason"]) == (r.entry_bar, r.exit_bar, r.reason.label)
        np.testing.assert_allclose([row["qty"], row["liq_price"], row["pnl"], row["equity_after"]],
                                   [r.qty, r.liq, r.pnl, r.equity_after], rtol=1e-9, atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(res.equity["equity"].to_numpy(), curve, rtol=1e-9)
