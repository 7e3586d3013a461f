"""The real ``oiradar`` command against the fake exchange: fetch, dry run, markets, kill and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.store import Catalog
from tests.fake_exchange import FakeExchange, FaultKind, FaultPlan
from tests.fake_exchange.harness import fake_env, fetch, same_catalog

OIRADAR = str(Path(sys.executable).parent / "oiradar")
KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
# The command runs on the real clock, so the fake's clock is today too (its market is defined at
# any time): ten days ending two days ago, the first five in the archive, all within REST's 30.
NOW = time.time_ns() // 1_000_000
T0 = NOW // DAY_MS * DAY_MS - 12 * DAY_MS
ARCHIVE_UNTIL = datetime.fromtimestamp((T0 + 5 * DAY_MS) / 1000, tz=UTC).date()
ARGS = ["fetch", "-e", "binanceusdm", "-s", "KSM/USDT:USDT", "-t", "5m",
        "--since", f"{datetime.fromtimestamp(T0 / 1000, tz=UTC):%Y-%m-%d}",
        "--until", f"{datetime.fromtimestamp((T0 + 10 * DAY_MS) / 1000, tz=UTC):%Y-%m-%d}"]  # fmt: skip


def _cmd(home: Path, *args: str) -> list[str]:
    return [OIRADAR, "--home", str(home), *args]


def _env(fake: FakeExchange, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    return {**keep, **fake_env(fake, **extra), "COLUMNS": "200"}


@dataclass
class _Out:
    returncode: int
    stdout: str
    stderr: str


def _run(fake: FakeExchange, home: Path, *args: str) -> _Out:
    """The CLI in-process (typer's runner; the kill test below uses a real subprocess)."""
    from oiradar.cli.main import app

    env = (
        {k: None for k in os.environ if k.startswith("OIRADAR")}
        | fake_env(fake)
        | {"COLUMNS": "200"}
    )
    res = CliRunner().invoke(app, ["--home", str(home), *args], env=env)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return _Out(res.exit_code, res.stdout, res.stderr)


def test_cli_fetch_dry_run_and_markets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL) as fake:
        plan = _run(fake, home, *ARGS, "--dry-run")
        assert plan.returncode == 0, plan.stderr
        assert "about 40 requests" in plan.stdout and "fapiPublicGetKlines" in plan.stdout
        assert not (home / "catalog").exists()
        done = _run(fake, home, *ARGS)
        assert done.returncode == 0, done.stderr
        assert "10 chunks fetched" in done.stdout and "2880 bars added" in done.stdout
        assert "retries: none" in done.stdout
        again = _run(fake, home, *ARGS)
        assert "0 chunks fetched, 10 already complete" in again.stdout
        markets = _run(fake, home, "markets", "-e", "okx", "--format", "csv")
        assert markets.returncode == 0, markets.stderr
        lines = markets.stdout.splitlines()
        assert lines[0].startswith("symbol,id,margin,contract_size")
        assert any(line.startswith("KSM/USDT:USDT,KSM-USDT-SWAP,linear,0.1") for line in lines)
        assert any(line.startswith("BTC/USD:BTC,BTC-USD-SWAP,inverse,100.0") for line in lines)


def test_cli_reports_retries_and_a_failed_chunk(tmp_path: Path) -> None:
    home = tmp_path / "home"
    faults = FaultPlan().add(FaultKind.RATE_LIMIT, "fundingRate", retry_after="0")
    faults.add(
        FaultKind.SERVER_ERROR,
        f"klines?symbol=KSMUSDT&interval=5m&startTime={T0 + 2 * DAY_MS}",
        times=99,
    )
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        out = _run(fake, home, *ARGS)
    assert out.returncode == 1
    assert "9 chunks fetched, 0 already complete, 1 failed" in out.stdout
    assert "rate_limit" in out.stdout and "server_error" in out.stdout and "gave up" in out.stderr


def test_killed_fetch_resumes_to_the_clean_catalog(tmp_path: Path) -> None:
    """SIGKILL a fetch mid-way (it hangs on day 7), re-run it: the catalog equals one clean run."""
    home, clean = tmp_path / "home", tmp_path / "clean"
    day6 = T0 + 6 * DAY_MS
    faults = FaultPlan().add(
        FaultKind.HANG, f"klines?symbol=KSMUSDT&interval=5m&startTime={day6}", times=99
    )
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        env = _env(fake, OIRADAR__FETCH__CONCURRENCY="1", OIRADAR__FETCH__TIMEOUT="30")
        proc = subprocess.Popen(_cmd(home, *ARGS), env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not faults.faults[0].fired and not faults.fired and time.monotonic() < deadline:
                time.sleep(0.05)
            assert faults.fired, "the fetch never reached day 7"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        partial = Catalog(home).read_stored(KEY)
        assert partial.height == 6 * 288  # days 1-6 written whole, day 7 not at all
        faults.faults[0].fired = True  # the venue answers again
        span = {"timeframe": Timeframe.M5, "since": T0, "until": T0 + 10 * DAY_MS}
        resumed, _ = fetch(fake, home, **span)  # the same fetch, in-process this time
        assert [c.start for c in resumed.plan.chunks] == [T0 + d * DAY_MS for d in range(6, 10)]
        fetch(fake, clean, **span)
    assert same_catalog(home, clean)


def test_all_symbols_from_the_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "oiradar.toml").write_text('[symbols."KSM/USDT:USDT"]\n[symbols."BTC/USDT:USDT"]\n')
    with FakeExchange(now_ms=NOW) as fake:
        out = _run(fake, home, "fetch", "-e", "bybit", "--all-symbols", "--since", "2024-01-30",
                   "--until", "2024-02-01", "--dry-run")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (
        "Plan for bybit KSM/USDT:USDT 1h" in out.stdout
        and "Plan for bybit BTC/USDT:USDT 1h" in out.stdout
    )
