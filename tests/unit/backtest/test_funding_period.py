"""Funding by period: a bar's ``funding_rate`` is the sum of the rates settled inside it, so a
position held for the same days books the same funding on 8-hour and on daily bars, and a source
that gives one settlement's rate per day (Coinalyze) is scaled to that sum at import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.backtest.params import TradeParams
from oiradar.backtest.run import BacktestInputs, run_backtest
from oiradar.model import DAY_MS, HOUR_MS, Timeframe
from oiradar.sources.decode.files.base import ImportOptions
from oiradar.sources.decode.files.coinalyze import funding_scale, parse_coinalyze
from oiradar.store.resample import resample_bars

NOCOST = TradeParams(fee=0.0, slippage=0.0, thesis_streak=0, take_profit_r=0.0)
FIXTURES = Path(__file__).parents[2] / "fixtures" / "files" / "coinalyze"
RATE_8H = 0.0001  # 0.01 % per settlement


def _flat(n: int, funding: np.ndarray) -> BacktestInputs:
    """Price pinned at 100, ATR 1, a short entry signal at the close of bar 0."""
    return BacktestInputs(
        open=np.full(n, 100.0), high=np.full(n, 100.5), low=np.full(n, 99.5),
        close=np.full(n, 100.0), atr=np.ones(n), entry=np.eye(1, n, 0, dtype=bool)[0],
        streak=np.zeros(n), oi_z=np.full(n, np.nan), funding=funding,
    )  # fmt: skip


def test_daily_bars_book_the_funding_of_every_settlement():
    # Held 4 days: entry at the open of bar 1, time stop after 4 daily bars (12 8-hour bars).
    # qty = 2 % x 10,000 / (101 - 100) = 200; each settlement pays the short 200 x 100 x 1 bp = 2.
    eight = run_backtest(_flat(20, np.full(20, RATE_8H)), NOCOST.with_(time_stop=12))
    daily = run_backtest(_flat(8, np.full(8, 3 * RATE_8H)), NOCOST.with_(time_stop=4))
    assert eight.trades["funding"][0] == pytest.approx(12 * 2.0)
    assert daily.trades["funding"][0] == pytest.approx(eight.trades["funding"][0])
    # the old booking, one settlement's rate per daily bar, gave a third of it
    old = run_backtest(_flat(8, np.full(8, RATE_8H)), NOCOST.with_(time_stop=4))
    assert old.trades["funding"][0] == pytest.approx(daily.trades["funding"][0] / 3)


def test_resampled_settlements_sum_to_the_daily_rate():
    # two days of hourly bars; the 8-hour settlements fall on 00:00, 08:00 and 16:00
    ts = np.arange(48) * HOUR_MS
    rate = [RATE_8H if h % 8 == 0 else None for h in range(48)]
    bars = pl.DataFrame({"ts": ts, "funding_rate": rate})
    day = resample_bars(bars, Timeframe.H1, Timeframe.D1)
    assert day["ts"].to_list() == [0, DAY_MS]
    assert day["funding_rate"].to_list() == pytest.approx([3 * RATE_8H] * 2)


def test_coinalyze_daily_rate_is_scaled_like_the_resampled_sum():
    parsed = parse_coinalyze(FIXTURES / "funding_rate_history.csv", ImportOptions())
    (usdm,) = [b for b in parsed.bars if b.key.exchange == "binanceusdm"]
    # the file's 0.01 (percent) on 2022-01-02 is one 8-hour settlement's rate
    assert usdm.frame["funding_rate"][0] == pytest.approx(3 * RATE_8H)
    assert any(n.count("funding_scaled") == 1 for n in parsed.notes)
    assert funding_scale("binanceusdm", Timeframe.D1) == 3
    assert funding_scale("dydx", Timeframe.D1) == 24  # an hourly venue
    assert funding_scale("okx", Timeframe.H4) == 0.5  # half a settlement per 4h bar, on average
