"""``brief`` (the ten-minute morning check) and ``sheet`` (the daily tracking sheet): SPEC 7."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError
from oiradar.render.formats import OutFormat

if TYPE_CHECKING:
    from datetime import date

    from oiradar.model import SeriesKey
    from oiradar.render.brief import SheetFormat

commands = CommandSet()

Exchange = Annotated[str | None, typer.Option("--exchange", "-e", help="The series' exchange. Without -e/-s: the \\[watch] series of oiradar.toml.")]  # fmt: skip
Symbols = Annotated[list[str] | None, typer.Option("--symbol", "-s", help="ccxt symbol (repeatable), e.g. KSM/USDT:USDT")]  # fmt: skip
Tf = Annotated[str | None, typer.Option("--timeframe", "-t", help="Bar timeframe with -e/-s (default 4h).")]  # fmt: skip


def _keys(
    exchange: str | None, symbols: list[str] | None, timeframe: str | None
) -> tuple[SeriesKey, ...]:
    """The series -e/-s/-t name (none: the [watch] series of the settings)."""
    from oiradar.app.live import parse_series

    if exchange is None and not symbols:
        if timeframe is not None:
            raise InputError("-t without -e/-s: give the series too, e.g. -e binanceusdm "
                             "-s KSM/USDT:USDT -t 4h")  # fmt: skip
        return ()
    if exchange is None:
        raise InputError("-s without -e: give the exchange too, e.g. -e binanceusdm")
    if not symbols:
        raise InputError("-e without -s: give the symbols too, e.g. -s KSM/USDT:USDT")
    tf = o.timeframe(timeframe or "4h")
    text = [f"{exchange} {s} {tf.value}" for arg in symbols for s in arg.split(",") if s]
    return tuple(dict.fromkeys(parse_series(t, "--symbol") for t in text))


@commands.add("brief")
def brief_cmd(
    ctx: typer.Context,
    exchange: Exchange = None,
    symbol: Symbols = None,
    timeframe: Tf = None,
    fmt: o.Format = OutFormat.TABLE,
) -> None:  # fmt: skip
    """The morning brief: per watched series its OI, 7-day change, OI/volume against its 30-day
    mean, z-score, funding, phase, recent signals and the last alert `oiradar watch` sent."""
    from oiradar.app.brief import BriefOptions, brief
    from oiradar.render.brief import show_brief

    report = brief(session(ctx), BriefOptions(_keys(exchange, symbol, timeframe)))
    show_brief(report, fmt)


@commands.add("sheet")
def sheet_cmd(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option("--date", help="The UTC day, YYYY-MM-DD (default: the last complete day of the data).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, xlsx or md (default: --out's suffix, else csv).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The file (default: <sheet_dir or home/sheets>/oiradar-sheet-DATE.EXT).")] = None,
    exchange: Exchange = None,
    symbol: Symbols = None,
    timeframe: Tf = None,
) -> None:  # fmt: skip
    """The daily tracking sheet: one row per series for a UTC day (OI, 7-day change, OI/volume,
    OI against its 30-day mean, z-score, funding, divergence flags, signals, phase), written to
    a CSV, XLSX or Markdown file."""
    from oiradar.app.brief import SheetOptions, sheet, sheet_folder
    from oiradar.render.brief import show_sheet_written, write_sheet

    kind = _sheet_format(fmt, out)
    keys = _keys(exchange, symbol, timeframe)
    if out is not None:
        _check_out(out)
    s = session(ctx)
    report = sheet(s, SheetOptions(_day(day), keys))
    path = out or sheet_folder(s) / f"oiradar-sheet-{report.day.isoformat()}.{kind.value}"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_sheet(report, path, kind)
    show_sheet_written(report, path)


def _day(text: str | None) -> date | None:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--date must be a UTC day YYYY-MM-DD, e.g. 2024-05-03; got {text!r}"
        ) from None


def _sheet_format(fmt: str | None, out: Path | None) -> SheetFormat:
    """``--format``, else ``--out``'s suffix, else csv; a disagreement between them is an error."""
    from oiradar.render.brief import SheetFormat

    kind = SheetFormat.parse(fmt) if fmt else None
    if out is not None and out.suffix:
        implied = SheetFormat.parse(out.suffix, "--out's suffix")
        if kind is not None and kind is not implied:
            raise InputError(f"--format {kind.value} but --out {out.name!r} ends in {out.suffix}; "
                             "make them agree")  # fmt: skip
        kind = implied
    return kind or SheetFormat.CSV


def _check_out(path: Path) -> None:
    folder = path.parent
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name")
    if not folder.is_dir():
        raise InputError(
            f"--out {path}: the folder {folder} does not exist; create it or pick another"
        )
