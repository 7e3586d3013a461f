"""``oiradar import PATH...``: files users already have, into the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli.context import console, fail, state
from oiradar.cli.data_cmds import print_frame
from oiradar.errors import OiradarError
from oiradar.sources.files import FORMAT_NAMES, import_paths


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise fail(f"--map expects SRC=DST (e.g. --map time=ts), got {item!r}")
        mapping[src.strip()] = dst.strip()
    return mapping


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_cmd(
        ctx: typer.Context,
        paths: Annotated[
            list[Path], typer.Argument(help="Files or directories (walked recursively).")
        ],
        fmt: Annotated[
            str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMAT_NAMES)}.")
        ] = "auto",
        exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
        symbol: Annotated[str | None, typer.Option("--symbol", "-s")] = None,
        timeframe: Annotated[str | None, typer.Option("--timeframe", "-t")] = None,
        mapping: Annotated[
            list[str] | None, typer.Option("--map", help="Rename a column: SRC=DST (repeatable).")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Import bars, OI, funding and liquidations from CSV, Parquet, freqtrade, Coinalyze,
        Binance archive/JSON and recorder files. Every file is validated before anything is
        written: one bad row refuses the import and leaves the catalog unchanged."""
        try:
            report = import_paths(
                paths,
                state(ctx).catalog,
                fmt=fmt,
                exchange=exchange,
                symbol=symbol,
                timeframe=timeframe,
                mapping=_parse_map(mapping or []),
                progress=not quiet,
            )
        except OiradarError as exc:
            raise fail(exc) from None
        for note in report.notes:
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
        for file, why in report.skipped.items():
            console.print(f"skipped {file}: {why}", highlight=False, soft_wrap=True)
        summary = report.summary()
        if summary.is_empty():
            console.print("Nothing imported.")
            return
        print_frame(summary, title=f"Imported {len(report.files)} file(s)")
