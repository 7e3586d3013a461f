"""The catalog: atomic, idempotent upserts; DuckDB views; coverage and gaps."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.errors import InputError, SeriesNotFound
from oiradar.model import DAY_MS, SeriesKey, Source, Timeframe
from oiradar.store import Catalog
from oiradar.store.atomic import collect_garbage, partition_files, tmp_path_for

KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
STEP = Timeframe.H1.ms


def _bars(n: int, start: int = 0, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 25 + np.cumsum(rng.normal(0, 0.1, n))
    return pl.DataFrame(
        {
            "ts": start + np.arange(n, dtype=np.int64) * STEP,
            "open": close + 0.01,
            "high": close + 0.2,
            "low": close - 0.2,
            "close": close,
            "volume": rng.uniform(1, 10, n),
            "oi": rng.uniform(1e5, 2e5, n),
        }
    )


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_write_then_read_roundtrip(catalog: Catalog) -> None:
    bars = _bars(24 * 70)  # spans three months of 1970
    res = catalog.write_bars(KEY, bars)
    assert res.rows_added == bars.height and len(res.partitions) == 3
    back = catalog.read_stored(KEY)
    assert back.select(bars.columns).equals(bars)
    assert set(back["source"].unique()) == {"file"}


def test_reimport_changes_nothing(catalog: Catalog) -> None:
    bars = _bars(24 * 40)
    catalog.write_bars(KEY, bars)
    before = _digest(catalog.root)
    mtimes = {p: p.stat().st_mtime_ns for p in catalog.root.rglob("*.parquet")}
    res = catalog.write_bars(KEY, bars)
    assert res.unchanged and res.rows_added == 0 and res.rows_changed == 0
    assert _digest(catalog.root) == before
    assert {p: p.stat().st_mtime_ns for p in catalog.root.rglob("*.parquet")} == mtimes


def test_null_never_erases_and_columns_merge(catalog: Catalog) -> None:
    bars = _bars(48)
    catalog.write_bars(KEY, bars.drop("oi"), Source.ARCHIVE)
    catalog.write_bars(KEY, bars.select("ts", "oi"), Source.REST)
    back = catalog.read_stored(KEY)
    assert back["oi"].to_list() == bars["oi"].to_list()
    assert back["close"].to_list() == bars["close"].to_list()
    assert set(back["source"]) == {"rest"}  # the write that changed each row
    # Re-sending only closes with oi null keeps oi.
    res = catalog.write_bars(KEY, bars.select("ts", "close"), Source.FILE)
    assert res.unchanged
    assert catalog.read_stored(KEY)["oi"].null_count() == 0


def test_changed_value_updates_provenance_only_for_changed_rows(catalog: Catalog) -> None:
    bars = _bars(10)
    catalog.write_bars(KEY, bars, Source.ARCHIVE)
    changed = bars.with_columns(
        pl.when(pl.col("ts") == 3 * STEP).then(pl.col("oi") + 1).otherwise(pl.col("oi")).alias("oi")
    )
    res = catalog.write_bars(KEY, changed, Source.REST)
    assert (res.rows_added, res.rows_changed) == (0, 1)
    back = catalog.read_stored(KEY)
    assert back.filter(pl.col("source") == "rest")["ts"].to_list() == [3 * STEP]


@pytest.mark.parametrize(
    ("frame", "column"),
    [
        (pl.DataFrame({"ts": [1, 2], "close": [1.0, 2.0]}), "ts"),  # not on the 1h grid
        (pl.DataFrame({"ts": [0, 0], "close": [1.0, 2.0]}), "ts"),  # duplicate
        (pl.DataFrame({"close": [1.0]}), "ts"),  # missing
    ],
)
def test_bad_frames_refused(catalog: Catalog, frame: pl.DataFrame, column: str) -> None:
    with pytest.raises(InputError) as exc:
        catalog.write_bars(KEY, frame)
    assert exc.value.column == column
    assert not list(catalog.root.rglob("*.parquet"))


def test_unknown_column_refused(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="unknown bar columns"):
        catalog.write_bars(KEY, pl.DataFrame({"ts": [0], "closee": [1.0]}))


def test_read_missing_series_names_what_is_stored(catalog: Catalog) -> None:
    with pytest.raises(SeriesNotFound, match="empty"):
        catalog.read_bars(KEY)
    catalog.write_bars(KEY, _bars(5))
    other = SeriesKey(exchange="okx", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
    with pytest.raises(SeriesNotFound, match="binanceusdm KSM/USDT:USDT 1h"):
        catalog.read_bars(other)


def test_coverage_and_gaps(catalog: Catalog) -> None:
    bars = _bars(100).filter(~pl.col("ts").is_in([10 * STEP, 11 * STEP, 50 * STEP]))
    catalog.write_bars(KEY, bars)
    cov = catalog.coverage().row(0, named=True)
    assert (cov["rows"], cov["missing_bars"]) == (97, 3)
    gaps = catalog.gaps(KEY)
    assert gaps.rows() == [(10 * STEP, 11 * STEP, 2), (50 * STEP, 50 * STEP, 1)]


def test_sql_views_and_parameters(catalog: Catalog) -> None:
    catalog.write_bars(KEY, _bars(30))
    k2 = SeriesKey(exchange="bybit", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
    catalog.write_bars(k2, _bars(20, seed=1))
    out = catalog.sql(
        "select exchange, count(*) as n from bars where symbol = ? group by exchange order by exchange",
        ["KSM/USDT:USDT"],
    )
    assert out.rows() == [("binanceusdm", 30), ("bybit", 20)]
    assert catalog.sql("select count(*) as n from liquidations")["n"][0] == 0


def test_empty_catalog_views_have_canonical_columns(catalog: Catalog) -> None:
    cols = catalog.sql("select * from bars").columns
    assert cols[:5] == ["ts", "open", "high", "low", "close"]
    assert {"exchange", "symbol", "timeframe", "oi", "source"} <= set(cols)


def test_liquidations_deduplicated(catalog: Catalog) -> None:
    liq = pl.DataFrame(
        {
            "ts": [DAY_MS, DAY_MS + 5, DAY_MS + 5],
            "exchange": "binanceusdm",
            "symbol": "BTC/USDT:USDT",
            "side": ["long", "short", "short"],
            "price": [100.0, 101.0, 101.0],
            "qty": [1.0, 2.0, 2.0],
            "quote_qty": [100.0, 202.0, 202.0],
        }
    )
    assert catalog.write_liquidations(liq).rows_added == 2
    assert catalog.write_liquidations(liq).rows_added == 0
    assert catalog.read_liquidations("binanceusdm", "BTC/USDT:USDT").height == 2


def test_uncommitted_files_are_invisible_then_collected(catalog: Catalog) -> None:
    catalog.write_bars(KEY, _bars(10))
    folder = catalog.series_dir(KEY)
    (current,) = partition_files(folder)
    # As if a writer was killed after publishing a new file but before its manifest commit,
    # and another while still writing its temporary file.
    orphan = folder / "1970-01.deadbeef0000.parquet"
    pl.read_parquet(current).with_columns(pl.col("close") * 2).write_parquet(orphan)
    torn = tmp_path_for(folder / "1970-01.parquet")
    torn.write_bytes(b"half a parquet")
    assert catalog.sql("select sum(close) as s from bars")["s"][0] == pytest.approx(
        float(_bars(10)["close"].sum())
    )
    catalog.write_bars(KEY, _bars(10))  # the next writer cleans up
    assert not orphan.exists() and not torn.exists()
    assert catalog.read_stored(KEY).height == 10


def test_replaced_partition_stays_readable_for_a_grace_period(catalog: Catalog) -> None:
    catalog.write_bars(KEY, _bars(10))
    (old,) = partition_files(catalog.series_dir(KEY))
    catalog.write_bars(KEY, _bars(10, seed=3))
    (new,) = partition_files(catalog.series_dir(KEY))
    assert new != old and old.exists()  # a reader holding the old manifest can still read it
    collect_garbage(catalog.series_dir(KEY), grace_ms=0)
    assert not old.exists() and new.exists()


def _reader(home: str, rounds: int, queue: mp.Queue) -> None:
    cat = Catalog(home)
    seen = set()
    try:
        for _ in range(rounds):
            n = cat.sql("select count(*) as n, sum(close) as s from bars")
            seen.add((int(n["n"][0]), round(float(n["s"][0] or 0), 6)))
        queue.put(("ok", sorted(seen)))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(("error", repr(exc)))


def test_reader_never_sees_a_torn_partition(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cat = Catalog(home)
    one = _bars(24 * 20)  # a single month
    two = one.with_columns(
        pl.col("close") + 1, pl.col("open") + 1, pl.col("high") + 1, pl.col("low") + 1
    )
    cat.write_bars(KEY, one)
    states = {
        (one.height, round(float(one["close"].sum()), 6)),
        (two.height, round(float(two["close"].sum()), 6)),
    }
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_reader, args=(str(home), 60, queue))
    proc.start()
    writes = 0
    while proc.is_alive() and writes < 2000:  # keep writing for as long as the reader reads
        cat.write_bars(KEY, two if writes % 2 == 0 else one)
        writes += 1
    status, payload = queue.get(timeout=120)
    proc.join(timeout=30)
    assert status == "ok", payload
    assert set(map(tuple, payload)) <= states
    assert writes > 1


def test_delete_series_removes_every_timeframe_and_liquidations(catalog: Catalog) -> None:
    catalog.write_bars(KEY, _bars(10))
    catalog.write_bars(KEY.with_timeframe(Timeframe.H4), _bars(10).with_columns(pl.col("ts") * 4))
    liq = pl.DataFrame(
        {"ts": [0], "exchange": KEY.exchange, "symbol": KEY.symbol, "side": "long",
         "price": [1.0], "qty": [1.0], "quote_qty": [1.0]}
    )  # fmt: skip
    catalog.write_liquidations(liq)
    other = SeriesKey(exchange="bybit", symbol=KEY.symbol, timeframe=Timeframe.H1)
    catalog.write_bars(other, _bars(10))
    assert catalog.delete_series(KEY.exchange, KEY.symbol) == 2
    assert catalog.stored_keys() == [other]
    assert catalog.read_liquidations().is_empty()
    assert catalog.delete_series(KEY.exchange, KEY.symbol) == 0
