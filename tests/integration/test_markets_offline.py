"""``markets`` and ``fetch --dry-run`` when the venue goes away: the kept market list stands in,
and without one the command fails at once (no minute of retries) with a message that says why.

The venue is the local fake exchange; "offline" is the same URL after the fake has stopped (the
port refuses connections). The retry settings are the defaults, as a user has them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.model import DAY_MS
from oiradar.store.markets import load_cached_markets, markets_cache_path
from tests.fake_exchange import FakeExchange
from tests.integration.cli_helpers import assert_refused, run_cli

NOW = time.time_ns() // 1_000_000
SINCE, UNTIL = NOW - 12 * DAY_MS, NOW - 2 * DAY_MS
DRY_RUN = ["fetch", "-e", "binanceusdm", "-s", "KSM/USDT:USDT", "-t", "1h", "--dry-run",
           "--since", time.strftime("%Y-%m-%d", time.gmtime(SINCE / 1000)),
           "--until", time.strftime("%Y-%m-%d", time.gmtime(UNTIL / 1000))]  # fmt: skip


def _cli(env: dict[str, str], home: Path, *args: str) -> tuple[int, str, str]:
    environ = {k: None for k in os.environ if k.startswith("OIRADAR")} | env | {"COLUMNS": "200"}
    res = CliRunner().invoke(app, ["--home", str(home), *args], env=environ)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def test_markets_and_dry_run_use_the_kept_list_when_the_venue_goes_away(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeExchange(now_ms=NOW) as fake:
        env = fake.env()
        code, online, err = _cli(env, home, "markets", "-e", "binanceusdm", "--format", "csv")
        assert code == 0, err
        assert "warning" not in err
    kept = load_cached_markets(home, "binanceusdm")
    assert not isinstance(kept, str), kept
    assert "KSM/USDT:USDT" in kept.markets
    doc = json.loads(markets_cache_path(home, "binanceusdm").read_text())
    assert set(doc) == {"version", "exchange", "saved_at", "markets"}

    # the fake is gone: the same URL now refuses connections
    code, offline, err = _cli(env, home, "markets", "-e", "binanceusdm", "--format", "csv")
    assert code == 0, err
    assert offline == online  # the same table, from the kept list
    assert "binanceusdm cannot be reached" in err and "using its market list kept at" in err

    code, plan, err = _cli(env, home, *DRY_RUN)
    assert code == 0, err
    assert "fapiPublicGetKlines" in plan  # the plan, built from the kept market
    assert "using its market list kept at" in err
    assert not (home / "catalog" / "bars").exists()

    code, _, err = _cli(env, home, "fetch", "-e", "binanceusdm", "-s", "NOPE/USDT:USDT", "--dry-run")
    assert code == 2 and "binanceusdm has no market 'NOPE/USDT:USDT'" in err


def test_offline_without_a_kept_list_fails_at_once_and_says_so(tmp_path: Path) -> None:
    with FakeExchange(now_ms=NOW) as fake:
        env = fake.env()
    for args in (["markets", "-e", "okx"], DRY_RUN):
        res = run_cli(args, tmp_path / "empty-home", env=env, timeout=30)
        assert_refused(res, ["cannot connect", "no market list of", "is cached in",
                             str(tmp_path / "empty-home" / "cache" / "markets"),
                             "once online"])  # fmt: skip
        assert "waiting" not in res.stderr  # no long backoff announced: it gave up within seconds


def test_a_damaged_kept_list_is_named_and_rebuilt_online(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = markets_cache_path(home, "bybit")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with FakeExchange(now_ms=NOW) as fake:
        env = fake.env()
        res = run_cli(["markets", "-e", "bybit", "--format", "csv"], home, env=env, timeout=60)
        assert res.code == 0, res.output
    assert not isinstance(load_cached_markets(home, "bybit"), str)
    path.write_text('{"version": 1}')
    res = run_cli(["markets", "-e", "bybit"], home, env=env, timeout=30)
    assert_refused(res, [str(path), "is damaged"])


def test_dates_are_checked_before_any_request(tmp_path: Path) -> None:
    with FakeExchange(now_ms=NOW) as fake:
        for args, fragments in (
            (["--since", "2024-02-01", "--until", "2024-01-01"], ["--since 2024-02-01", "swap"]),
            (["--since", "2024-13-01"], ["2024-13-01"]),
            (["--until", "someday"], ["someday"]),
        ):
            res = run_cli(["fetch", "-e", "binanceusdm", "-s", "KSM/USDT:USDT", "--dry-run", *args],
                          tmp_path, env=fake.env(), timeout=30)  # fmt: skip
            assert_refused(res, fragments)
        assert fake.requests == []
