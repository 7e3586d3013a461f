"""Auto-detection of a file's format from its name and its header (never from a guess at values).

Returns a format name of :data:`oiradar.sources.decode.files.formats.FORMAT_NAMES`, ``"skip:<reason>"`` for
a file that is recognised but holds nothing to import, or None when nothing matches.
"""

from __future__ import annotations

import re
from pathlib import Path

from oiradar.sources.decode.files.reading import head_line, json_first_keys, load_json

# Binance public archive: BTCUSDT-metrics-2024-01-01.zip, BTCUSDT-5m-2024-01.zip,
# BTCUSDT-fundingRate-2024-01.zip (and the .csv inside each zip); COIN-M perpetuals the same
# with BTCUSD_PERP (decision 0506).
ARCHIVE_RE = re.compile(
    r"^[A-Z0-9]+(_PERP)?-(metrics|fundingRate|\d+[mhdwM])-\d{4}-\d{2}(-\d{2})?\.(zip|csv)$"
)
# freqtrade: XRP_USDT_USDT-5m-futures.feather, BTC_USDT-1h.feather, XRP_USDT_USDT-8h-funding_rate.parquet
FREQTRADE_RE = re.compile(
    r"^(?P<pair>[A-Z0-9]+_[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<tf>\d+[mhdwM])"
    r"(?:-(?P<kind>futures|mark|index|premiumIndex|funding_rate|open_interest|spot))?"
    r"\.(feather|parquet)$"
)

_CSV_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "symbol,exchange,symbol_on_exchange",
        "skip:Coinalyze market list (read beside its data files)",
    ),
    (
        "timestamp,trade,price",
        "skip:liquidation chart export: no quantity, and the same events "
        "are in the liquidation-order recording",
    ),
    ("timestamp,open,high,low,close,volume,turnover", "bybit-kline"),
    ("open_time,close", "close-only"),
    ("Symbol,Side,Order Type", "binance-liquidations"),
    ("Event Time (IST),Liquidation Type", "binance-liquidations"),
    ("time,user,liquidated_ntl_pos", "hyperliquid"),
    ("Datetime,Open Interest", "polls"),
    ("Datetime,Price", "polls"),
)


def detect_format(path: Path) -> str | None:
    """The format of ``path`` by name, then header; None when unknown."""
    name = path.name
    if name.endswith(".CHECKSUM"):
        return "skip:checksum (verified beside its zip)"
    if ARCHIVE_RE.match(name):
        return "binance-archive"
    if FREQTRADE_RE.match(name):
        return "freqtrade"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _detect_json(path)
    if suffix in (".feather", ".arrow", ".ipc"):
        return "parquet"
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".csv", ".txt", ".tsv"):
        return _detect_csv(path)
    return None


def _detect_json(path: Path) -> str | None:
    """binance-json by the first object's keys; other valid JSON is not ours (None).

    A ``.json`` file that is not valid JSON is refused (InputError naming the file and the
    place), not skipped: a truncated download must not go unnoticed in a folder import.
    """
    keys = set(json_first_keys(path))
    if {"openTime", "open", "close"} <= keys:
        return "binance-json"
    if {"time", "openInterest"} <= keys or {"time", "longAccount"} <= keys:
        return "binance-json"
    load_json(path)
    return None


def _detect_csv(path: Path) -> str | None:
    header = head_line(path)
    for prefix, fmt in _CSV_HEADERS:
        if header.startswith(prefix):
            return fmt
    columns = [c.strip() for c in header.split(",")]
    if columns and columns[0] == "t" and any(" - " in c for c in columns[1:]):
        return "coinalyze"
    if "ts" in columns:
        return "csv"
    return None


def is_generic(fmt: str | None) -> bool:
    return fmt in ("csv", "parquet")
