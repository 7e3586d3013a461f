"""Paper trading: the backtest's trade model on bars revealed one at a time (issue 14, item 5).

The must-show: an account started at the first bar and advanced bar by bar, as ``oiradar watch``
advances it, makes exactly the backtest's trades on the same bars (entry and exit bars, prices,
quantities, P&L), and stopping it closes the open position as the backtest's last bar does.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from oiradar.app import paper
from oiradar.app.backtest import BacktestOptions, backtest
from oiradar.app.session import Session
from oiradar.app.sim import SimOptions, simulate_market
from oiradar.backtest import TradeParams, run_backtest
from oiradar.backtest.paper import run_paper
from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.model import SeriesKey, Side, Timeframe
from oiradar.stats import Interval
from oiradar.store.paper import AccountState, JournalKind, PaperStore
from tests.unit.backtest.series import random_inputs

TF = Timeframe.H4
KEY = SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=TF)
RTOL = 1e-9  # the engine-vs-model hypothesis test's tolerance


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 days of 4h bars of the ksm preset: 12 trades (stops, take-profits, thesis exits), the
    last still open at the end."""
    home = tmp_path_factory.mktemp("market")
    simulate_market(Session(Settings(), home),
                    SimOptions(preset="ksm", days=120, seed=2, timeframe=TF))  # fmt: skip
    return home


@pytest.fixture
def session(market: Path, tmp_path: Path) -> Session:
    """A fresh home holding the simulated series and no paper account."""
    home = tmp_path / "home"
    shutil.copytree(market, home)
    return Session(Settings(), home)


def _bar_ts(s: Session) -> list[int]:
    report = backtest(s, BacktestOptions(timeframe=TF))
    return report.equity["ts"].to_list()


def _assert_same_trades(got: list[paper.ClosedTrade], want: list[dict]) -> None:
    assert len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        reason = "stopped" if w["reason"] == "end" else w["reason"]
        assert (g.entry_ts, g.exit_ts, g.reason) == (w["entry_ts"], w["exit_ts"], reason)
        np.testing.assert_allclose(
            [g.entry_price, g.exit_price, g.qty, g.stop, g.pnl, g.fees, g.funding, g.risk,
             g.equity_after],
            [w["entry_price"], w["exit_price"], w["qty"], w["stop"], w["pnl"], w["fees"],
             w["funding"], w["risk"], w["equity_after"]],
            rtol=RTOL, atol=RTOL,
        )  # fmt: skip


def test_paper_trades_equal_backtest_trades_bar_by_bar(session: Session) -> None:
    """Issue 14 must-show: the same model, the same fills, on bars revealed one at a time."""
    report = backtest(session, BacktestOptions(timeframe=TF))
    ts = report.equity["ts"].to_list()
    want = report.trades.to_dicts()
    assert want[-1]["reason"] == "end"  # a position is open at the end: the stop closes it
    paper.start(session, paper.PaperStart("sim", KEY.symbol, TF, since=ts[0]))
    written = []
    for t in ts:  # each call sees the bars closed by then, as `oiradar watch` calls it
        written += paper.advance(session, KEY, closed_by=t + TF.ms)
    _assert_same_trades(paper.trades(session, "1"), want[:-1])
    (acct,) = paper.status(session, closed_by=ts[-1] + TF.ms).accounts
    pos = acct.account.state.position
    assert pos is not None and pos["entry_ts"] == want[-1]["entry_ts"]
    assert math.isclose(pos["qty"], want[-1]["qty"], rel_tol=RTOL)

    stopped = paper.stop(session, "ksm-short-4h", closed_by=ts[-1] + TF.ms)
    assert stopped.trade is not None and not stopped.account.running
    assert [e.kind for e in stopped.entries] == [JournalKind.EXIT, JournalKind.STOPPED]
    assert stopped.entries[0].reason.startswith(paper.STOPPED_REASON)
    _assert_same_trades(paper.trades(session, "1"), want)
    assert math.isclose(stopped.account.state.equity, report.metrics["final_equity"], rel_tol=RTOL)
    assert written == paper.journal(session, "1", None).entries[: len(written)]


def test_bar_by_bar_journal_equals_one_advance_over_the_whole_history(
    session: Session, market: Path, tmp_path: Path
) -> None:
    """Decisions never depend on later bars: live and in hindsight, the same journal."""
    ts = _bar_ts(session)[:600]
    paper.start(session, paper.PaperStart("sim", KEY.symbol, TF, since=ts[0]))
    steps = np.cumsum(np.random.default_rng(5).integers(1, 40, size=len(ts)))
    for k in [*steps[steps < len(ts)], len(ts)]:  # irregular steps: a watch loop that lags
        paper.advance(session, closed_by=ts[k - 1] + TF.ms)
    other = Session(Settings(), tmp_path / "other")
    shutil.copytree(market, other.home)
    paper.start(other, paper.PaperStart("sim", KEY.symbol, TF, since=ts[0]))
    at_once = paper.advance(other, closed_by=ts[-1] + TF.ms)
    assert paper.journal(session, "1", None, closed_by=ts[-1] + TF.ms).entries == at_once
    kinds = {e.kind for e in at_once}
    assert {JournalKind.ENTRY_QUEUED, JournalKind.ENTRY, JournalKind.EXIT,
            JournalKind.EXIT_QUEUED, JournalKind.FUNDING} <= kinds  # fmt: skip


def test_advance_again_writes_nothing(session: Session) -> None:
    ts = _bar_ts(session)
    paper.start(session, paper.PaperStart("sim", KEY.symbol, TF, since=ts[0]))
    first = paper.advance(session)
    assert first and paper.advance(session) == []
    assert paper.advance(session, closed_by=ts[100]) == []  # an older view changes nothing
    with PaperStore.open(session.home) as store:
        (acct,) = store.accounts()
        assert store.journal_count(acct.id) == len(first)
        assert acct.state.last_bar_ts == ts[-1]


def test_start_mid_history_equals_backtest_of_that_range_and_has_an_interval(
    session: Session,
) -> None:
    """``--from``: trades the bars from its start only; the verdict's interval is the backtest's
    on the bars before it."""
    from oiradar.app.paper import account_inputs

    ts = _bar_ts(session)
    started = paper.start(session, paper.PaperStart("sim", KEY.symbol, TF, since=ts[360] - 1))
    assert started.account.start_ts == ts[360]  # rounded up to a bar open
    paper.advance(session)
    x = account_inputs(session, started.account, ts[-1] + TF.ms)
    assert x is not None
    p = TradeParams(**started.account.params["trade"])
    want = run_backtest(x.slice(360, x.n), p).trades.to_dicts()
    assert want[-1]["reason"] == "end"
    _assert_same_trades(paper.trades(session, "1"), want[:-1])

    (acct,) = paper.status(session, min_trades=3).accounts
    before = run_backtest(x.slice(0, 360), p).trades
    assert acct.backtest is not None and acct.backtest.trades == before.height >= 3
    assert acct.backtest.last_ts == ts[359]
    assert acct.trades == len(want) - 1 and acct.account.state.position is not None
    assert acct.verdict in (paper.ON_TRACK, paper.OUTSIDE)
    assert paper.status(session, min_trades=100).accounts[0].verdict.startswith("no backtest")


def test_default_start_is_the_next_bar_to_close(session: Session) -> None:
    report = backtest(session, BacktestOptions(timeframe=TF))
    ts = report.equity["ts"].to_list()
    started = paper.start(session, paper.PaperStart("sim", KEY.symbol, TF))
    assert started.account.start_ts == ts[-1] + TF.ms and started.last_closed_ts == ts[-1]
    assert paper.advance(session) == []
    (acct,) = paper.status(session).accounts
    assert acct.bars == 0 and acct.account.state.last_bar_ts is None
    assert acct.backtest is not None and acct.backtest.trades == report.trades.height
    assert acct.verdict == "too few trades to judge (n < 10)"
    stopped = paper.stop(session, "1")
    assert stopped.trade is None and [e.kind for e in stopped.entries] == [JournalKind.STOPPED]


def test_refusals_name_the_account(session: Session) -> None:
    paper.start(session, paper.PaperStart("sim", KEY.symbol, TF))
    with pytest.raises(InputError, match=r"already running for sim KSM/USDT:USDT 4h short: #1"):
        paper.start(session, paper.PaperStart("sim", KEY.symbol, TF))
    long = paper.start(session, paper.PaperStart("sim", KEY.symbol, TF, side=Side.LONG))
    assert long.account.name == "ksm-long-4h"
    with pytest.raises(InputError, match=r"no paper account 'nope'; accounts: #1 ksm-short-4h"):
        paper.journal(session, "nope")
    paper.stop(session, "1")
    with pytest.raises(InputError, match="stopped already"):
        paper.stop(session, "1")
    again = paper.start(session, paper.PaperStart("sim", KEY.symbol, TF))  # after the stop: allowed
    assert again.account.name == "ksm-short-4h-2"
    with pytest.raises(InputError, match="unknown signal 'entyr'; did you mean 'entry'"):
        paper.start(session, paper.PaperStart("sim", KEY.symbol, TF, signal="entyr"))
    with pytest.raises(InputError, match="no series stored for it"):
        paper.start(session, paper.PaperStart("sim", "BTC/USDT:USDT", TF))


def _iv(est: float, lo: float, hi: float) -> Interval:
    return Interval(est, lo, hi)


def test_judge() -> None:
    band = paper.BacktestBand(0, 1, 40, _iv(0.5, 0.35, 0.65), _iv(0.3, 0.1, 0.5))
    on = paper.judge(12, _iv(0.4, 0.2, 0.6), _iv(0.2, -0.2, 0.6), band)
    assert on[0] == paper.ON_TRACK
    off = paper.judge(12, _iv(0.1, 0.02, 0.3), _iv(0.2, -0.2, 0.6), band)
    assert off == (paper.OUTSIDE, "hit rate below")
    # the running estimate outside the interval is outside, even when the intervals overlap
    edge = paper.judge(12, _iv(0.3, 0.1, 0.55), _iv(0.6, 0.2, 0.9), band)
    assert edge == (paper.OUTSIDE, "hit rate below; mean R above")
    assert paper.judge(3, _iv(0.1, 0.02, 0.3), _iv(0.2, -0.2, 0.6), band)[0].startswith("too few")
    assert paper.judge(12, _iv(0.4, 0.2, 0.6), _iv(0.2, -0.2, 0.6), None)[0].startswith("no back")


def _account(p: TradeParams) -> paper.Account:
    trade = {k: (str(v) if isinstance(v, Side) else v) for k, v in asdict(p).items()}
    state = AccountState(last_bar_ts=None, equity=p.initial_equity, cash=p.initial_equity)
    return paper.Account(id=1, name="t", exchange="sim", symbol=KEY.symbol, timeframe="1h",
                         side=str(p.side), signal="entry", params={"trade": trade}, start_ts=0,
                         status="running", created_ms=0, stopped_ms=None, state=state)  # fmt: skip


def test_the_journal_accounts_for_every_state_change_of_the_model() -> None:
    """On random bars with every exit reason: the journal's fills, skips, exits and funding add
    up to the model's trades, which equal :func:`run_paper`'s."""
    seen: set[JournalKind] = set()
    texts = ""
    for seed in range(40):
        for p in (TradeParams(), TradeParams(use_stop=False, leverage=50, venue_max_leverage=125),
                  TradeParams(side=Side.LONG, take_profit_r=0.5, thesis_streak=3, time_stop=5)):  # fmt: skip
            x = random_inputs(seed, 250, vol=0.03)
            run = paper.replay(_account(p), x, final=True)
            ref, _ = run_paper(x.as_dict(), p)
            assert [(t.entry_ts, t.exit_ts, t.pnl) for t in run.trades] == [
                (int(x.ts[r.entry_bar]), int(x.ts[r.exit_bar]), r.pnl) for r in ref]  # fmt: skip
            kinds = [e.kind for e in run.entries]
            n = {k: kinds.count(k) for k in JournalKind}
            assert n[JournalKind.ENTRY] + n[JournalKind.SKIPPED] == n[JournalKind.ENTRY_QUEUED]
            assert n[JournalKind.ENTRY] == n[JournalKind.EXIT] == len(ref)
            exits = [e.pnl for e in run.entries if e.kind is JournalKind.EXIT]
            assert exits == [r.pnl for r in ref]
            funding = sum(e.pnl or 0.0 for e in run.entries if e.kind is JournalKind.FUNDING)
            assert math.isclose(funding, sum(r.funding for r in ref), abs_tol=1e-9)
            keys = [(e.bar_ts, e.kind, e.seq) for e in run.entries]
            assert len(set(keys)) == len(keys)
            seen |= set(kinds)
            texts += "\n".join(e.reason for e in run.entries)
    assert seen == set(JournalKind) - {JournalKind.STOPPED}
    for phrase in ("liquidated at", "take-profit at", "time stop", "thesis broken",
                   "touched intrabar", "gapped through the stop", "is not above the open",
                   "is not below the open", "no ATR", "one position at a time",
                   "stopped by the user: closed at the last close"):  # fmt: skip
        assert phrase in texts, phrase
