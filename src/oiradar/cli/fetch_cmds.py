"""Exchange commands: ``markets``, ``fetch``, ``record``."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from oiradar.cli.context import console, err_console, fail, state, styled
from oiradar.cli.data_cmds import OutFormat, print_frame
from oiradar.config import Settings, duration_ms
from oiradar.errors import ConfigError, InputError, OiradarError
from oiradar.model import Timeframe
from oiradar.sources.retry import RetryEvent, RetryReport

if TYPE_CHECKING:  # the venue clients import ccxt (seconds): load them only when a command runs
    from oiradar.sources.fetch import FetchRequest, FetchResult
    from oiradar.store import Catalog

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


def parse_when(text: str, now: int) -> int:
    """``2024-01-01``, ``2024-01-01T12:00`` (UTC) or a duration back from now (``90d``) -> epoch ms."""
    text = text.strip()
    if _DATE_RE.match(text):
        stamp = datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=UTC)
        return int(stamp.timestamp() * 1000)
    try:
        return now - duration_ms(text)
    except ConfigError:
        raise InputError(
            f"cannot read the date {text!r}: write 2024-01-01, 2024-01-01T12:00 (UTC) or 90d"
        ) from None


def seconds(text: str) -> float:
    """``30s``, ``5m``, ``2h``: a duration in seconds (``s`` added to the config's m/h/d/w)."""
    text = text.strip()
    if text.endswith("s") and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1])
    return duration_ms(text) / 1000


def _fmt(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _symbols(symbols: list[str] | None, all_symbols: bool, settings: Settings) -> list[str]:
    if all_symbols:
        configured = list(settings.symbols)
        if not configured:
            raise InputError('--all-symbols: no [symbols."..."] sections in the configuration')
        return configured
    if not symbols:
        raise InputError("give --symbol (repeatable) or --all-symbols")
    return [s for arg in symbols for s in arg.split(",") if s]


def _print_plan(result: FetchResult) -> None:
    plan = result.plan
    table = plan.table()
    if table.is_empty():
        console.print(f"{plan.key}: nothing to fetch ({plan.skipped} chunks already complete)")
        return
    table = table.with_columns(
        pl.col("first_bar").map_elements(_fmt, return_dtype=pl.String),
        pl.col("end").map_elements(_fmt, return_dtype=pl.String),
    )
    print_frame(table, OutFormat.TABLE, title=f"Plan for {plan.key}: {len(plan.chunks)} chunks "
                f"({plan.skipped} already complete), about {plan.requests()} requests")  # fmt: skip
    if plan.archive_market:
        console.print(
            "Days the archive does not have yet are asked of REST (30 days deep) instead."
        )


def _warn(event: RetryEvent) -> None:
    """A long wait or a refused one, shown as it happens (the report table comes at the end)."""
    line = event.warning()
    if line is not None:
        err_console.print(styled("warning:", "yellow", line), highlight=False, soft_wrap=True)


def _check_range(start: int | None, end: int | None) -> None:
    if start is not None and end is not None and start >= end:
        raise InputError(f"--since {_fmt(start)} is not before --until {_fmt(end)}: swap them")


def _print_report(report: RetryReport) -> None:
    if not report.events:
        console.print("retries: none")
        return
    rows = [
        {
            "what": e.what,
            "attempt": e.attempt,
            "kind": e.kind,
            "wait_s": round(e.wait_s, 3),
            "gave_up": e.gave_up,
            "detail": e.detail,
        }
        for e in report.events
    ]
    print_frame(pl.DataFrame(rows), OutFormat.TABLE, title=f"Retries: {report.summary()}")


async def _fetch_all(
    requests: list[FetchRequest],
    catalog: Catalog,
    settings: Settings,
    report: RetryReport,
    dry_run: bool,
) -> list[FetchResult]:
    from oiradar.sources.fetch import run_fetch

    results = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=dry_run,
    ) as progress:  # fmt: skip
        for req in requests:
            task = progress.add_task(str(req.key), total=None)

            def tick(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            results.append(
                await run_fetch(req, catalog, settings, report, dry_run=dry_run, progress=tick)
            )
    return results


def register(app: typer.Typer) -> None:
    @app.command("markets")
    def markets_cmd(
        ctx: typer.Context,
        exchange: Annotated[
            str, typer.Option("--exchange", "-e", help="binanceusdm, binancecoinm, bybit, okx")
        ],
        fmt: Annotated[OutFormat, typer.Option("--format")] = OutFormat.TABLE,
    ) -> None:
        """The venue's perpetuals and which data it offers (OHLCV, OI history depth, funding, liquidations)."""
        from oiradar.sources.fetch import list_markets

        report = RetryReport(on_event=_warn)
        try:
            frame = asyncio.run(list_markets(exchange, state(ctx).settings, report))
        except OiradarError as exc:
            raise fail(exc) from None
        print_frame(frame, fmt, title=f"{exchange} perpetuals")

    @app.command("fetch")
    def fetch_cmd(
        ctx: typer.Context,
        exchange: Annotated[
            str, typer.Option("--exchange", "-e", help="binanceusdm, binancecoinm, bybit, okx")
        ],
        symbol: Annotated[
            list[str] | None,
            typer.Option("--symbol", "-s", help="ccxt symbol, e.g. KSM/USDT:USDT (repeatable)"),
        ] = None,
        timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "1h",
        since: Annotated[
            str | None, typer.Option("--since", help="2024-01-01, 2024-01-01T12:00 (UTC) or 90d")
        ] = None,
        until: Annotated[str | None, typer.Option("--until", help="default: now")] = None,
        all_symbols: Annotated[
            bool, typer.Option("--all-symbols", help="every symbol with a section in the config")
        ] = False,
        repair: Annotated[
            bool, typer.Option("--repair", help="re-fetch the gaps `oiradar gaps` reports")
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="print the plan; fetch nothing")
        ] = False,
        no_archive: Annotated[
            bool, typer.Option("--no-archive", help="Binance: REST only")
        ] = False,
    ) -> None:
        """Fetch klines, OI, funding and long/short history into the catalog (resumable, idempotent)."""
        from oiradar.model import now_ms
        from oiradar.sources.fetch import FetchRequest

        st = state(ctx)
        report = RetryReport(on_event=_warn)
        try:
            now = now_ms()
            tf = Timeframe.parse(timeframe)
            start = parse_when(since, now) if since else None
            end = parse_when(until, now) if until else None
            _check_range(start, end)
            reqs = [
                FetchRequest(
                    exchange=exchange,
                    symbol=s,
                    timeframe=tf,
                    since=start,
                    until=end,
                    repair=repair,
                    archive=not no_archive,
                )
                for s in _symbols(symbol, all_symbols, st.settings)
            ]
            results = asyncio.run(_fetch_all(reqs, st.catalog, st.settings, report, dry_run))
        except KeyboardInterrupt:
            err_console.print(
                "interrupted: whole chunks are stored; run the same command to resume"
            )
            raise typer.Exit(130) from None
        except OiradarError as exc:
            raise fail(exc) from None
        failed = False
        for res in results:
            if dry_run:
                _print_plan(res)
                continue
            w = res.written
            console.print(
                f"{res.plan.key}: {res.done} chunks fetched, {res.plan.skipped} already complete, "
                f"{len(res.failed)} failed; {w.rows_added} bars added, {w.rows_changed} changed"
            )
            for chunk, why in res.failed:
                err_console.print(
                    styled("failed", "red", f"{_fmt(chunk.start)} .. {_fmt(chunk.end)}: {why}")
                )
            failed = failed or not res.ok
        if not dry_run:
            _print_report(report)
        if failed:
            raise typer.Exit(1)

    @app.command("record")
    def record_cmd(
        ctx: typer.Context,
        exchange: Annotated[
            str, typer.Option("--exchange", "-e", help="binanceusdm, binancecoinm, bybit, okx")
        ],
        symbols: Annotated[
            list[str] | None,
            typer.Option(
                "--symbols", "--symbol", "-s", help="ccxt symbols (repeatable or comma-separated)"
            ),
        ] = None,
        all_symbols: Annotated[
            bool, typer.Option("--all-symbols", help="every symbol with a section in the config")
        ] = False,
        interval: Annotated[
            str, typer.Option("--interval", help="OI poll interval: 30s, 1m, 5m")
        ] = "1m",
        duration: Annotated[
            str | None,
            typer.Option("--duration", help="stop after e.g. 90s or 2h (default: until Ctrl-C)"),
        ] = None,
        no_liquidations: Annotated[
            bool, typer.Option("--no-liquidations", help="poll OI only")
        ] = False,
    ) -> None:
        """Record live: poll OI every interval (every poll kept) and liquidations from the websocket."""
        from oiradar.sources.record import Recorder, RecordOptions

        st = state(ctx)
        report = RetryReport(on_event=_warn)
        try:
            opts = RecordOptions(
                exchange=exchange,
                symbols=tuple(_symbols(symbols, all_symbols, st.settings)),
                poll_s=seconds(interval),
                duration_s=seconds(duration) if duration else None,
                liquidations=not no_liquidations,
            )
            rec = Recorder(
                opts, st.catalog, st.settings, report, on_event=lambda m: err_console.print(m)
            )
            stats = asyncio.run(rec.run())
        except KeyboardInterrupt:
            console.print("stopped")
            return
        except OiradarError as exc:
            raise fail(exc) from None
        console.print(
            f"{stats.polls} OI polls, {stats.liquidations} liquidations, {stats.reconnects} reconnects"
        )
        for err in stats.errors:
            err_console.print(styled("poll failed", "red", str(err)))
        _print_report(report)
