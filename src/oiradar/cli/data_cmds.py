"""Catalog commands: ``list``, ``gaps``, ``sql``, ``export``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from oiradar.cli.context import console, fail, state
from oiradar.errors import InputError, OiradarError
from oiradar.model import SeriesKey, Timeframe


class OutFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _fmt_ts(ms: int | None) -> str:
    if ms is None:
        return ""
    return pl.Series([ms]).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%d %H:%M")[0]


def print_frame(
    frame: pl.DataFrame, fmt: OutFormat = OutFormat.TABLE, title: str | None = None
) -> None:
    """Print a frame as a rich table, CSV or JSON records."""
    if fmt is OutFormat.CSV:
        typer.echo(frame.write_csv(), nl=False)
        return
    if fmt is OutFormat.JSON:
        typer.echo(json.dumps(frame.to_dicts(), default=str, indent=1))
        return
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(col, justify="right" if frame[col].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(
            *["" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row]
        )
    # In a pipe or a file there is no terminal width to respect: never truncate the columns.
    (console if console.is_terminal else Console(width=400, markup=False)).print(table)


def write_frame(frame: pl.DataFrame, path: Path, option: str = "--out") -> None:
    """Write ``frame`` to ``.csv``, ``.parquet`` or ``.json`` (records), by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.write_csv(path)
    elif suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".json":
        frame.write_json(path)
    else:
        raise InputError(f"{option} must end in .csv, .parquet or .json, got {path.name!r}")


def parse_date(text: str | None, option: str = "--since") -> int | None:
    """``2024-01-31`` or ``2024-01-31T12:00`` (UTC unless an offset is given) -> epoch ms."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{option}: invalid date {text!r}; write e.g. 2024-01-31 or 2024-01-31T12:00"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _key(exchange: str, symbol: str, timeframe: str) -> SeriesKey:
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=Timeframe.parse(timeframe))


def register(app: typer.Typer) -> None:
    @app.command("list")
    def list_cmd(
        ctx: typer.Context,
        fmt: Annotated[OutFormat, typer.Option("--format")] = OutFormat.TABLE,
    ) -> None:
        """Stored series with their first/last bar, rows and missing bars."""
        cov = state(ctx).catalog.coverage()
        if fmt is OutFormat.TABLE:
            cov = cov.with_columns(
                pl.col("first_ts").map_elements(_fmt_ts, return_dtype=pl.String).alias("first"),
                pl.col("last_ts").map_elements(_fmt_ts, return_dtype=pl.String).alias("last"),
            ).select("exchange", "symbol", "timeframe", "first", "last", "rows", "missing_bars")
            if cov.is_empty():
                console.print(
                    f"The catalog at {state(ctx).catalog.root} is empty. Try `oiradar demo`."
                )
                return
        print_frame(cov, fmt, title="Stored series")

    @app.command("gaps")
    def gaps_cmd(
        ctx: typer.Context,
        exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
        symbol: Annotated[str | None, typer.Option("--symbol", "-s")] = None,
        timeframe: Annotated[str | None, typer.Option("--timeframe", "-t")] = None,
        fmt: Annotated[OutFormat, typer.Option("--format")] = OutFormat.TABLE,
    ) -> None:
        """Missing bars per series (runs of absent bars inside the stored range)."""
        cat = state(ctx).catalog
        frames = []
        for key in cat.stored_keys():
            if (exchange and key.exchange != exchange) or (symbol and key.symbol != symbol):
                continue
            if timeframe and key.timeframe.value != timeframe:
                continue
            g = cat.gaps(key)
            frames.append(
                g.select(
                    pl.lit(key.exchange).alias("exchange"),
                    pl.lit(key.symbol).alias("symbol"),
                    pl.lit(key.timeframe.value).alias("timeframe"),
                    pl.all(),
                )
            )
        out = pl.concat(frames) if frames else pl.DataFrame(
            schema={"exchange": pl.String, "symbol": pl.String, "timeframe": pl.String,
                    "gap_start": pl.Int64, "gap_end": pl.Int64, "bars": pl.Int64}
        )  # fmt: skip
        if fmt is OutFormat.TABLE:
            out = out.with_columns(
                pl.col("gap_start").map_elements(_fmt_ts, return_dtype=pl.String),
                pl.col("gap_end").map_elements(_fmt_ts, return_dtype=pl.String),
            )
            if out.is_empty():
                console.print("No gaps.")
                return
        print_frame(out, fmt, title="Gaps")

    @app.command("sql")
    def sql_cmd(
        ctx: typer.Context,
        query: Annotated[str, typer.Argument(help="SQL over the views `bars` and `liquidations`.")],
        fmt: Annotated[OutFormat, typer.Option("--format")] = OutFormat.TABLE,
        allow_files: Annotated[
            bool,
            typer.Option(
                "--allow-files",
                help="Let the query read files outside the catalog (read_csv, read_parquet...).",
            ),
        ] = False,
    ) -> None:
        """Query the catalog with DuckDB, e.g. `oiradar sql "select symbol, max(oi) from bars group by 1"`.

        Read-only: queries only (no COPY, ATTACH, SET, CREATE...), and no file outside the catalog
        unless --allow-files."""
        try:
            print_frame(state(ctx).catalog.sql(query, allow_files=allow_files), fmt)
        except OiradarError as exc:
            raise fail(exc) from None

    @app.command("export")
    def export_cmd(
        ctx: typer.Context,
        exchange: Annotated[str, typer.Option("--exchange", "-e")],
        symbol: Annotated[str, typer.Option("--symbol", "-s")],
        timeframe: Annotated[str, typer.Option("--timeframe", "-t")],
        out: Annotated[
            Path, typer.Option("--out", "-o", help="FILE.csv, FILE.parquet or FILE.json")
        ],
    ) -> None:
        """Write one series (resampled if needed) to CSV, Parquet or JSON."""
        try:
            frame = state(ctx).catalog.read_bars(_key(exchange, symbol, timeframe))
            write_frame(frame, out)
        except OiradarError as exc:
            raise fail(exc) from None
        console.print(f"Wrote {frame.height} bars to {out}")
