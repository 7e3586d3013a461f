"""``oiradar import`` refuses bad files cleanly: exit code 2, one ``error:`` line naming the file,
row, column and value, never a traceback, and the catalog byte-identical.

One table row per bad input: the files it writes, the command, the fragments the message must
hold (and those it must not). Every row runs the real entry point in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.model import Timeframe
from oiradar.sources import import_paths
from oiradar.store import Catalog
from tests.integration.cli_helpers import assert_refused, run_cli, snapshot

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
M5, H1 = 300_000, 3_600_000
HEADER = "ts,open,high,low,close,volume"
SERIES = ("-e", "x", "-s", "A/USDT:USDT", "-q")
Content = str | bytes | Callable[[Path], None]


def rows(times: list[int] | list[str], values: str = "1,2,0.5,1,3") -> str:
    return "".join(f"{t},{values}\n" for t in times)


def csv(*lines: str, header: str = HEADER) -> str:
    return header + "\n" + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def steps(n: int, step: int = M5, start: int = T0) -> list[int]:
    return [start + i * step for i in range(n)]


def parquet(frame: dict[str, list[object]]) -> Callable[[Path], None]:
    return lambda path: pl.DataFrame(frame).write_parquet(path)


def fifo(path: Path) -> None:
    os.mkfifo(path)


GOOD = csv(rows(steps(3)))
# 5m bars, then 1h bars that lie on the 5m grid too (data rows 13-17 are 1h apart)
MIXED = csv(rows([*steps(12), *steps(5, H1, T0 + 2 * H1)]))
# 1h bars, then 5m bars: off the 1h grid
OFF_GRID = csv(rows([*steps(12, H1), *steps(3, M5, T0 + 12 * H1 + M5)]))
CANDLE = (
    '{"openTime": 1704067200000, "open": 1, "high": 2, "low": 0.5, "close": 1, '
    '"volume": 3, "closeTime": 1704067499999}'
)
ROW_NOTE = "rows are 1-based data rows"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, Content]  # written under the case's input folder
    args: tuple[str, ...]  # "{d}" stands for that folder
    fragments: tuple[str, ...]  # each must be in the error message
    absent: tuple[str, ...] = field(default=())  # none may appear anywhere in the output


def one(name: str, content: Content, *fragments: str, extra: tuple[str, ...] = SERIES, absent=()):
    """A case importing the single file ``name``."""
    return Case(name, {name: content}, ("import", f"{{d}}/{name}", *extra), fragments, absent)


def named(case: Case, id: str) -> Case:
    return Case(id, case.files, case.args, case.fragments, case.absent)


CASES = [
    # -- ts: fractional ms, impossible dates, seconds, out of range, missing
    one("frac_ms.csv", csv(rows([T0]), f"{T0 + M5}.5,1,2,0.5,1,3"),
        "frac_ms.csv", "row 2", "'ts'", f"'{T0 + M5}.5'", "whole epoch milliseconds"),
    one("month13.csv", csv("2024-13-01,1,2,0.5,1,3", "2024-01-01 00:05:00,1,2,0.5,1,3"),
        "month13.csv", "row 1", "'ts'", "'2024-13-01'", "cannot read this time"),
    one("feb30.csv", csv("2024-02-28,1,2,0.5,1,3", "2024-02-29,1,2,0.5,1,3",
                         "2024-02-30,1,2,0.5,1,3"),
        "feb30.csv", "row 3", "'ts'", "'2024-02-30'", "cannot read this time"),
    one("seconds.csv", csv(rows([T0 // 1000, T0 // 1000 + 300])),
        "seconds.csv", "row 1", "'ts'", str(T0 // 1000), "seconds? use ms"),
    one("year2200.csv", csv(rows([T0, 7_258_118_400_000])),
        "year2200.csv", "row 2", "'ts'", "7258118400000", "between 1990 and 2100"),
    one("no_ts.csv", csv(rows([T0]), ",1,2,0.5,1,3"),
        "no_ts.csv", "row 2", "'ts'", "missing ts"),
    one("blank_ts.csv", csv(rows([T0]), "   ,1,2,0.5,1,3"),
        "blank_ts.csv", "row 2", "'ts'", "missing ts", extra=(*SERIES, "-t", "5m")),
    one("frac_ms.parquet", parquet({"ts": [float(T0), T0 + M5 + 0.25], "close": [1.0, 1.0]}),
        "frac_ms.parquet", "row 2", "'ts'", "whole epoch milliseconds", extra=(*SERIES, "-t", "5m")),
    # -- numbers: not a number, inf, NaN (text and binary), derived overflow
    one("abc.csv", csv(rows([T0]), f"{T0 + M5},1,2,0.5,abc,3"),
        "abc.csv", "row 2", "'close'", "'abc'", "not a number"),
    one("inf.csv", csv(rows([T0]), f"{T0 + M5},1,inf,0.5,1,3"),
        "inf.csv", "row 2", "'high'", "'inf'", "not a finite number"),
    one("nan.csv", csv(rows([T0, T0 + M5]), f"{T0 + 2 * M5},1,2,0.5,1,NaN"),
        "nan.csv", "row 3", "'volume'", "'NaN'", "not a finite number"),
    one("inf_oi.csv", csv(f"{T0},5", f"{T0 + M5},-Infinity", header="ts,oi"),
        "inf_oi.csv", "row 2", "'oi'", "'-Infinity'", "not a finite number"),
    one("inf.parquet", parquet({"ts": [T0, T0 + M5], "oi": [1.0, float("inf")]}),
        "inf.parquet", "row 2", "'oi'", "value inf", "not a finite number"),
    one("nan.parquet", parquet({"ts": [T0, T0 + M5], "close": [float("nan"), 1.0]}),
        "nan.parquet", "row 1", "'close'", "value nan", "not a finite number"),
    one("huge.csv", csv(f"{T0},1e308,1e308,1e308,1e308,10", f"{T0 + M5},1,2,0.5,1,3"),
        "huge.csv", "row 1", "'quote_volume'", "value inf", "overflows", "1e+308"),
    # -- timeframes: mixed cadences, off the grid, too few rows to infer one
    one("mixed.csv", MIXED, "mixed.csv", "row 14", "'ts'", str(T0 + 3 * H1),
        "mixes timeframes", "rows 13 to 17 are 1h apart"),
    named(one("mixed.csv", MIXED, "mixed.csv", "row 14", "mixes timeframes",
              extra=(*SERIES, "-t", "5m")), "mixed.csv with --timeframe"),
    one("off_grid.csv", OFF_GRID, "off_grid.csv", "row 13", "'ts'", str(T0 + 12 * H1 + M5),
        "rows off the 1h grid: 13, 14, 15", "mix timeframes"),
    one("off_grid_given.csv", csv(rows([T0, T0 + 60_000])), "off_grid_given.csv", "row 2",
        "'ts'", "not the open time of a 5m bar", extra=(*SERIES, "-t", "5m")),
    one("one_row.csv", csv(rows([T0])), "one_row.csv", "only one data row", "--timeframe"),
    # -- CSV shape: ragged, open quote, header only, empty, wrong columns, separator
    one("ragged.csv", csv(rows([T0]), f"{T0 + M5},1,2,0.5,1,3,7"),
        "ragged.csv", "row 2", f"'{T0 + M5},1,2,0.5,1,3,7'", "7 cells", "header has 6"),
    one("open_quote.csv", csv(rows([T0]), f'{T0 + M5},"1,2,0.5,1,3', rows([T0 + 2 * M5])),
        "open_quote.csv", "row 2", "'\"1,2,0.5,1,3'", "never closed"),
    one("header_only.csv", csv(), "header_only.csv", "no data rows",
        absent=("None ms",)),
    one("empty.csv", "", "empty.csv", "the file is empty"),
    one("wrong_columns.csv", csv("1,2,3", header="time,o,h"), "wrong_columns.csv",
        "'ts'", "missing required column", "['time', 'o', 'h']", absent=("_row",)),
    one("semicolons.csv", "ts;close\n1704067200000;1\n", "semicolons.csv",
        "separated by ';'"),
    one("bad_map.csv", GOOD, "bad_map.csv", "--map names column(s) ['price']",
        extra=(*SERIES, "--map", "price=close"), absent=("_row",)),
    # -- values: negative, high < low, outside [low, high], order, duplicates, flags
    one("neg_volume.csv", csv(rows([T0]), f"{T0 + M5},1,2,0.5,1,-3"),
        "neg_volume.csv", "row 2", "'volume'", "-3.0", "negative volume"),
    one("high_low.csv", csv(rows([T0]), f"{T0 + M5},1,0.4,0.5,0.45,3"),
        "high_low.csv", "row 2", "'high'", "0.4", "high < low"),
    one("open_out.csv", csv(rows([T0]), f"{T0 + M5},9,2,0.5,1,3"),
        "open_out.csv", "row 2", "'open'", "9.0", "outside [low, high]"),
    one("dup_ts.csv", csv(rows([T0, T0 + M5, T0 + M5])),
        "dup_ts.csv", "row 3", "'ts'", str(T0 + M5), "duplicate ts"),
    one("back_ts.csv", csv(rows([T0, T0 + 2 * M5, T0 + M5])),
        "back_ts.csv", "row 3", "'ts'", str(T0 + M5), "out of order"),
    one("flag.csv", csv(f"{T0},1,maybe", f"{T0 + M5},1,true", header="ts,close,quote_volume_estimated"),
        "flag.csv", "row 1", "'quote_volume_estimated'", "'maybe'", "not true/false",
        extra=(*SERIES, "-t", "5m")),
    # -- the series: not said, said twice, bad timeframe
    one("no_series.csv", GOOD, "no_series.csv", "pass --exchange", extra=("-s", "A/USDT:USDT")),
    one("two_venues.csv", csv(f"{T0},a,1", f"{T0 + M5},b,1", header="ts,exchange,close"),
        "two_venues.csv", "'exchange'", "holds 2 values", extra=("-s", "A/USDT:USDT", "-t", "5m")),
    one("tf.csv", GOOD, "unknown timeframe '7m'", extra=(*SERIES, "-t", "7m")),
    # -- JSON: invalid, not UTF-8, truncated, wrong shape, empty
    Case("broken json in a folder",
         {"ok.csv": GOOD, "btcusdt_candles_5m.json": '[{"openTime": 1704067200000, "open": '},
         ("import", "{d}", *SERIES), ("btcusdt_candles_5m.json", "not valid JSON", "line 1")),
    Case("binary json in a folder", {"ok.csv": GOOD, "dump.json": b"\xff\xfe\x00garbage"},
         ("import", "{d}", *SERIES), ("dump.json", "not valid JSON")),
    one("btcusdt_truncated.json", f"[{CANDLE}, {{\"openTime\": ", "btcusdt_truncated.json",
        "not valid JSON", "line 1, column"),
    one("btcusdt_object.json", '{"openTime": 1}', "btcusdt_object.json",
        "expected a JSON array of objects", extra=(*SERIES, "-f", "binance-json")),
    one("btcusdt_empty.json", "[]", "btcusdt_empty.json", "no records",
        extra=(*SERIES, "-f", "binance-json")),
    one("btcusdt_odd_close.json", f"[{CANDLE.replace('1704067499999', '1704067400000')}]",
        "btcusdt_odd_close.json", "is no timeframe", "--timeframe"),
    # -- files that are not data: damaged Parquet, unknown kind, missing, a named pipe
    one("damaged.parquet", b"PAR1 this is not parquet", "damaged.parquet",
        "cannot read .parquet file"),
    one("sheet.xlsx", b"PK\x03\x04", "sheet.xlsx", "cannot tell this file's format"),
    Case("missing path", {}, ("import", "{d}/nowhere.csv", *SERIES),
         ("nowhere.csv", "no such file or directory")),
    one("pipe.csv", fifo, "pipe.csv", "not a regular file", "named pipe"),
]  # fmt: skip


def write_inputs(folder: Path, files: dict[str, Content]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            content(path)


@pytest.fixture
def seeded_home(tmp_path: Path) -> Path:
    """A home whose catalog already holds the series, so 'unchanged' is a real check."""
    home = tmp_path / "home"
    seed = tmp_path / "seed.csv"
    seed.write_text(GOOD)
    import_paths([seed], Catalog(home), exchange="x", symbol="A/USDT:USDT", timeframe=Timeframe.M5)
    return home


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, seeded_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_inputs(folder, case.files)
    before = snapshot(seeded_home / "catalog")
    args = [a.replace("{d}", str(folder)) for a in case.args]
    result = run_cli(args, seeded_home, timeout=60)
    assert_refused(result, case.fragments, case.absent)
    assert snapshot(seeded_home / "catalog") == before


def test_the_table_is_broad() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


def test_rows_named_are_one_based_data_rows(seeded_home: Path, tmp_path: Path) -> None:
    """A message that names a row says how rows are counted."""
    write_inputs(tmp_path / "in", {"abc.csv": csv(rows([T0]), f"{T0 + M5},1,2,0.5,abc,3")})
    result = run_cli(["import", str(tmp_path / "in" / "abc.csv"), *SERIES], seeded_home)
    assert_refused(result, ["row 2", ROW_NOTE])


def test_a_named_pipe_inside_a_folder_is_skipped_not_waited_for(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_inputs(folder, {"a.csv": GOOD, "pipe.csv": fifo})
    result = run_cli(["import", str(folder), *SERIES], tmp_path / "home", timeout=60)
    assert result.code == 0, result.output
    assert "pipe.csv: not a regular file" in result.stdout


# ---------------------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root); skipped where mounting is not allowed."""
    mount = shutil.which("mount")
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    point = tmp_path / "disk"
    point.mkdir()
    res = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (not allowed?): {res.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def big_bars(path: Path, n: int = 60_000) -> Path:
    """``n`` 5m bars of incompressible random values (several MB of Parquet)."""
    rng = np.random.default_rng(7)
    low = rng.uniform(10, 20, n)
    high = low + rng.uniform(0, 1, n)
    values = {"open": low, "high": high, "low": low, "close": high, "oi": rng.uniform(0, 9, n)}
    pl.DataFrame({"ts": steps(n), "volume": rng.uniform(0, 9, n), **values}).write_csv(path)
    return path


def test_a_full_disk_leaves_the_catalog_unchanged(small_disk: Path, tmp_path: Path) -> None:
    home = small_disk / "home"
    seed = tmp_path / "seed.csv"
    seed.write_text(GOOD)
    import_paths([seed], Catalog(home), exchange="x", symbol="A/USDT:USDT", timeframe=Timeframe.M5)
    before = snapshot(home / "catalog")
    result = run_cli(["import", str(big_bars(tmp_path / "big.csv")), *SERIES], home)
    assert_refused(
        result, ["disk full while writing", str(home / "catalog"), "the catalog is unchanged"]
    )
    assert snapshot(home / "catalog") == before  # no staged file left behind either
    again = run_cli(["import", str(seed), *SERIES], home)  # the catalog still works
    assert again.code == 0, again.output
