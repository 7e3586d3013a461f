"""The heatmap's memory: the long-format frame built by time, the no-OI baseline a chunk at a time,
and one heatmap alive at a time when several mixes are scored; every result as before (the
previous one-shot expressions are the oracles here)."""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from oiradar.liquidations import fit as fit_module
from oiradar.liquidations import mapview
from oiradar.liquidations.fit import PriceTarget, SearchSpace, walk_forward_on
from oiradar.liquidations.heatmap import (
    LABEL,
    MapSpec,
    build_heatmap,
    heatmap_frame,
    heatmap_frames,
    without_heat,
)
from oiradar.liquidations.levels import LevelRun, Turnover, level_inputs, parse_mix
from oiradar.liquidations.mapview import score_mixes
from oiradar.liquidations.score import extremes_baseline

from .helpers import random_bars

SPEC = MapSpec(exchange="binanceusdm", symbol="BTC/USDT:USDT", mix=parse_mix("default"), bins=50)
HOUR = 3_600_000


def one_shot_frame(run: LevelRun, last_rows: int | None, nonzero: bool) -> pl.DataFrame:
    """``heatmap_frame`` as it was: every column at full length, then the filter."""
    rows = np.arange(run.heat_long.shape[0])
    if last_rows is not None:
        rows = rows[-last_rows:]
    n_bins = run.grid.n
    ts = np.repeat(run.ts[run.row_bar[rows]], n_bins)
    b = np.tile(np.arange(n_bins), len(rows))
    frame = pl.DataFrame({
        "ts": ts, "price_lo": run.grid.edges[:-1][b], "price_hi": run.grid.edges[1:][b],
        "long_usd": run.heat_long[rows].ravel().astype(np.float64),
        "short_usd": run.heat_short[rows].ravel().astype(np.float64),
    })  # fmt: skip
    if nonzero:
        frame = frame.filter((pl.col("long_usd") > 0) | (pl.col("short_usd") > 0))
    return frame.with_columns(pl.lit(LABEL).alias("kind"))


@pytest.fixture(scope="module")
def run() -> LevelRun:
    return build_heatmap(random_bars(300, 3, nan_oi=False), SPEC, record_every=2)


@pytest.mark.parametrize("last_rows", [None, 0, 1, 7])
@pytest.mark.parametrize("nonzero", [True, False])
def test_the_frame_built_by_time_is_the_one_shot_frame(run, last_rows, nonzero):
    want = one_shot_frame(run, last_rows, nonzero)
    assert heatmap_frame(run, last_rows=last_rows, nonzero=nonzero).equals(want)
    parts = list(heatmap_frames(run, last_rows=last_rows, nonzero=nonzero, cells=3 * 50 + 1))
    assert len(parts) > 1 or last_rows == 1
    assert pl.concat(parts).equals(want)
    assert all(p.height <= 3 * 50 for p in parts)  # 3 rows of 50 bins at a time


def test_an_empty_heatmap_gives_an_empty_typed_frame(run):
    empty = without_heat(run)
    got = heatmap_frame(empty)
    assert got.height == 0 and got.schema == one_shot_frame(empty, None, True).schema


def test_the_baseline_built_by_chunks_is_the_one_shot_baseline(run, monkeypatch):
    close = np.linspace(90, 110, run.ts.size)
    c, ref = run.grid.centers[None, :], close[run.row_bar][:, None]
    monkeypatch.setattr("oiradar.liquidations.score._CHUNK_CELLS", 7 * 50)  # 7 rows at a time
    got = extremes_baseline(run, close)
    assert np.array_equal(got.heat_long, np.maximum(ref - c, 0.0).astype(np.float32))
    assert np.array_equal(got.heat_short, np.maximum(c - ref, 0.0).astype(np.float32))
    assert got.heat_long.dtype == np.float32 and got.grid == run.grid


class LiveHeat:
    """Wraps a module's heatmap builder: the most heatmaps alive when one is built."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        self.live = 0
        self.most = 0
        real: Callable[..., LevelRun] = getattr(module, name)

        def counted(*args, **kwargs) -> LevelRun:
            out = real(*args, **kwargs)
            if out.heat_long.size:
                self.live += 1
                self.most = max(self.most, self.live)
                weakref.finalize(out.heat_long, self._freed)
            return out

        monkeypatch.setattr(module, name, counted)

    def _freed(self) -> None:
        self.live -= 1


def _liquidations(bars: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    at = rng.integers(1, bars.height, n)
    return pl.DataFrame({
        "ts": np.sort(bars["ts"].to_numpy()[at] + 60_000), "side": rng.choice(["long", "short"], n),
        "price": bars["close"].to_numpy()[at], "quote_qty": rng.uniform(1e3, 1e5, n),
    })  # fmt: skip


def test_scoring_the_mixes_holds_one_heatmap_at_a_time(monkeypatch):
    bars = random_bars(400, 5, nan_oi=False)
    liqs = _liquidations(bars, 60, 1)
    want = score_mixes(bars, liqs, SPEC, HOUR, n_boot=50)
    live = LiveHeat(monkeypatch, mapview, "build_heatmap")
    got = score_mixes(bars, liqs, SPEC, HOUR, n_boot=50)
    assert got.equals(want) and set(got["mix"]) >= {"default", "baseline"}
    assert live.most == 1


def test_the_walk_forward_by_price_holds_one_heatmap_at_a_time(monkeypatch):
    bars = random_bars(600, 8, nan_oi=False)
    inp = level_inputs(bars)
    target = PriceTarget.of(_liquidations(bars, 200, 2), inp.ts, HOUR)
    space = SearchSpace([parse_mix("default"), parse_mix("clustered10x")], [Turnover()])
    want = walk_forward_on(target, inp, SPEC, HOUR, folds=2, space=space, n_boot=50)
    live = LiveHeat(monkeypatch, fit_module, "run_levels")
    got = walk_forward_on(target, inp, SPEC, HOUR, folds=2, space=space, n_boot=50)
    assert got.folds.equals(want.folds)
    assert live.most == 1
