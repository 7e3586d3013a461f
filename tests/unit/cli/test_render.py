"""The rendering layer: one way to show a date, a fraction, an amount; tables that fit."""

from __future__ import annotations

import io

import polars as pl
import pytest
from rich.console import Console

from oiradar.render.formats import Kind, TsFormat, iso, money, number, pct, percent, settle_unit
from oiradar.render.tables import csv_frame, header, kind_of, lift_constant, table


def test_values_read_alike_everywhere() -> None:
    assert iso(1704067200000) == "2024-01-01 00:00" and iso(None) == ""
    assert percent(0.0881199, 2) == "8.81%" and percent(-0.05, sign=True) == "-5.0%"
    assert percent(float("nan")) == "n/a" and pct(-6.75) == "-6.75%" and pct(-10.0) == "-10%"
    assert money(1409016.3) == "$1,409,016" and money(-19.6031, "USDT", 2) == "-19.60 USDT"
    assert number(51840) == "51,840" and number(1409016.3) == "1,409,016"
    assert number(0.0423579) == "0.0423579" and number(None) == "n/a"
    assert settle_unit("KSM/USDT:USDT") == "USDT" and settle_unit("BTC/USD:BTC") == "BTC"


@pytest.mark.parametrize(
    ("name", "dtype", "kind"),
    [
        ("ts", pl.Int64, Kind.TIME), ("entry_ts", pl.Int64, Kind.TIME),
        ("ingested_at", pl.Int64, Kind.TIME), ("ts", pl.String, Kind.TEXT),
        ("est_long_usd", pl.Float64, Kind.USD), ("move_pct", pl.Float64, Kind.PCT),
        ("rows", pl.Int64, Kind.NUMBER), ("symbol", pl.String, Kind.TEXT),
    ],
)  # fmt: skip
def test_column_kinds_follow_names_and_types(name: str, dtype: pl.DataType, kind: Kind) -> None:
    assert kind_of(name, dtype) is kind


def test_headers_drop_the_unit_their_values_carry() -> None:
    assert header("move_pct", Kind.PCT) == "move" and header("est_long_usd", Kind.USD) == "est_long"
    assert header("rows", Kind.NUMBER) == "rows"


def test_epoch_ms_never_reach_a_table_but_stay_in_csv() -> None:
    frame = pl.DataFrame({"ts": [1704067200000], "close": [1.5]})
    out = _render(table(frame))
    assert "2024-01-01 00:00" in out and "1704067200000" not in out
    assert csv_frame(frame)["ts"][0] == 1704067200000
    assert csv_frame(frame, TsFormat.ISO)["ts"][0] == "2024-01-01T00:00:00.000Z"


def test_key_columns_fit_a_100_column_terminal_and_wide_shows_all() -> None:
    frame = pl.DataFrame({f"column_{i}": ["a long text value " * 2] for i in range(12)})
    narrow = _render(table(frame, key=["column_0", "column_1", "column_2"]), width=100)
    assert max(map(len, narrow.splitlines())) <= 100 and "column_5" not in narrow
    assert "column_11" in _render(table(frame, wide=True), width=400)


def test_a_constant_series_moves_to_the_title() -> None:
    frame = pl.DataFrame({"exchange": ["sim", "sim"], "symbol": ["X/Y:Y"] * 2, "v": [1, 2]})
    rest, title = lift_constant(frame, "2 events", ["exchange", "symbol"])
    assert rest.columns == ["v"] and title == "2 events: sim X/Y:Y"
    mixed = frame.with_columns(pl.Series("exchange", ["a", "b"]))
    assert lift_constant(mixed, "t", ["exchange"]) == (mixed, "t")


def test_data_is_never_read_as_markup() -> None:
    out = _render(table(pl.DataFrame({"cell": ["[bold]x[/bold]"]})))
    assert "[bold]x[/bold]" in out


def _render(renderable: object, width: int = 100) -> str:
    console = Console(width=width, markup=False, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
