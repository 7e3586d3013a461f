"""``oiradar liqprice`` and ``oiradar liqmap`` end to end (typer runner, real catalog on disk)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.liquidations.prices import liq_price_linear

runner = CliRunner()


def _json(args: list[str]) -> dict:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # notes (how the bars were built) go to stderr


def test_liqprice_uses_the_symbols_tier():
    """0.5 BTC at 100,000 = 50,000 USDT: BTCUSDT tier 1 (MMR 0.4 %, cum 0)."""
    out = _json(["liqprice", "--side", "long", "--entry", "100000", "--leverage", "20", "--qty", "0.5",
                 "--symbol", "BTC/USDT:USDT", "--json"])  # fmt: skip
    assert out["tier"] == 1
    assert out["liq_price"] == pytest.approx(
        float(liq_price_linear(1, 100_000, 20, 0.004, 0.0, 0.5))
    )
    assert out["tiers"] == "binanceusdm:BTC/USDT:USDT"


def test_liqprice_with_given_mmr_and_inverse():
    out = _json(["liqprice", "--side", "short", "--entry", "50000", "--leverage", "10", "--mmr", "0.005",
                 "--inverse", "--json"])  # fmt: skip
    assert out["liq_price"] == pytest.approx(50_000 * 0.995 / 0.9)
    res = runner.invoke(app, ["liqprice", "--side", "up", "--entry", "1", "--leverage", "2"])
    assert res.exit_code == 2
    assert "long or short" in res.output


def test_liqmap_what_if_answers_the_seed_example():
    out = _json(["liqmap", "--what-if", "--oi-usd", "620e6", "--entry-distance", "0.05", "--price", "30",
                 "--exchange", "binanceusdm", "--symbol", "KSM/USDT:USDT", "--moves", "-10,-5,5,10", "--json"])  # fmt: skip
    assert out["kind"].startswith("estimated")
    assert out["already_liquidated_usd"] > 0
    assert [r["move_pct"] for r in out["cascade"]] == [-10, -5, 5, 10]
    assert (
        out["band"][0]["long_high_usd"]
        >= out["cascade"][0]["est_long_liq_usd"]
        >= out["band"][0]["long_low_usd"]
    )


@pytest.fixture(scope="module")
def sim_home(tmp_path_factory):
    from oiradar.sim import simulate
    from oiradar.store import Catalog

    home = tmp_path_factory.mktemp("home")
    simulate("ksm", days=12, seed=3).write(Catalog(home))
    return str(home)


def test_liqmap_snapshot_and_score_on_a_catalog(sim_home):
    base = ["--home", sim_home, "liqmap", "-e", "sim", "-s", "KSM/USDT:USDT", "-t", "15m"]
    out = _json([*base, "--at", "2024-01-10", "--json"])
    assert out["kind"] == "estimated"
    assert out["bar"] == "2024-01-09 23:45"
    assert out["est_open_long_usd"] > 0 and out["est_open_short_usd"] > 0
    assert {r["where"] for r in out["clusters"]} == {"above", "below"}
    score = _json([*base, "--score", "--json"])
    mixes = {r["mix"] for r in score["score"]}
    assert mixes == {"default", "clustered10x", "conservative", "baseline"}
    assert "PRICE" in score["method"]


def test_liqmap_errors_are_clean(sim_home):
    res = runner.invoke(app, ["--home", sim_home, "liqmap", "-e", "sim"])
    assert res.exit_code == 2 and "--exchange and --symbol" in res.output
    res = runner.invoke(
        app, ["--home", sim_home, "liqmap", "-e", "sim", "-s", "KSM/USDT:USDT", "--mix", "tenx"]
    )
    assert res.exit_code == 2 and "preset" in res.output


def test_liqmap_to_adds_the_target_row():
    out = _json(["liqmap", "--what-if", "--oi-usd", "1e6", "--price", "100", "--mix", "10:1",
                 "--moves", "-5,5", "--to", "80", "--json"])  # fmt: skip
    assert [round(r["target"], 6) for r in out["cascade"]] == [80.0, 95.0, 105.0]
    assert out["cascade"][0]["est_long_liq_usd"] > 0
    res = runner.invoke(
        app, ["liqmap", "--what-if", "--oi-usd", "1e6", "--price", "100", "--to", "-1"]
    )
    assert res.exit_code == 2 and "--to" in res.output
