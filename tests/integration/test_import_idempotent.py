"""Importing the same files twice leaves the catalog identical: rows, values, provenance, files."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from oiradar.model import Timeframe
from oiradar.sources import import_paths
from oiradar.store import Catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "files"


def file_state(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """(size, mtime_ns, bytes) of every file: a rewrite changes at least the mtime."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def content(cat: Catalog) -> dict[str, pl.DataFrame]:
    out = {str(k): cat.read_stored(k) for k in cat.stored_keys()}
    out["liquidations"] = cat.read_liquidations()
    return out


CASES = {
    "generic csv": (
        [FIXTURES / "bars_5m.csv"],
        {"exchange": "test", "symbol": "KSM/USDT:USDT", "timeframe": Timeframe.M5},
    ),
    "mapped iso csv": (
        [FIXTURES / "bars_iso_mapped.csv"],
        {
            "exchange": "test",
            "symbol": "KSM/USDT:USDT",
            "mapping": {
                "time": "ts",
                "o": "open",
                "h": "high",
                "l": "low",
                "c": "close",
                "vol": "volume",
            },
        },
    ),
    "coinalyze folder": ([FIXTURES / "coinalyze"], {}),
    "liquidations and polls": (
        [
            FIXTURES / "binance_btcusdt_liquidation_orders.csv",
            FIXTURES / "binance_btcusdt_open_interest_history.csv",
        ],
        {},
    ),
    "oi json": ([FIXTURES / "open_interest.json"], {"symbol": "BTC/USDT:USDT"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_files_twice_change_nothing(catalog: Catalog, case: str) -> None:
    paths, kwargs = CASES[case]
    first = import_paths(paths, catalog, **kwargs)
    assert first.rows_in > 0 and first.partitions_written > 0
    state, rows = file_state(catalog.root), content(catalog)
    second = import_paths(paths, catalog, **kwargs)
    assert second.partitions_written == 0
    assert all(r.rows_added == 0 and r.rows_changed == 0 for r in second.series.values())
    assert second.liquidations.rows_added == 0
    assert file_state(catalog.root) == state  # no partition or manifest rewritten
    after = content(catalog)
    for name, frame in rows.items():  # same rows, same values, same provenance (ingested_at)
        assert after[name].equals(frame), name


def test_real_freqtrade_folder_twice(catalog: Catalog, shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ft"
    shutil.copytree(shared_data / "freqtrade_xrp_futures", folder)
    import_paths([folder], catalog)
    state, rows = file_state(catalog.root), content(catalog)
    again = import_paths([folder], catalog)
    assert again.partitions_written == 0
    assert file_state(catalog.root) == state
    assert all(content(catalog)[k].equals(v) for k, v in rows.items())
