"""Benchmark: ``oiradar watch`` over 200 series of the local fake exchange (issue 14).

A :class:`~oiradar.live.watch.Watcher` keeps 200 Binance USD-M perpetuals (``S001/USDT:USDT`` ..,
1h bars) current through the same :class:`~oiradar.app.feeds.VenueFeed` as ``oiradar watch``,
against the fake exchange (``tests/fake_exchange``) running in a child process, so that this
process's CPU time and memory are oiradar's alone. The bench drives the venue's clock: each step
moves it one bar on (plus a few seconds, past ``[watch] settle_s``) and runs ``await w.step()``,
which fetches, stores and evaluates every series once. One in-process channel records when it is
handed each alert.

Measured, after the first step (the ``[watch] history`` backfill, 45 days by default, not counted):

- CPU time per closed bar: this process's CPU time, all threads (the dispatcher's too), over the
  measured steps divided by the closed bars evaluated;
- latency per alert: from the moment its series' new bar was in the process (that series' feed
  update returned) to the channel's ``send`` being called, p50/p95/p99 (target: p99 < 1 s);
- cycle time: one step, all series;
- RSS after 1,000 and after 10,000 closed bars (target: within 10 %).

Run: ``python bench/run.py watch`` (the quick default: ``BENCH_WATCH_BARS``, 2,000 closed bars) or
``python bench/bench_watch.py --series 200 --bars 10000`` (the issue's memory check, 50 steps).
Results also go to ``bench/results/watch.json`` (``--json PATH``). Benchmarks are measurements:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ctypes
import functools
import gc
import json
import mmap
import os
import platform
import pstats
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "watch.json"
T0 = 1704067200000  # 2024-01-01 00:00 UTC
START = T0 + 60 * 86_400_000  # the venue's clock at the first step (2024-03-01 00:00 UTC)
HOUR = 3_600_000
BACKFILL_CONCURRENCY = 4
PAST_SETTLE_MS = 5_000  # each step's clock: the bar's close + this (> [watch] settle_s = 2 s)
RSS_EARLY, RSS_LATE = 1_000, 10_000  # closed bars
P99_TARGET_S, RSS_TARGET = 1.0, 0.10


# ---------------------------------------------------------------------- the venue's clock
class SharedClock:
    """The venue's "now" (epoch ms) in an 8-byte file both processes map."""

    def __init__(self, path: Path, create_at: int | None = None) -> None:
        if create_at is not None:
            path.write_bytes(struct.pack("<q", create_at))
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), 8)

    def get(self) -> int:
        return int(struct.unpack_from("<q", self._map)[0])

    def set(self, ms: int) -> None:
        struct.pack_into("<q", self._map, 0, ms)

    def close(self) -> None:
        self._map.close()
        self._file.close()


def serve_fake(clock_path: str, symbols: int, archive_until: str) -> None:
    """The child process: the fake exchange, its clock read from ``clock_path``; prints the
    ``OIRADAR__VENUES__*`` variables that point at it (one JSON line) and serves until its stdin
    closes."""
    sys.path.insert(0, str(ROOT))
    import tests.fake_exchange.server as srv
    from tests.fake_exchange.server import FakeExchange

    # each archive file is asked for twice (its .CHECKSUM, then itself): build it once
    srv.metrics_zip = functools.lru_cache(maxsize=64)(srv.metrics_zip)
    clock = SharedClock(Path(clock_path))

    class ClockedFake(FakeExchange):
        @property
        def now_ms(self) -> int:
            return clock.get()

        @now_ms.setter
        def now_ms(self, value: int) -> None:
            clock.set(value)

    fake = ClockedFake(now_ms=clock.get(), extra_symbols=symbols,
                       archive_until=date.fromisoformat(archive_until))  # fmt: skip
    with fake:
        print(json.dumps(fake.env()), flush=True)
        sys.stdin.read()


class FakeProcess:
    """The fake exchange in a child process (its CPU and memory are not this process's)."""

    def __init__(self, clock_path: Path, symbols: int, archive_until: date) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-fake", str(clock_path),
               str(symbols), archive_until.isoformat()]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake exchange did not start")
        self.env: dict[str, str] = json.loads(line)

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(15)


# ---------------------------------------------------------------------- measurements
def proc_cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process, all threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    """This process's resident memory now (not the peak), MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Recorder:
    """Arrival times of each series' bars and handoff times of each alert (``perf_counter``)."""

    arrived: dict[tuple[str, int], float] = field(default_factory=dict)  # (symbol, bar) -> t
    # when its alerts were committed to the ledger (the dispatcher is notified right after)
    committed: dict[tuple[str, int], float] = field(default_factory=dict)
    handed: list[tuple[float, str, int]] = field(default_factory=list)  # (t, symbol, bar_ts)
    update_s: list[float] = field(default_factory=list)  # one feed update, wall
    # Watcher._evaluate, wall: evaluate, ledger, after_bars (paper trading, daily sheet)
    evaluate_s: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latencies(self, since: dict[tuple[str, int], float]) -> tuple[list[float], int]:
        """Seconds from ``since`` (``arrived``, ``committed``) to the handoff, per alert; and how
        many alerts had no such time."""
        out, unmatched = [], 0
        for t, symbol, bar in self.handed:
            t0 = since.get((symbol, bar))
            if t0 is None:
                unmatched += 1
            else:
                out.append(t - t0)
        return out, unmatched


def timed_commit(fn: Callable[..., list[str]], rec: Recorder) -> Callable[..., list[str]]:
    """The ledger's ``commit``, noting when each new alert was committed (the dispatcher is
    notified right after: from then on the latency is the dispatcher's)."""

    def commit(series: str, bar_ts: int, alerts: list[Any], now_ms: int) -> list[str]:
        fresh = fn(series, bar_ts, alerts, now_ms)
        t = time.perf_counter()
        for a in alerts:
            if a.event_id in fresh:
                rec.committed.setdefault((str(a.payload.get("symbol")), a.bar_ts), t)
        return fresh

    return commit


def timed_feed(feed: Any, rec: Recorder) -> Any:
    """``feed`` whose ``update`` notes when each series' new bars were in the process."""

    class Timed:
        def __getattr__(self, name: str) -> Any:
            return getattr(feed, name)

        async def update(self, key: Any, closed_by: int) -> int | None:
            t = time.perf_counter()
            last = await feed.update(key, closed_by)
            done = time.perf_counter()
            rec.update_s.append(done - t)
            if last is not None:
                rec.arrived.setdefault((key.symbol, last), done)
            return last

    return Timed()


def recording_channel(rec: Recorder) -> Any:
    from oiradar.live.channels import Channel

    class Recording(Channel):
        def send(self, payload: Mapping[str, Any]) -> None:
            t = time.perf_counter()
            with rec.lock:
                rec.handed.append((t, str(payload.get("symbol")), int(payload.get("bar_ts", 0))))

    return Recording("bench", quiet=False)


def timed_evaluate(fn: Callable[..., int], rec: Recorder) -> Callable[..., int]:
    def wrapper(*args: Any) -> int:
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            rec.evaluate_s.append(time.perf_counter() - t)

    return wrapper


def rss_checkpoints(trajectory: list[tuple[int, float]]) -> dict[int, float]:
    """RSS after the first step that reached :data:`RSS_EARLY` closed bars, and after the last."""
    early = next(((b, m) for b, m in trajectory if b >= RSS_EARLY), None)
    if early is None:
        return {}
    return dict([early, trajectory[-1]])


def trimmed_rss_mb() -> float:
    """RSS once Python's garbage is collected and glibc's malloc has handed its free memory
    back: what a leak would keep, and allocator caches would not (polars' jemalloc returns its
    own after a decay time)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def rss_jumps(trajectory: list[tuple[int, float]], least_mb: float = 20.0) -> list[str]:
    """The steps after which RSS rose by ``least_mb`` or more, with the bar that closed then."""
    out = []
    for i in range(2, len(trajectory)):  # step 1 is the first after the backfill
        rise = trajectory[i][1] - trajectory[i - 1][1]
        if rise >= least_mb:
            close = datetime.fromtimestamp((START + i * HOUR) / 1000, UTC)
            out.append(f"step {i} (bars closing {close:%Y-%m-%d %H:%M} UTC): +{rise:.0f} MiB")
    return out


def rss_verdict(rss: dict[int, float]) -> str:
    if len(rss) < 2:
        return f"not measured (run at least {2 * RSS_EARLY:,} closed bars)"
    (b0, m0), (b1, m1) = sorted(rss.items())
    growth = (m1 - m0) / m0
    met = "MET" if abs(growth) <= RSS_TARGET else "NOT MET"
    scope = "" if b1 >= RSS_LATE else f"; the target asks {RSS_LATE:,}: run --bars {RSS_LATE}"
    return (f"{met}: {m0:.0f} -> {m1:.0f} MiB ({growth * 100:+.1f} %) from {b0:,} to {b1:,} "
            f"closed bars (target within {RSS_TARGET * 100:.0f} %{scope})")  # fmt: skip


# ---------------------------------------------------------------------- the run
@dataclass
class Result:
    series: int
    timeframe: str
    history: str
    steps: int
    closed_bars: int
    alerts: int
    alerts_unmatched: int
    errors: int
    backfill_s: float
    cpu_s: float
    cpu_per_bar_ms: float
    fake_cpu_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    handoff_p50_ms: float  # from the ledger commit (and the dispatcher's notify) to the send
    handoff_p99_ms: float
    cycle_p50_s: float
    cycle_max_s: float
    cycles_s: list[float]  # every step
    update_p50_ms: float
    evaluate_p50_ms: float
    rss_start_mb: float
    rss_by_bars: dict[int, float]  # the checkpoints: ~1,000 and the last
    rss_trajectory: list[tuple[int, float]]  # (closed bars, MiB) after every step
    rss_jumps: list[str]  # the steps after which it rose by 20 MiB or more
    rss_end_trimmed_mb: float  # at the end, after gc.collect() and malloc_trim(0)
    load_average: str
    verdict_p99: str
    verdict_rss: str
    machine: str = field(default_factory=lambda: f"{platform.machine()}, "
                         f"{os.cpu_count()} CPUs, python {platform.python_version()}")  # fmt: skip
    finished_utc: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )


async def backfill(w: Any, concurrency: int = BACKFILL_CONCURRENCY) -> None:
    """Every series' ``[watch] history``, a few series at a time (the watch's first step would
    fetch them one after the other: minutes for 200 series), then the watch's first step."""
    gate = asyncio.Semaphore(concurrency)

    async def one(st: Any) -> None:
        feed = w.feeds[st.key.exchange]
        async with gate:
            await feed.update(st.key, feed.now() - int(w.session.settings.watch.settle_s * 1000))

    await asyncio.gather(*(one(st) for st in w.states))
    await w.step()


async def _drive(w: Any, clock: SharedClock, steps: int, rec: Recorder,
                 say: Callable[[str], None], profile: Any = None) -> dict[str, Any]:  # fmt: skip
    """The backfill, then ``steps`` one-bar steps; CPU, cycle times and RSS checkpoints."""
    load = os.getloadavg()
    t = time.perf_counter()
    await backfill(w)
    backfilled = time.perf_counter() - t
    say(f"  backfill: {backfilled:.1f} s ({w.summary.errors} errors)")
    if profile is not None:
        profile.enable()
    rec.update_s.clear()
    rec.evaluate_s.clear()
    cycles: list[float] = []
    rss: list[tuple[int, float]] = [(0, rss_mb())]  # (closed bars, MiB) after each step
    cpu0 = proc_cpu_s()
    for i in range(steps):
        clock.set(clock.get() + HOUR)
        t = time.perf_counter()
        await w.step()
        cycles.append(time.perf_counter() - t)
        bars = w.summary.bars
        rss.append((bars, rss_mb()))
        if (i + 1) % 5 == 0 or i == steps - 1:
            say(f"  step {i + 1}/{steps}: {cycles[-1]:.2f} s, {bars:,} closed bars, "
                f"{w.summary.alerts:,} alerts, RSS {rss_mb():.0f} MiB")  # fmt: skip
    cpu = proc_cpu_s() - cpu0
    if profile is not None:
        profile.disable()
    return {"backfill": backfilled, "cycles": cycles, "rss": rss, "cpu": cpu, "load": load}


def run(series: int, bars: int, history: str, say: Callable[[str], None] = print,
        profile: cProfile.Profile | None = None) -> Result:  # fmt: skip
    from oiradar.app.feeds import VenueFeed
    from oiradar.app.session import Session
    from oiradar.config import load_settings
    from oiradar.live.watch import Watcher, WatchOptions
    from oiradar.model import SeriesKey, Timeframe
    from oiradar.sources import RetryReport

    steps = max(1, -(-bars // series))
    with tempfile.TemporaryDirectory(prefix="oiradar-bench-watch-") as tmp:
        home = Path(tmp) / "home"
        clock = SharedClock(Path(tmp) / "clock", create_at=START + PAST_SETTLE_MS)
        fake = FakeProcess(
            Path(tmp) / "clock", series, datetime.fromtimestamp(START / 1000, UTC).date()
        )
        try:
            env = {**fake.env, "OIRADAR__FETCH__RATE_LIMIT_MS": "0",
                   "OIRADAR__WATCH__HISTORY": history, "OIRADAR__WATCH__LIQUIDATIONS": "false"}  # fmt: skip
            session = Session(load_settings(environ=env, home=home), home)
            keys = tuple(SeriesKey(exchange="binanceusdm", symbol=f"S{i:03d}/USDT:USDT",
                                   timeframe=Timeframe.H1) for i in range(1, series + 1))  # fmt: skip
            rec = Recorder()
            feed = VenueFeed(session, "binanceusdm", history, RetryReport(), clock=clock.get)
            errors: list[str] = []
            w = Watcher(session, WatchOptions(keys, console=False, drain_s=60),
                        say=errors.append, feeds={"binanceusdm": timed_feed(feed, rec)},
                        channels=[recording_channel(rec)])  # fmt: skip
            w._evaluate = timed_evaluate(w._evaluate, rec)  # type: ignore[method-assign]
            w.ledger.commit = timed_commit(w.ledger.commit, rec)  # type: ignore[method-assign]
            say(f"watch: {series} series x 1h on the fake exchange, {steps} steps "
                f"({steps * series:,} closed bars), history {history}")  # fmt: skip
            w.open()

            async def drive() -> dict[str, Any]:
                try:
                    return await _drive(w, clock, steps, rec, say, profile)
                finally:
                    await w.close()

            out = asyncio.run(drive())
            fake_cpu = fake.cpu_s()
            out["rss_trimmed"] = trimmed_rss_mb()
        finally:
            fake.close()
            clock.close()
    for line in [e for e in errors if "alerts start with" not in e][:5]:
        say(f"  watch said: {line}")
    return _result(series, history, steps, w.summary, rec, out, fake_cpu)


def _result(series: int, history: str, steps: int, summary: Any, rec: Recorder,
            out: dict[str, Any], fake_cpu: float) -> Result:  # fmt: skip
    lat, unmatched = rec.latencies(rec.arrived)
    handoff, _ = rec.latencies(rec.committed)
    p99 = pct(lat, 99)
    v99 = "no alerts" if not lat else ("MET" if p99 < P99_TARGET_S else "NOT MET")
    rss = rss_checkpoints(out["rss"])
    v_rss = rss_verdict(rss)
    bars = summary.bars
    return Result(
        series=series, timeframe="1h", history=history, steps=steps, closed_bars=bars,
        alerts=len(rec.handed), alerts_unmatched=unmatched, errors=summary.errors,
        backfill_s=round(out["backfill"], 2), cpu_s=round(out["cpu"], 2),
        cpu_per_bar_ms=round(out["cpu"] / max(1, bars) * 1000, 2), fake_cpu_s=round(fake_cpu, 1),
        latency_p50_ms=round(pct(lat, 50) * 1000, 1), latency_p95_ms=round(pct(lat, 95) * 1000, 1),
        latency_p99_ms=round(p99 * 1000, 1), latency_max_ms=round(max(lat, default=0) * 1000, 1),
        handoff_p50_ms=round(pct(handoff, 50) * 1000, 1),
        handoff_p99_ms=round(pct(handoff, 99) * 1000, 1),
        cycle_p50_s=round(pct(out["cycles"], 50), 2), cycle_max_s=round(max(out["cycles"]), 2),
        cycles_s=[round(c, 2) for c in out["cycles"]],
        update_p50_ms=round(pct(rec.update_s, 50) * 1000, 1),
        evaluate_p50_ms=round(pct(rec.evaluate_s, 50) * 1000, 1),
        rss_start_mb=round(out["rss"][0][1], 1),
        rss_by_bars={k: round(v, 1) for k, v in rss.items()},
        rss_trajectory=[(b, round(m, 1)) for b, m in out["rss"]],
        rss_jumps=rss_jumps(out["rss"]), rss_end_trimmed_mb=round(out["rss_trimmed"], 1),
        load_average=f"{out['load'][0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
        verdict_p99=f"{v99}: p99 {p99 * 1000:.0f} ms (target < {P99_TARGET_S * 1000:.0f} ms)",
        verdict_rss=v_rss,
    )  # fmt: skip


def report(r: Result) -> None:
    rows = [
        ("series x timeframe", f"{r.series} x {r.timeframe} (history {r.history})"),
        ("steps / closed bars / alerts", f"{r.steps} / {r.closed_bars:,} / {r.alerts:,}"
                                         f" ({r.alerts_unmatched} unmatched, {r.errors} errors)"),
        ("backfill (not measured)", f"{r.backfill_s:.1f} s"),
        ("CPU per closed bar", f"{r.cpu_per_bar_ms:.1f} ms ({r.cpu_s:.1f} s in all; the fake "
                               f"exchange used {r.fake_cpu_s:.1f} s more in its process)"),
        ("latency p50 / p95 / p99 / max", f"{r.latency_p50_ms:.0f} / {r.latency_p95_ms:.0f} / "
                                          f"{r.latency_p99_ms:.0f} / {r.latency_max_ms:.0f} ms"),
        ("  of which commit -> send p50 / p99", f"{r.handoff_p50_ms:.0f} / {r.handoff_p99_ms:.0f} ms"
                                                " (the dispatcher)"),
        ("cycle (all series) p50 / max", f"{r.cycle_p50_s:.2f} / {r.cycle_max_s:.2f} s"),
        ("per series p50: update / evaluate+", f"{r.update_p50_ms:.1f} / {r.evaluate_p50_ms:.1f} ms"),
        ("  (evaluate+: evaluate, ledger, paper trading, daily sheet)", ""),
        ("RSS at start (after the backfill)", f"{r.rss_start_mb:.0f} MiB"),
        *((f"RSS after {k:,} closed bars", f"{v:.0f} MiB") for k, v in r.rss_by_bars.items()),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"  verdict latency: {r.verdict_p99}")
    for jump in r.rss_jumps:
        print(f"  RSS jump: {jump}")
    print(f"  RSS at the end after gc + malloc_trim: {r.rss_end_trimmed_mb:.0f} MiB; load average "
          f"{r.load_average} ({os.cpu_count()} CPUs)")  # fmt: skip
    print(f"  verdict memory : {r.verdict_rss}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``argv`` None (``bench/run.py``): the quick default, ``BENCH_WATCH_*`` overrides."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=int(os.environ.get("BENCH_WATCH_SERIES", 200)))
    ap.add_argument("--bars", type=int, default=int(os.environ.get("BENCH_WATCH_BARS", 2_000)),
                    help="closed bars to measure (series x steps; 10000 for the memory target)")  # fmt: skip
    ap.add_argument("--history", default=os.environ.get("BENCH_WATCH_HISTORY", "45d"))
    ap.add_argument("--json", type=Path, default=RESULTS, help="where the results go")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile the measured steps (cProfile; CPU figures inflate) and print "
                    "the N functions of most cumulative time")  # fmt: skip
    args = ap.parse_args([] if argv is None else argv)
    prof = cProfile.Profile() if args.profile else None
    r = run(args.series, args.bars, args.history, profile=prof)
    report(r)
    if prof is not None:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    doc = {k: None if isinstance(v, float) and v != v else v for k, v in asdict(r).items()}
    args.json.write_text(json.dumps(doc, indent=2) + "\n")  # NaN (no alerts) as null
    print(f"  results: {args.json}")
    return {"cpu_per_bar_ms": r.cpu_per_bar_ms, "latency_p99_ms": r.latency_p99_ms,
            "cycle_p50_s": r.cycle_p50_s, "rss_by_bars_mb": r.rss_by_bars}  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-fake":
        serve_fake(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main(sys.argv[1:])
