"""The numba engine equals paper trading's plain-Python model, trade by trade (incl. funding, liquidation)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.backtest.paper import run_paper
from oiradar.backtest.params import TradeParams
from oiradar.backtest.run import run_backtest
from oiradar.model import Side

from .series import random_inputs

params_st = st.builds(
    TradeParams,
    side=st.sampled_from(list(Side)),
    risk=st.sampled_from([0.01, 0.02, 0.1]),
    scale_by_oi=st.booleans(),
    leverage=st.sampled_from([1.0, 3.0, 5.0, 20.0, 50.0, 125.0]),
    venue_max_leverage=st.sampled_from([20.0, 125.0]),
    fee=st.sampled_from([0.0, 0.0005]),
    slippage=st.sampled_from([0.0, 0.0002, 0.001]),
    stop_lookback=st.integers(1, 25),
    stop_atr=st.sampled_from([0.0, 0.5, 2.0]),
    use_stop=st.booleans(),
    take_profit_r=st.sampled_from([0.0, 0.5, 2.0]),
    time_stop=st.integers(0, 12),
    thesis_streak=st.integers(0, 3),
    entry_bar_stops=st.booleans(),
)


def _compare(x, p):
    res = run_backtest(x, p)
    ref, curve = run_paper(x.as_dict(), p)
    t = res.trades
    assert t.height == len(ref)
    for row, r in zip(t.iter_rows(named=True), ref, strict=True):
        assert (row["entry_bar"], row["exit_bar"], row["reason"]) == (
            r.entry_bar,
            r.exit_bar,
            r.reason.label,
        )
        np.testing.assert_allclose(
            [row["entry_price"], row["exit_price"], row["qty"], row["stop"], row["liq_price"],
             row["pnl"], row["fees"], row["funding"], row["risk"], row["equity_after"]],
            [r.entry, r.exit, r.qty, r.stop, r.liq, r.pnl, r.fees, r.funding, r.risk_amt,
             r.equity_after],
            rtol=1e-9, atol=1e-9,
        )  # fmt: skip
    np.testing.assert_allclose(res.equity["equity"].to_numpy(), curve, rtol=1e-9)
    return res


@given(seed=st.integers(0, 2**31), n=st.integers(2, 300), p=params_st,
       vol=st.sampled_from([0.005, 0.02, 0.06]))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_engine_equals_paper_model(seed, n, p, vol):
    _compare(random_inputs(seed, n, vol=vol), p)


def test_paper_comparison_covers_every_exit_reason():
    """The random cases above are not all trivial: this fixed batch hits every reason."""
    seen: set[str] = set()
    funding = 0.0
    for seed in range(40):
        for p in (TradeParams(), TradeParams(use_stop=False, leverage=50, venue_max_leverage=125),
                  TradeParams(side=Side.LONG, take_profit_r=0.5, thesis_streak=3, time_stop=5)):  # fmt: skip
            res = _compare(random_inputs(seed, 250, vol=0.03), p)
            seen |= set(res.trades["reason"].to_list())
            funding += res.trades["funding"].abs().sum()
    assert funding > 0
    assert seen == {"stop", "liquidation", "take_profit", "thesis", "time", "end"}
