"""The morning brief and the daily sheet for people: a 100-column table, and the sheet's files
(CSV for programs and spreadsheets, XLSX with number formats, Markdown for notes)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from oiradar.errors import InputError
from oiradar.render.console import say, table_console
from oiradar.render.formats import OutFormat, iso, number, percent, ratio
from oiradar.render.notes import show_notes
from oiradar.render.spark import sparkline
from oiradar.render.tables import Cell, as_data, table

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.brief import BriefReport, SheetReport
    from oiradar.app.series import Skipped

# the sheet's column titles in Markdown (the others read as their names)
HEADERS = {
    "bar_utc": "bar (UTC)", "oi": "OI", "oi_usd": "OI $", "oi_chg_7d": "OI 7d",
    "oi_vol_ratio": "OI/vol", "oi_vol_vs_ma": "OI/vol vs 30d", "oi_vs_ma_30d": "OI vs 30d",
    "oi_z_30d": "z 30d", "funding_rate": "funding",
}  # fmt: skip


def _times(v: float) -> str:
    return f"{v:.2f}x"


def _funding(v: float) -> str:
    return percent(v, 4, sign=True)


def _signed_pct(v: float) -> str:
    return percent(v, 1, sign=True)


def _usd(v: float) -> str:
    return f"${v:,.0f}"


# how a value of the brief or the sheet reads (the others: as they are)
CELLS: dict[str, Cell] = {
    "bar_ts": iso, "oi": number, "oi_usd": _usd, "oi_chg_7d": _signed_pct,
    "oi_vs_ma_30d": _signed_pct, "oi_vol_ratio": ratio, "oi_vol_vs_ma": _times,
    "oi_z_30d": ratio, "funding_rate": _funding,
}  # fmt: skip


def _failed(rows: pl.DataFrame) -> list[Skipped]:
    """The rows with a note (a series that could not be read), as skip lines for stderr."""
    from oiradar.app.series import Skipped

    bad = rows.filter(pl.col("note").is_not_null())
    return [Skipped(f"{r['exchange']} {r['symbol']} {r['timeframe']}", r["note"])
            for r in bad.iter_rows(named=True)]  # fmt: skip


# the brief in a terminal: a metric per line, a column per series
METRIC_WIDTH = 16  # the widest title, and a column's borders
SERIES_WIDTH = 24  # a series column: "trigger short 2024-05-03 08:00" wraps once


def _metrics(r: dict[str, Any]) -> list[tuple[str, str]]:
    def cell(column: str) -> str:
        v = r[column]
        return "" if v is None else CELLS.get(column, str)(v)

    ok = r["note"] is None
    oi = "" if r["oi"] is None else f"{cell('oi')} {r['symbol'].split('/')[0]}"
    vs = f" ({cell('oi_vol_vs_ma')} 30d)" if r["oi_vol_vs_ma"] is not None else ""
    lines = [("bar (UTC)", cell("bar_ts")), ("OI", oi), ("OI $", cell("oi_usd")),
             ("OI 7d", cell("oi_chg_7d")), ("OI vs 30d mean", cell("oi_vs_ma_30d")),
             ("OI/vol", cell("oi_vol_ratio") + vs), ("z 30d", cell("oi_z_30d")),
             ("funding", cell("funding_rate")), ("phase", r["phase"] or ("n/a" if ok else "")),
             ("signals", (r["signals"] or "none") if ok else ""),
             ("last alert", r["last_alert"] or "")]  # fmt: skip
    return lines if ok else [*lines, ("error", r["note"])]


def brief_cards(rows: pl.DataFrame, per_table: int) -> list[pl.DataFrame]:
    """The brief turned for a narrow terminal: a metric per row, a series per column, at most
    ``per_table`` series per frame (all text)."""
    records = list(rows.iter_rows(named=True))
    frames = []
    for i in range(0, len(records), max(per_table, 1)):
        chunk = records[i : i + max(per_table, 1)]
        cols = {f"{r['exchange']} {r['symbol']} {r['timeframe']}": dict(_metrics(r)) for r in chunk}
        titles = list(dict.fromkeys(t for c in cols.values() for t in c))
        values = {name: [c.get(t, "") for t in titles] for name, c in cols.items()}
        frames.append(pl.DataFrame({"metric": titles, **values}))
    return frames


def show_brief(report: BriefReport, fmt: OutFormat = OutFormat.TABLE) -> None:
    """The brief as tables (a column per series, as many as the width holds), or its rows (one
    per series) as CSV / JSON."""
    show_notes(report.notes)
    record = {"closed_by": report.closed_by, "rows": report.rows}
    if as_data(fmt, lambda: record, lambda: report.rows):
        return
    if report.rows.is_empty():
        say("No series to brief: add [watch] series to oiradar.toml or give -e/-s/-t.")
        return
    console = table_console()
    per_table = (console.width - METRIC_WIDTH) // (SERIES_WIDTH + 3)
    frames = brief_cards(report.rows, per_table)
    title = (
        f"Morning brief: {report.rows.height} series, bars closed by {iso(report.closed_by)} UTC"
    )
    for i, frame in enumerate(frames):
        names = [c for c in frame.columns if c != "metric"]
        t = table(frame, title if i == 0 else None, right=names)
        for column in t.columns[1:]:
            column.max_width = 2 * SERIES_WIDTH  # an error note wraps instead of pushing out
        console.print(t)
    show_trails(report)


def show_trails(report: BriefReport) -> None:
    """One line per series: its OI and price over the last bars as sparklines."""
    trails = [t for t in report.trails if t.oi or t.close]
    if not trails:
        return
    n = max(len(t.oi) for t in trails)
    say(f"Last {n} bars (each line from its own low ▁ to its own high █):")
    width = max(len(t.series) for t in trails)
    for t in trails:
        say(f"  {t.series:<{width}}  OI {sparkline(t.oi)}  price {sparkline(t.close)}")


# ------------------------------------------------------------------------- the sheet's files
class SheetFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    MD = "md"

    @classmethod
    def parse(cls, text: str, option: str = "--format") -> SheetFormat:
        try:
            return cls(text.strip().lower().lstrip("."))
        except ValueError:
            raise InputError(f"{option} must be csv, xlsx or md, got {text!r}") from None


XLSX_FORMATS: dict[Any, str] = {  # Any: polars types its keys as column selectors
    "oi": "#,##0", "oi_usd": "#,##0", "oi_chg_7d": "0.0%", "oi_vs_ma_30d": "0.0%",
    "oi_vol_ratio": "0.00", "oi_vol_vs_ma": "0.00", "oi_z_30d": "0.00", "funding_rate": "0.0000%",
}  # fmt: skip


def sheet_markdown(report: SheetReport) -> str:
    """The sheet as a Markdown table, values as people read them (percents, separators)."""
    from oiradar.app.brief import sheet_document

    doc = sheet_document(report.rows)
    head = [HEADERS.get(c, c) for c in doc.columns]
    lines = [f"# oiradar sheet {report.day.isoformat()}", "",
             _md_row(head), _md_row(["---"] * len(head))]  # fmt: skip
    for row in doc.iter_rows(named=True):
        lines.append(_md_row([_md_cell(c, v) for c, v in row.items()]))
    return "\n".join(lines) + "\n"


def _md_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    return CELLS.get(column, str)(value)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def write_sheet(report: SheetReport, path: Path, fmt: SheetFormat, option: str = "--out") -> None:
    """Write the sheet to ``path`` as CSV (raw values), XLSX (number formats) or Markdown."""
    from oiradar.app.brief import sheet_document

    doc = sheet_document(report.rows)
    try:
        if fmt is SheetFormat.CSV:
            doc.write_csv(path)
        elif fmt is SheetFormat.XLSX:
            doc.write_excel(path, worksheet=report.day.isoformat(), column_formats=XLSX_FORMATS,
                            autofit=True, freeze_panes="E2")  # fmt: skip
        else:
            path.write_text(sheet_markdown(report), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write it ({exc})") from None


def show_sheet_written(report: SheetReport, path: Path) -> None:
    """Where the sheet went, with what it skipped on stderr."""
    show_notes(report.notes, _failed(report.rows))
    n = report.rows.height
    say(f"Wrote the sheet of {report.day.isoformat()} ({n} series) to {path}")


__all__ = [
    "SheetFormat",
    "brief_cards",
    "sheet_markdown",
    "show_brief",
    "show_sheet_written",
    "write_sheet",
]
