"""Close-only bars (a mark price, a close-only price file) and bars that lack a column.

- Resampling close-only sub-bars equals a plain Python loop taking first/max/min/last of the
  closes (a hand-made fixture and a hypothesis property, mixed with full OHLC sub-bars and gaps),
  and flags those bars ``ohlc_from_close``; a stored view is never filled.
- The declared availability (which features and signals a column set allows) agrees with what
  the kernels compute: a feature said to be lost is empty on every bar, the others are not, and
  a signal said to be lost is never in its state.
- ``study`` on close-only bars says once what cannot be computed and still studies ``divergence``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.app.availability import input_notes, unavailable
from oiradar.app.series import load_series
from oiradar.app.session import Session
from oiradar.app.sim import SimOptions, simulate_market
from oiradar.app.study import StudyOptions, run_studies
from oiradar.config import Settings, SignalSettings
from oiradar.features import compute_features, feature_columns
from oiradar.features.availability import unavailable_features
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import signal_states
from oiradar.signals.availability import SIGNAL_NEEDS, unavailable_signals
from oiradar.signals.frame import SIGNALS
from oiradar.store import resample_bars

H4 = 4 * HOUR_MS
START = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MARK = SeriesKey(exchange="mark", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)


# ------------------------------------------------------------------------------ the oracle
def loop_resample(rows: list[dict], per_bar: int = 4) -> list[dict]:
    """4h bars from 1h rows by hand: a close-only sub-bar is one price (its close); OHLC
    first/max/min/last over the sub-bars' prices, flagged when any sub-bar was close-only."""
    buckets: dict[int, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["ts"]):
        buckets.setdefault(r["ts"] - r["ts"] % H4, []).append(r)
    out = []
    for ts, subs in buckets.items():
        o = h = lo = c = None
        flag = False
        for r in subs:
            if r.get("close") is None:
                continue
            if r.get("open") is None:
                flag = True
                ro = rh = rl = r["close"]
            else:
                ro, rh, rl = r["open"], r["high"], r["low"]
            o = ro if o is None else o
            h = rh if h is None else max(h, rh)
            lo = rl if lo is None else min(lo, rl)
            c = r["close"]
        out.append({"ts": ts, "open": o, "high": h, "low": lo, "close": c,
                    "ohlc_from_close": flag, "complete": len(subs) == per_bar})  # fmt: skip
    return out


def ours(rows: list[dict]) -> list[dict]:
    frame = pl.DataFrame(rows, schema={"ts": pl.Int64, "open": pl.Float64, "high": pl.Float64,
                                       "low": pl.Float64, "close": pl.Float64})  # fmt: skip
    out = resample_bars(frame, Timeframe.H1, Timeframe.H4)
    return out.select("ts", "open", "high", "low", "close", "ohlc_from_close", "complete").to_dicts()


def close_only(ts: list[int], closes: list[float | None]) -> list[dict]:
    return [{"ts": t, "open": None, "high": None, "low": None, "close": c}
            for t, c in zip(ts, closes, strict=True)]  # fmt: skip


def test_hand_made_close_only_bars() -> None:
    # bucket 0: four hourly marks; bucket 1: 3 of 4 hours (hour 6 missing); bucket 2: marks
    # and one full candle (hour 9)
    ts = [START + i * HOUR_MS for i in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11)]
    rows = close_only(ts, [10.0, 12.0, 9.0, 11.0, 11.5, 11.0, 13.0, 13.2, 13.6, 12.8, 12.9])
    rows[8] = {"ts": ts[8], "open": 13.2, "high": 14.0, "low": 12.5, "close": 13.6}
    got = ours(rows)
    assert got == loop_resample(rows)
    assert got[0] == {"ts": START, "open": 10.0, "high": 12.0, "low": 9.0, "close": 11.0,
                      "ohlc_from_close": True, "complete": True}  # fmt: skip
    assert got[1]["complete"] is False and got[1]["high"] == 13.0 and got[1]["close"] == 13.0
    assert got[2] == {"ts": START + 2 * H4, "open": 13.2, "high": 14.0, "low": 12.5,
                      "close": 12.9, "ohlc_from_close": True, "complete": True}  # fmt: skip


def test_full_candles_are_not_flagged_and_stored_views_not_filled(catalog) -> None:
    full = [{"ts": START + i * HOUR_MS, "open": 10.0 + i, "high": 11.0 + i, "low": 9.0 + i,
             "close": 10.5 + i} for i in range(8)]  # fmt: skip
    assert [b["ohlc_from_close"] for b in ours(full)] == [False, False]
    catalog.write_bars(MARK, pl.DataFrame(close_only([START + i * HOUR_MS for i in range(8)],
                                                     [float(10 + i) for i in range(8)])))  # fmt: skip
    stored = catalog.read_bars(MARK)
    assert stored["open"].null_count() == 8 and not stored["ohlc_from_close"].any()
    built = catalog.read_bars(MARK.with_timeframe(Timeframe.H4))
    assert built["open"].to_list() == [10.0, 14.0] and built["high"].to_list() == [13.0, 17.0]
    assert built["ohlc_from_close"].all()


_price = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
_kind = st.sampled_from(["close", "close", "ohlc", "none", "absent"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_kind, _price, _price, _price), min_size=1, max_size=40))
def test_property_close_only_resample_equals_the_loop(cells: list[tuple]) -> None:
    """Random hours: a close only, a full candle, no price (an OI-only bar) or no bar at all."""
    rows = []
    for i, (kind, a, b, c) in enumerate(cells):
        ts = START + i * HOUR_MS
        lo, hi = min(a, b, c), max(a, b, c)
        if kind == "close":
            rows.append({"ts": ts, "open": None, "high": None, "low": None, "close": a})
        elif kind == "ohlc":
            rows.append({"ts": ts, "open": b, "high": hi, "low": lo, "close": a})
        elif kind == "none":
            rows.append({"ts": ts, "open": None, "high": None, "low": None, "close": None})
    if not rows:
        return
    assert ours(rows) == loop_resample(rows)


# ------------------------------------------------------------------------------ availability
def test_every_signal_declares_its_needs() -> None:
    assert set(SIGNAL_NEEDS) == set(SIGNALS)


def test_no_volume_loses_the_volume_features_and_watch_trigger() -> None:
    present = {"ts", "open", "high", "low", "close", "oi", "oi_value", "funding_rate"}
    assert unavailable_features(present) == {
        "oi_vol_ratio": ("volume",), "oi_vol_ratio_ma_30d": ("volume",), "vol_ma_20d": ("volume",)}  # fmt: skip
    assert unavailable_signals(present) == {"watch": ("volume",), "trigger": ("volume",)}
    # close only: the price features go too, and divergence; entry (and mtf_entry) need a
    # rejection candle, liq_fade the high and low the level model reads
    lost = unavailable_signals({"ts", "close", "oi"})
    assert set(lost) == {"watch", "trigger", "divergence", "entry", "mtf_entry", "liq_fade"}
    assert lost["liq_fade"] == ("high", "low")
    assert unavailable_signals({"ts", "close", "oi_value"}).keys() >= {"oi_extreme"}
    # a quote volume alone is enough for the turnover ratio (no fallback needed)
    assert "oi_vol_ratio" not in unavailable_features({"ts", "close", "oi", "quote_volume"})


@pytest.fixture(scope="module")
def sim_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 days of a simulated KSM-like market at 1h, with every column."""
    home = tmp_path_factory.mktemp("close-only")
    simulate_market(Session(Settings(), home),
                    SimOptions("ksm", 90, 7, "sim", None, Timeframe.H1, START))  # fmt: skip
    return home


def sim_bars(home: Path) -> pl.DataFrame:
    key = SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=Timeframe.H4)
    return Session(Settings(), home).catalog.read_bars(key)


_STATE_OF = {"oi_extreme": ("oi_extreme_high", "oi_extreme_low"), "watch": ("watch",),
             "trigger": ("trigger", "trigger_long"), "divergence": ("divergence", "divergence_long"),
             "entry": ("entry", "entry_long")}  # fmt: skip


@pytest.mark.parametrize(
    "dropped",
    [(), ("quote_volume",), ("volume", "quote_volume"), ("open", "high", "low"),
     ("open", "high", "low", "volume", "quote_volume"), ("oi", "oi_value"),
     ("open", "high", "low", "close", "volume", "quote_volume", "oi_value")],
)  # fmt: skip
def test_declared_availability_matches_the_kernels(sim_home: Path, dropped: tuple[str, ...]) -> None:
    bars = sim_bars(sim_home).with_columns(pl.lit(None, pl.Float64).alias(c) for c in dropped)
    lost = unavailable(bars)
    s = Settings(signals=SignalSettings(long_side=True))
    feats = compute_features(bars, Timeframe.H4, s)
    for name in feature_columns():
        empty = feats[name].null_count() == feats.height
        assert empty == (name in lost.features), (name, dropped)
    states = signal_states(feats, Timeframe.H4, s)
    for signal in lost.signals:
        for state in _STATE_OF.get(signal, ()):
            assert not states[state].any(), (signal, dropped)
    assert bool(input_notes(bars)) == bool(lost.features or lost.signals)


def test_study_on_close_only_bars_says_what_is_missing(sim_home: Path, tmp_path: Path) -> None:
    sim = SeriesKey(exchange="sim", symbol=MARK.symbol, timeframe=Timeframe.H1)
    full = Session(Settings(), sim_home).catalog.read_stored(sim)
    s = Session(Settings(), tmp_path / "home")
    s.catalog.write_bars(MARK, full.select("ts", "close", "oi", "oi_value"))  # a mark-price file
    loaded = load_series(s.catalog, MARK.with_timeframe(Timeframe.H4))
    assert loaded.bars["ohlc_from_close"].all() and loaded.bars["high"].null_count() == 0
    report = run_studies(s, StudyOptions(timeframe=Timeframe.H4))
    said = [n for n in report.notes if n.startswith("no volume in the bars")]
    assert len(said) == 1, report.notes
    assert "vol_ma_20d" in said[0] and "watch, trigger cannot fire" in said[0]
    assert "divergence" not in said[0]
    assert any("first/max/min/last of the 1h closes" in n for n in report.notes)
    rows = {r["signal"]: r for r in report.studies}
    assert rows["divergence"]["events"] > 0 and rows["trigger"]["events"] == 0
    assert rows["divergence"]["wins"] + rows["divergence"]["losses"] > 0  # outcomes measured
