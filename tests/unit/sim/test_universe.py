"""The simulated universe: correlation as asked, crashes on the same bars, the planted outcome is the
study's, ground truth complete, deterministic, and made one market at a time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.app.session import Session
from oiradar.app.sim import UniverseOptions, simulate_universe
from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.evidence import prepare, run_signal_study, study_config
from oiradar.model import HOUR_MS, SeriesKey, Side, Timeframe
from oiradar.sim import Overlay, SimResult, simulate
from oiradar.sim import universe as U
from oiradar.sim.regimes import REGIMES, Regime, schedule, transition_matrix
from oiradar.store import Catalog, ground_truth_dir

H1, M5 = Timeframe.H1, Timeframe.M5


def _markets(**kw: object) -> list[U.Market]:
    return list(U.universe_markets(U.UniverseSpec(**kw)))  # type: ignore[arg-type]


def _returns(markets: list[U.Market]) -> np.ndarray:
    return np.array([np.diff(np.log(m.result.bars["close"].to_numpy())) for m in markets])


def _mean_pairwise(r: np.ndarray) -> tuple[float, np.ndarray]:
    c = np.corrcoef(r)
    off = c[~np.eye(c.shape[0], dtype=bool)]
    return float(off.mean()), off


def test_no_outside_move_is_the_plain_simulator() -> None:
    plain = simulate("ksm", days=2, seed=5, timeframe=H1)
    steps = (4 + 2) * 1440  # warm-up days of the preset, then the days
    zero = simulate("ksm", days=2, seed=5, timeframe=H1, overlay=Overlay(exo=np.zeros(steps)))
    assert plain.bars.equals(zero.bars) and plain.positions.equals(zero.positions)


@pytest.mark.parametrize("rho", [0.3, 0.7])
def test_any_two_symbols_correlate_as_asked(rho: float) -> None:
    """Hourly returns of every pair; the factor is the only thing they share outside crashes."""
    mean, pairs = _mean_pairwise(_returns(_markets(symbols=5, days=20, seed=4, timeframe=H1,
                                                   correlation=rho)))  # fmt: skip
    assert abs(mean - rho) < 0.08, (mean, pairs)
    assert np.all(np.abs(pairs - rho) < 0.16), pairs


def test_without_factor_or_crash_the_symbols_are_independent() -> None:
    markets = _markets(symbols=4, days=15, seed=4, timeframe=H1, correlation=0.0,
                       crash_every_days=0)  # fmt: skip
    mean, _ = _mean_pairwise(_returns(markets))
    assert abs(mean) < 0.08
    assert all(m.result.params["universe"]["crashes"] == [] for m in markets)


@pytest.fixture(scope="module")
def crashing() -> list[U.Market]:
    """Six symbols, two crashes that hit every one of them."""
    return _markets(symbols=6, days=20, seed=2, timeframe=H1, crash_every_days=10,
                    crash_share=1.0)  # fmt: skip


def test_crashes_hit_many_symbols_on_the_same_bars(crashing: list[U.Market]) -> None:
    crashes = U.crashes(U.UniverseSpec(symbols=6, days=20, seed=2, crash_every_days=10))
    assert len(crashes) == 2
    for c in crashes:
        moves, flushes, liq_ratio = [], [], []
        for m in crashing:
            res = m.result
            assert c.ts in m.crashes_hit
            i = res.bars["ts"].search_sorted(c.ts)
            j = i + c.hours  # the first bar after the crash
            assert res.regimes["regime"][i] == Regime.CASCADE  # the same bar for every symbol
            moves.append(res.bars["close"][j - 1] / res.bars["open"][i] - 1)
            flushes.append(res.bars["oi"][j - 1] / res.bars["oi"][i - 1] - 1)
            longs = res.liquidations.filter(pl.col("side") == "long")
            during = longs.filter(pl.col("ts").is_between(c.ts, c.ts + c.hours * HOUR_MS,
                                                          closed="left")).height  # fmt: skip
            liq_ratio.append((during / c.hours) / (longs.height / res.bars.height))
        assert np.median(moves) < -0.05 and sum(x < -0.02 for x in moves) >= 5, moves
        assert np.median(flushes) < -0.05 and sum(x < 0 for x in flushes) >= 5, flushes
        assert np.median(liq_ratio) > 2.0, liq_ratio  # longs liquidated far above their usual pace


def test_only_crashes_put_most_symbols_in_a_cascade_at_once(crashing: list[U.Market]) -> None:
    cascade = np.array([(m.result.regimes["regime"] == Regime.CASCADE).to_numpy() for m in crashing])
    together = cascade.sum(axis=0) >= 5
    ts = crashing[0].result.bars["ts"].to_numpy()
    hits = np.zeros(ts.size, dtype=bool)
    for c in U.crashes(U.UniverseSpec(symbols=6, days=20, seed=2, crash_every_days=10)):
        hits |= (ts >= c.ts) & (ts < c.ts + c.hours * HOUR_MS)
    assert together[hits].mean() > 0.5
    assert not together[~hits].any()


def test_a_crash_hits_about_crash_share_of_the_symbols() -> None:
    markets = _markets(symbols=20, days=2, seed=9, crash_share=0.5, timeframe=H1)
    hit = sum(len(m.crashes_hit) for m in markets)
    assert 4 <= hit <= 16  # binomial(20, 0.5): 10 +- 3 sd
    for m in markets:
        hits = [c["hit"] for c in m.result.params["universe"]["crashes"]]
        assert hits == [bool(m.crashes_hit)]


def test_forced_cascade_cuts_into_the_chain() -> None:
    warm, start = 1440, 1440 + 600
    seg = schedule(np.random.default_rng(1), warm_steps=warm, steps=3 * 1440,
                   transitions=transition_matrix(0.6), forced=((start, 3),))  # fmt: skip
    i = int(np.flatnonzero(seg.bounds[:, 0] == start)[0])
    assert REGIMES[seg.regime[i]] == Regime.CASCADE
    assert seg.bounds[i, 1] == start + 180 and seg.bounds[i - 1, 1] == start


def _study_events(bars: pl.DataFrame, symbol: str, tf: Timeframe) -> dict[int, int]:
    """The study's counted divergence events: bar time -> barrier outcome (1 reversal, -1 not)."""
    key = SeriesKey(exchange="sim", symbol=symbol, timeframe=tf)
    prep = prepare(bars, key, Settings())
    res = run_signal_study(prep, "divergence", Side.SHORT, study_config(reps=100))
    ts = prep.features["ts"].to_numpy()[res.event_index]
    return dict(zip(ts.tolist(), res.event_outcome.tolist(), strict=True))


def _planted(res: SimResult) -> dict[int, int]:
    p = res.extra["planted"].drop_nulls("outcome")
    return {t: 1 if o == "reversal" else -1 for t, o in zip(p["ts"], p["outcome"], strict=True)}


@pytest.fixture(scope="module")
def planted() -> list[U.Market]:
    return _markets(symbols=3, days=30, seed=3, timeframe=M5, edge=0.65)


def test_the_planted_outcome_is_what_the_study_counts(planted: list[U.Market]) -> None:
    """Every event the study counts after divergence was planted, with its outcome, and no other."""
    total = 0
    for m in planted:
        study = _study_events(m.result.bars, m.symbol, M5)
        # the last events may lack the bars of their outcome: the study drops them
        assert {t: o for t, o in _planted(m.result).items() if t in study} == study
        assert len(_planted(m.result)) - len(study) <= 1
        total += len(study)
    assert total >= 20


def test_the_planted_rate_holds_at_its_extremes_and_on_coarser_bars(tmp_path: Path) -> None:
    """Edge 1 and 0 plant only reversals / none; bars stored at 5m and studied at 1h (resampled
    by the catalog) get the edge planted on the 1h bars."""
    for edge, expected in ((1.0, {1}), (0.0, {-1})):
        markets = _markets(symbols=2, days=25, seed=5, timeframe=H1, edge=edge)
        seen = {o for m in markets for o in _study_events(m.result.bars, m.symbol, H1).values()}
        assert seen == expected
    catalog = Catalog(tmp_path)
    spec = U.UniverseSpec(symbols=3, days=35, seed=6, timeframe=M5, edge=0.65, edge_timeframe=H1)
    n = 0
    for m in U.universe_markets(spec):
        m.result.write(catalog, "sim", m.symbol)
        bars = catalog.read_bars(SeriesKey(exchange="sim", symbol=m.symbol, timeframe=H1))
        study = _study_events(bars, m.symbol, H1)
        assert {t: o for t, o in _planted(m.result).items() if t in study} == study
        n += len(study)
    assert n >= 3


def test_same_seed_same_universe_and_its_first_symbols_do_not_depend_on_its_size() -> None:
    a = _markets(symbols=2, days=3, seed=8, timeframe=H1)
    b = _markets(symbols=3, days=3, seed=8, timeframe=H1)
    for x, y in zip(a, b, strict=False):
        assert x.symbol == y.symbol and x.result.bars.equals(y.result.bars)
        assert x.result.params == y.result.params
    c = _markets(symbols=2, days=3, seed=9, timeframe=H1)
    assert not a[0].result.bars.equals(c[0].result.bars)
    spec = U.UniverseSpec(symbols=2, days=3, seed=8, timeframe=H1)
    for x, y in zip(a, U.universe_markets(spec, workers=2), strict=True):  # threads change nothing
        assert x.result.bars.equals(y.result.bars)
    assert [m.symbol for m in b] == ["U001/USDT:USDT", "U002/USDT:USDT", "U003/USDT:USDT"]


def test_ground_truth_is_complete(tmp_path: Path) -> None:
    session = Session(Settings(), tmp_path)
    opts = UniverseOptions(3, days=10, seed=1, timeframe=H1, edge=0.65, workers=1)
    report = simulate_universe(session, opts)
    assert report.symbols["symbol"].to_list() == opts.spec(session.settings.sim).names
    assert report.crashes.height == 1
    cov = session.catalog.coverage()
    assert sorted(cov["symbol"].to_list()) == report.symbols["symbol"].to_list()
    factors = []
    for symbol in report.symbols["symbol"]:
        folder = ground_truth_dir(session.catalog, "sim", symbol)
        params = json.loads((folder / "params.json").read_text())
        u = params["universe"]
        assert params["preset"] == "ksm" and isinstance(params["seed"], int)
        assert params["symbol"] == symbol and u["edge"] == 0.65 and u["spec"]["seed"] == 1
        assert 0.7 <= u["beta"] <= 1.3 and u["plant"]["timeframe"] == "1h"
        assert [c["ts"] for c in u["crashes"]] == report.crashes["ts"].to_list()
        assert all(set(c) == {"ts", "hours", "hit"} for c in u["crashes"])
        for name in ("regimes", "positions", "planted", "market"):
            assert (folder / f"{name}.parquet").exists(), name
        market = pl.read_parquet(folder / "market.parquet")
        assert market.columns == ["ts", "outside", "factor"] and market.height == 240
        factors.append(market["factor"])
    assert all(f.equals(factors[0]) for f in factors)  # one factor for the whole universe


def test_markets_are_made_and_written_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app writes each market before the next is simulated (one worker); with more workers,
    no more than that many are held."""
    log: list[tuple[str, str]] = []
    make, write = U.market, SimResult.write

    def spy_market(spec: U.UniverseSpec, i: int, *a: object, **kw: object) -> U.Market:
        log.append(("made", U.symbol_name(i)))
        return make(spec, i, *a, **kw)  # type: ignore[arg-type]

    def spy_write(self: SimResult, catalog: Catalog, exchange: str = "sim", symbol: str | None = None,
                  **kw: bool) -> object:  # fmt: skip
        log.append(("written", symbol or ""))
        return write(self, catalog, exchange, symbol, **kw)

    monkeypatch.setattr(U, "market", spy_market)
    monkeypatch.setattr(SimResult, "write", spy_write)
    simulate_universe(Session(Settings(), tmp_path), UniverseOptions(3, days=2, seed=1,
                                                                      timeframe=H1, workers=1))  # fmt: skip
    names = [U.symbol_name(i) for i in range(3)]
    assert log == [(what, n) for n in names for what in ("made", "written")]
    log.clear()
    gen = U.universe_markets(U.UniverseSpec(symbols=5, days=2, seed=1, timeframe=H1), workers=2)
    for taken, _ in enumerate(gen, start=1):
        assert len(log) - taken <= 2  # made but not yet taken
    assert len(log) == 5


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"symbols": 0}, "1 to 999"),
        ({"symbols": 2, "correlation": 0.99}, "correlation"),
        ({"symbols": 2, "edge": 1.5}, "edge"),
        ({"symbols": 2, "beta": (1.2, 0.8)}, "beta"),
        ({"symbols": 2, "crash_share": -0.1}, "crash_share"),
    ],
)
def test_bad_universes_are_refused(kw: dict[str, object], text: str) -> None:
    with pytest.raises(InputError, match=text):
        U.UniverseSpec(**kw)  # type: ignore[arg-type]


def test_an_edge_on_finer_bars_than_the_simulation_is_refused() -> None:
    spec = U.UniverseSpec(symbols=1, days=2, timeframe=H1, edge=0.6, edge_timeframe=M5)
    with pytest.raises(InputError, match="multiple"):
        next(U.universe_markets(spec))
