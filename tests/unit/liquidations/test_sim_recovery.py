"""On the simulator, where every position is known, the true leverage mix recovers the true
liquidation notional by price bin, and wrong mixes score worse (issue 6, "must show")."""

from __future__ import annotations

import polars as pl
import pytest

from oiradar.liquidations.evaluate import recovery, sim_tiers, true_mix
from oiradar.liquidations.levels import level_factors, parse_mix
from oiradar.liquidations.prices import liq_price_linear


@pytest.fixture(scope="module")
def sim():
    from oiradar.sim import simulate

    return simulate("ksm", days=20, seed=7)


def test_formulas_match_the_simulators_positions(sim):
    """Every simulated position's liquidation price is Binance's formula at its entry, leverage
    and the simulator's maintenance rate (ground truth agrees with the formula)."""
    p = sim.positions.head(2000)
    side = (p["side"] == "long").cast(pl.Int8).to_numpy() * 2 - 1
    lp = liq_price_linear(side, p["entry_price"].to_numpy(), p["leverage"].to_numpy(), p["mmr"].to_numpy(),
                          0.0, p["qty"].to_numpy())  # fmt: skip
    assert lp == pytest.approx(p["liq_price"].to_numpy(), rel=1e-9)


def test_true_mix_recovers_and_wrong_mixes_score_worse(sim):
    truth = true_mix(sim.params)
    out = recovery(sim, [truth, "clustered10x", "conservative"], bins=200, n_boot=100)
    rows = {r["mix"]: r for r in out.iter_rows(named=True)}
    good = rows[truth]
    assert good["corr_liq_by_bin"] > 0.8
    assert good["corr_open_by_bin"] > 0.5
    assert good["top_quartile_liq_share"] > good["top_quartile_chance"] + 0.1
    assert good["score_lo"] > good["score_chance"]
    assert rows["baseline"]["score"] < good["score"]  # beats "liquidations happen at the extremes"
    for wrong in ("clustered10x", "conservative"):
        assert rows[wrong]["score"] < good["score"]
        assert rows[wrong]["corr_liq_by_bin"] < good["corr_liq_by_bin"]


def test_sim_tiers_follow_the_params(sim):
    t = sim_tiers(sim.params, sim.params["symbol"])
    assert float(t.mmr[0]) == sim.params["mmr_tiers"][0][1]
    f = level_factors(parse_mix("10:1"), t, position_notional=1e4)
    assert f.long[0] == pytest.approx(0.9 / (1 - t.mmr[0]))
