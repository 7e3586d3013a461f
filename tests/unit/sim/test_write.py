"""SimResult.write: bars and liquidations into the catalog, ground truth beside it."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from oiradar.errors import InputError, StoreError
from oiradar.sim import SimResult, ground_truth_dir, simulate
from oiradar.store import Catalog


@pytest.fixture(scope="module")
def small() -> SimResult:
    return simulate("ksm", days=3, seed=4)


def test_write_then_read_back(small: SimResult, catalog: Catalog) -> None:
    res = small.write(catalog)
    key = small.key()
    assert str(key) == "sim KSM/USDT:USDT 5m"
    assert res.bars.rows_added == small.bars.height
    assert res.liquidations.rows_added == small.liquidations.height
    stored = catalog.read_stored(key)
    for col in ("ts", "open", "high", "low", "close", "volume", "oi", "oi_value", "funding_rate"):
        assert stored[col].equals(small.bars[col]), col
    assert (stored["source"] == "sim").all()
    liq = catalog.read_liquidations("sim", "KSM/USDT:USDT")
    assert liq.height == small.liquidations.height
    assert np.array_equal(
        liq.sort("ts")["price"].to_numpy(), small.liquidations["price"].to_numpy()
    )
    folder = ground_truth_dir(catalog, "sim", "KSM/USDT:USDT")
    assert pl.read_parquet(folder / "positions.parquet").equals(small.positions)
    assert pl.read_parquet(folder / "regimes.parquet").equals(small.regimes)
    assert json.loads((folder / "params.json").read_text())["seed"] == 4
    # SQL sees the simulated series like any other.
    n = catalog.sql("select count(*) as n from bars where exchange = 'sim'")["n"][0]
    assert n == small.bars.height


def test_writing_the_same_simulation_twice_changes_nothing(
    small: SimResult, catalog: Catalog
) -> None:
    small.write(catalog)
    again = small.write(catalog)
    assert again.unchanged and again.bars.rows_added == 0 and again.bars.rows_changed == 0
    assert catalog.read_liquidations("sim").height == small.liquidations.height


def test_a_different_simulation_needs_replace(small: SimResult, catalog: Catalog) -> None:
    small.write(catalog)
    other = simulate("ksm", days=2, seed=5)
    with pytest.raises(StoreError, match="--replace"):
        other.write(catalog)
    other.write(catalog, replace=True)
    key = other.key()
    assert catalog.read_stored(key)["close"].equals(other.bars["close"])
    assert catalog.read_liquidations("sim").height == other.liquidations.height


def test_exchange_and_symbol_are_chosen_at_write(small: SimResult, catalog: Catalog) -> None:
    small.write(catalog, exchange="simx", symbol="ABC/USDT:USDT")
    assert [str(k) for k in catalog.stored_keys()] == ["simx ABC/USDT:USDT 5m"]
    liq = catalog.read_liquidations("simx", "ABC/USDT:USDT")
    assert set(liq["exchange"].unique()) == {"simx"} and set(liq["symbol"].unique()) == {
        "ABC/USDT:USDT"
    }
    assert ground_truth_dir(catalog, "simx", "ABC/USDT:USDT").joinpath("positions.parquet").exists()


def test_coin_margined_symbols_are_refused(small: SimResult, catalog: Catalog) -> None:
    with pytest.raises(InputError, match="coin-margined"):
        small.write(catalog, symbol="BTC/USD:BTC")
    with pytest.raises(InputError, match="coin-margined"):
        simulate("ksm", days=1, symbol="KSM/USD:KSM")
    assert catalog.stored_keys() == []
