"""``oiradar import PATH...``: files users already have, into the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session

FORMAT_HELP = (
    "auto (detect each file) or a format name: csv, parquet, binance-archive, freqtrade, "
    "coinalyze, binance-json, ... (a wrong name lists them all; docs/importing.md)."
)


commands = CommandSet()


@commands.add("import")
def import_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (walked recursively).")],
    file_format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "auto",
    exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", "-s")] = None,
    timeframe: Annotated[str | None, typer.Option("--timeframe", "-t")] = None,
    mapping: Annotated[list[str] | None, typer.Option("--map", help="Rename a column: SRC=DST (repeatable).")] = None,
    drop: Annotated[list[str] | None, typer.Option("--drop", help="Leave a canonical column out of the import (repeatable), e.g. --drop funding_rate when the file's funding is a rate repeated every bar.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    prices: Annotated[str | None, typer.Option("--prices", help="Link the imported OI series to EXCHANGE:SYMBOL's prices (oiradar link).")] = None,
) -> None:  # fmt: skip
    """Import bars, OI, funding and liquidations from CSV, Parquet, freqtrade, Coinalyze,
    Binance archive/JSON and recorder files. Every file is validated before anything is
    written: one bad row refuses the import and leaves the catalog unchanged."""
    from oiradar.app.imports import FileImport, import_files
    from oiradar.render.console import say
    from oiradar.render.tables import show

    price_market = o.market(prices)  # checked before anything is written
    req = FileImport(paths, file_format, exchange, symbol,
                     o.timeframe(timeframe) if timeframe else None, o.renames(mapping or []),
                     tuple(drop or ()))  # fmt: skip
    report = import_files(session(ctx), req, progress=not quiet)
    for note in report.notes:
        say(f"note: {note}")
    for file, why in report.skipped.items():
        say(f"skipped {file}: {why}")
    table = report.summary()
    if table.is_empty():
        say("Nothing imported.")
        return
    show(table, title=f"Imported {len(report.files)} file(s)")
    if price_market is not None:
        from oiradar.app.links import link_written

        linked = link_written(session(ctx), [(k.exchange, k.symbol) for k in report.series],
                              price_market)  # fmt: skip
        for e, sym in linked.linked:
            say(f"Linked {e}:{sym}: prices from {price_market}")
