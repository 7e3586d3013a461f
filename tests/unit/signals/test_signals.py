"""Hand-built cases: each signal fires exactly at a known bar, and a near miss does not fire."""

from __future__ import annotations

import polars as pl
import pytest

from oiradar.config import Settings
from oiradar.features import FEATURE_COLUMNS
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import EVENT_SCHEMA, detect_signals, signal_states

KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.H4)
T0 = 1_700_006_400_000 - 1_700_006_400_000 % (4 * HOUR_MS)
LONG = Settings.model_validate({"signals": {"long_side": True}})


def neutral(m: int = 20) -> pl.DataFrame:
    """A features frame on which nothing fires."""
    base = {
        "ts": [T0 + i * 4 * HOUR_MS for i in range(m)], "complete": True,
        "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 100.0,
        "oi": 1000.0, "oi_ma_30d": 1000.0, "oi_sd_30d": 10.0, "oi_z_30d": 0.0, "oi_chg_7d": 0.0,
        "oi_vol_ratio": 1.0, "oi_vol_ratio_ma_30d": 1.0, "oi_peak": 1000.0, "oi_dd": 0.0,
        "oi_down_streak": 0, "oi_up_streak": 0, "vol_ma_20d": 100.0, "price_high": 101.0,
        "new_high": False, "near_high": False, "atr_14": 1.0, "rejection": False,
        "price_low": 99.0, "new_low": False, "near_low": False, "rejection_bull": False,
    }  # fmt: skip
    frame = pl.DataFrame({"ts": base.pop("ts")}).with_columns(
        **{k: pl.lit(v) for k, v in base.items()}
    )
    assert set(FEATURE_COLUMNS) <= set(frame.columns)
    return frame


def put(frame: pl.DataFrame, **cols: dict[int, object]) -> pl.DataFrame:
    """Set ``frame[col][bar] = value`` for each ``col={bar: value}``."""
    idx = pl.int_range(pl.len())
    for col, values in cols.items():
        expr = pl.col(col)
        for bar, value in values.items():
            expr = pl.when(idx == bar).then(pl.lit(value, dtype=frame[col].dtype)).otherwise(expr)
        frame = frame.with_columns(expr.alias(col))
    return frame


def fired(frame: pl.DataFrame, signal: str, side: str = "short", settings=None) -> list[int]:
    ev = detect_signals(frame, KEY, settings)
    assert ev.schema == pl.Schema(EVENT_SCHEMA)
    hits = ev.filter((pl.col("signal") == signal) & (pl.col("side") == side))
    return [(ts - T0) // (4 * HOUR_MS) for ts in hits["ts"]]


def test_nothing_fires_on_the_neutral_frame() -> None:
    assert detect_signals(neutral(), KEY, LONG).is_empty()


def test_oi_extreme_fires_on_the_rising_edge_only() -> None:
    f = put(neutral(), oi_z_30d={2: 1.99, 3: 2.0, 4: 2.5, 5: 2.1, 9: -2.0, 10: -3.0})
    assert fired(f, "oi_extreme") == [3]
    assert fired(f, "oi_extreme", "long") == [9]
    ev = detect_signals(f, KEY).filter(pl.col("ts") == T0 + 3 * 4 * HOUR_MS)
    assert ev["oi_z_30d"].to_list() == [2.0] and "oi_z_30d 2.0" in ev["why"][0]


def test_oi_extreme_near_miss_and_incomplete_bar() -> None:
    assert fired(put(neutral(), oi_z_30d={3: 1.999, 4: -1.999}), "oi_extreme") == []
    f = put(neutral(), oi_z_30d={3: 2.5, 4: 2.5}, complete={3: False})
    assert fired(f, "oi_extreme") == [
        4
    ]  # the incomplete bar never fires; the next complete one does


def _watch(frame: pl.DataFrame, bars: range, chg: float = 0.2) -> pl.DataFrame:
    return put(
        frame,
        oi={b: 1100.0 for b in bars},
        oi_chg_7d={b: chg for b in bars},
        oi_vol_ratio={b: 1.2 for b in bars},
    )


def test_watch_fires_when_all_three_conditions_hold() -> None:
    assert fired(_watch(neutral(), range(5, 8)), "watch") == [5]
    assert fired(_watch(neutral(), range(5, 8), chg=0.15), "watch") == [5]  # >= is inclusive
    assert fired(_watch(neutral(), range(5, 8), chg=0.1499), "watch") == []
    f = put(_watch(neutral(), range(5, 8)), oi_vol_ratio={5: 1.0, 6: 1.0})  # ratio not above its ma
    assert fired(f, "watch") == [7]


def _trigger(watch_bar: int, volume: float = 90.0, streak: int = 2) -> pl.DataFrame:
    f = _watch(neutral(), range(watch_bar, watch_bar + 1))
    return put(f, new_high={6: True}, oi_down_streak={7: streak}, volume={7: volume})


def test_trigger_fires_at_the_known_bar() -> None:
    assert fired(_trigger(watch_bar=2), "trigger") == [7]  # watch 5 bars back: inside the 6
    ev = detect_signals(_trigger(2), KEY).filter(pl.col("signal") == "trigger")
    assert ev["oi_down_streak"].to_list() == [2.0] and ev["volume"].to_list() == [90.0]


@pytest.mark.parametrize(
    "case", [dict(watch_bar=1), dict(watch_bar=2, volume=100.0), dict(watch_bar=2, streak=1)]
)
def test_trigger_near_misses(case) -> None:
    # watch 6 bars back; volume not below its average; OI down only one bar
    assert fired(_trigger(**case), "trigger") == []


def test_trigger_needs_the_new_high_within_three_bars() -> None:
    f = put(_trigger(watch_bar=2), new_high={6: False, 4: True})  # 3 bars back from 7: too old
    assert fired(f, "trigger") == []
    assert fired(put(_trigger(2), new_high={6: False, 5: True}), "trigger") == [7]


def _divergence(dd: float, bar: int = 4) -> pl.DataFrame:
    return put(neutral(), oi_dd={bar: dd, bar + 1: dd}, near_high={bar: True, bar + 1: True})


def test_divergence_fires_and_near_miss() -> None:
    assert fired(_divergence(0.15), "divergence") == [4]
    assert fired(_divergence(0.149), "divergence") == []
    assert fired(put(_divergence(0.2), near_high={4: False}), "divergence") == [5]


@pytest.mark.parametrize(("rej_bar", "expected"), [(7, [7]), (10, [10]), (11, []), (4, [])])
def test_entry_is_the_first_rejection_within_six_bars_after_a_setup(rej_bar, expected) -> None:
    f = put(_divergence(0.2), rejection={rej_bar: True})
    assert fired(f, "entry") == expected


def test_entry_carries_its_setup_and_fires_once() -> None:
    f = put(_divergence(0.2), rejection={6: True, 7: True})
    ev = detect_signals(f, KEY).filter(pl.col("signal") == "entry")
    assert ev.height == 1
    row = ev.row(0, named=True)
    assert (row["setup"], row["setup_ts"]) == ("divergence", T0 + 4 * 4 * HOUR_MS)
    assert "after divergence" in ev["why"][0]


def test_long_side_is_opt_in_and_mirrors() -> None:
    f = put(
        neutral(),
        oi_dd={4: 0.2},
        near_low={4: True},
        rejection_bull={6: True},
        near_high={4: False},
    )
    assert fired(f, "divergence", "long") == []
    assert fired(f, "divergence", "long", LONG) == [4]
    assert fired(f, "entry", "long", LONG) == [6]
    g = _watch(neutral(), range(2, 3))
    g = put(g, new_low={6: True}, oi_down_streak={7: 2}, volume={7: 90.0})
    assert fired(g, "trigger", "long", LONG) == [7] and fired(g, "trigger") == []


def test_signal_states_and_phase_columns() -> None:
    st = signal_states(put(_divergence(0.2), complete={9: False}), Timeframe.H4)
    assert st["divergence"].to_list()[3:6] == [False, True, True]
    assert st["phase"][9] is None and st["phase"][0] == "neutral"


def test_per_symbol_thresholds_apply() -> None:
    s = Settings.model_validate(
        {"symbols": {"KSM/USDT:USDT": {"signals": {"divergence_dd": 0.25}}}}
    )
    assert fired(_divergence(0.2), "divergence", settings=s.for_symbol(KEY.symbol)) == []
    assert fired(_divergence(0.2), "divergence", settings=s.for_symbol("BTC/USDT:USDT")) == [4]


def test_entry_names_a_trigger_setup_and_both() -> None:
    f = put(_trigger(watch_bar=2), rejection={9: True})
    ev = detect_signals(f, KEY).filter(pl.col("signal") == "entry")
    assert ev.select("setup", "setup_ts").rows() == [("trigger", T0 + 7 * 4 * HOUR_MS)]
    g = put(_trigger(watch_bar=2), oi_dd={7: 0.2}, near_high={7: True}, rejection={8: True})
    ev = detect_signals(g, KEY).filter(pl.col("signal") == "entry")
    assert ev["setup"].to_list() == ["trigger+divergence"]
    none = detect_signals(g, KEY).filter(pl.col("signal") != "entry")
    assert (
        none["setup"].null_count() == none.height and none["setup_ts"].null_count() == none.height
    )
