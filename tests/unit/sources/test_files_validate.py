"""Bad rows are refused naming file, row, column and value, and the catalog stays byte-identical."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from oiradar.errors import InputError
from oiradar.model import Timeframe
from oiradar.sources import import_paths, validate_bars
from oiradar.store import Catalog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "files"
HEADER = "ts,open,high,low,close,volume,quote_volume,oi"
GOOD = [
    "1704067200000,100.0,101.0,99.5,100.5,10.0,1005.0,5000.0",
    "1704067500000,100.5,102.0,100.0,101.5,12.0,1218.0,5010.0",
    "1704067800000,101.5,101.8,100.9,101.0,8.0,808.0,5015.0",
    "1704068100000,101.0,101.2,100.1,100.2,9.5,953.0,5020.0",
]
KEY = {"exchange": "test", "symbol": "KSM/USDT:USDT", "timeframe": Timeframe.M5}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256: 'byte-identical' means equal snapshots."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


# (description, row index to replace (0-based among GOOD), new line or None, column, value, words)
BAD_ROWS = [
    (
        "non-numeric",
        2,
        "1704067800000,101.5,101.8,100.9,abc,8.0,808.0,5015.0",
        "close",
        "abc",
        "not a number",
    ),
    (
        "negative volume",
        1,
        "1704067500000,100.5,102.0,100.0,101.5,-12.0,1218.0,5010.0",
        "volume",
        "-12.0",
        "negative volume",
    ),
    (
        "negative oi",
        3,
        "1704068100000,101.0,101.2,100.1,100.2,9.5,953.0,-1",
        "oi",
        "-1.0",
        "negative oi",
    ),
    (
        "high < low",
        2,
        "1704067800000,101.5,100.0,100.9,101.0,8.0,808.0,5015.0",
        "high",
        "100.0",
        "high < low",
    ),
    (
        "close above high",
        1,
        "1704067500000,100.5,102.0,100.0,103.0,12.0,1218.0,5010.0",
        "close",
        "103.0",
        "outside [low, high]",
    ),
    (
        "duplicate ts",
        2,
        "1704067500000,101.5,101.8,100.9,101.0,8.0,808.0,5015.0",
        "ts",
        "1704067500000",
        "duplicate ts",
    ),
    (
        "out-of-order ts",
        3,
        "1704067000000,101.0,101.2,100.1,100.2,9.5,953.0,5020.0",
        "ts",
        "1704067000000",
        "out of order",
    ),
]


@pytest.fixture
def seeded(tmp_path: Path) -> Catalog:
    """A catalog that already holds a series, so 'unchanged' is a real check."""
    cat = Catalog(tmp_path / "home")
    import_paths([write_csv(tmp_path / "seed.csv", GOOD[:2])], cat, **KEY)
    return cat


@pytest.mark.parametrize(
    ("what", "index", "line", "column", "value", "words"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS]
)
def test_bad_row_refused_and_catalog_unchanged(
    seeded: Catalog, tmp_path: Path, what, index, line, column, value, words
) -> None:
    lines = list(GOOD)
    lines[index] = line
    good_other = write_csv(tmp_path / "a_good.csv", GOOD)  # parsed first, must not be written
    bad = write_csv(tmp_path / "b_bad.csv", lines)
    before = snapshot(seeded.root)
    with pytest.raises(InputError) as err:
        import_paths([good_other, bad], seeded, **KEY)
    msg = str(err.value)
    assert err.value.file == str(bad) and str(bad) in msg
    assert err.value.row == index + 1 and f"row {index + 1}" in msg  # 1-based data row
    assert err.value.column == column and repr(column) in msg
    assert str(err.value.value) == value
    assert words in msg
    assert snapshot(seeded.root) == before


def test_missing_column_refused_and_catalog_unchanged(seeded: Catalog, tmp_path: Path) -> None:
    lines = [",".join(x for i, x in enumerate(r.split(",")) if i != 3) for r in GOOD]
    bad = write_csv(
        tmp_path / "no_low.csv", lines, header="ts,open,high,close,volume,quote_volume,oi"
    )
    before = snapshot(seeded.root)
    with pytest.raises(InputError, match="missing required column") as err:
        import_paths([bad], seeded, **KEY)
    assert err.value.column == "low" and err.value.file == str(bad)
    assert snapshot(seeded.root) == before


def test_non_numeric_reports_first_offending_cell(tmp_path: Path) -> None:
    frame = pl.DataFrame({"ts": ["1", "2", "3", "4"], "close": ["1.0", "", "x1", "y2"]})
    with pytest.raises(InputError) as err:
        validate_bars(
            frame.with_columns(pl.col("ts").cast(pl.Int64) * 300_000 + 1_704_067_200_000),
            file="f.csv",
        )
    assert (err.value.row, err.value.column, err.value.value) == (3, "close", "x1")


def test_empty_cells_are_missing_not_zero() -> None:
    frame = pl.DataFrame({"ts": [1_704_067_200_000, 1_704_067_500_000], "oi": ["5.0", ""]})
    out = validate_bars(frame, file="f.csv")
    assert out["oi"].to_list() == [5.0, None]


def test_ts_in_seconds_is_refused_with_a_hint() -> None:
    frame = pl.DataFrame({"ts": [1_704_067_200, 1_704_067_500], "close": [1.0, 2.0]})
    with pytest.raises(InputError, match="seconds"):
        validate_bars(frame, file="f.csv")


def test_ts_off_the_timeframe_grid_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    path = write_csv(
        tmp_path / "off.csv", ["1704067200000,1,1,1,1,1,1,1", "1704067260000,1,1,1,1,1,1,1"]
    )
    with pytest.raises(InputError, match="not the open time of a 5m bar") as err:
        import_paths([path], catalog, **KEY)
    assert err.value.row == 2


def test_iso_text_ts_with_offset_is_utc() -> None:
    frame = pl.DataFrame({"ts": ["2024-12-04 22:16:25.587000+05:30"], "close": [1.0]})
    assert validate_bars(frame, file="f")["ts"][0] == 1_733_330_785_587


def test_date_and_naive_datetime_ts_are_utc() -> None:
    import datetime as dt

    for values in ([dt.date(2024, 1, 1)], [dt.datetime(2024, 1, 1)]):
        frame = pl.DataFrame({"ts": values, "close": [1.0]})
        assert validate_bars(frame, file="f")["ts"][0] == 1_704_067_200_000
