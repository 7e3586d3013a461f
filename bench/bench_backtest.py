"""Backtest benchmark: oiradar's trade engine beside vectorbt and backtesting.py (issue 5).

One symbol, one year of 5-minute bars (105,120), a seeded random walk without gaps (each bar opens
at the previous close, so the three tools cannot disagree about gap fills), funding every 8 hours.

The **simplified strategy**, the same in all three: short when the close breaks below the lowest low
of the previous ``W`` bars; enter at the next bar's open; structural stop ``max(high of the last 20
bars up to the signal) + 0.5 x ATR``; take-profit at ``tp_r`` x the initial risk; no thesis exit, no
time stop, no slippage, 0.05 % fee per side, one position at a time. vectorbt gets the stop and target
as per-bar fractions of the fill price (``stop_entry_price="fillprice"``), backtesting.py as absolute
``sl``/``tp`` prices. oiradar also settles **funding** (vectorbt and backtesting.py have no funding
model); funding moves cash, not the trade list, so the trade lists must still be equal, and the bench
checks that they are (entry bar, exit bar, entry and exit price) before printing any ratio.

Figures: single backtest (bars/s), and a 1000-combination sweep (40 entry windows x 25 take-profit
multiples; combination-bars/s) with oiradar's batch kernel (numba threads; and worker processes) vs
one vectorbt ``from_signals`` call on 1000 columns. backtesting.py runs the single backtest only
(a 1000-run sweep of it would take hours).

Run: ``.venv/bin/python bench/run.py backtest`` (``BENCH_BT_BARS`` to change the size).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from oiradar.backtest.params import TradeParams
from oiradar.backtest.run import BacktestInputs, run_backtest
from oiradar.backtest.sweep import evaluate, param_row

N_BARS = int(os.environ.get("BENCH_BT_BARS", 365 * 288))
LOOKBACK, STOP_ATR, FEE = 20, 0.5, 0.0005
WINDOWS = tuple(range(10, 410, 10))  # 40 entry variants
TP_RS = tuple(np.round(np.linspace(0.5, 6.5, 25), 3))  # 25 take-profit multiples
SINGLE_W, SINGLE_TP = 50, 2.0


def make_market(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Random-walk 5m bars, Wilder ATR(14), funding every 96 bars (8 h)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0015, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0008, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0008, n)))
    prev = np.r_[close[0], close[:-1]]
    tr = np.maximum.reduce([high - low, np.abs(high - prev), np.abs(low - prev)])
    atr = pd.Series(tr).ewm(alpha=1 / 14, adjust=False).mean().to_numpy()
    funding = np.zeros(n)
    funding[::96] = rng.normal(0.0001, 0.0003, funding[::96].size)
    return {"open": open_, "high": high, "low": low, "close": close, "atr": atr, "funding": funding}


def entries_for(m: dict[str, np.ndarray], window: int) -> np.ndarray:
    """Signal at the close of bar i: close < min(low[i-window .. i-1])."""
    prior_low = pd.Series(m["low"]).rolling(window).min().shift(1).to_numpy()
    with np.errstate(invalid="ignore"):
        return m["close"] < prior_low


def stop_at_signal(m: dict[str, np.ndarray]) -> np.ndarray:
    return (
        pd.Series(m["high"]).rolling(LOOKBACK, min_periods=1).max().to_numpy() + STOP_ATR * m["atr"]
    )


def params(tp_r: float, entry_bar_stops: bool = False) -> TradeParams:
    """The simplified strategy. vectorbt checks stops from the bar after the entry, so its
    comparison runs with ``entry_bar_stops=False``; backtesting.py (like oiradar's default) checks
    them in the entry bar too."""
    return TradeParams(fee=FEE, slippage=0.0, stop_lookback=LOOKBACK, stop_atr=STOP_ATR,
                       take_profit_r=tp_r, time_stop=0, thesis_streak=0, scale_by_oi=False,
                       entry_bar_stops=entry_bar_stops)  # fmt: skip


def inputs(m: dict[str, np.ndarray], entry: np.ndarray) -> BacktestInputs:
    n = entry.size
    return BacktestInputs(open=m["open"], high=m["high"], low=m["low"], close=m["close"], atr=m["atr"],
                          entry=entry, streak=np.zeros(n), oi_z=np.zeros(n), funding=m["funding"],
                          bar_ms=300_000)  # fmt: skip


def oiradar_trades(m, entry, tp_r, entry_bar_stops: bool = False) -> np.ndarray:
    t = run_backtest(inputs(m, entry), params(tp_r, entry_bar_stops)).trades
    closed = t.filter(t["reason"] != "end")
    return closed.select("entry_bar", "exit_bar", "entry_price", "exit_price").to_numpy()


def _vbt_arrays(m, entry, tp_rs):
    """Entries shifted to the fill bar; stop/target as fractions of the fill (= previous close)."""
    n = entry.size
    sl = np.full(n, np.nan)
    sl[1:] = (stop_at_signal(m)[:-1] - m["open"][1:]) / m["open"][1:]
    ent = np.zeros(n, dtype=bool)
    ent[1:] = entry[:-1]
    ent &= sl > 0
    return ent, sl, [tp * sl for tp in tp_rs]


def vbt_portfolio(m, ent2d: np.ndarray, sl: np.ndarray, tp2d: np.ndarray):
    import vectorbt as vbt

    c = {k: m[k][:, None] for k in ("open", "high", "low", "close")}  # 2-D: columns broadcast
    return vbt.Portfolio.from_signals(
        c["close"], short_entries=ent2d, short_exits=np.zeros_like(ent2d), price=c["open"],
        open=c["open"], high=c["high"], low=c["low"], sl_stop=sl[:, None], tp_stop=tp2d, fees=FEE,
        size=1.0, init_cash=1e12, stop_entry_price="fillprice", stop_exit_price="stoplimit",
    )  # fmt: skip


def vbt_trades(pf, col: int = 0) -> np.ndarray:
    r = pf.trades.records_arr
    r = r[(r["col"] == col) & (r["status"] == 1)]  # closed trades
    return np.column_stack([r["entry_idx"], r["exit_idx"], r["entry_price"], r["exit_price"]])


def btpy_trades(m, entry, tp_r) -> tuple[np.ndarray, float]:
    """backtesting.py: sell at the next open with absolute sl/tp (fill = this close: no gaps)."""
    from backtesting import Backtest, Strategy

    stop = stop_at_signal(m)
    target = m["close"] - tp_r * (stop - m["close"])

    class Short(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if entry[i] and not self.position and not self.orders and i + 1 < len(entry):
                self.sell(size=1, sl=stop[i], tp=target[i])

    idx = pd.date_range("2025-01-01", periods=entry.size, freq="5min")
    df = pd.DataFrame({"Open": m["open"], "High": m["high"], "Low": m["low"], "Close": m["close"],
                       "Volume": 1.0}, index=idx)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        stats = Backtest(df, Short, cash=1e12, commission=FEE).run()  # TQDM_DISABLE=1 set in main
        secs = time.perf_counter() - t0
    tr = stats["_trades"]
    out = np.column_stack([tr["EntryBar"], tr["ExitBar"], tr["EntryPrice"], tr["ExitPrice"]])
    return out, secs


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(
        (a[:, :2] == b[:, :2]).all() and np.allclose(a[:, 2:], b[:, 2:], rtol=1e-9, atol=0)
    )


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_single(m: dict[str, np.ndarray]) -> dict[str, float]:
    n = m["close"].size
    entry = entries_for(m, SINGLE_W)
    ours = oiradar_trades(m, entry, SINGLE_TP)
    ent, sl, (tp,) = _vbt_arrays(m, entry, [SINGLE_TP])
    pf = vbt_portfolio(m, ent[:, None], sl, tp[:, None])
    bt, bt_secs = btpy_trades(m, entry, SINGLE_TP)
    ours_bt = oiradar_trades(m, entry, SINGLE_TP, entry_bar_stops=True)
    print(f"single: {len(ours)} closed trades, equal to vectorbt's: {same(ours, vbt_trades(pf))}; "
          f"{len(ours_bt)} with entry-bar stops, equal to backtesting.py's: {same(ours_bt, bt)}")  # fmt: skip
    x = inputs(m, entry)
    t_ours = best_of(lambda: run_backtest(x, params(SINGLE_TP)), 7)
    t_vbt = best_of(lambda: vbt_portfolio(m, ent[:, None], sl, tp[:, None]).trades.records_arr, 5)
    rows = {"oiradar": t_ours, "vectorbt": t_vbt, "backtesting.py": bt_secs}
    for name, t in rows.items():
        print(f"  {name:15s} {t * 1e3:10.2f} ms  {n / t / 1e6:10.2f} M bars/s  "
              f"oiradar is {t / t_ours:8.1f}x faster")  # fmt: skip
    return rows


def bench_sweep(m: dict[str, np.ndarray]) -> dict[str, float]:
    n = m["close"].size
    entries = np.stack([entries_for(m, w) for w in WINDOWS])
    combos = [(e, tp) for e in range(len(WINDOWS)) for tp in TP_RS]
    prm = np.stack([param_row(params(tp)) for _, tp in combos])
    eidx = np.array([e for e, _ in combos], dtype=np.int64)
    win = np.array([[0, n]], dtype=np.int64)
    x = inputs(m, entries[0])
    summ = evaluate(x, entries, eidx, prm, win, "threads")
    # time oiradar before vectorbt's 1 GB of inputs and outputs exist in this process
    t_thr = best_of(lambda: evaluate(x, entries, eidx, prm, win, "threads"), 5)
    t_proc = best_of(lambda: evaluate(x, entries, eidx, prm, win, "local", workers=2), 2)
    # vectorbt: one call on 1000 columns
    cols_ent, cols_tp = [], []
    vb_sl = None
    for w in range(len(WINDOWS)):
        ent, sl, tps = _vbt_arrays(m, entries[w], TP_RS)
        vb_sl = sl
        cols_ent += [ent] * len(TP_RS)
        cols_tp += tps
    ent2d, tp2d = np.column_stack(cols_ent), np.column_stack(cols_tp)
    pf = vbt_portfolio(m, ent2d, vb_sl, tp2d)
    r = pf.trades.records_arr
    vb_counts = np.bincount(r["col"][r["status"] == 1], minlength=len(combos))
    # our counts include a final 'end' exit; vectorbt leaves that trade open
    ours_counts = summ[:, 0, 1].astype(int) - (
        np.array([_ends(x, entries[e], tp) for e, tp in combos])
    )
    sample = [0, 137, 999]
    full = all(
        same(oiradar_trades(m, entries[combos[c][0]], combos[c][1]), vbt_trades(pf, c))
        for c in sample
    )
    print(f"sweep: {len(combos)} combinations x {n} bars; trade counts equal to vectorbt in "
          f"{int((ours_counts == vb_counts).sum())}/{len(combos)} columns; full trade lists equal in "
          f"sampled columns {sample}: {full}")  # fmt: skip
    t_vbt = best_of(lambda: vbt_portfolio(m, ent2d, vb_sl, tp2d).trades.records_arr, 2)
    cb = len(combos) * n
    rows = {"oiradar threads": t_thr, "oiradar processes": t_proc, "vectorbt": t_vbt}
    for name, t in rows.items():
        print(f"  {name:18s} {t:8.2f} s  {cb / t / 1e6:10.1f} M combination-bars/s  "
              f"vs vectorbt {t_vbt / t:6.1f}x")  # fmt: skip
    return rows


def _ends(x: BacktestInputs, entry: np.ndarray, tp: float) -> int:
    """1 when the last trade is still open at the end (oiradar closes it with reason 'end')."""
    t = run_backtest(BacktestInputs(**{**x.__dict__, "entry": entry}), params(tp)).trades
    return int(t.height > 0 and t["reason"][-1] == "end")


def main() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar
    import numba

    m = make_market(N_BARS)
    print(f"backtest bench: {N_BARS} 5m bars, numba threads {numba.get_num_threads()}, "
          f"cpus {os.cpu_count()}")  # fmt: skip
    warm = make_market(3000, seed=9)  # compile every contender first
    bench_single(warm)
    print("--- measured ---")
    bench_single(m)
    bench_sweep(m)


if __name__ == "__main__":
    main()
