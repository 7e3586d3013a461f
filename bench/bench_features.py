"""Benchmark: features + signals for 100 symbols x 1 year of 5-minute bars (10.5M rows).

Sides, each in its own process so that each reports its own peak RSS:

* ``kernel``: the numba kernel pass alone (``signals.kernels.many_analyse``: features and
  signal states of each series back to back, parallel over series, on prepared float64
  matrices) - the ">= 3e7 rows/s" target;
* ``oiradar``: the API end to end, polars bar frames in, feature frames and events (with the
  values that fired them) out (``signals.analyse_many``: the path ``oiradar scan`` takes);
  timed without and with the human ``why`` text (pandas builds neither values nor text);
* ``pandas``: a straightforward pandas implementation of the same definitions
  (``oiradar.features.oracle``: rolling/ewm/groupby, one series at a time). It runs on the
  first ``PANDAS_SYMBOLS`` series (10 by default; ``OIRADAR_BENCH_PANDAS=100`` for all) and its
  time is scaled linearly to 100 series - said so in the output;
* ``scan``: ``oiradar scan -t 4h --json`` as a subprocess over 100 stored series (1 year of 1h
  bars each, resampled to 4h on read), one cold run then the best of 3 warm runs.

Every side generates the same synthetic data (seeded), and the pandas side checks that its events
equal oiradar's on its series. Run: ``python bench/run.py features`` or
``python bench/bench_features.py``.
"""

from __future__ import annotations

# oiradar before polars, as a user's script would: its allocator setting applies (decision 0307)
# isort: off
import oiradar  # noqa: F401

# isort: on
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from oiradar._allocator import POLARS_MALLOC_CONF
from oiradar.config import Settings
from oiradar.features import (
    N_FUSED,
    feature_inputs,
    feature_params,
    oracle,
    recycled,
    regular_grid,
    scratch_in,
    windows,
)
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals.frame import analyse_many, signal_params
from oiradar.signals.kernels import many_analyse

SYMBOLS = int(os.environ.get("OIRADAR_BENCH_SYMBOLS", "100"))  # fewer for quick iterations
BARS = 365 * 288  # one year of 5-minute bars
TF = Timeframe.M5
REPEAT = 5  # timed runs per side: best and median are reported (the machine is shared)
PANDAS_SYMBOLS = int(os.environ.get("OIRADAR_BENCH_PANDAS", "10"))
SETTINGS = Settings.model_validate({"signals": {"long_side": True}})  # every signal, both sides
SCAN_SERIES = 100
SCAN_BARS = 365 * 24  # one year of 1h bars per stored series


def frames(n: int = SYMBOLS) -> list[pl.DataFrame]:
    """``n`` synthetic series (seeded), gap-free: speed, not null handling, is measured here."""
    return [oracle.random_bars(BARS, TF.ms, seed=i, null_quote=0.0) for i in range(n)]


def keys(n: int = SYMBOLS) -> list[SeriesKey]:
    return [
        SeriesKey(exchange="bench", symbol=f"S{i:03d}/USDT:USDT", timeframe=TF) for i in range(n)
    ]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def side_kernel() -> dict[str, Any]:
    grids, x, offsets = feature_inputs(frames(), TF)
    ok = np.concatenate([g["complete"].to_numpy() for g in grids])
    del grids
    fp = np.stack([feature_params(TF, SETTINGS)] * (offsets.size - 1))
    sp = np.stack([signal_params(TF, SETTINGS)] * (offsets.size - 1))
    rss_data = _rss_mb()
    n1 = int(offsets[1])
    many_analyse(x[:, :n1], ok[:n1], offsets[:2], fp[:1], sp[:1])  # load the compiled code
    times, cpus = [], []
    for _ in range(REPEAT + 1):  # the first call allocates the outputs; later ones reuse them
        c0, t0 = time.process_time(), time.perf_counter()
        with ExitStack() as stack:  # as analyse_many does: state bits from the scratch pool
            feats = recycled((N_FUSED, ok.size))
            out = many_analyse(x, ok, offsets, fp, sp, feats, scratch_in(stack))
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        del out, feats
    first, times, cpus = times[0], times[1:], cpus[1:]
    rows = int(offsets[-1])
    return {"rows": rows, "kernel_s": min(times), "kernel_median_s": float(np.median(times)),
            "first_s": first, "cpu_s": min(cpus), "rss_data_mb": rss_data,
            "rss_peak_mb": _rss_mb()}  # fmt: skip


def side_oiradar() -> dict[str, Any]:
    data, ks = frames(), keys()
    rss_data = _rss_mb()
    analyse_many(data[:1], ks[:1], [SETTINGS])  # load the compiled code
    times: dict[bool, list[float]] = {True: [], False: []}
    cpus = []
    n_events = 0
    for explain in [False] * (REPEAT + 1) + [True] * 2:
        c0, t0 = time.process_time(), time.perf_counter()
        feats, events = analyse_many(data, ks, [SETTINGS] * len(ks), explain=explain)
        times[explain].append(time.perf_counter() - t0)
        if not explain:
            cpus.append(time.process_time() - c0)
        n_events = events.height
        del feats, events
    first = times[False].pop(0)  # allocates the feature matrix; later calls recycle it
    return {"rows": sum(f.height for f in data), "total_s": min(times[False]),
            "median_s": float(np.median(times[False])), "with_why_s": min(times[True]),
            "first_s": first,
            "cpu_s": min(cpus), "events": n_events, "rss_data_mb": rss_data,
            "rss_peak_mb": _rss_mb()}  # fmt: skip


def side_pandas() -> dict[str, Any]:
    data, ks = frames(PANDAS_SYMBOLS), keys(PANDAS_SYMBOLS)
    pdfs = [regular_grid(f, TF).to_pandas() for f in data]
    rss_data = _rss_mb()
    w, p = windows(TF, SETTINGS), _ref_params()
    times, cpus = [], []
    for _ in range(3):
        c0, t0 = time.process_time(), time.perf_counter()
        results = []
        for df in pdfs:
            f = oracle.features(df, w)
            st = oracle.states(df, f, p)
            results.append(oracle.events(st))
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    elapsed, cpu = min(times), min(cpus)
    _feats, ours = analyse_many(data, ks, [SETTINGS] * len(ks))
    same = all(_same_events(df, ev, ours, k) for df, ev, k in zip(pdfs, results, ks, strict=True))
    return {"symbols": len(data), "rows": sum(len(d) for d in pdfs), "total_s": elapsed,
            "median_s": float(np.median(times)), "cpu_s": cpu,
            "events": int(sum(len(r) for r in results)), "events_equal_oiradar": same,
            "rss_data_mb": rss_data, "rss_peak_mb": _rss_mb()}  # fmt: skip


def _ref_params() -> dict[str, Any]:
    s = SETTINGS.signals
    return {"z": s.oi_z_alert, "watch_chg": s.watch_chg_7d, "watch_back": s.watch_lookback_bars,
            "newhigh_back": s.trigger_new_high_bars, "down_streak": s.trigger_down_streak,
            "div_dd": s.divergence_dd, "within": s.entry_within_bars, "long": s.long_side}  # fmt: skip


def _same_events(df, ev, ours: pl.DataFrame, key: SeriesKey) -> bool:
    from oiradar.signals.frame import STATE_SIGNALS
    from oiradar.signals.kernels import STATES

    names = dict(zip(STATES, STATE_SIGNALS, strict=True))
    ts = df["ts"].to_numpy()
    exp = sorted((int(ts[i]), *names[s]) for i, s in zip(ev["i"], ev["state"], strict=True))
    mine = ours.filter(pl.col("symbol") == key.symbol)
    return exp == sorted(zip(mine["ts"], mine["signal"], mine["side"], strict=True))


def side_scan() -> dict[str, Any]:
    from oiradar.store import Catalog

    with tempfile.TemporaryDirectory() as home:
        cat = Catalog(home)
        t0 = time.perf_counter()
        for i in range(SCAN_SERIES):
            bars = oracle.random_bars(SCAN_BARS, Timeframe.H1.ms, seed=i).drop("complete")
            key = SeriesKey(exchange="bench", symbol=f"S{i:03d}/USDT:USDT", timeframe=Timeframe.H1)
            cat.write_bars(key, bars, "sim")
        write_s = time.perf_counter() - t0
        entry = "from oiradar.cli.main import main; main()"
        cmd = [sys.executable, "-c", entry, "--home", home, "scan", "-t", "4h", "--json"]
        times, out = [], ""
        for _ in range(4):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            times.append(time.perf_counter() - t0)
        events = len(json.loads(out))
    return {"series": SCAN_SERIES, "stored_rows": SCAN_SERIES * SCAN_BARS, "write_s": write_s,
            "cold_s": times[0], "warm_best_s": min(times[1:]), "warm_median_s": float(np.median(times[1:])),
            "events": events}  # fmt: skip


SIDES = {"kernel": side_kernel, "oiradar": side_oiradar, "pandas": side_pandas, "scan": side_scan}
# OIRADAR_BENCH_SIDES=kernel,oiradar,pandas skips the scan (quick iterations); a side alone
# (OIRADAR_BENCH_SIDES=kernel) prints its own figures only
RUN_SIDES = os.environ.get("OIRADAR_BENCH_SIDES", ",".join(SIDES)).split(",")


def run_side(name: str) -> dict[str, Any]:
    """Run one side in a fresh interpreter; its last stdout line is its JSON result."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--side", name],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"bench side {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> dict[str, Any]:
    print(f"{SYMBOLS} series x {BARS:,} 5m bars = {SYMBOLS * BARS:,} rows; SPEC default windows "
          f"(30d = 8,640 bars); every signal incl. the long side; {os.cpu_count()} cores")  # fmt: skip
    print(f"polars allocator (_RJEM_MALLOC_CONF): {os.environ.get('_RJEM_MALLOC_CONF')} "
          f"(oiradar's setting when it ends with {POLARS_MALLOC_CONF}; decision 0307)")  # fmt: skip
    res = {name: run_side(name) for name in SIDES if name in RUN_SIDES}
    if not {"kernel", "oiradar", "pandas"} <= res.keys():  # no comparison: each side's figures
        for name, figures in res.items():
            print(f"{name}: {figures}")
        return {}
    if "scan" not in res:
        res["scan"] = {"series": 0, "stored_rows": 0, "cold_s": 0.0, "warm_best_s": 0.0,
                       "warm_median_s": 0.0, "events": 0}  # fmt: skip
    k, o, p, s = res["kernel"], res["oiradar"], res["pandas"], res["scan"]
    scale = SYMBOLS / p["symbols"]
    pandas_full = p["total_s"] * scale
    print(
        f"kernel pass   : best {k['kernel_s']:.2f} s (median {k['kernel_median_s']:.2f} s) -> "
        f"{k['rows'] / k['kernel_s']:.3g} rows/s (median {k['rows'] / k['kernel_median_s']:.3g}); "
        f"peak RSS {k['rss_peak_mb']:.0f} MB (data alone {k['rss_data_mb']:.0f} MB)"
    )
    print(
        f"  first call (output matrix allocated fresh; later calls recycle it, as the API does): "
        f"{k['first_s']:.2f} s -> {k['rows'] / k['first_s']:.3g} rows/s"
    )
    print(
        f"oiradar API   : best {o['total_s']:.2f} s (median {o['median_s']:.2f} s) -> "
        f"{o['rows'] / o['total_s']:.3g} rows/s, "
        f"{o['events']:,} events with their values ({o['with_why_s']:.2f} s with the `why` text; "
        f"first call {o['first_s']:.2f} s); "
        f"peak RSS {o['rss_peak_mb']:.0f} MB (data {o['rss_data_mb']:.0f} MB)"
    )
    print(
        f"pandas        : best {p['total_s']:.2f} s (median {p['median_s']:.2f} s) on "
        f"{p['symbols']} series ({p['rows']:,} rows) "
        f"-> {p['rows'] / p['total_s']:.3g} rows/s; x{scale:g} = {pandas_full:.1f} s for {SYMBOLS} "
        f"series (scaled linearly); peak RSS {p['rss_peak_mb']:.0f} MB (data {p['rss_data_mb']:.0f} MB); "
        f"events equal oiradar's: {p['events_equal_oiradar']}"
    )
    pandas_cpu = p["cpu_s"] * scale
    print(
        f"speed-up      : wall: API {pandas_full / o['total_s']:.1f}x pandas "
        f"({pandas_full / o['with_why_s']:.1f}x with `why`), "
        f"kernel pass {pandas_full / k['kernel_s']:.1f}x pandas; medians: API "
        f"{p['median_s'] * scale / o['median_s']:.1f}x, "
        f"kernel pass {p['median_s'] * scale / k['kernel_median_s']:.1f}x"
    )
    print(
        f"CPU time      : pandas {pandas_cpu:.1f} s (scaled), API {o['cpu_s']:.2f} s, kernel pass "
        f"{k['cpu_s']:.2f} s (all threads) -> API {pandas_cpu / o['cpu_s']:.1f}x, "
        f"kernel {pandas_cpu / k['cpu_s']:.1f}x less CPU than pandas"
    )
    print(f"oiradar scan  : {s['series']} stored series ({s['stored_rows']:,} 1h rows -> 4h): "
          f"cold {s['cold_s']:.2f} s, warm best {s['warm_best_s']:.2f} s "
          f"(median {s['warm_median_s']:.2f} s), {s['events']:,} events")  # fmt: skip
    return {
        "kernel_rows_per_s": round(k["rows"] / k["kernel_s"]),
        "kernel_rows_per_s_median": round(k["rows"] / k["kernel_median_s"]),
        "kernel_first_call_rows_per_s": round(k["rows"] / k["first_s"]),
        "speedup_api_median": round(p["median_s"] * scale / o["median_s"], 1),
        "api_s": round(o["total_s"], 2),
        "api_with_why_s": round(o["with_why_s"], 2),
        "pandas_s_scaled": round(pandas_full, 1),
        "speedup_api": round(pandas_full / o["total_s"], 1),
        "speedup_api_cpu": round(pandas_cpu / o["cpu_s"], 1),
        "scan_warm_s": round(s["warm_best_s"], 2),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--side":
        print(json.dumps(SIDES[sys.argv[2]]()))
    else:
        main()
