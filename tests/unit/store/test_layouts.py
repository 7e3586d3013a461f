"""The store owns the recorder's and the simulator's folders: round trips, a planted link refused,
and the ground truth cleared under the catalog lock."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest

from oiradar.errors import InputError, StoreError
from oiradar.store import (
    POLL_SCHEMA,
    Catalog,
    append_polls,
    clear_ground_truth,
    ground_truth_dir,
    polls_dir,
    read_ground_truth_params,
    read_polls,
    write_ground_truth,
)

SYMBOL = "KSM/USDT:USDT"


def poll(ts: int, oi: float) -> dict[str, object]:
    return {"ts_venue": ts, "ts_received": ts + 5, "exchange": "binanceusdm", "symbol": SYMBOL,
            "oi_raw": oi, "oi_unit": "base", "oi": oi, "oi_value": None}  # fmt: skip


def test_polls_round_trip_one_file_per_utc_day(tmp_path: Path) -> None:
    day = 86_400_000
    rows = pl.DataFrame([poll(0, 1.0), poll(day, 2.0)], schema=POLL_SCHEMA)
    append_polls(tmp_path, rows)
    append_polls(tmp_path, pl.DataFrame([poll(60_000, 1.0)], schema=POLL_SCHEMA))  # repeat kept
    assert read_polls(tmp_path, "binanceusdm", SYMBOL)["oi"].to_list() == [1.0, 1.0, 2.0]
    files = sorted(p.name for p in polls_dir(tmp_path, "binanceusdm", SYMBOL).iterdir())
    assert files == ["1970-01-01.parquet", "1970-01-02.parquet"]


def test_ground_truth_round_trip_and_clear(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    frame = pl.DataFrame({"id": [1, 2]})
    folder = write_ground_truth(cat, "sim", SYMBOL, {"positions": frame}, {"seed": 3})
    assert (
        folder == ground_truth_dir(cat, "sim", SYMBOL) == tmp_path / "sim" / "sim" / "KSM-USDT-USDT"
    )
    assert pl.read_parquet(folder / "positions.parquet").equals(frame)
    assert read_ground_truth_params(cat, "sim", SYMBOL) == {"seed": 3}
    clear_ground_truth(cat, "sim", SYMBOL)
    assert read_ground_truth_params(cat, "sim", SYMBOL) is None
    write_ground_truth(cat, "other", SYMBOL, {}, {})
    clear_ground_truth(cat)
    assert not (tmp_path / "sim").exists()


def test_names_are_checked_and_planted_links_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    home = tmp_path / "home"
    cat = Catalog(home)
    with pytest.raises(InputError):
        ground_truth_dir(cat, "../x", SYMBOL)
    with pytest.raises(InputError):
        polls_dir(home, "a/b", SYMBOL)
    (home / "sim").mkdir(parents=True)
    (home / "sim" / "sim").symlink_to(outside)
    (home / "recordings" / "oi_polls").mkdir(parents=True)
    (home / "recordings" / "oi_polls" / "binanceusdm").symlink_to(outside)
    with pytest.raises(StoreError, match="outside the simulator's folder"):
        write_ground_truth(cat, "sim", SYMBOL, {}, {"seed": 1})
    with pytest.raises(StoreError, match="outside the recordings"):
        append_polls(home, pl.DataFrame([poll(0, 1.0)], schema=POLL_SCHEMA))
    assert list(outside.iterdir()) == []


def test_ground_truth_is_cleared_only_under_the_catalog_lock(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, lock_timeout=0)
    write_ground_truth(cat, "sim", SYMBOL, {}, {"seed": 1})
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cat.lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        with pytest.raises(StoreError, match="catalog lock"):
            clear_ground_truth(cat)
    finally:
        release.set()
        holder.join()
    assert read_ground_truth_params(cat, "sim", SYMBOL) == {"seed": 1}
    clear_ground_truth(cat)
    assert read_ground_truth_params(cat, "sim", SYMBOL) is None
