"""Binance public-archive parsers: formats, conventions, refusals, checksums, zips, generator."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Source, Timeframe
from oiradar.sources.decode import binance_archive as ba
from oiradar.sources.decode.binance_archive.synthetic import (
    write_archive_days,
    write_funding_months,
    write_zip,
)

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "binance_archive"
FIVE_MIN = 300_000


def _ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() * 1000)


def _num(cell: str) -> float | None:
    return float(cell) if cell else None


# ---------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("name", "kind", "symbol", "interval", "day"),
    [
        ("BTCUSDT-metrics-2025-01-01.zip", "metrics", "BTC/USDT:USDT", None, "2025-01-01"),
        ("KSMUSDT-5m-2024-03.zip", "klines", "KSM/USDT:USDT", "5m", "2024-03"),
        ("/x/y/ETHUSDC-1h-2024-03-02.csv", "klines", "ETH/USDC:USDC", "1h", "2024-03-02"),
        (
            "BTCUSDT-fundingRate-2025-01.zip.CHECKSUM",
            "fundingRate",
            "BTC/USDT:USDT",
            None,
            "2025-01",
        ),
        ("1000PEPEUSDT-15m-2025-01-01.zip", "klines", "1000PEPE/USDT:USDT", "15m", "2025-01-01"),
    ],
)
def test_detect_reads_the_file_name(name, kind, symbol, interval, day):
    info = ba.detect(name)
    assert info is not None
    assert (info.kind.value, info.symbol, info.interval, info.date) == (kind, symbol, interval, day)


@pytest.mark.parametrize(
    "name",
    [
        "prices.csv",
        "BTCUSD_250627-metrics-2025-01-01.zip",  # a COIN-M delivery contract: not stored
        "BTCUSDT-metrics-2025-01.zip",
        "BTCUSDT-5x-2025-01-01.zip",
    ],
)
def test_detect_returns_none_for_other_names(name):
    assert ba.detect(name) is None


def test_archive_relpath_mirrors_data_binance_vision():
    assert ba.archive_relpath("BTCUSDT-metrics-2025-01-01.zip") == (
        "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2025-01-01.zip"
    )
    assert ba.archive_relpath("BTCUSDT-5m-2025-01.zip") == (
        "data/futures/um/monthly/klines/BTCUSDT/5m/BTCUSDT-5m-2025-01.zip"
    )
    assert ba.archive_relpath("BTCUSDT-fundingRate-2025-01.zip") == (
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-01.zip"
    )


# ---------------------------------------------------------------------------- metrics
def _metrics_oracle(path: Path, shift_ms: int) -> pl.DataFrame:
    """The expected bars, computed row by row with the csv module (independent of polars)."""
    rows = list(csv.DictReader(path.open()))
    return pl.DataFrame(
        {
            "ts": [_ms(r["create_time"]) - shift_ms for r in rows],
            "oi": [_num(r["sum_open_interest"]) for r in rows],
            "oi_value": [_num(r["sum_open_interest_value"]) for r in rows],
            "long_short_ratio": [_num(r["count_long_short_ratio"]) for r in rows],
        },
        schema={
            "ts": pl.Int64,
            "oi": pl.Float64,
            "oi_value": pl.Float64,
            "long_short_ratio": pl.Float64,
        },
    )


def test_metrics_snapshot_belongs_to_the_bar_that_closes_at_its_time():
    path = FIX / "BTCUSDT-metrics-2025-01-01.csv"
    out = ba.parse_metrics(path)
    assert_frame_equal(
        out.select("ts", "oi", "oi_value", "long_short_ratio"), _metrics_oracle(path, FIVE_MIN)
    )
    assert out["ts"][0] == _ms("2025-01-01 00:00:00")  # stamped 00:05 -> the 00:00 bar
    assert out["oi_raw"].to_list() == out["oi"].to_list()
    assert set(out["oi_unit"]) == {"base"}


def test_metrics_empty_cells_are_missing_not_zero():
    out = ba.parse_metrics(FIX / "BTCUSDT-metrics-2025-01-01.csv")
    row_15 = out.filter(pl.col("ts") == _ms("2025-01-01 00:10:00"))
    assert row_15["oi_value"][0] is None and row_15["oi"][0] == 80170.0
    row_20 = out.filter(pl.col("ts") == _ms("2025-01-01 00:15:00"))
    assert row_20["long_short_ratio"][0] is None
    assert 0.0 not in out["oi_value"].drop_nulls().to_list()


def test_metrics_row_with_every_value_empty_makes_no_bar():
    text = (FIX / "BTCUSDT-metrics-2025-01-01.csv").read_text()
    data = text + "2025-01-01 00:35:00,BTCUSDT,,,,,,\n"
    out = ba.parse_metrics(data.encode(), name="BTCUSDT-metrics-2025-01-01.csv")
    assert out.height == 5 and out["ts"][-1] == _ms("2025-01-01 00:25:00")


def test_metrics_start_of_period_labels_from_2026_06_25():
    """binance-public-data #491: from that day ``create_time`` T labels the period [T, T+5m)."""
    path = FIX / "BTCUSDT-metrics-2026-06-25.csv"
    assert_frame_equal(
        ba.parse_metrics(path).select(_metrics_oracle(path, 0).columns), _metrics_oracle(path, 0)
    )
    # the same bytes without a name: told apart by the first row's time
    assert ba.parse_metrics(path.read_bytes())["ts"][0] == _ms("2026-06-25 00:00:00")
    # and the convention can be forced
    assert ba.parse_metrics(path, labels="end")["ts"][0] == _ms("2026-06-24 23:55:00")


def test_metrics_days_around_the_label_change_join_without_gap_or_overlap():
    before = ba.parse_metrics(FIX / "BTCUSDT-metrics-2026-06-24.csv")
    after = ba.parse_metrics(FIX / "BTCUSDT-metrics-2026-06-25.csv")
    ts = pl.concat([before, after])["ts"]
    assert ts.diff().drop_nulls().unique().to_list() == [FIVE_MIN]
    assert before["ts"][-1] == _ms("2026-06-24 23:55:00")


def test_metrics_duplicates_identical_dropped_conflicting_keep_later():
    text = (FIX / "BTCUSDT-metrics-2025-01-01.csv").read_text().splitlines()
    header, first, second = text[0], text[1], text[2]
    conflicting = first.replace("80123.456", "99999.0")
    data = "\n".join([header, first, first, second, conflicting]) + "\n"
    out = ba.parse_metrics(data.encode(), name="BTCUSDT-metrics-2025-01-01.csv")
    assert out.height == 2
    assert out["oi"].to_list() == [99999.0, 80150.123]


def test_metrics_refuse_another_symbol_than_the_file_name():
    data = (FIX / "BTCUSDT-metrics-2025-01-01.csv").read_bytes().replace(b",BTCUSDT,", b",ETHUSDT,")
    with pytest.raises(InputError) as err:
        ba.parse_metrics(data, name="BTCUSDT-metrics-2025-01-01.csv")
    assert (err.value.row, err.value.column, err.value.value) == (2, "symbol", "ETHUSDT")


def test_metrics_header_missing_a_required_column_is_refused():
    data = b"create_time,symbol,sum_open_interest_value\n2025-01-01 00:05:00,BTCUSDT,1.0\n"
    with pytest.raises(InputError, match="sum_open_interest") as err:
        ba.parse_metrics(data, name="BTCUSDT-metrics-2025-01-01.csv")
    assert err.value.row == 1 and err.value.column == "sum_open_interest"


def test_metrics_header_in_another_order_is_read_by_name():
    path = FIX / "BTCUSDT-metrics-2025-01-01.csv"
    frame = pl.read_csv(path, infer_schema=False)
    shuffled = frame.select(list(reversed(frame.columns))).write_csv().encode()
    assert_frame_equal(ba.parse_metrics(shuffled, name=path.name), ba.parse_metrics(path))


# ---------------------------------------------------------------------------- klines
def test_klines_with_and_without_header_and_in_microseconds_are_equal():
    with_header = ba.parse_klines(FIX / "BTCUSDT-5m-2025-01-01.csv")
    without = ba.parse_klines(FIX / "BTCUSDT-5m-2021-06-01.csv")
    micros = ba.parse_klines(FIX / "BTCUSDT-5m-2025-01-02.csv")
    assert_frame_equal(with_header, without)
    assert_frame_equal(with_header, micros)
    assert with_header["ts"].to_list() == [1735689600000, 1735689900000, 1735690200000]


def test_klines_map_to_canonical_columns_like_pandas():
    path = FIX / "BTCUSDT-5m-2025-01-01.csv"
    expected = pd.read_csv(path)
    out = ba.parse_klines(path)
    assert out["ts"].to_list() == expected["open_time"].tolist()
    for ours, theirs in [("open", "open"), ("high", "high"), ("low", "low"), ("close", "close"),
                         ("volume", "volume"), ("quote_volume", "quote_volume"),
                         ("taker_buy_volume", "taker_buy_volume")]:  # fmt: skip
        assert out[ours].to_list() == expected[theirs].tolist()
    assert not out["quote_volume_estimated"].any()


BAD_KLINES = [
    # (line to change, old, new, column, message fragment)
    (2, "93610.90", "abc", "high", "not a number"),
    (3, "120.500", "-1.0", "volume", "negative"),
    (4, "93700.00", "93400.00", "high", "high is below low"),
    (2, "93600.10", "93700.00", "close", "outside"),
    (3, "60.250", "500.0", "taker_buy_volume", "exceeds"),
    (2, "1735689600000,", "1735689600000x,", "open_time", "not an integer"),
]


@pytest.mark.parametrize(("line", "old", "new", "column", "fragment"), BAD_KLINES)
def test_klines_bad_cell_names_file_row_column_value(line, old, new, column, fragment):
    lines = (FIX / "BTCUSDT-5m-2025-01-01.csv").read_text().splitlines()
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    with pytest.raises(InputError, match=fragment) as err:
        ba.parse_klines(("\n".join(lines) + "\n").encode(), name="BTCUSDT-5m-2025-01-01.csv")
    e = err.value
    assert (e.file, e.row, e.column) == ("BTCUSDT-5m-2025-01-01.csv", line, column)
    assert str(e.value).rstrip("0").rstrip(".") in new or e.value == float(new)


@pytest.mark.parametrize(("swap", "fragment"), [((3, 2), "duplicate"), ((4, 2), "backwards")])
def test_klines_duplicate_or_out_of_order_rows_are_refused(swap, fragment):
    lines = (FIX / "BTCUSDT-5m-2025-01-01.csv").read_text().splitlines()
    target, source = swap
    lines[target - 1] = lines[source - 1]
    with pytest.raises(InputError, match=fragment) as err:
        ba.parse_klines(("\n".join(lines) + "\n").encode(), name="k.csv")
    assert err.value.row == target and err.value.column == "open_time"


def test_blank_lines_are_skipped_and_lines_still_counted():
    lines = (FIX / "BTCUSDT-5m-2025-01-01.csv").read_text().splitlines()
    data = (
        "\n".join([lines[0], lines[1], "", lines[2], "", lines[3].replace("300.000", "-1")])
        + "\n\n"
    )
    with pytest.raises(InputError, match="negative") as err:
        ba.parse_klines(data.encode(), name="k.csv")
    assert err.value.row == 6
    clean = "\n".join([lines[0], lines[1], "", lines[2], "", lines[3]]) + "\n\n"
    assert_frame_equal(
        ba.parse_klines(clean.encode()), ba.parse_klines(FIX / "BTCUSDT-5m-2025-01-01.csv")
    )


def test_klines_row_with_too_many_fields_is_refused():
    data = (FIX / "BTCUSDT-5m-2021-06-01.csv").read_text().replace(",0\n", ",0,7\n", 1)
    with pytest.raises(InputError, match="fields") as err:
        ba.parse_klines(data.encode(), name="k.csv")
    assert err.value.row == 1


def test_klines_empty_required_cell_is_refused():
    data = (
        (FIX / "BTCUSDT-5m-2021-06-01.csv").read_text().replace("93645.20,120.500", "93645.20,", 1)
    )
    with pytest.raises(InputError, match="empty") as err:
        ba.parse_klines(data.encode(), name="k.csv")
    assert (err.value.row, err.value.column) == (2, "volume")


def test_batched_error_names_the_right_file_and_line(tmp_path):
    paths = write_archive_days(
        tmp_path, "BTCUSDT", date(2025, 1, 1), 3, seed=1, kinds=("klines",), kline_header=False
    )
    text = zipfile.ZipFile(paths[1]).read("BTCUSDT-5m-2025-01-02.csv").decode().splitlines()
    cells = text[9].split(",")
    cells[5] = "-3"
    text[9] = ",".join(cells)
    bad = tmp_path / "bad"
    write_zip(bad, paths[1].name, ("\n".join(text) + "\n").encode(), date(2025, 1, 2))
    with pytest.raises(InputError) as err:
        ba.read_archive_files([paths[0], bad / paths[1].name, paths[2]])
    assert (err.value.file, err.value.row, err.value.column) == (paths[1].name, 10, "volume")


def test_batch_in_any_file_order_equals_one_file_at_a_time(tmp_path):
    paths = write_archive_days(tmp_path, "BTCUSDT", date(2025, 1, 1), 3, seed=6)
    groups = {k: f for k, _s, _tf, f in ba.read_archive_files(list(reversed(paths)))}
    klines = pl.concat([ba.parse_klines(p) for p in paths if "-5m-" in p.name])
    metrics = pl.concat([ba.parse_metrics(p) for p in paths if "-metrics-" in p.name])
    assert_frame_equal(groups[ba.ArchiveKind.KLINES], klines)
    assert_frame_equal(groups[ba.ArchiveKind.METRICS], metrics)


def test_batched_out_of_order_row_inside_a_file_is_refused(tmp_path):
    paths = write_archive_days(
        tmp_path, "BTCUSDT", date(2025, 1, 1), 2, seed=1, kinds=("klines",), kline_header=True
    )
    lines = zipfile.ZipFile(paths[1]).read(paths[1].stem + ".csv").decode().splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    bad = tmp_path / "bad"
    write_zip(bad, paths[1].name, ("\n".join(lines) + "\n").encode(), date(2025, 1, 2))
    with pytest.raises(InputError, match="backwards") as err:
        ba.read_archive_files([bad / paths[1].name, paths[0]])
    assert (err.value.file, err.value.row) == (paths[1].name, 7)


# ---------------------------------------------------------------------------- funding
@pytest.mark.parametrize("timeframe", ["5m", "1h", "1d"])
def test_funding_goes_to_the_bar_containing_it_summed_like_pandas(timeframe):
    path = FIX / "BTCUSDT-fundingRate-2025-01.csv"
    tf = Timeframe(timeframe)
    raw = pd.read_csv(path)
    expected = raw.groupby(raw["calc_time"] // tf.ms * tf.ms)["last_funding_rate"].sum()
    out = ba.parse_funding(path, tf)
    assert out["ts"].to_list() == expected.index.tolist()
    assert out["funding_rate"].to_list() == pytest.approx(expected.tolist(), abs=1e-15)


def test_funding_bad_rate_is_refused():
    data = (FIX / "BTCUSDT-fundingRate-2025-01.csv").read_text().replace("-0.00002500", "", 1)
    with pytest.raises(InputError) as err:
        ba.parse_funding(data.encode(), Timeframe.H1, name="f.csv")
    assert (err.value.row, err.value.column) == (4, "last_funding_rate")


# ---------------------------------------------------------------------------- checksums, zips
def test_checksum_verified_absent_and_mismatch(tmp_path):
    src = FIX / "zipped" / "BTCUSDT-metrics-2025-01-01.zip"
    assert ba.verify_checksum(src) is True
    copy = tmp_path / src.name
    shutil.copy(src, copy)
    assert ba.verify_checksum(copy) is False  # no .CHECKSUM beside it
    (tmp_path / (src.name + ".CHECKSUM")).write_text(f"{'0' * 64}  {src.name}\n")
    with pytest.raises(InputError, match="SHA-256 mismatch") as err:
        ba.verify_checksum(copy)
    assert err.value.file == src.name
    with pytest.raises(InputError, match="SHA-256 mismatch"):
        ba.read_archive_file(copy)


def test_checksum_for_another_file_is_refused():
    digest = hashlib.sha256(b"abc").hexdigest()
    ba.check_sha256(b"abc", f"{digest}  a.zip\n", "a.zip")
    with pytest.raises(InputError, match="another file"):
        ba.check_sha256(b"abc", f"{digest}  b.zip\n", "a.zip")
    with pytest.raises(InputError, match="CHECKSUM"):
        ba.check_sha256(b"abc", "not a digest", "a.zip")


def test_zip_path_bytes_and_csv_give_the_same_frame():
    zipped = FIX / "zipped" / "BTCUSDT-metrics-2025-01-01.zip"
    plain = FIX / "BTCUSDT-metrics-2025-01-01.csv"
    expected = ba.parse_metrics(plain)
    assert_frame_equal(ba.parse_metrics(zipped), expected)
    assert_frame_equal(ba.parse_metrics(zipped.read_bytes(), name=zipped.name), expected)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


CSV = (FIX / "BTCUSDT-5m-2025-01-01.csv").read_bytes()


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"../evil.csv": CSV}, "escapes"),
        ({"/etc/evil.csv": CSV}, "escapes"),
        ({"a/../../evil.csv": CSV}, "escapes"),
        ({"C:/evil.csv": CSV}, "escapes"),
        ({"a.csv": CSV, "b.csv": CSV}, "found 2"),
        ({}, "found 0"),
    ],
)
def test_zip_with_escaping_or_extra_members_is_refused(members, fragment):
    with pytest.raises(InputError, match=fragment):
        ba.parse_klines(_zip(members), name="BTCUSDT-5m-2025-01-01.zip")


def test_damaged_zip_is_refused():
    data = bytearray(_zip({"a.csv": CSV * 20}))
    data[60] ^= 0xFF  # inside the compressed stream
    with pytest.raises(InputError, match=r"damaged|zip"):
        ba.parse_klines(bytes(data), name="BTCUSDT-5m-2025-01-01.zip")


def test_zip_with_a_stored_member_is_read():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.csv", CSV)
    assert_frame_equal(ba.parse_klines(buf.getvalue()), ba.parse_klines(CSV))


# ---------------------------------------------------------------------------- whole files
def test_read_archive_file_names_kind_symbol_timeframe():
    kind, symbol, tf, frame = ba.read_archive_file(
        FIX / "zipped" / "BTCUSDT-metrics-2025-01-01.zip"
    )
    assert (kind, symbol, tf, frame.height) == (
        ba.ArchiveKind.METRICS,
        "BTC/USDT:USDT",
        Timeframe.M5,
        5,
    )
    kind, _, tf, frame = ba.read_archive_file(
        FIX / "BTCUSDT-fundingRate-2025-01.csv", funding_timeframe=Timeframe.H4
    )
    assert kind is ba.ArchiveKind.FUNDING and tf is Timeframe.H4


def test_read_archive_file_refuses_unknown_names_and_intervals(tmp_path):
    with pytest.raises(InputError, match="not a Binance"):
        ba.read_archive_file(tmp_path / "prices.csv")
    with pytest.raises(InputError, match="CHECKSUM"):
        ba.read_archive_file(FIX / "zipped" / "BTCUSDT-metrics-2025-01-01.zip.CHECKSUM")
    odd = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    odd.write_bytes(CSV)
    with pytest.raises(InputError, match="not an oiradar timeframe"):
        ba.read_archive_file(odd)


# ---------------------------------------------------------------------------- generator
def test_generator_writes_the_archive_format_with_checksums(tmp_path):
    paths = write_archive_days(tmp_path, "KSMUSDT", date(2025, 3, 1), 2, seed=3)
    assert [p.name for p in paths] == [
        "KSMUSDT-5m-2025-03-01.zip", "KSMUSDT-metrics-2025-03-01.zip",
        "KSMUSDT-5m-2025-03-02.zip", "KSMUSDT-metrics-2025-03-02.zip",
    ]  # fmt: skip
    assert all(ba.verify_checksum(p) for p in paths)
    heads = [zipfile.ZipFile(p).read(p.stem + ".csv")[:12] for p in paths]
    assert heads[0].startswith(b"open_time") and not heads[2].startswith(b"open_time")
    assert heads[1].startswith(b"create_time")
    metrics_csv = zipfile.ZipFile(paths[1]).read(paths[1].stem + ".csv").decode().splitlines()
    assert metrics_csv[1].startswith("2025-03-01 00:05:00,KSMUSDT,")
    assert metrics_csv[-1].startswith("2025-03-02 00:00:00,KSMUSDT,")  # end-of-period labels


def test_generator_round_trip_covers_every_bar_once(tmp_path):
    paths = write_archive_days(tmp_path, "BTCUSDT", date(2025, 1, 1), 3, seed=5)
    groups = {kind: frame for kind, _s, _tf, frame in ba.read_archive_files(paths)}
    klines, metrics = groups[ba.ArchiveKind.KLINES], groups[ba.ArchiveKind.METRICS]
    start = _ms("2025-01-01 00:00:00")
    expected = list(range(start, start + 3 * 288 * FIVE_MIN, FIVE_MIN))
    assert klines["ts"].to_list() == expected and metrics["ts"].to_list() == expected
    joined = klines.join(metrics, on="ts")
    assert ((joined["oi_value"] / (joined["oi"] * joined["close"]) - 1).abs() < 1e-6).all()


def test_generator_is_deterministic_by_seed(tmp_path):
    a = write_archive_days(tmp_path / "a", "BTCUSDT", date(2025, 1, 1), 1, seed=9)
    b = write_archive_days(tmp_path / "b", "BTCUSDT", date(2025, 1, 1), 1, seed=9)
    c = write_archive_days(tmp_path / "c", "BTCUSDT", date(2025, 1, 1), 1, seed=10)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


def test_generator_after_the_label_change_and_archive_layout(tmp_path):
    paths = write_archive_days(
        tmp_path, "BTCUSDT", date(2026, 6, 24), 2, seed=1, kinds=("metrics",), layout="archive"
    )
    assert (
        paths[0]
        == tmp_path / "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2026-06-24.zip"
    )
    frame = ba.read_archive_files(paths)[0][3]
    assert frame["ts"].diff().drop_nulls().unique().to_list() == [FIVE_MIN]
    assert frame.height == 2 * 288


def test_generated_funding_months(tmp_path):
    paths = write_funding_months(tmp_path, "BTCUSDT", date(2024, 12, 1), 2, seed=2)
    assert [p.name for p in paths] == [
        "BTCUSDT-fundingRate-2024-12.zip",
        "BTCUSDT-fundingRate-2025-01.zip",
    ]
    frames = [ba.read_archive_file(p, funding_timeframe=Timeframe.H4)[3] for p in paths]
    assert [f.height for f in frames] == [31 * 3, 31 * 3]


# ---------------------------------------------------------------------------- catalog
def test_importing_the_same_archive_twice_changes_nothing(tmp_path, catalog):
    paths = write_archive_days(tmp_path, "BTCUSDT", date(2025, 1, 31), 2, seed=4)
    frames = {kind: frame for kind, _s, _tf, frame in ba.read_archive_files(paths)}
    bars = frames[ba.ArchiveKind.KLINES].join(
        frames[ba.ArchiveKind.METRICS], on="ts", how="full", coalesce=True
    )
    key = SeriesKey(exchange="binanceusdm", symbol="BTC/USDT:USDT", timeframe=Timeframe.M5)
    first = catalog.write_bars(key, bars, Source.ARCHIVE)
    assert first.rows_added == 2 * 288
    stored = catalog.read_stored(key)
    second = catalog.write_bars(key, bars, Source.ARCHIVE)
    assert second.rows_added == 0 and second.rows_changed == 0
    assert_frame_equal(catalog.read_stored(key), stored)
