"""Per-kernel timings on one series (the figures of bench/README.md's "what changed" table).

One seeded year of 5-minute bars (105,120), SPEC default windows, every signal incl. the long
side; each kernel is called 20-50 times in a row on one thread (columns in the CPU cache) and the
best of 7 repeats is printed in ms. Run: ``.venv/bin/python bench/profile_kernels.py``.

``--footprint`` instead times the parallel kernel pass on the same number of rows cut two ways:
100 series x 105,120 bars (25 MB of columns per series) and 2,000 series x 5,256 bars (1.3 MB, it
fits the L2 cache): the evidence for cache blocking in bench/README.md. The short series do
somewhat less work (their 30-day windows never fill), so the ratio is an upper bound.
``--scaling`` times a plain multiply-add loop on one and on two threads (no memory traffic):
equal times mean the two cores themselves are free.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import numpy as np
from numba import njit

from oiradar.config import Settings
from oiradar.features import FEATURE_ROW as F
from oiradar.features import INPUT_ROW as X
from oiradar.features import (
    N_FUSED,
    feature_inputs,
    feature_params,
    oracle,
    recycled,
    series_features,
)
from oiradar.features import kernels as k
from oiradar.features.scratch import release
from oiradar.features.spec import PARAM as P
from oiradar.model import Timeframe
from oiradar.signals.frame import signal_params
from oiradar.signals.kernels import many_analyse, serial_analyse, serial_states

TF = Timeframe.M5
SETTINGS = Settings.model_validate({"signals": {"long_side": True}})


def best_ms(f: Callable[[], object], reps: int = 30, rounds: int = 7) -> float:
    f()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1e3


def main() -> dict[str, float]:
    grids, x, off = feature_inputs(
        [oracle.random_bars(365 * 288, TF.ms, seed=1, null_quote=0.0)], TF
    )
    n = int(off[1])
    o, h, lo, c, v, qv, oi = (x[X.open], x[X.high], x[X.low], x[X.close], x[X.volume],
                              x[X.quote_volume], x[X.oi])  # fmt: skip
    p = feature_params(TF, SETTINGS)
    sp = signal_params(TF, SETTINGS)
    ok = grids[0]["complete"].to_numpy()
    out, sa, sb = np.empty((N_FUSED, n)), np.empty(n), np.empty(n)
    nz, npk, nt, nv, nh = (int(p[i]) for i in (P.z, P.peak, P.turnover, P.vol, P.new_high))
    feats = np.empty((N_FUSED, n))
    series_features(x, 0, n, p, feats)
    ma, sd, ph = out[F.oi_ma_30d], out[F.oi_sd_30d], out[F.price_high]
    cases: dict[str, Callable[[], object]] = {
        "rolling mean/std 30d": lambda: k.rolling_mean_std_into(oi, nz, nz, ma, sd, sa, sb),
        "pct change 7d": lambda: k.pct_change_lag_into(oi, int(p[P.chg]), out[F.oi_chg_7d]),
        "rolling sum 24h": lambda: k.rolling_sum_into(
            qv, nt, nt, False, out[F.oi_vol_ratio], sa, sb
        ),
        "rolling mean 20d": lambda: k.rolling_sum_into(v, nv, nv, True, out[F.vol_ma_20d], sa, sb),
        "rolling max 7d": lambda: k.rolling_max_into(h, npk, npk, 1.0, sa, sb, ph),
        "breakout 20 bars": lambda: k.breakout_into(h, nh, nh, 1.0, sa, sb, out[F.new_high]),
        "streaks": lambda: k.streaks_into(oi, out[F.oi_down_streak], out[F.oi_up_streak]),
        "near level": lambda: k.near_level_into(c, ph, p[P.near_pct], 1.0, out[F.near_high]),
        "wilder atr": lambda: k.wilder_atr_into(h, lo, c, int(p[P.atr]), out[F.atr_14]),
        "rejection": lambda: k.rejection_into(o, h, lo, c, True, True, True, 1.0, out[F.rejection]),
        "all features (series_features)": lambda: series_features(x, 0, n, p, out),
        "signal states": lambda: serial_states(x, feats, ok, off, sp[None]),
        "features + states (serial_analyse)": lambda: serial_analyse(
            x, ok, off, p[None], sp[None], out
        ),
    }
    res = {}
    for name, f in cases.items():
        res[name] = best_ms(f, reps=10 if "(" in name else 30)
        print(f"{name:36s} {res[name]:7.3f} ms")
    return res


def footprint(rounds: int = 2) -> None:
    for _ in range(rounds):
        for series, bars in ((100, 105_120), (2_000, 5_256)):
            frames = [
                oracle.random_bars(bars, TF.ms, seed=i, null_quote=0.0) for i in range(series)
            ]
            grids, x, offsets = feature_inputs(frames, TF)
            ok = np.concatenate([g["complete"].to_numpy() for g in grids])
            fp = np.stack([feature_params(TF, SETTINGS)] * series)
            sp = np.stack([signal_params(TF, SETTINGS)] * series)
            times = []
            for _ in range(6):  # the first call allocates the output: not counted
                t = time.perf_counter()
                res = many_analyse(x, ok, offsets, fp, sp, recycled((N_FUSED, ok.size)))
                times.append(time.perf_counter() - t)
                del res
            release()
            best = min(times[1:])
            print(f"{series:5d} series x {bars:7,d} bars: best {best:.3f} s, median "
                  f"{np.median(times[1:]):.3f} s -> {ok.size / best:.3g} rows/s")  # fmt: skip


@njit(nogil=True)
def _spin(n: int) -> float:
    acc = 0.0
    for i in range(n):
        acc = acc * 0.999999 + i
    return acc


def scaling(n: int = 200_000_000) -> None:
    _spin(10)
    for threads in (1, 2, 1, 2):
        workers = [threading.Thread(target=_spin, args=(n,)) for _ in range(threads)]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        print(f"{threads} thread(s): {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    if "--footprint" in sys.argv:
        footprint()
    elif "--scaling" in sys.argv:
        scaling()
    else:
        main()
