"""The recorder's polls on disk: every OI poll, one Parquet file per series and UTC day.

``<home>/recordings/oi_polls/<exchange>/<symbol-slug>/<YYYY-MM-DD>.parquet``, beside the catalog
(polls are the raw material of bars, not bars). A day file is read, extended and replaced
atomically under the series' recording lock (``<home>/catalog/.locks/<exchange>__<symbol>.lock``):
two writers doing it at once would each replace the file with their own rows and lose the other's.
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from pathlib import Path

import polars as pl

from oiradar.errors import StoreError
from oiradar.model import symbol_slug, validate_exchange_name
from oiradar.store.atomic import LOCKS_DIR, file_lock, fsync_path, tmp_path_for
from oiradar.store.catalog import Catalog
from oiradar.store.paths import contained
from oiradar.timeutil import iso_utc_expr

POLL_SCHEMA: dict[str, pl.DataType] = {
    "ts_venue": pl.Int64(),
    "ts_received": pl.Int64(),
    "exchange": pl.String(),
    "symbol": pl.String(),
    "oi_raw": pl.Float64(),
    "oi_unit": pl.String(),
    "oi": pl.Float64(),
    "oi_value": pl.Float64(),
}


def polls_root(home: str | Path) -> Path:
    return Path(home) / "recordings" / "oi_polls"


def polls_dir(home: str | Path, exchange: str, symbol: str) -> Path:
    """The folder of one series' day files, checked to lie inside the polls root."""
    name = validate_exchange_name(exchange)  # a folder name: no path step can slip in
    root = polls_root(home)
    return contained(root / name / symbol_slug(symbol), root, "the recordings")


def read_polls(home: str | Path, exchange: str, symbol: str) -> pl.DataFrame:
    """Every poll of a series in receipt order (an empty frame of :data:`POLL_SCHEMA` if none)."""
    files = sorted(polls_dir(home, exchange, symbol).glob("*.parquet"))
    if not files:
        return pl.DataFrame(schema=POLL_SCHEMA)
    return pl.concat([_read_day(f) for f in files]).sort("ts_received")


def recording_lock(
    home: str | Path, exchange: str, symbol: str, *, timeout_s: float = 60.0
) -> AbstractContextManager[None]:
    """The lock of one recorded series, ``<home>/catalog/.locks/<exchange>__<symbol>.lock``.

    A recorder holds it for its whole run; :func:`append_polls` takes it (re-entrant in the
    recorder's process) around each read-extend-replace of a day file.
    """
    name = f"{validate_exchange_name(exchange)}__{symbol_slug(symbol)}.lock"
    path = Catalog(home).root / LOCKS_DIR / name
    return file_lock(path, timeout_s=timeout_s, what=f"the recording lock of {exchange} {symbol}")


def append_polls(home: str | Path, rows: pl.DataFrame) -> None:
    """Append :data:`POLL_SCHEMA` rows to their day files; a crash leaves the old file whole."""
    rows = rows.with_columns(iso_utc_expr("ts_received", "%Y-%m-%d").alias("_d"))
    for (exchange, symbol, d), part in rows.group_by("exchange", "symbol", "_d"):
        with recording_lock(home, str(exchange), str(symbol)):
            path = polls_dir(home, str(exchange), str(symbol)) / f"{d}.parquet"
            _append_day(path, part.drop("_d"))


def _append_day(path: Path, part: pl.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    pl.concat([_read_day(path), part]).write_parquet(tmp)
    fsync_path(tmp)  # the rename must not publish a file whose bytes are not on disk yet
    tmp.replace(path)
    fsync_path(path.parent)


def _read_day(path: Path) -> pl.DataFrame:
    """A day file, read in one go: polars opens a path more than once, and a recorder replacing
    the file in between would hand it the footer of one file and the pages of the other."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return pl.DataFrame(schema=POLL_SCHEMA)
    try:
        return pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise StoreError(
            f"{path} is damaged ({str(exc).splitlines()[0]}); restore it from a backup, or move it "
            f"out of {path.parent} and record again (a new file is started for that day)"
        ) from None
