"""Checked-in tier tables: the venues' worked examples and Binance's maintenance-amount rule."""

from __future__ import annotations

import numpy as np
import pytest

from oiradar.errors import InputError
from oiradar.liquidations.tiers import available_tables, load_tiers, rows_from_ccxt, table_from_rows


def test_coinm_worked_example_300_btc():
    """Binance "How to Calculate Liquidation Price of COIN-M Futures Contracts"
    (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46): a 300 BTC BTCUSD
    position has maintenance margin rate 12.5 % and maintenance amount 11.605 BTC."""
    t = load_tiers("binancecoinm", "BTC/USD:BTC")
    mmr, cum, _ = t.lookup(300.0)
    assert float(mmr) == 0.125
    assert float(cum) == pytest.approx(11.605)


def test_coinm_worked_example_maintenance_margin_level_1():
    """Same page: 100 contracts of 100 USD at mark 25,000 = 0.4 BTC, level 1:
    maintenance margin = 0.4 x 0.4 % - 0 = 0.0016 BTC."""
    t = load_tiers("binancecoinm", "BTC/USD:BTC")
    assert float(t.maintenance_margin(100 * 100 / 25_000)) == pytest.approx(0.0016)


@pytest.mark.parametrize(
    ("exchange", "symbol"),
    [
        ("binanceusdm", "BTC/USDT:USDT"),
        ("binanceusdm", "KSM/USDT:USDT"),
        ("binancecoinm", "BTC/USD:BTC"),
    ],
)
def test_maintenance_amounts_follow_binances_rule(exchange, symbol):
    """cum[n] = floor[n] x (MMR[n] - MMR[n-1]) + cum[n-1] (the COIN-M page's formula), so the
    maintenance margin is continuous at every bracket edge."""
    t = load_tiers(exchange, symbol)
    np.testing.assert_allclose(t.cum, t.implied_cum(), rtol=1e-12, atol=1e-9)
    edge = t.cap[:-1]
    left = edge * t.mmr[:-1] - t.cum[:-1]
    right = edge * t.mmr[1:] - t.cum[1:]
    np.testing.assert_allclose(left, right, rtol=1e-12, atol=1e-9)


def test_bracket_edges_belong_to_the_lower_tier():
    """Binance lists brackets as "0 < Position <= 50,000": 50,000 is tier 1, 50,000.01 tier 2."""
    t = load_tiers("binanceusdm", "BTC/USDT:USDT")
    assert list(t.index([0.0, 50_000.0, 50_000.01, 1e12])) == [0, 0, 1, len(t.cap) - 1]


def test_unknown_symbol_falls_back_to_the_default_table():
    t = load_tiers("binanceusdm", "DOGE/USDT:USDT")
    assert t.origin == "binanceusdm:default"
    t = load_tiers("bybit", "ETH/USD:ETH")  # no bybit file: Binance's table of the same margin type
    assert t.origin == "binancecoinm:default"
    assert "BTC/USDT:USDT" in available_tables()["binanceusdm"]


def test_bad_rows_are_rejected_with_the_row_and_column():
    rows = [
        {"min_notional": 0, "max_notional": 10, "mmr": 0.01, "max_leverage": 50, "cum": 0},
        {"min_notional": 10, "max_notional": 20, "mmr": 1.5, "max_leverage": 25, "cum": 0},
    ]
    with pytest.raises(InputError, match="mmr") as exc:
        table_from_rows(rows, exchange="x", symbol="A/B:B", origin="t", notional_unit="quote")
    assert exc.value.row == 2
    rows[1]["mmr"] = 0.02
    rows[1]["min_notional"] = 11
    with pytest.raises(InputError, match="start where"):
        table_from_rows(rows, exchange="x", symbol="A/B:B", origin="t", notional_unit="quote")


def test_rows_from_ccxt_keep_cum_or_recompute_it():
    """ccxt's fetch_leverage_tiers shape (as stored in freqtrade's binance_leverage_tiers.json)."""
    ccxt_tiers = [
        {"tier": 1, "minNotional": 0, "maxNotional": 50000, "maintenanceMarginRate": 0.004,
         "maxLeverage": 125, "info": {"cum": "0.0"}},
        {"tier": 2, "minNotional": 50000, "maxNotional": 600000, "maintenanceMarginRate": 0.005,
         "maxLeverage": 100, "info": {"cum": "50.0"}},
    ]  # fmt: skip
    assert [r["cum"] for r in rows_from_ccxt(ccxt_tiers)] == [0.0, 50.0]
    for t in ccxt_tiers:
        t["info"] = {}
    assert [r["cum"] for r in rows_from_ccxt(ccxt_tiers)] == pytest.approx([0.0, 50.0])
