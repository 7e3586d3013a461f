"""Writers in separate processes: the catalog lock, `demo --fresh`, two recorders, damaged files.

Every command runs as a real process (the console entry point), as a user would run two of them
side by side; the other process holding a lock is a small Python script that says when it holds it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog, read_polls
from oiradar.store.atomic import LOCK_FILE, MANIFEST
from tests.fake_exchange import FakeExchange
from tests.fake_exchange.harness import NOW, fake_env

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "files" / "bars_5m.csv"
KEY = SeriesKey(exchange="test", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
DEMO_KEY = SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
IMPORT = ("import", str(FIXTURE), "-e", "test", "-s", "KSM/USDT:USDT", "-t", "5m", "-q")
OIRADAR = [sys.executable, "-c", "from oiradar.cli.main import main; main()"]
# Holds the catalog lock (importing the fixture inside it, as an import mid-write would) until
# its stdin closes.
HOLDER = """
import sys
from oiradar.model import Timeframe
from oiradar.sources import import_paths
from oiradar.store import Catalog
cat = Catalog(sys.argv[1])
with cat.lock():
    if sys.argv[2] == "import":
        import_paths([sys.argv[3]], cat, exchange="test", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
    print("holding", flush=True)
    sys.stdin.read()
"""


def cmd(home: Path, *args: str) -> list[str]:
    return [*OIRADAR, "--home", str(home), *args]


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(cmd(home, *args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=False)  # fmt: skip


@contextmanager
def holding_lock(home: Path, *, import_first: bool = False) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the catalog lock until the block ends."""
    args = ["import", str(FIXTURE)] if import_first else ["hold"]
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


def wait_until(check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)


def holder_pid(home: Path) -> str:
    try:
        return (home / "catalog" / LOCK_FILE).read_text().strip()
    except FileNotFoundError:
        return ""


def stored_rows(home: Path, key: SeriesKey = KEY) -> int:
    cat = Catalog(home)
    return cat.read_stored(key).height if cat.has_series(key) else 0


def test_a_waiting_writer_names_the_holder_and_gives_up_after_the_timeout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with holding_lock(home) as holder:
        res = run(home, *IMPORT, env={"OIRADAR__CATALOG__LOCK_TIMEOUT": "0.5"})
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr + res.stdout
        assert res.stderr.count("waiting for the catalog lock") == 1
        assert f"waiting for the catalog lock held by pid {holder.pid}" in res.stderr
        assert f"still held by pid {holder.pid} after 0.5 s" in res.stderr
        assert "lock_timeout" in res.stderr
        assert stored_rows(home) == 0
    assert (home / "catalog" / LOCK_FILE).read_text() == ""  # the holder's pid is gone with it
    res = run(home, *IMPORT, env={"OIRADAR__CATALOG__LOCK_TIMEOUT": "0.5"})
    assert res.returncode == 0, res.stderr
    assert "waiting" not in res.stderr and stored_rows(home) == 4


def test_demo_fresh_waits_for_a_writer_and_never_wipes_under_it(tmp_path: Path) -> None:
    """An import holding the lock is never wiped under it: demo --fresh waits, then wipes."""
    home = tmp_path / "home"
    err = tmp_path / "demo.err"
    with holding_lock(home, import_first=True) as holder, err.open("w") as err_fh:
        assert stored_rows(home) == 4
        demo = subprocess.Popen(cmd(home, "demo", "--fresh", "--days", "2"), text=True,
                                stdout=subprocess.DEVNULL, stderr=err_fh)  # fmt: skip
        wait_until(
            lambda: "waiting" in err.read_text() or demo.poll() is not None or not stored_rows(home)
        )
        assert stored_rows(home) == 4  # the import committed; nothing wiped it while it ran
        assert f"waiting for the catalog lock held by pid {holder.pid}" in err.read_text()
        assert demo.poll() is None
    assert demo.wait(timeout=120) == 0, err.read_text()
    # the import came first, then the wipe: only the demo's series is left, whole
    assert [str(k) for k in Catalog(home).stored_keys()] == [str(DEMO_KEY)]
    assert stored_rows(home, DEMO_KEY) == 2 * 288


def test_an_import_beside_demo_fresh_keeps_its_rows_when_it_succeeds(tmp_path: Path) -> None:
    """The import started while the demo wipes and writes lands after it: its rows stay."""
    home = tmp_path / "home"
    run(home, "demo", "--days", "1")  # something for --fresh to delete
    demo = subprocess.Popen(cmd(home, "demo", "--fresh", "--days", "20"), text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    wait_until(lambda: holder_pid(home) == str(demo.pid) or demo.poll() is not None)
    res = run(home, *IMPORT)
    _, demo_err = demo.communicate(timeout=120)
    assert demo.returncode == 0, demo_err
    assert res.returncode == 0, res.stderr
    assert stored_rows(home) == 4  # it reported success: its rows are there
    assert stored_rows(home, DEMO_KEY) == 20 * 288


def test_a_second_recorder_of_a_series_refuses_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ("record", "-e", "binanceusdm", "-s", "KSM/USDT:USDT", "--interval", "0.2s",
            "--no-liquidations")  # fmt: skip
    with FakeExchange(now_ms=NOW) as fake:
        env = {**os.environ, **fake_env(fake)}
        first = subprocess.Popen(cmd(home, *args, "--duration", "8s"), env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        wait_until(lambda: polls(home) >= 1 or first.poll() is not None)
        second = run(home, *args, "--duration", "5s", env=fake_env(fake))
        out, err = first.communicate(timeout=120)
    assert second.returncode == 2, second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    assert "binanceusdm KSM/USDT:USDT is already being recorded" in second.stderr
    assert f"by pid {first.pid}" in second.stderr
    assert first.returncode == 0, err
    recorded = re.search(r"(\d+) OI polls", out)
    assert recorded is not None and int(recorded[1]) >= 2
    assert polls(home) == int(recorded[1])  # every poll the first recorder made is stored


APPENDER = """
import os, sys, time
from pathlib import Path
import polars as pl
from oiradar.store import POLL_SCHEMA, append_polls
(Path(sys.argv[1]) / f"ready-{os.getpid()}").touch()
while len(list(Path(sys.argv[1]).glob("ready-*"))) < 2:  # start together
    time.sleep(0.01)
for i in range(50):
    now = time.time_ns() // 1_000_000
    row = {"ts_venue": now, "ts_received": now, "exchange": "binanceusdm", "symbol": "KSM/USDT:USDT",
           "oi_raw": float(i), "oi_unit": "base", "oi": float(i), "oi_value": None}
    append_polls(sys.argv[1], pl.DataFrame([row], schema=POLL_SCHEMA))
"""


def test_polls_appended_by_two_processes_at_once_are_all_kept(tmp_path: Path) -> None:
    """Each day file is read, extended and replaced under the series lock: no write is lost;
    a reader meanwhile sees whole files only (never a footer of one and pages of another)."""
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path)]) for _ in range(2)]
    seen = [0]
    while any(p.poll() is None for p in procs):
        seen.append(polls(tmp_path))  # raises on a torn read
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert seen == sorted(seen) and polls(tmp_path) == 100


def polls(home: Path) -> int:
    return read_polls(home, "binanceusdm", "KSM/USDT:USDT").height


def _break_manifest_json(folder: Path) -> Path:
    (folder / MANIFEST).write_text('{"partitions": {"2024-01": ')
    return folder / MANIFEST


def _break_manifest_shape(folder: Path) -> Path:
    (folder / MANIFEST).write_text('{"partitions": ["2024-01.abc.parquet"]}')
    return folder / MANIFEST


def _break_partition(folder: Path) -> Path:
    part = next(folder.glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:40])
    return part


def _lose_partition(folder: Path) -> Path:
    next(folder.glob("*.parquet")).unlink()
    return folder / MANIFEST


@pytest.mark.parametrize(
    "damage", [_break_manifest_json, _break_manifest_shape, _break_partition, _lose_partition]
)
@pytest.mark.parametrize("command", ["list", "export"])
def test_a_damaged_catalog_file_is_named_without_a_traceback(
    tmp_path: Path, damage: Callable[[Path], Path], command: str
) -> None:
    home = tmp_path / "home"
    assert run(home, *IMPORT).returncode == 0
    bad = damage(Catalog(home).series_dir(KEY))
    args = [
        "export",
        "-e",
        "test",
        "-s",
        "KSM/USDT:USDT",
        "-t",
        "5m",
        "--out",
        str(tmp_path / "x.csv"),
    ]
    res = run(home, *(args if command == "export" else ["list"]))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert f"{bad} is damaged" in res.stderr
    assert "Restore that file from a backup, or delete the folder" in res.stderr
