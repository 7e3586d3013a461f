"""Every-series commands in batches of series (``oiradar.app.batches``): the results are those of
the whole selection at once whatever the batch size, and a batch holds at most its size of series
(counted by the live bar frames, not by RSS)."""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.app import features as app_features
from oiradar.app import scan as app_scan
from oiradar.app import study as app_study
from oiradar.app.batches import BatchOptions, Packed, plan_batches
from oiradar.app.features import every_series_features, feature_batches
from oiradar.app.scan import ScanOptions, scan_events
from oiradar.app.series import NothingDone
from oiradar.app.session import Session
from oiradar.app.study import StudyOptions, pooled_study
from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.features.oracle import random_bars
from oiradar.model import SeriesKey, Source, Timeframe
from oiradar.store import Catalog

TF = Timeframe.H1
N = 1_200  # 50 days of 1h bars: the 30-day windows fill
SIZES = (1, 2, 3, 100)
LISTED = ("AAA/USDT:USDT", "AAA/USD:AAA", "BBB/USDT:USDT", "CCC/USDT:USDT")  # not DDD (OI only)
PRICES = ("open", "high", "low", "close", "volume", "quote_volume")


def _drops(n: int) -> np.ndarray:
    """OI steps of -10 % on one leg: exchange and margin divergence fire against the others."""
    scale = np.ones(n)
    for at in (300, 700, 1_000):
        scale[at:] *= 0.9
    return scale


def write_home(home: Path) -> Path:
    """Three venues of AAA (one unwinding alone), a coin-margined AAA leg on ``sima``, two other
    bases, and an OI-only series that every command skips."""
    catalog = Catalog(home)

    def put(exchange: str, symbol: str, seed: int, oi_scale: np.ndarray | None = None,
            oi_only: bool = False) -> None:  # fmt: skip
        bars = random_bars(N, TF.ms, seed=seed).drop("complete")
        if oi_scale is not None:
            bars = bars.with_columns(pl.col("oi") * oi_scale, pl.col("oi_value") * oi_scale)
        if oi_only:  # as an OI history source stores it: no prices
            bars = bars.with_columns(pl.lit(None, pl.Float64).alias(c) for c in PRICES)
        catalog.write_bars(SeriesKey(exchange=exchange, symbol=symbol, timeframe=TF), bars,
                           Source.SIM)  # fmt: skip

    put("sima", "AAA/USDT:USDT", 1)
    put("simb", "AAA/USDT:USDT", 1, _drops(N))
    put("simc", "AAA/USDT:USDT", 1)
    put("sima", "AAA/USD:AAA", 1, _drops(N))
    put("sima", "BBB/USDT:USDT", 2)
    put("simb", "CCC/USDT:USDT", 3)
    put("simc", "DDD/USDT:USDT", 4, oi_only=True)
    return home


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Session:
    return Session(Settings(), write_home(tmp_path_factory.mktemp("batches") / "home"))


def _key(exchange: str, symbol: str) -> SeriesKey:
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=TF)


# ------------------------------------------------------------------------- planning
def test_plan_keeps_groups_together_and_the_limits():
    keys = [_key(e, s) for e, s in (("a", "X/USDT:USDT"), ("a", "Y/USDT:USDT"), ("b", "X/USDT:USDT"),
                                    ("b", "Z/USDT:USDT"), ("c", "X/USDT:USDT"))]  # fmt: skip

    def base(k: SeriesKey) -> str:
        return k.symbol.split("/")[0]

    plan = plan_batches(keys, 2, group_of=base)
    assert [[i for i, _ in b] for b in plan] == [[0, 2, 4], [1, 3]]  # X's 3 legs: a batch alone
    assert [[i for i, _ in b] for b in plan_batches(keys, 2)] == [[0, 1], [2, 3], [4]]
    rows = {0: 5, 1: 5, 2: 30, 3: 5, 4: 5}.__getitem__
    by_rows = plan_batches(keys, 10, 10, lambda k: rows(keys.index(k)))
    assert [[i for i, _ in b] for b in by_rows] == [[0, 1], [2], [3, 4]]  # 30 rows: alone
    assert plan_batches([], 3) == []


def test_options_are_checked_and_fall_back_to_the_settings():
    with pytest.raises(InputError, match="--batch-size must be 1 or more"):
        BatchOptions(series=0)
    with pytest.raises(InputError, match="did you mean 'ray'"):
        BatchOptions(executor="rey")
    s = Settings.model_validate({"performance": {"batch_series": 7, "executor": "ray"}})
    got = BatchOptions(series=3).resolved(s)
    assert (got.series, got.rows, got.executor) == (3, 4_000_000, "ray")
    assert BatchOptions().resolved(s).series == 7


# ------------------------------------------------------------------------- same results
def test_scan_is_the_same_for_every_batch_size(session):
    for opts in (ScanOptions(timeframe=TF),
                 ScanOptions(timeframe=TF, exchanges=("sima", "simb", "all"), symbols=LISTED,
                             signals=("exchange_divergence", "margin_divergence", "divergence"))):  # fmt: skip
        whole = scan_events(session, opts, BatchOptions(series=100))
        kinds = set(whole.events["signal"])
        assert {"exchange_divergence", "margin_divergence", "divergence"} <= kinds
        assert [s.series for s in whole.skipped] == (
            ["simc DDD/USDT:USDT"] if not opts.exchanges else [])
        for size in SIZES:
            part = scan_events(session, opts, BatchOptions(series=size))
            assert part.events.equals(whole.events), size
            assert (part.n_series, part.skipped, part.notes) == (
                whole.n_series, whole.skipped, whole.notes)  # fmt: skip


def test_features_are_the_same_for_every_batch_size(session):
    whole = every_series_features(session, None, None, TF, batch=BatchOptions(series=100))
    assert len(whole.results) == 6 and [s.series for s in whole.skipped] == ["simc DDD/USDT:USDT"]
    for size in SIZES:
        part = every_series_features(session, None, None, TF, batch=BatchOptions(series=size))
        assert [r.key for r in part.results] == [r.key for r in whole.results]
        assert all(a.frame.equals(b.frame) for a, b in zip(part.results, whole.results, strict=True))
        assert (part.skipped, part.notes) == (whole.skipped, whole.notes)


def _pooled(session: Session, batch: BatchOptions) -> str:
    opts = StudyOptions(timeframe=TF, reps=200)
    report = pooled_study(session, opts, batch=batch)
    assert len(report.series) > 0 and report.verdicts.height > 0
    return json.dumps(report.to_dict(), sort_keys=True, default=str)


def test_pooled_study_is_the_same_for_every_batch_size(session):
    whole = _pooled(session, BatchOptions(series=100))
    assert '"simc DDD/USDT:USDT"' in whole  # skipped and listed
    for size in SIZES:
        assert _pooled(session, BatchOptions(series=size)) == whole, size


def test_every_series_skipped_is_still_an_error(tmp_path):
    home = tmp_path / "home"
    catalog = Catalog(home)
    bars = random_bars(50, TF.ms, seed=1).drop("complete")
    bars = bars.with_columns(pl.lit(None, pl.Float64).alias(c) for c in PRICES)
    for exchange in ("sima", "simb"):
        catalog.write_bars(_key(exchange, "AAA/USDT:USDT"), bars, Source.SIM)
    s = Session(Settings(), home)
    with pytest.raises(NothingDone, match="scan: every selected series was skipped"):
        scan_events(s, ScanOptions(timeframe=TF), BatchOptions(series=1))
    stream = feature_batches(s, None, None, TF, batch=BatchOptions(series=1))
    with pytest.raises(NothingDone, match="features: every selected series was skipped"):
        list(stream)


# ------------------------------------------------------------------------- bounded memory
class LiveBars:
    """Wraps ``load_series`` (or ``function``) of a module: counts the frames it gave (``bars``,
    or the attribute ``frame``) that are not yet freed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object,
                 function: str = "load_series", frame: str = "bars") -> None:  # fmt: skip
        self.live = 0
        self.most = 0
        real: Callable = getattr(module, function)

        def counted(*args, **kwargs):
            out = real(*args, **kwargs)
            self.live += 1
            self.most = max(self.most, self.live)
            weakref.finalize(getattr(out, frame), self._freed)
            return out

        monkeypatch.setattr(module, function, counted)

    def _freed(self) -> None:
        self.live -= 1


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_batch_holds_at_most_its_size_of_series(session, monkeypatch, size):
    batch = BatchOptions(series=size)
    live = LiveBars(monkeypatch, app_study)
    pooled_study(session, StudyOptions(timeframe=TF, reps=100), batch=batch)
    assert live.most <= size and live.live == 0
    # scan: the legs of one base together; AAA has 3 on sima and simb (a batch alone when
    # size < 3), BBB and CCC one each
    live = LiveBars(monkeypatch, app_scan)
    scan_events(session, ScanOptions(timeframe=TF, exchanges=("sima", "simb")), batch)
    assert live.most == max(size, 3) and live.live == 0
    live = LiveBars(monkeypatch, app_scan)
    scan_events(session, ScanOptions(timeframe=TF, symbols=("BBB/USDT:USDT", "CCC/USDT:USDT",
                                                            "DDD/USDT:USDT")), batch)  # fmt: skip
    assert live.most <= size and live.live == 0
    live = LiveBars(monkeypatch, app_features, "series_features", "frame")  # the results
    seen = 0
    for results in feature_batches(session, None, None, TF, batch=batch):
        assert len(results) <= size
        seen += len(results)
        del results  # the caller drops a batch before asking for the next
    assert seen == 6 and live.most <= size and live.live == 0


def test_rows_per_batch_bound_the_batches(session, monkeypatch):
    """``batch_rows`` of 2.5 series: never more than 2 series of 1,200 bars at once."""
    live = LiveBars(monkeypatch, app_scan)
    whole = scan_events(session, ScanOptions(timeframe=TF), BatchOptions(series=100))
    part = scan_events(session, ScanOptions(timeframe=TF), BatchOptions(series=100, rows=3_000))
    assert part.events.equals(whole.events)
    assert live.most == 6  # the whole selection at once
    live = LiveBars(monkeypatch, app_scan)
    scan_events(session, ScanOptions(timeframe=TF, exchanges=("sima", "simb")),
                BatchOptions(series=100, rows=3_000))  # fmt: skip
    assert live.most <= 3  # AAA's legs on sima and simb together (3 series, 3,600 bars)


# ------------------------------------------------------------------------- ray
@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    yield
    ray.shutdown()


def test_ray_gives_what_local_gives(session, ray_runtime):
    ray_batch = BatchOptions(series=2, executor="ray", workers=2)
    assert _pooled(session, ray_batch) == _pooled(session, BatchOptions(series=100))
    opts = ScanOptions(timeframe=TF)
    got, want = scan_events(session, opts, ray_batch), scan_events(session, opts)
    assert got.events.equals(want.events) and got.skipped == want.skipped


# ------------------------------------------------------------------------- packed sums
@pytest.mark.parametrize("top,kind", [(200.0, np.uint8), (60_000.0, np.uint16), (3e9, np.uint32)])
def test_packed_sums_come_back_bit_for_bit_in_less_memory(top, kind):
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 25, (500, 6)).astype(np.float64)
    counts[7, 2] = top
    floats = rng.normal(size=(500, 3))
    odd = np.zeros((500, 3))
    odd[4, 0], odd[5, 1], odd[6, 2] = -0.0, np.nan, np.inf  # each keeps its column a float one
    a = np.column_stack([counts[:, :3], floats, counts[:, 3:], odd])
    packed = Packed.of(a)
    assert packed.whole.dtype == kind and list(packed.whole_cols) == [0, 1, 2, 6, 7, 8]
    assert np.array_equal(packed.unpack().view(np.uint64), a.view(np.uint64))
    assert packed.nbytes == 500 * (6 * np.dtype(kind).itemsize + 6 * 8)  # vs 500 * 12 * 8
    empty = Packed.of(a[:0])
    assert empty.unpack().shape == (0, 12)


def test_the_pooled_study_keeps_each_series_sums_packed_only(session, monkeypatch):
    kept = []
    real = app_study.pooled_batch

    def spy(*args):
        out = real(*args)
        kept.extend(t.value for t in out if t.value is not None)
        return out

    monkeypatch.setattr(app_study, "pooled_batch", spy)
    pooled_study(session, StudyOptions(timeframe=TF, reps=100), batch=BatchOptions(series=2))
    assert len(kept) == 6
    for d in kept:
        assert d.parts and d.parts.keys() == d.packed.keys()
        # no view of the float64 sums left behind: only the packed copy holds them
        assert all(p.sums.size == 0 and p.sums.base is None for p in d.parts.values())


def test_ray_sweeps_batches_of_series_as_local_does(session, ray_runtime, tmp_path):
    """``sweep --executor ray`` over several series: one Ray task per batch of series, each
    series swept by the same code on one core; the grid, the per-series results and BH over all
    of them equal the local sweep's."""
    from oiradar.app.backtest import SweepOptions, sweep

    grid = tmp_path / "grid.toml"
    grid.write_text("folds = 2\nholdout = 0.25\n[params]\ntake_profit_r = [0.0, 2.0]\n"
                    "time_stop = [10, 30]\n")  # fmt: skip
    opts = SweepOptions(grid, TF, exchange="sima", signal="divergence", executor="threads")
    local = sweep(session, opts)
    assert len(local.results) == 3  # sima's AAA (both margins) and BBB
    ray = sweep(session, SweepOptions(grid, TF, exchange="sima", signal="divergence",
                                      executor="ray", workers=2), batch_size=2)  # fmt: skip
    assert [k for k, _ in ray.results] == [k for k, _ in local.results]
    assert ray.table.equals(local.table)
    assert json.dumps(ray.to_dict()) == json.dumps(local.to_dict())  # NaN in both
