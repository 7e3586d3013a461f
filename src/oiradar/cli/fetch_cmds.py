"""Exchange commands: ``markets``, ``fetch``, ``record``.

The venue clients import ccxt (seconds): their use cases are imported inside the commands only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.render.formats import OutFormat

if TYPE_CHECKING:
    from oiradar.app.fetch import RetryEvent

Venue = Annotated[str, typer.Option("--exchange", "-e", help="binanceusdm, binancecoinm, bybit, okx")]
AllSymbols = Annotated[bool, typer.Option("--all-symbols", help="every symbol with a section in the config")]


def warn_retry(event: RetryEvent) -> None:
    """A long wait or a refused one, shown as it happens (the retries table comes at the end)."""
    from oiradar.render.console import warning

    line = event.warning()
    if line is not None:
        warning(line)


commands = CommandSet()


@commands.add("markets")
def markets_cmd(ctx: typer.Context, exchange: Venue, fmt: o.Format = OutFormat.TABLE) -> None:
    """The venue's perpetuals and which data it offers (OHLCV, OI history depth, funding, liquidations)."""
    from oiradar.app.fetch import markets, offline_note
    from oiradar.render.console import warning
    from oiradar.render.tables import show

    listed = markets(session(ctx), exchange, warn_retry)
    note = offline_note(exchange, listed.cached_at, listed.offline_reason)
    if note is not None:
        warning(note)
    show(listed.frame, fmt, title=f"{exchange} perpetuals")


@commands.add("fetch")
def fetch_cmd(
    ctx: typer.Context,
    exchange: Venue,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s", help="ccxt symbol, e.g. KSM/USDT:USDT (repeatable)")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "1h",
    since: Annotated[str | None, typer.Option("--since", help="2024-01-01, 2024-01-01T12:00 (UTC) or 90d")] = None,
    until: Annotated[str | None, typer.Option("--until", help="default: now")] = None,
    all_symbols: AllSymbols = False,
    repair: Annotated[bool, typer.Option("--repair", help="re-fetch the gaps `oiradar gaps` reports")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan; fetch nothing")] = False,
    no_archive: Annotated[bool, typer.Option("--no-archive", help="Binance: REST only")] = False,
) -> None:  # fmt: skip
    """Fetch klines, OI, funding and long/short history into the catalog (resumable, idempotent)."""
    from oiradar.app.fetch import FetchOptions, fetch, resolve_symbols
    from oiradar.model import now_ms
    from oiradar.render.fetch import show_fetched, show_plans
    from oiradar.render.progress import progress_tasks

    s, now = session(ctx), now_ms()
    start, end = o.when(since, now, "--since"), o.when(until, now, "--until")
    opts = FetchOptions(exchange, tuple(resolve_symbols(s.settings, symbol or [], all_symbols)),
                        o.timeframe(timeframe), start, end, repair, not no_archive, dry_run)  # fmt: skip
    try:
        with progress_tasks(disable=dry_run) as progress:
            report = fetch(s, opts, on_retry=warn_retry, progress=progress)
    except KeyboardInterrupt:
        from oiradar.render.console import say

        say("interrupted: whole chunks are stored; run the same command to resume", err=True)
        raise typer.Exit(130) from None
    from oiradar.render.console import warning

    for note in report.notes():
        warning(note)
    (show_plans if dry_run else show_fetched)(report)
    if not report.ok:
        raise typer.Exit(1)


@commands.add("record")
def record_cmd(
    ctx: typer.Context,
    exchange: Venue,
    symbols: Annotated[list[str] | None, typer.Option("--symbols", "--symbol", "-s", help="ccxt symbols (repeatable or comma-separated)")] = None,
    all_symbols: AllSymbols = False,
    interval: Annotated[str, typer.Option("--interval", help="OI poll interval: 30s, 1m, 5m")] = "1m",
    duration: Annotated[str | None, typer.Option("--duration", help="stop after e.g. 90s or 2h (default: until Ctrl-C)")] = None,
    no_liquidations: Annotated[bool, typer.Option("--no-liquidations", help="poll OI only")] = False,
) -> None:  # fmt: skip
    """Record live: poll OI every interval (every poll kept) and liquidations from the websocket."""
    from functools import partial

    from oiradar.app.fetch import RecordOptions, record, resolve_symbols
    from oiradar.render.console import say
    from oiradar.render.fetch import show_recorded

    s = session(ctx)
    opts = RecordOptions(exchange=exchange, poll_s=o.seconds(interval, "--interval"),
                         symbols=tuple(resolve_symbols(s.settings, symbols or [], all_symbols)),
                         duration_s=o.seconds(duration, "--duration") if duration else None,
                         liquidations=not no_liquidations)  # fmt: skip
    try:
        report = record(s, opts, on_event=partial(say, err=True), on_retry=warn_retry)
    except KeyboardInterrupt:
        say("stopped")
        return
    show_recorded(report)
