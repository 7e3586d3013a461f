"""Liquidation prices by venue: worked examples computed by hand (in the comments) for Binance,
Bybit and OKX, linear long and short, a tier boundary each, Binance COIN-M (inverse); and the
scalar kernel the backtest compiles against the numpy functions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.liquidations.prices import (
    FORMULA_CODES,
    liq_price_inverse_okx,
    liq_price_linear_bybit,
    liq_price_linear_okx,
    liq_price_tiered,
    position_lp,
)
from oiradar.liquidations.tiers import load_tiers, rows_from_ccxt, venue_formula
from oiradar.model import LONG, SHORT

# ---------------------------------------------------------------- Binance USD-M (linear)


def test_binance_linear_long_and_short_in_tier_3():
    """8 BTC at 100,000 = 800,000 USDT: BTCUSDT bracket 3 (MMR 0.65 %, cum 950 USDT), 20x.
    long  LP = (EP (1 - 1/L) - cum/Q) / (1 - MMR) = (95,000 - 118.75) / 0.9935 = 95,502.0131
    short LP = (EP (1 + 1/L) + cum/Q) / (1 + MMR) = (105,000 + 118.75) / 1.0065 = 104,439.8907
    At either price the notional (764,016 / 835,519) is still in bracket 3: no recalculation."""
    t = load_tiers("binanceusdm", "BTC/USDT:USDT")
    r = liq_price_tiered([LONG, SHORT], 100_000, 20, 8, t)
    assert list(r.tier) == [2, 2]
    assert r.price[0] == pytest.approx(94_881.25 / 0.9935, rel=1e-12)
    assert r.price[0] == pytest.approx(95_502.0131, abs=1e-4)
    assert r.price[1] == pytest.approx(105_118.75 / 1.0065, rel=1e-12)
    assert r.price[1] == pytest.approx(104_439.8907, abs=1e-4)


def test_binance_linear_tier_boundary_is_picked_at_the_liquidation_price():
    """0.6 BTC at 100,000 (60,000 USDT: bracket 2) long at 1.2x. In bracket 2 (0.5 %, cum 50):
    LP = (100,000 x (1 - 1/1.2) - 50/0.6) / 0.995 = (16,666.67 - 83.33) / 0.995 = 16,666.67, where the
    notional is 10,000 USDT: bracket 1. Recalculated there (0.4 %, cum 0):
    LP = 16,666.67 / 0.996 = 16,733.60, still bracket 1."""
    t = load_tiers("binanceusdm", "BTC/USDT:USDT")
    r = liq_price_tiered(LONG, 100_000, 1.2, 0.6, t)
    assert int(r.tier) == 0
    assert float(r.price) == pytest.approx(100_000 * (1 - 1 / 1.2) / 0.996, rel=1e-12)
    assert float(r.price) == pytest.approx(16_733.60, abs=0.01)


def test_binance_eth_table_is_checked_in():
    """ETH/USDT:USDT from the same freqtrade snapshot: 60,000 USDT is bracket 2 (0.5 %, 100x)."""
    t = load_tiers("binanceusdm", "ETH/USDT:USDT")
    assert t.origin == "binanceusdm:ETH/USDT:USDT"
    mmr, cum, lev = t.lookup(60_000)
    assert (float(mmr), float(cum), float(lev)) == (0.005, 50.0, 100.0)


# ---------------------------------------------------------------- Binance COIN-M (inverse)


def test_binance_coinm_short_tier_1():
    """60,000 USD of BTCUSD (600 contracts of 100 USD) short at 50,000, 10x: 1.2 BTC, bracket 1
    (0.4 %, cum 0): LP = EP (1 - MMR) / (1 - 1/L) = 50,000 x 0.996 / 0.9 = 55,333.33."""
    t = load_tiers("binancecoinm", "BTC/USD:BTC")
    r = liq_price_tiered(SHORT, 50_000, 10, 60_000, t, inverse=True)
    assert int(r.tier) == 0
    assert float(r.price) == pytest.approx(55_333.3333, abs=1e-4)


def test_binance_coinm_long_moves_to_the_bracket_at_the_liquidation_price():
    """2,500,000 USD long at 50,000, 5x: 50 BTC at entry (bracket 4, <= 50 BTC). In bracket 4
    (2.5 %, cum 0.355 BTC): LP = N (1 + MMR) / (N/EP (1 + 1/L) + cum) = 2,562,500 / 60.355
    = 42,457.12, where the position is 58.9 BTC: bracket 5 (5 %, cum 1.605). Recalculated:
    LP = 2,625,000 / (60 + 1.605) = 42,610.18 (58.7 BTC: bracket 5 again)."""
    t = load_tiers("binancecoinm", "BTC/USD:BTC")
    r = liq_price_tiered(LONG, 50_000, 5, 2_500_000, t, inverse=True)
    assert int(r.tier) == 4
    assert float(r.cum) == pytest.approx(1.605)
    assert float(r.price) == pytest.approx(2_625_000 / 61.605, rel=1e-12)
    assert float(r.price) == pytest.approx(42_610.18, abs=0.01)


# ---------------------------------------------------------------- Bybit (USDT contract)


def test_bybit_page_example_long_and_short():
    """Bybit "Liquidation Price (USDT Contract)", Example 1: long 1 BTC at 20,000, 50x, MMR 0.5 %:
    IM = 400, MM = 100, LP = 20,000 - (400 - 100) / 1 = 19,700. The short mirror: 20,300."""
    assert float(liq_price_linear_bybit(LONG, 20_000, 50, 0.005)) == pytest.approx(19_700.0)
    assert float(liq_price_linear_bybit(SHORT, 20_000, 50, 0.005)) == pytest.approx(20_300.0)


def test_bybit_btcusdt_tier_2_with_its_deduction():
    """25 BTC at 100,000 = 2,500,000 USDT: risk-limit tier 2 (MMR 0.56 %, deduction 1,200), 10x.
    IM = 2,500,000 / 10 = 250,000; MM = 2,500,000 x 0.0056 - 1,200 = 12,800;
    long LP = 100,000 - (250,000 - 12,800) / 25 = 100,000 - 9,488 = 90,512; short 109,488.
    The tier is the entry's (Bybit values the maintenance margin at entry): no recalculation."""
    t = load_tiers("bybit", "BTC/USDT:USDT")
    r = liq_price_tiered([LONG, SHORT], 100_000, 10, 25, t)
    assert t.formula == "bybit" and list(r.tier) == [1, 1]
    assert r.price[0] == pytest.approx(90_512.0, abs=1e-6)
    assert r.price[1] == pytest.approx(109_488.0, abs=1e-6)


def test_bybit_tier_boundary_is_continuous():
    """20 BTC at 100,000 = 2,000,000 USDT is tier 1 (<= the risk limit): MM = 10,000,
    long LP = 100,000 - (200,000 - 10,000) / 20 = 90,500. 20.0001 BTC is tier 2:
    MM = 2,000,010 x 0.0056 - 1,200 = 10,000.056 (the deduction keeps MM continuous),
    LP = 100,000 - (200,001 - 10,000.056) / 20.0001 = 90,500.0003."""
    t = load_tiers("bybit", "BTC/USDT:USDT")
    below = liq_price_tiered(LONG, 100_000, 10, 20.0, t)
    above = liq_price_tiered(LONG, 100_000, 10, 20.0001, t)
    assert (int(below.tier), int(above.tier)) == (0, 1)
    assert float(below.price) == pytest.approx(90_500.0, abs=1e-6)
    assert float(above.price) == pytest.approx(90_500.0003, abs=1e-4)


def test_bybit_deductions_follow_the_continuity_rule():
    for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT", "ANY/USDT:USDT"):
        t = load_tiers("bybit", symbol)
        np.testing.assert_allclose(t.cum, t.implied_cum(), rtol=1e-12, atol=1e-6)


# ---------------------------------------------------------------- OKX (USDT-margined swap)


def test_okx_long_and_short_with_the_taker_fee():
    """100 contracts of BTC-USDT-SWAP (0.01 BTC each: Q = 1 BTC) at 60,000, 10x isolated:
    margin 6,000 USDT, tier 1 (MMR 0.4 %), taker fee 0.05 %.
    long  LP = (margin - Q EP) / (Q (MMR + fee - 1)) = (6,000 - 60,000) / (-0.9955) = 54,244.10
    short LP = (margin + Q EP) / (Q (MMR + fee + 1)) = 66,000 / 1.0045 = 65,704.33"""
    t = load_tiers("okx", "BTC/USDT:USDT")
    assert (t.formula, t.fee, t.notional_unit) == ("okx", 0.0005, "base")
    r = liq_price_tiered([LONG, SHORT], 60_000, 10, 1.0, t)
    assert list(r.tier) == [0, 0]
    assert r.price[0] == pytest.approx(54_000 / 0.9955, rel=1e-12)
    assert r.price[0] == pytest.approx(54_244.10, abs=0.01)
    assert r.price[1] == pytest.approx(66_000 / 1.0045, rel=1e-12)
    assert r.price[1] == pytest.approx(65_704.33, abs=0.01)
    assert float(liq_price_linear_okx(LONG, 60_000, 10, 0.004, 0.0005)) == pytest.approx(r.price[0])


def test_okx_tier_boundary_counts_contracts_not_value():
    """5,000 contracts = 50 BTC is tier 1 whatever the price; 5,001 (50.01 BTC) is tier 2
    (0.5 %): long LP = 60,000 x 0.9 / (1 - 0.005 - 0.0005) = 54,000 / 0.9945 = 54,298.64."""
    t = load_tiers("okx", "BTC/USDT:USDT")
    r = liq_price_tiered(LONG, [60_000, 600_000], 10, 50.0, t)
    assert list(r.tier) == [0, 0]
    r = liq_price_tiered(LONG, 60_000, 10, 50.01, t)
    assert int(r.tier) == 1
    assert float(r.price) == pytest.approx(54_298.64, abs=0.01)


def test_okx_inverse_is_binances_with_mmr_plus_fee():
    """Coin-margined long at 50,000, 10x, MMR 0.4 % + fee 0.05 %:
    LP = EP (1 + MMR + fee) / (1 + 1/L) = 50,000 x 1.0045 / 1.1 = 45,659.09."""
    lp = float(liq_price_inverse_okx(LONG, 50_000, 10, 0.004, 0.0005, 60_000))
    assert lp == pytest.approx(45_659.09, abs=0.01)


def test_okx_symbol_without_a_table_keeps_okx_formula_on_binance_brackets():
    t = load_tiers("okx", "SOL/USDT:USDT")
    assert (t.origin, t.formula, t.fee) == ("binanceusdm:default", "okx", 0.0005)
    assert venue_formula("okx") == "okx" and venue_formula("htx") is None


# ---------------------------------------------------------------- the scalar kernel


@given(
    venue=st.sampled_from(["binanceusdm", "bybit", "okx"]),
    symbol=st.sampled_from(["BTC/USDT:USDT", "ETH/USDT:USDT", "KSM/USDT:USDT"]),
    side=st.sampled_from([LONG, SHORT]),
    entry=st.floats(1.0, 2e5),
    lev=st.floats(1.0, 125.0),
    value=st.floats(10.0, 2e9),
)
@settings(max_examples=400, deadline=None)
def test_position_lp_equals_the_numpy_functions(venue, symbol, side, entry, lev, value):
    """``position_lp`` (compiled by the backtest engine, run as Python by paper trading) gives
    the bits of ``liq_price_tiered`` on every venue's table."""
    t = load_tiers(venue, symbol)
    qty = value / entry
    r = liq_price_tiered(side, entry, lev, qty, t)
    lp, tier = position_lp(FORMULA_CODES[t.formula], side, entry, lev, qty, t.as_array(), t.fee,
                           t.in_base)  # fmt: skip
    assert (lp, tier) == (float(r.price), int(r.tier))


# ---------------------------------------------------------------- refresh rows


def test_rows_from_ccxt_read_bybit_deductions_and_okx_contracts():
    """ccxt's Bybit tiers carry ``mmDeduction`` ("" on the first tier); OKX's count contracts
    (``minSz`` one above the previous ``maxSz``) and have no amount."""
    bybit = [
        {"tier": 1, "minNotional": 0, "maxNotional": 2_000_000, "maintenanceMarginRate": 0.005,
         "maxLeverage": 100, "info": {"mmDeduction": ""}},
        {"tier": 2, "minNotional": 2_000_000, "maxNotional": 2_600_000,
         "maintenanceMarginRate": 0.0056, "maxLeverage": 90, "info": {"mmDeduction": "1200"}},
    ]  # fmt: skip
    assert [r["cum"] for r in rows_from_ccxt(bybit)] == [0.0, 1200.0]
    okx = [
        {"tier": 1, "minNotional": 0, "maxNotional": 5000, "maintenanceMarginRate": 0.004,
         "maxLeverage": 125, "info": {}},
        {"tier": 2, "minNotional": 5001, "maxNotional": 10000, "maintenanceMarginRate": 0.005,
         "maxLeverage": 100, "info": {}},
    ]  # fmt: skip
    rows = rows_from_ccxt(okx, scale=0.01, deduction=False)
    assert [(r["min_notional"], r["max_notional"], r["cum"]) for r in rows] == [
        (0.0, 50.0, 0.0), (50.0, 100.0, 0.0)]  # fmt: skip


def test_hand_typed_tier_tables_are_flagged() -> None:
    """Bybit's and OKX's checked-in tiers were typed in by hand: every liqprice on them warns."""
    from oiradar.liquidations.tiers import snapshot_note

    assert snapshot_note("bybit") is not None and "refresh_tiers.py" in snapshot_note("bybit")
    assert snapshot_note("okx") is not None
    assert snapshot_note("binanceusdm") is None and snapshot_note("binancecoinm") is None
