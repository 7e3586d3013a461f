"""Liquidation-price formulas against the venues' worked examples and their general formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oiradar.liquidations.prices import (
    liq_price_inverse,
    liq_price_inverse_bybit,
    liq_price_linear,
    liq_price_linear_bybit,
    liq_price_tiered,
)
from oiradar.liquidations.tiers import load_tiers
from oiradar.model import LONG, SHORT


def binance_usdm_general(side, wb, cum, qty, ep, mmr):
    """Binance's isolated formula as printed on "How to Calculate Liquidation Price of USDⓈ-M
    Futures Contracts" (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93),
    with TMM = UPNL = 0: LP = (WB + cumB - side x Q x EP) / (Q x MMR - side x Q)."""
    return (wb + cum - side * qty * ep) / (qty * mmr - side * qty)


@given(
    side=st.sampled_from([LONG, SHORT]),
    ep=st.floats(1.0, 1e5),
    lev=st.floats(1.5, 125.0),
    mmr=st.floats(0.001, 0.1),
    qty=st.floats(0.01, 100.0),
    cum_frac=st.floats(0.0, 0.02),
)
def test_linear_equals_binance_general_formula(side, ep, lev, mmr, qty, cum_frac):
    cum = cum_frac * qty * ep
    wb = qty * ep / lev  # isolated: the wallet balance is the initial margin
    expected = max(binance_usdm_general(side, wb, cum, qty, ep, mmr), 0.0)
    got = float(liq_price_linear(side, ep, lev, mmr, cum, qty))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(
    side=st.sampled_from([LONG, SHORT]),
    ep=st.floats(100.0, 1e5),
    lev=st.floats(1.5, 125.0),
    mmr=st.floats(0.001, 0.1),
    usd=st.floats(100.0, 1e7),
    cum_frac=st.floats(0.0, 0.01),
)
def test_inverse_balances_margin_at_the_liquidation_price(side, ep, lev, mmr, usd, cum_frac):
    """At LP: initial margin + PnL (coin) = maintenance margin (coin), Binance COIN-M definitions."""
    coin = usd / ep
    cum = cum_frac * coin
    lp = float(liq_price_inverse(side, ep, lev, mmr, cum, usd))
    if not np.isfinite(lp):
        return
    equity = coin / lev + side * usd * (1.0 / ep - 1.0 / lp)
    assert equity == pytest.approx(usd / lp * mmr - cum, rel=1e-9, abs=1e-12)


def test_inverse_without_cum_keeps_the_old_closed_form():
    assert float(liq_price_inverse(1, 50_000, 10, 0.005)) == pytest.approx(50_000 * 1.005 / 1.1)
    assert float(liq_price_inverse(-1, 50_000, 10, 0.005)) == pytest.approx(50_000 * 0.995 / 0.9)
    assert float(liq_price_inverse(-1, 50_000, 1, 0.005)) == np.inf


def test_bybit_usdt_worked_example():
    """Bybit "Liquidation Price (USDT Contract)", Example 1: long 1 BTC at 20,000 USDT, 50x,
    MMR 0.5 %: IM 400, MM 100, LP = 20,000 - (400 - 100) = 19,700 USDT.
    https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract"""
    assert float(liq_price_linear_bybit(1, 20_000, 50, 0.005, 0.0, 1.0)) == pytest.approx(19_700.0)
    assert float(liq_price_linear_bybit(-1, 20_000, 50, 0.005, 0.0, 1.0)) == pytest.approx(20_300.0)


def test_bybit_inverse_worked_example_inputs():
    """Bybit "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)", inverse
    example: 60,000 USD of BTCUSD at 50,000 USD, 10x, MMR 0.5 %: position value 1.2 BTC, initial
    margin 0.12 BTC, maintenance margin 0.006 BTC; long LP = 60,000 / (1.2 + 0.12 - 0.006)."""
    long_lp = float(liq_price_inverse_bybit(1, 50_000, 10, 0.005, 0.0, 60_000))
    short_lp = float(liq_price_inverse_bybit(-1, 50_000, 10, 0.005, 0.0, 60_000))
    assert long_lp == pytest.approx(60_000 / 1.314)
    assert short_lp == pytest.approx(60_000 / (1.2 - 0.12 + 0.006))


def test_binance_and_bybit_differ_only_in_where_maintenance_is_valued():
    """Binance values maintenance margin at the liquidation price, Bybit at entry: Binance's long
    liquidation is a little lower (its MM shrinks as price falls)."""
    binance = float(liq_price_linear(1, 20_000, 50, 0.005))
    bybit = float(liq_price_linear_bybit(1, 20_000, 50, 0.005))
    assert binance == pytest.approx(20_000 * 0.98 / 0.995)
    assert binance < bybit


def test_tiered_uses_the_bracket_at_the_liquidation_price():
    """Binance: "If your position (calculated at the liquidation price) and the current position
    (calculated at the opening price) are of different levels ... recalculate". A BTCUSDT long of
    0.6 BTC at 100,000 (notional 60,000: tier 2) at 1x liquidates near 0, where the notional is in
    tier 1; a short of 0.55 BTC at 100,000 (55,000: tier 2) stays in tier 2."""
    t = load_tiers("binanceusdm", "BTC/USDT:USDT")
    r = liq_price_tiered([1, -1], 100_000, [1.2, 10], [0.6, 0.55], t)
    assert list(r.tier) == [0, 1]
    assert r.price[0] == pytest.approx(float(liq_price_linear(1, 100_000, 1.2, 0.004, 0.0, 0.6)))
    assert r.price[1] == pytest.approx(float(liq_price_linear(-1, 100_000, 10, 0.005, 50.0, 0.55)))


def test_tiered_at_a_bracket_boundary_is_continuous():
    """Maintenance margin is continuous at a bracket edge, so the liquidation price is too: a
    position straddling 50,000 USDT of notional gets (nearly) the same price from either bracket."""
    t = load_tiers("binanceusdm", "BTC/USDT:USDT")
    q = 50_000 / 95_000  # notional exactly at the cap of tier 1 when price is 95,000
    below = float(liq_price_linear(-1, 90_000, 20, 0.004, 0.0, q))
    above = float(liq_price_linear(-1, 90_000, 20, 0.005, 50.0, q))
    r = liq_price_tiered(-1, 90_000, 20, q, t)
    assert below == pytest.approx(above, rel=1e-3)
    assert float(r.price) == pytest.approx(below, rel=1e-3)


def test_inverse_tiered_uses_coin_notional():
    """COIN-M brackets are in coin: 60,000 USD at 50,000 is 1.2 BTC (tier 1, MMR 0.4 %)."""
    t = load_tiers("binancecoinm", "BTC/USD:BTC")
    r = liq_price_tiered(1, 50_000, 10, 60_000, t, inverse=True)
    assert int(r.tier) == 0
    assert float(r.price) == pytest.approx(50_000 * 1.004 / 1.1)
