"""`oiradar paper start | status | journal | stop` end to end, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli_helpers import assert_refused, run_cli


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("paper") / "home"
    res = run_cli(["simulate", "-p", "ksm", "--days", "120", "--seed", "2", "-t", "4h"], home)
    assert res.code == 0, res.output
    return home


def test_paper_start_status_journal_stop(home: Path) -> None:
    res = run_cli(["paper", "status"], home)
    assert res.code == 0 and "No paper accounts yet: start one with" in res.stdout, res.output

    res = run_cli(["paper", "start", "-e", "sim", "-s", "KSM/USDT:USDT", "-t", "4h",
                   "--from", "2024-02-15", "--equity", "5000"], home)  # fmt: skip
    assert res.code == 0, res.output
    assert (
        "Started paper account #1 ksm-short-4h: sim KSM/USDT:USDT 4h, short on entry" in res.stdout
    )
    assert "5,000.00 USDT" in res.stdout and "2024-02-15 00:00 UTC" in res.stdout

    res = run_cli(["paper", "status"], home)
    assert res.code == 0, res.output
    out = res.stdout
    assert "Paper account #1 ksm-short-4h" in out and "from 2024-02-15 00:00 to" in out
    assert "closed trades: hit rate" in out and "backtest before the start (2024-01-01 to" in out
    assert "verdict: " in out and "Wilson for the hit rate" in out

    res = run_cli(["paper", "status", "--format", "json"], home)
    (acct,) = json.loads(res.stdout)["accounts"]
    assert acct["account"]["status"] == "running" and acct["trades"] >= 3

    res = run_cli(["paper", "journal", "ksm-short-4h", "--tail", "5"], home)
    assert res.code == 0, res.output
    assert "Journal of #1 ksm-short-4h" in res.stdout and "last 5 of" in res.stdout
    res = run_cli(["paper", "journal", "1", "--all", "--format", "csv"], home)
    kinds = {line.split(",")[2] for line in res.stdout.splitlines()[1:]}
    assert {"entry_queued", "entry", "exit", "funding"} <= kinds

    res = run_cli(["paper", "stop", "1"], home)
    assert res.code == 0, res.output
    assert "Stopped paper account #1 ksm-short-4h" in res.stdout
    res = run_cli(["paper", "journal", "1", "-n", "1"], home)
    assert "stopped" in res.stdout and "stopped by the user" in res.stdout


def test_paper_refusals(home: Path) -> None:
    res = run_cli(["paper", "start", "-t", "4h", "--side", "long"], home)
    assert res.code == 0, res.output
    res = run_cli(["paper", "start", "-t", "4h", "--side", "long"], home)
    assert_refused(res, ["a paper account is already running for sim KSM/USDT:USDT 4h long",
                         "oiradar paper stop"])  # fmt: skip
    assert res.stderr.count("error:") == 1
    for cmd in (["journal", "nope"], ["stop", "42"]):
        res = run_cli(["paper", *cmd], home)
        assert_refused(res, [f"no paper account {cmd[1]!r}", "ksm-long-4h (running)"])
        assert res.stderr.count("error:") == 1
    res = run_cli(["paper", "start", "-t", "4h", "-s", "BTC/USDT:USDT"], home)
    assert_refused(res, ["--symbol 'BTC/USDT:USDT': no series stored for it"])
