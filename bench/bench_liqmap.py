"""Benchmark: the estimated liquidation heatmap for one year of 5-minute bars, 2,000 price bins.

Target (issue 6): under 2 s on the project machine. Prints wall time (loading the numba kernel,
the first full build, then the best of 3 warm runs), the
heatmap's size, the process's peak RSS, and the speed-up over the plain-Python oracle measured on
a slice (extrapolated linearly, which flatters the oracle: it is quadratic in open levels).
Run: ``python bench/run.py liqmap`` or ``python bench/bench_liqmap.py``.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np
import polars as pl

from oiradar.liquidations.heatmap import MapSpec, build_heatmap
from oiradar.liquidations.levels import (
    PriceGrid,
    level_factors,
    level_inputs,
    levels_oracle,
    parse_mix,
)

BARS = 365 * 288
BINS = 2_000
TARGET_S = 2.0


def synthetic_bars(n: int = BARS, seed: int = 11) -> pl.DataFrame:
    """A random-walk market with OI drifting around a level and taker flow (canonical columns)."""
    rng = np.random.default_rng(seed)
    close = 30.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.exponential(0.001, n))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.001, n))
    oi = np.empty(n)
    oi[0] = 8e5
    shocks = rng.normal(0, 2_000, n)
    for i in range(1, n):  # mean-reverting OI
        oi[i] = oi[i - 1] + 0.002 * (8e5 - oi[i - 1]) + shocks[i]
    vol = rng.lognormal(8, 0.5, n)
    return pl.DataFrame({
        "ts": np.arange(n, dtype=np.int64) * 300_000, "open": open_, "high": high, "low": low,
        "close": close, "volume": vol, "quote_volume": vol * (high + low + close) / 3,
        "taker_buy_volume": vol * rng.uniform(0.4, 0.6, n), "oi": oi,
    })  # fmt: skip


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> dict[str, float]:
    bars = synthetic_bars()
    spec = MapSpec(
        exchange="binanceusdm", symbol="KSM/USDT:USDT", mix=parse_mix("default"), bins=BINS
    )
    jit, _ = _timed(lambda: build_heatmap(bars.head(100), spec))  # load/compile the numba kernel
    first, run = _timed(lambda: build_heatmap(bars, spec))
    heat_mb = (run.heat_long.nbytes + run.heat_short.nbytes) / 2**20
    del run  # one heatmap alive at a time, so peak RSS is one run's
    warm = min(_timed(lambda: build_heatmap(bars, spec))[0] for _ in range(3))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    oracle_s, kernel_s, m = _oracle_ratio(bars, spec)
    print(f"liqmap: {BARS:,} bars x {BINS:,} bins (one year of 5m), 2 sides, float32")
    print(f"  kernel load {jit:.2f} s (numba cache load, or compile when the cache is cold)")
    print(
        f"  first build {first:.2f} s = {first / TARGET_S:.2f} x the 2 s target (memory touched for the first time)"
    )
    print(f"  warm       {warm:.2f} s  = {warm / TARGET_S:.2f} x the 2 s target")
    print(f"  heatmap    {heat_mb:,.0f} MiB; process peak RSS {rss_mb:,.0f} MiB "
          f"({rss_mb / heat_mb:.2f} x the heatmap; target: under 2 x)")  # fmt: skip
    print(
        f"  oracle     {oracle_s:.2f} s vs kernel {kernel_s * 1e3:.1f} ms on {m:,} bars: {oracle_s / kernel_s:,.0f}x"
    )
    return {"warm_s": warm, "first_s": first, "jit_s": jit, "heat_mib": heat_mb, "peak_rss_mib": rss_mb,
            "ratio_to_target": warm / TARGET_S, "speedup_vs_oracle": oracle_s / kernel_s}  # fmt: skip


def _oracle_ratio(bars: pl.DataFrame, spec: MapSpec, m: int = 400) -> tuple[float, float, int]:
    part = bars.head(m)
    inp = level_inputs(part)
    fac = level_factors(spec.mix, spec.tiers(), position_notional=spec.position_notional)
    grid = PriceGrid.around(inp.low, inp.high, 200, 0.3)
    oracle_s, _ = _timed(lambda: levels_oracle(inp, fac, grid))
    kernel_s = min(
        _timed(lambda: build_heatmap(part, spec, grid=grid, inputs=inp))[0] for _ in range(3)
    )
    return oracle_s, kernel_s, m


# ---------------------------------------------------------------- memory (issue 16, item 3)
# ``python bench/bench_liqmap.py --memory [BARS [build,score,frames,frame]]``: each way of using a heatmap in its own process,
# its peak RSS over the heatmap's size (after the bars, the kernel and the interpreter: "base").
def _memory_child(what: str, n: int) -> None:
    import json

    from oiradar.liquidations.heatmap import heatmap_frame, heatmap_frames
    from oiradar.liquidations.mapview import score_mixes

    bars = synthetic_bars(n)
    spec = MapSpec(exchange="binanceusdm", symbol="KSM/USDT:USDT", mix=parse_mix("default"),
                   bins=BINS)  # fmt: skip
    build_heatmap(bars.head(100), spec)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = 0
    if what == "score":  # the chosen mix, the presets and the no-OI baseline (liqmap --score)
        rng = np.random.default_rng(1)
        at = rng.integers(1, n, 2_000)
        liqs = pl.DataFrame({"ts": np.sort(at * 300_000 + 60_000),
                             "side": rng.choice(["long", "short"], at.size),
                             "price": bars["close"].to_numpy()[at],
                             "quote_qty": rng.uniform(1e3, 1e5, at.size)})  # fmt: skip
        rows = score_mixes(bars, liqs, spec, 300_000, n_boot=100).height
    else:
        run = build_heatmap(bars, spec)
        if what == "frame":  # the long-format frame, whole
            rows = heatmap_frame(run).height
        elif what == "frames":  # the same by time, each chunk dropped
            rows = sum(f.height for f in heatmap_frames(run))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"base": base, "peak": peak, "heat": 2 * n * BINS * 4 / 2**20, "rows": rows}))


def memory(n: int = BARS, whats: tuple[str, ...] = ("build", "score", "frames", "frame")
           ) -> dict[str, float]:  # fmt: skip
    import json
    import subprocess
    import sys

    out = {}
    for what in whats:
        proc = subprocess.run([sys.executable, __file__, "--memory-child", what, str(n)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out[what] = (r["peak"] - r["base"]) / r["heat"]
        print(f"  {what:6}: peak RSS {r['peak']:,.0f} MiB (base {r['base']:,.0f}) = base + "
              f"{out[what]:.2f} x the {r['heat']:,.0f} MiB heatmap; {r['rows']:,} rows out")
    return out


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--memory-child"]:
        _memory_child(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["--memory"]:  # --memory [BARS [build,score,frames,frame]]
        n = int(sys.argv[2]) if len(sys.argv) > 2 else BARS
        memory(n, *([tuple(sys.argv[3].split(","))] if len(sys.argv) > 3 else []))
    else:
        main()
