"""Restart: ``watch`` killed with SIGKILL at random points and restarted sends every alert exactly
once to a local JSON webhook (issue 14): the events received equal ``oiradar scan``'s on the
stored history between the first start and the last bar evaluated, each once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import polars as pl

from oiradar.app.scan import ScanOptions, scan_events
from oiradar.app.session import Session
from oiradar.config import load_settings
from oiradar.model import SeriesKey, Timeframe
from oiradar.store.ledger import Ledger, ledger_path
from oiradar.timeutil import iso_utc
from tests.integration.cli_helpers import OIRADAR, run_cli
from tests.integration.live.receiver import Receiver

KEY = SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
LABEL = "sim KSM/USDT:USDT 1h"
TRIALS = 20
ENV = {"OIRADAR__WATCH__SETTLE_S": "0", "OIRADAR__ALERTS__BACKOFF_BASE": "0.05",
       "OIRADAR__ALERTS__BACKOFF_MAX": "0.2"}  # fmt: skip


def _args(url: str, bars: int) -> list[str]:
    return ["watch", "-e", "sim", "-s", KEY.symbol, "-t", "1h", "--sim-speed", "72000",
            "--stop-after-bars", str(bars), "--notify", url, "--quiet"]  # fmt: skip


def _environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    return {**env, **ENV, "COLUMNS": "100"}


def test_sigkill_at_random_points_sends_each_alert_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rng = random.Random(14)
    kills = 0
    with Receiver() as rx:
        for _ in range(TRIALS):
            proc = subprocess.Popen([*OIRADAR, "--home", str(home), *_args(rx.url, 10_000)],
                                    env=_environ(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)  # fmt: skip
            time.sleep(rng.uniform(0.5, 4.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            _, err = proc.communicate(timeout=30)
            assert b"Traceback" not in err, err.decode()
        final = run_cli(_args(rx.url, 60), home, env=ENV, timeout=120)
        assert final.code == 0, final.output
        received = rx.event_ids()
    assert kills >= TRIALS - 2  # the kills really landed mid-run

    ledger = Ledger(ledger_path(home))
    first, last = int(ledger.get(f"first_bar:{LABEL}") or 0), ledger.cursor(LABEL)
    assert ledger.pending_count() == 0
    ledger.close()
    assert last is not None and last > first
    session = Session(load_settings(environ={}, home=home), home)
    events = scan_events(session, ScanOptions(KEY.timeframe, ("sim",), (KEY.symbol,))).events
    events = events.filter((pl.col("ts") > first) & (pl.col("ts") <= last))
    want = [f"sim|{KEY.symbol}|1h|{r['signal']}|{r['side']}|"
            + iso_utc(r["ts"]).replace(" ", "T") + "Z" for r in events.iter_rows(named=True)]  # fmt: skip
    print(f"{kills} kills, {len(received)} alerts received, {len(want)} scan events")
    assert len(want) >= 8, f"only {len(want)} events: the trial says too little"
    dupes = sorted({e for e in received if received.count(e) > 1})
    assert not dupes, f"sent twice: {dupes}"
    assert sorted(received) == sorted(want)
