"""Benchmark: a simulated universe through ``features``, ``scan`` and the pooled study, in batches of
series (the streaming path) against the whole selection at once (the in-memory path) and against
pandas doing the features and signals, and the pooled study's rate claims (issue 16, item 3).

Run: ``.venv/bin/python bench/bench_universe.py [--series 300] [--days 365]`` (the issue's size:
300 series x 1 year of 5-minute bars = 31.5 million rows; ``--series 30 --days 30`` for a quick
look). The universe is simulated once into ``--home`` (default
``/tmp/oiradar-bench-universe-<series>x<days>``, kept for the next run) by ``simulate
--universe`` (``oiradar.app.sim.simulate_universe``). ``bench/run.py universe`` runs it with
``OIRADAR_BENCH_SERIES`` / ``OIRADAR_BENCH_DAYS`` (default the issue's size).

Every side runs in a fresh interpreter, so each reports its own peak RSS (``ru_maxrss``):

- ``features``: ``feature_batches`` (streaming: each batch reduced to a digest per series and
  dropped) against ``every_series_features`` (every series' frame held);
- ``scan``: ``scan_events`` with the ``[performance]`` batches against one batch of every series;
- ``pooled``: ``pooled_study`` at 5m, batches against one batch (the study reads one series at a
  time in both: what it keeps is per-block sums);
- ``pandas``: ``oiradar.features.oracle`` (the pandas definitions ``bench_features.py`` times) on
  ``--pandas-series`` series (default all), one at a time: features, signal states and events,
  the work of ``features`` and ``scan``;
- ``pandas_pooled``: the pooled study's rate claims in pandas and numpy (``pandas_study.py``: the
  oracle's features and states, cooldown, triple barriers, baselines, per-block sums, each series'
  block bootstrap and the two-way series x block bootstrap, the same ``REPS``), one series at a
  time, on every series (the pool differs with its series). It leaves out what the oracle cannot
  define (the derived signals ``mtf_entry`` and ``liq_fade``) and the measure claims
  (``exit_gain``, ``liq_ratio``), which ``pooled`` also computes; a line says whether its events,
  counted events and reversals per claim equal the pooled study's;
- ``pooled_rate``: ``pooled``'s own batch and pooling steps on exactly the claims
  ``pandas_pooled`` computes (streaming): the like-for-like timing against pandas.

The in-memory sides run on ``--memory-series`` series (default all: at 300 series x 1 year the
in-memory ``scan`` holds about 13 GB; pass fewer on a smaller machine, the output says how many).
The pooled study's in-memory side always takes every series (its pool differs with its series).
Results: a digest per series (``hash_rows`` of each frame, of each series' events, the pooled
report's JSON); the streaming side's digests of the same series must equal the in-memory side's.
Written to ``--out`` (default ``bench/results/universe.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import oiradar  # noqa: F401  # before polars: oiradar's allocator setting (decision 0307)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "universe.json"
# The pooled study's bootstrap replicates: each series' own study resamples its 4,380 two-hour
# blocks per replicate, which at the default 2,000 costs about 0.4 s per claim and series-year at
# 5m (a statistical cost, the same in both paths); 200 keep the bench to minutes.
REPS = 200


def _home(series: int, days: int) -> Path:
    return Path(f"/tmp/oiradar-bench-universe-{series}x{days}")


def ensure_universe(home: Path, series: int, days: int) -> dict[str, Any]:
    """Simulate the universe into ``home`` unless a finished one is there (a marker file)."""
    marker = home / ".bench-universe.json"
    if marker.exists():
        return json.loads(marker.read_text())
    from oiradar.app.session import Session
    from oiradar.app.sim import UniverseOptions, simulate_universe
    from oiradar.config import Settings

    t0 = time.perf_counter()
    report = simulate_universe(Session(Settings(), home),
                               UniverseOptions(symbols=series, days=days, replace=True))  # fmt: skip
    info = {"series": series, "days": days, "bars": int(report.symbols["bars"].sum()),
            "liquidations": int(report.symbols["liquidations"].sum()),
            "simulate_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    marker.write_text(json.dumps(info))
    return info


# ------------------------------------------------------------------------- the sides (children)
def _session(home: str):
    from oiradar.app.session import Session
    from oiradar.config import Settings

    return Session(Settings(), Path(home))


def _symbols(n: int) -> tuple[str, ...]:
    from oiradar.sim.universe import symbol_name

    return tuple(symbol_name(i) for i in range(n))


def _digest(frame) -> str:
    """Order-sensitive digest of a frame's values (its rows' hashes, combined)."""
    import numpy as np

    h = frame.hash_rows(seed=1).to_numpy()
    mixed = h ^ (np.arange(h.size, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    return f"{int(np.bitwise_xor.reduce(mixed)) if h.size else 0:016x}:{frame.height}"


def side_features(home: str, n: int, stream: bool) -> dict[str, Any]:
    from oiradar.app.batches import BatchOptions
    from oiradar.app.features import every_series_features, feature_batches
    from oiradar.model import Timeframe

    s, syms = _session(home), _symbols(n)
    digests, rows, batches = {}, 0, 0
    if stream:
        for results in feature_batches(s, None, syms, Timeframe.M5):  # type: ignore[arg-type]
            batches += 1
            for r in results:
                digests[r.key.symbol], rows = _digest(r.frame), rows + r.frame.height
            del results
    else:
        one = BatchOptions(series=n, rows=1 << 62)
        report = every_series_features(s, None, syms, Timeframe.M5, batch=one)  # type: ignore[arg-type]
        batches = 1
        for r in report.results:
            digests[r.key.symbol], rows = _digest(r.frame), rows + r.frame.height
    return {"rows": rows, "batches": batches, "digests": digests}


def side_scan(home: str, n: int, stream: bool) -> dict[str, Any]:
    import polars as pl

    from oiradar.app.batches import BatchOptions
    from oiradar.app.scan import ScanOptions, scan_events
    from oiradar.model import Timeframe

    s, syms = _session(home), _symbols(n)
    batch = BatchOptions() if stream else BatchOptions(series=n, rows=1 << 62)
    report = scan_events(s, ScanOptions(timeframe=Timeframe.M5, symbols=syms), batch)
    ev = report.events
    digests = {sym: _digest(ev.filter(pl.col("symbol") == sym)) for sym in syms}
    return {"rows": n * _bars(s, syms[0]), "events": ev.height, "digests": digests}


def side_pooled(home: str, n: int, stream: bool) -> dict[str, Any]:
    import hashlib

    from oiradar.app.batches import BatchOptions
    from oiradar.app.study import StudyOptions, pooled_study
    from oiradar.model import Timeframe

    s, syms = _session(home), _symbols(n)
    batch = BatchOptions() if stream else BatchOptions(series=n, rows=1 << 62)
    opts = StudyOptions(timeframe=Timeframe.M5, exchange="sim", symbol=syms,  # type: ignore[arg-type]
                        reps=REPS)
    report = pooled_study(s, opts, batch=batch)
    text = json.dumps(report.to_dict(), sort_keys=True, default=str)
    counts = {f"{r['signal']}/{r['side']}": {c: r[c] for c in COUNTS} for r in report.pooled}
    return {"rows": len(syms) * _bars(s, syms[0]), "series_rows": len(report.series),
            "claims": report.verdicts.height, "counts": counts,
            "digests": {"report": hashlib.sha256(text.encode()).hexdigest()[:16]}}  # fmt: skip


def side_pooled_rate(home: str, n: int, stream: bool) -> dict[str, Any]:
    """``pooled``'s own steps (``pooled_batch`` in ``[performance]`` batches, ``_pool_each``) on
    exactly the rate claims ``pandas_pooled`` computes: no measure claims, no derived signals,
    no verdict table. The like-for-like timing against pandas."""
    from oiradar.app.batches import BatchOptions, plan_batches, run_batches, settle
    from oiradar.app.study import StudyOptions, _pool_each, pooled_batch, pooled_row
    from oiradar.evidence.pipeline import DERIVED_SIGNALS, all_claims, study_config
    from oiradar.model import SeriesKey, Timeframe

    s, syms = _session(home), _symbols(n)
    cfg = study_config(s.settings, reps=REPS)
    opts = StudyOptions(timeframe=Timeframe.M5, exchange="sim", reps=REPS)
    wanted = list(dict.fromkeys((c.signal, c.side) for c in all_claims(s.settings)
                                if c.is_rate and c.signal not in DERIVED_SIGNALS))  # fmt: skip
    keys = [SeriesKey(exchange="sim", symbol=sym, timeframe=Timeframe.M5) for sym in syms]
    b = BatchOptions().resolved(s.settings)
    block_ms = cfg.block_bars * Timeframe.M5.ms
    task = (opts, False, wanted, cfg, block_ms, False, ())
    tried = [t for out in run_batches(s, pooled_batch, task, plan_batches(keys, b.series or 1), b)
             for t in out]  # fmt: skip
    done, _ = settle(tried, "pooled study")
    rows = [pooled_row(r) for r in _pool_each(done, wanted, cfg, block_ms).values()]
    counts = {f"{r['signal']}/{r['side']}": {c: r[c] for c in COUNTS} for r in rows}
    return {"rows": len(syms) * _bars(s, syms[0]), "claims": len(rows), "counts": counts,
            "digests": {}}  # fmt: skip


def side_pandas_pooled(home: str, n: int, stream: bool) -> dict[str, Any]:
    """The pooled study's rate claims in pandas (``pandas_study.py``), one series at a time."""
    from oiradar.model import SeriesKey, Timeframe
    from pandas_study import pooled_rate_claims

    s, syms = _session(home), _symbols(n)
    keys = [SeriesKey(exchange="sim", symbol=sym, timeframe=Timeframe.M5) for sym in syms]
    res = pooled_rate_claims(s.catalog, keys, s.settings, reps=REPS)
    counts = {f"{r['signal']}/{r['side']}": {c: r[c] for c in COUNTS} for r in res.claims}
    return {"rows": res.rows, "series": len(syms), "claims": len(res.claims), "counts": counts,
            "left_out": res.left_out, "digests": {}}  # fmt: skip


def side_pandas(home: str, n: int, stream: bool) -> dict[str, Any]:
    """What ``features`` and ``scan`` compute, in pandas (the oracle), one series at a time."""
    from bench_features import _ref_params  # the features bench's pandas peer
    from oiradar.config import Settings
    from oiradar.features import oracle, regular_grid, windows
    from oiradar.model import SeriesKey, Timeframe

    s, syms = _session(home), _symbols(n)
    w, p = windows(Timeframe.M5, Settings()), _ref_params()
    rows = events = 0
    step = Timeframe.M5.ms
    for sym in syms:
        key = SeriesKey(exchange="sim", symbol=sym, timeframe=Timeframe.M5)
        df = regular_grid(s.catalog.read_bars(key), Timeframe.M5).to_pandas()
        liq = s.catalog.read_liquidations("sim", sym).to_pandas()  # as features joins them
        per_bar = liq.groupby(liq["ts"] - liq["ts"] % step)["quote_qty"].sum()
        inside = (df["ts"] + step > liq["ts"].min()) & (df["ts"] <= liq["ts"].max())
        df["liquidations"] = df["ts"].map(per_bar).where(~inside, df["ts"].map(per_bar).fillna(0.0))
        f = oracle.features(df, w)
        events += len(oracle.events(oracle.states(df, f, p)))
        rows += len(df)
        del df, f, liq
    return {"rows": rows, "series": len(syms), "events": events, "digests": {}}


def _bars(s, symbol: str) -> int:
    from oiradar.model import SeriesKey, Timeframe

    return s.catalog.count_bars(SeriesKey(exchange="sim", symbol=symbol, timeframe=Timeframe.M5))


SIDES = {"features": side_features, "scan": side_scan, "pooled": side_pooled, "pandas": side_pandas,
         "pooled_rate": side_pooled_rate, "pandas_pooled": side_pandas_pooled}  # fmt: skip
COUNTS = ("events", "counted", "wins")  # per claim, compared between pooled and pandas_pooled


def child(name: str, home: str, n: int, stream: bool) -> None:
    """One side in this (fresh) interpreter: its figures as the last line of stdout."""
    sys.path.insert(0, str(HERE))
    c0, t0 = time.process_time(), time.perf_counter()
    out = SIDES[name](home, n, stream)
    out |= {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip
    print(json.dumps(out))


def run_side(name: str, home: Path, n: int, stream: bool) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--home", str(home),
           "--series", str(n), *(["--stream"] if stream else [])]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench side {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------- the parent
def measure(series: int, days: int, home: Path, memory_series: int, pandas_series: int,
            sides: list[str]) -> dict[str, Any]:  # fmt: skip
    info = ensure_universe(home, series, days)
    print(f"universe: {series} series x {days} days of 5m bars = {info['bars']:,} rows "
          f"({info['liquidations']:,} liquidations; simulated in {info.get('simulate_s')} s) "
          f"in {home}; {os.cpu_count()} cores")  # fmt: skip
    out: dict[str, Any] = {"universe": info, "memory_series": memory_series,
                           "pandas_series": pandas_series, "sides": {}}  # fmt: skip
    for name in sides:
        if name == "pandas":
            res = {"pandas": run_side("pandas", home, pandas_series, False)}
        elif name == "pandas_pooled":  # every series: the pool differs with its series
            res = {"pandas": run_side(name, home, series, False)}
        elif name == "pooled_rate":  # the like-for-like side of pandas_pooled
            res = {"stream": run_side(name, home, series, True)}
        else:
            # the pool differs with its series: the pooled study's in-memory side takes them all
            mem_n = series if name == "pooled" else memory_series
            res = {"stream": run_side(name, home, series, True),
                   "memory": run_side(name, home, mem_n, False)}  # fmt: skip
        out["sides"][name] = _report(name, res, series)
    for ours in ("pooled", "pooled_rate"):
        if {ours, "pandas_pooled"} <= out["sides"].keys():
            out[f"pandas_pooled_same_counts_as_{ours}"] = _same_counts(out["sides"], ours)
    return out


def _same_counts(sides: dict[str, Any], name: str) -> bool:
    """Whether pandas' pooled rate claims have the pooled study's counts (``COUNTS``)."""
    ours, theirs = sides[name]["stream"]["counts"], sides["pandas_pooled"]["pandas"]["counts"]
    same = bool(theirs) and all(ours.get(k) == v for k, v in theirs.items())
    left = [k for k in ours if k not in theirs]
    rest = (f"{name} also studies {', '.join(left)} (no pandas definition) and the measure claims"
            if left else f"{name} studies these claims only")  # fmt: skip
    print(f"pandas_pooled {', '.join(COUNTS)} equal {name}'s on its {len(theirs)} rate claims "
          f"({', '.join(theirs)}): {same}; {rest}")
    return same


def _report(name: str, res: dict[str, dict[str, Any]], series: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for path, r in res.items():
        rate = r["rows"] / r["wall_s"] if r["wall_s"] > 0 else float("nan")
        row[path] = {k: v for k, v in r.items() if k != "digests"} | {"rows_per_s": rate}
        print(f"{name:9} {path:7}: {r['rows']:>12,} rows in {r['wall_s']:7.1f} s "
              f"({rate:.3g} rows/s, CPU {r['cpu_s']:.1f} s), peak RSS {r['peak_rss_mb']:,.0f} MB")
    if {"stream", "memory"} <= res.keys():
        a, b = res["stream"]["digests"], res["memory"]["digests"]
        same = bool(b) and all(a.get(k) == v for k, v in b.items())
        row["identical"] = same
        print(f"{name:9} results identical to the in-memory path on its {len(b)} "
              f"{'series' if name != 'pooled' else 'report'}: {same}")
    if "pandas" in res and res["pandas"]["series"] < series:  # scaled linearly to every series
        p = res["pandas"]
        row["pandas"]["scaled_wall_s"] = p["wall_s"] * series / p["series"]
        print(f"pandas scaled x{series / p['series']:g} to {series} series: "
              f"{row['pandas']['scaled_wall_s']:.0f} s (features, states and events)")
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=int(os.environ.get("OIRADAR_BENCH_SERIES", 300)))
    ap.add_argument("--days", type=int, default=int(os.environ.get("OIRADAR_BENCH_DAYS", 365)))
    ap.add_argument("--home", type=Path)
    ap.add_argument("--memory-series", type=int)
    ap.add_argument("--pandas-series", type=int, help="series pandas does (default: all)")
    ap.add_argument("--sides", default="features,scan,pooled,pandas,pooled_rate,pandas_pooled")
    ap.add_argument("--child")
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS, help="the results file")
    args = ap.parse_args(argv if argv is not None else [])
    if args.child:
        child(args.child, str(args.home), args.series, args.stream)
        return {}
    home = args.home or _home(args.series, args.days)
    memory = min(args.memory_series or args.series, args.series)
    pandas_n = min(args.pandas_series or args.series, args.series)
    out = measure(args.series, args.days, home, memory, pandas_n, args.sides.split(","))
    out["run"] = {"utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                  "load_avg": os.getloadavg()[0], "cores": os.cpu_count()}  # fmt: skip
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"written to {args.out}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
