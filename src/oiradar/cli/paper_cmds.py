"""``paper start | status | journal | stop``: paper trading, the backtest's trade model on live bars.

``paper`` is a group of subcommands: :data:`commands` registers it on the app as a typer sub-app
(the other modules' :class:`~oiradar.cli.context.CommandSet` registers plain commands).
"""

from __future__ import annotations

from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.render.formats import OutFormat

HELP = (
    "Paper trading: the backtest's trade model on live bars, with a persistent account and a "
    "journal of every decision and its reason."
)
Account = Annotated[str, typer.Argument(help="The account's number or name (`paper status`).")]

_sub = CommandSet()


class PaperCommands:
    """Registers ``paper`` and its subcommands (errors become one ``error:`` line, exit 2)."""

    def register(self, app: typer.Typer) -> None:
        paper = typer.Typer(name="paper", help=HELP, no_args_is_help=True)
        _sub.register(paper)
        app.add_typer(paper, name="paper")


commands = PaperCommands()


@_sub.add("start")
def start_cmd(
    ctx: typer.Context, exchange: o.Exchange = None, symbol: o.Symbol = None,
    timeframe: o.Tf = "4h",
    side: Annotated[str | None, typer.Option("--side", help="short or long (default: \\[paper] side).")] = None,
    equity: Annotated[float | None, typer.Option("--equity", help="Starting equity (default: \\[backtest] initial_equity).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Trade from this date (UTC) over the stored history, to try it out; default: the next bar to close.")] = None,
    signal: Annotated[str | None, typer.Option("--signal", help="Entry signal (default: \\[paper] signal).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Trade parameter KEY=VALUE (repeatable), as in backtest.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The account's name (default: BASE-SIDE-TIMEFRAME).")] = None,
) -> None:  # fmt: skip
    """Open a paper account on one stored series: it trades the bars that close after its start."""
    from oiradar.app.paper import PaperStart, start
    from oiradar.render.paper import show_started

    if equity is not None and not equity > 0:
        from oiradar.errors import InputError

        raise InputError(f"--equity must be above 0, got {equity:g}")
    opts = PaperStart(exchange, symbol, o.timeframe(timeframe),
                      None if side is None else o.side(side), equity, o.date(from_, "--from"),
                      o.params(param or []), signal, name)  # fmt: skip
    show_started(start(session(ctx), opts))


@_sub.add("status")
def status_cmd(
    ctx: typer.Context,
    min_trades: Annotated[int | None, typer.Option("--min-trades", help="Closed trades needed for a verdict (default 10).")] = None,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False,
) -> None:  # fmt: skip
    """Every paper account, brought up to date, against the backtest of its configuration.

    Equity, open position, hit rate and mean R, beside the backtest's intervals on the history
    before the account's start, and the verdict."""
    from oiradar.app.paper import MIN_TRADES, status
    from oiradar.render.paper import show_status

    k = MIN_TRADES if min_trades is None else o.at_least(min_trades, 1, "--min-trades")
    show_status(status(session(ctx), min_trades=k), o.out_format(fmt, as_json))


@_sub.add("journal")
def journal_cmd(
    ctx: typer.Context, account: Account,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Show the last N entries.")] = 20,
    show_all: Annotated[bool, typer.Option("--all", help="Show every entry.")] = False,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """An account's decisions, each with its reason.

    Entries queued, filled or skipped, exits queued and done, funding, the stop."""
    from oiradar.app.paper import journal
    from oiradar.render.paper import show_journal

    n = None if show_all else o.at_least(tail, 1, "--tail")
    show_journal(journal(session(ctx), account, n), o.out_format(fmt, as_json), wide)


@_sub.add("stop")
def stop_cmd(ctx: typer.Context, account: Account) -> None:
    """Stop an account: an open position is closed at the last close; the journal stays."""
    from oiradar.app.paper import stop
    from oiradar.render.paper import show_stopped

    show_stopped(stop(session(ctx), account))
