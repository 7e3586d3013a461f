"""``oiradar import`` of Binance COIN-M archive files (decision 0506): contracts -> base ``oi``
with the bar's close, in one import or across two, idempotent, bad input refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.errors import InputError
from oiradar.model import SeriesKey, Timeframe
from oiradar.sources import import_paths
from oiradar.sources.decode.binance_archive import coinm_contract_size
from oiradar.sources.decode.binance_archive.synthetic import (
    simulate_path,
    write_archive_days,
    write_zip,
)
from oiradar.store import Catalog

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "binance_archive"
DAY = date(2025, 6, 2)
METRICS = "BTCUSD_PERP-metrics-2025-06-02"
KLINES_DAY = "BTCUSD_PERP-5m-2025-06-02"  # 00:00 .. 00:45
KLINES_REST = "BTCUSD_PERP-5m-2025-06"  # 00:50, 00:55 (the last two metrics bars)
KEY = SeriesKey(exchange="binancecoinm", symbol="BTC/USD:BTC", timeframe=Timeframe.M5)


def zipped(folder: Path, *stems: str) -> list[Path]:
    """The CSV fixtures zipped as the archive ships them, ``.CHECKSUM`` beside each."""
    return [write_zip(folder, f"{s}.zip", (FIX / f"{s}.csv").read_bytes(), DAY) for s in stems]


def file_state(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def oracle(stems: tuple[str, ...]) -> pd.DataFrame:
    """pandas: oi = contracts x 100 / close of the same bar (SPEC 1, decision 0505), where both."""
    metrics = pd.read_csv(FIX / f"{METRICS}.csv")
    metrics = metrics[metrics["sum_open_interest"].notna()]
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    ts = (pd.to_datetime(metrics["create_time"], utc=True) - epoch) // pd.Timedelta(milliseconds=1)
    oi = pd.DataFrame({"ts": ts.to_numpy(), "oi_raw": metrics["sum_open_interest"].to_numpy()})
    klines = pd.concat([pd.read_csv(FIX / f"{s}.csv") for s in stems])
    closes = pd.DataFrame({"ts": klines["open_time"], "close": klines["close"]})
    both = oi.merge(closes, on="ts", how="left")
    both["oi"] = both["oi_raw"] * 100.0 / both["close"]
    return both


def test_metrics_and_klines_together_give_oi_from_contracts(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "home")
    report = import_paths(zipped(tmp_path / "dl", METRICS, KLINES_DAY), cat)
    assert list(report.series) == [KEY]
    bars = cat.read_stored(KEY)
    assert set(bars["source"]) == {"archive"}
    expected = oracle((KLINES_DAY,))
    got = bars.filter(pl.col("oi_raw").is_not_null())
    assert got["ts"].to_list() == expected["ts"].tolist()
    assert got["oi_unit"].unique().to_list() == ["contracts_usd"]
    # exactly contracts x 100 / close: the same float expression, no tolerance
    have = got["oi"].to_numpy()
    want = expected["oi"].to_numpy()
    assert np.array_equal(have, want, equal_nan=True)
    assert np.isnan(want).sum() == 2  # the bars without a close (below)
    assert got["oi_value"][0] == 23_906_290.0 * 100.0  # USD: contracts x 100
    assert got["oi"][0] == pytest.approx(23_906_290 * 100 / 105_688.4, rel=1e-15)
    # the last two metrics bars have no close yet: oi_raw kept, oi empty, and the report says so
    tail = got.filter(pl.col("close").is_null())
    assert tail.height == 2 and tail["oi"].null_count() == 2
    assert tail["oi_raw"].to_list() == [23_900_000.0, 23_904_470.0]
    assert any("2 bar(s) keep oi_raw" in n for n in report.notes), report.notes
    # COIN-M klines volumes: base coin, USD = contracts x 100
    first = bars.row(0, named=True)
    assert (first["volume"], first["quote_volume"]) == (25.78147697, 2_724_400.0)


def test_klines_imported_later_fill_the_missing_oi(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    cat = Catalog(tmp_path / "home")
    import_paths(zipped(dl, METRICS, KLINES_DAY), cat)
    later = import_paths(zipped(dl, KLINES_REST), cat)
    result = later.series[KEY]
    assert (result.rows_added, result.rows_changed) == (0, 2)
    assert later.notes == []
    bars = cat.read_stored(KEY).filter(pl.col("oi_raw").is_not_null())
    expected = oracle((KLINES_DAY, KLINES_REST))
    assert bars["oi"].to_list() == expected["oi"].tolist()
    assert bars["oi"].null_count() == 0


def test_import_order_does_not_matter(tmp_path: Path) -> None:
    """Klines first then metrics, metrics then klines, or all at once: the same bars."""
    dl = tmp_path / "dl"
    stems = (METRICS, KLINES_DAY, KLINES_REST)
    zips = dict(zip(stems, zipped(dl, *stems), strict=True))
    frames = []
    for n, order in enumerate([[stems], [stems[1:], stems[:1]], [stems[:1], stems[1:]]]):
        cat = Catalog(tmp_path / f"home{n}")
        for group in order:
            import_paths([zips[s] for s in group], cat)
        frames.append(cat.read_stored(KEY).drop("ingested_at"))
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])
    assert frames[0].height == 12  # the klines' bars
    assert frames[0]["oi"].null_count() == 2  # 00:20 (no metrics row), 00:30 (no OI in it)


def test_reimport_changes_no_byte(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    zipped(dl, METRICS, KLINES_DAY, KLINES_REST)
    home = tmp_path / "home"
    first = import_paths([dl], Catalog(home))
    assert first.series[KEY].rows_added == 12
    before = file_state(home)
    again = import_paths([dl], Catalog(home))
    assert (again.series[KEY].rows_added, again.series[KEY].rows_changed) == (0, 0)
    assert again.partitions_written == 0
    assert file_state(home) == before


def test_bad_checksum_is_refused_naming_the_file(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    _metrics, klines = zipped(dl, METRICS, KLINES_DAY)
    checksum = klines.with_name(klines.name + ".CHECKSUM")
    checksum.write_text("0" * 64 + f"  {klines.name}\n")
    home = tmp_path / "home"
    with pytest.raises(InputError, match="SHA-256 mismatch") as err:
        import_paths([dl], Catalog(home))
    assert err.value.file == klines.name
    assert not Catalog(home).stored_keys()  # nothing written, not even the good metrics file
    result = CliRunner().invoke(app, ["--home", str(home), "import", str(klines)])
    assert result.exit_code != 0
    assert klines.name in result.output and "Traceback" not in result.output


def test_a_row_of_another_symbol_is_refused(tmp_path: Path) -> None:
    text = (FIX / f"{METRICS}.csv").read_text().replace("BTCUSD_PERP", "ETHUSD_PERP")
    bad = write_zip(tmp_path / "dl", f"{METRICS}.zip", text.encode(), DAY)
    with pytest.raises(InputError) as err:
        import_paths([bad], Catalog(tmp_path / "home"))
    assert (err.value.file, err.value.row, err.value.column, err.value.value) == (
        bad.name,
        2,
        "symbol",
        "ETHUSD_PERP",
    )


def test_a_symbol_option_that_disagrees_with_the_file_name_is_refused(tmp_path: Path) -> None:
    files = zipped(tmp_path / "dl", METRICS)
    with pytest.raises(InputError, match="does not match the file's symbol BTC/USD:BTC") as err:
        import_paths(files, Catalog(tmp_path / "home"), symbol="ETH/USD:ETH")
    assert err.value.file == str(files[0])
    report = import_paths(files, Catalog(tmp_path / "home"), symbol="BTC/USD:BTC")
    assert list(report.series) == [KEY]


def test_coinm_funding_goes_to_the_coinm_bars(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    files = zipped(dl, METRICS, KLINES_DAY)
    first = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp() * 1000)
    csv = f"calc_time,funding_interval_hours,last_funding_rate\n{first + 86_400_000 + 7},8,0.00010000\n"
    funding = write_zip(dl, "BTCUSD_PERP-fundingRate-2025-06.zip", csv.encode(), DAY)
    cat = Catalog(tmp_path / "home")
    import_paths([*files, funding], cat)
    bar = cat.read_stored(KEY).filter(pl.col("ts") == first + 86_400_000)
    assert bar["funding_rate"].to_list() == [0.0001]
    assert [k.exchange for k in cat.stored_keys()] == ["binancecoinm"]


def _coinm_klines_csv(bars: pl.DataFrame, size: float) -> bytes:
    """The simulated bars as COIN-M kline rows: contracts = base x close / size (whole)."""
    contracts = (pl.col("volume") * pl.col("close") / size).round(0).cast(pl.Int64)
    return (
        bars.select(
            "open_time",
            "open",
            "high",
            "low",
            "close",
            contracts.alias("volume"),
            (pl.col("open_time") + 299_999).alias("close_time"),
            pl.col("volume").alias("base_volume"),
            "count",
            (contracts // 2).alias("taker_buy_volume"),
            (pl.col("volume") / 2).alias("taker_buy_base_volume"),
            pl.lit(0).alias("ignore"),
        )
        .write_csv()
        .encode()
    )


def test_generated_days_round_trip_the_simulated_oi(tmp_path: Path) -> None:
    """archive_gen writes COIN-M metrics as whole contracts of the simulated base OI; importing
    them with klines of the same path gives that OI back to within half a contract."""
    dl, start, days = tmp_path / "dl", date(2025, 3, 1), 2
    write_archive_days(dl, "BTCUSD_PERP", start, days, seed=3, kinds=("metrics",), market="cm",
                       contract_size=100.0, price0=80_000.0)  # fmt: skip
    start_ms = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1000)
    path = simulate_path(start_ms, days * 288, 3, price0=80_000.0).frame
    for i in range(days):
        stamp = f"BTCUSD_PERP-5m-2025-03-0{i + 1}.zip"
        write_zip(dl, stamp, _coinm_klines_csv(path.slice(i * 288, 288), 100.0), start)
    cat = Catalog(tmp_path / "home")
    report = import_paths([dl], cat)
    assert report.notes == []
    bars = cat.read_stored(KEY)
    assert bars.height == days * 288 and bars["oi"].null_count() == 0
    half_contract = 0.5 * 100.0 / path["close"].to_numpy()
    assert (
        np.abs(bars["oi"].to_numpy() - path["oi"].to_numpy()) <= half_contract * (1 + 1e-9)
    ).all()


def test_real_coinm_files_when_present(shared_data: Path, tmp_path: Path) -> None:
    files = sorted(p for p in shared_data.rglob("*USD_PERP-*") if p.suffix in (".zip", ".csv"))
    if not files:
        pytest.skip(f"no COIN-M archive file under {shared_data}")
    cat = Catalog(tmp_path / "home")
    report = import_paths(files, cat)  # read in place; .CHECKSUM beside each verified
    for key in report.series:
        assert key.exchange == "binancecoinm"
        bars = cat.read_stored(key)
        both = bars.filter(pl.col("oi_raw").is_not_null() & pl.col("close").is_not_null())
        size = coinm_contract_size(key.symbol.split("/")[0])
        assert both["oi"].to_list() == (both["oi_raw"] * size / both["close"]).to_list()
