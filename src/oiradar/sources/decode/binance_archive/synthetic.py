"""Write files in the exact Binance public-archive format, with invented but plausible values.

The encoder beside the decoders: used by the import benchmark (``bench/gen_archive.py``), by
tests as a fixture generator, and by the fake exchange that serves them over HTTP. It writes only
into the folder it is given. Nothing here is real market data: prices and OI
follow a seeded random walk (deterministic by ``seed``); the formats follow
https://github.com/binance/binance-public-data (USD-M futures: ``metrics``, ``klines``,
``fundingRate``), each zip holding one CSV of the same stem with a ``.CHECKSUM``
(``<sha256>  <zip name>``) beside it. See :mod:`oiradar.sources.decode.binance_archive`.

COIN-M ``metrics`` files (``market="cm"``, decision 0505) have the same columns: OI in contracts
of ``contract_size`` USD, its value in the base coin, start-of-period labels, and empty
long/short ratio cells (written ``""``, as the real files do).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from oiradar.model import DAY_MS, HOUR_MS, MINUTE_MS
from oiradar.sources.decode.binance_archive.funding import FUNDING_COLUMNS
from oiradar.sources.decode.binance_archive.klines import KLINE_COLUMNS
from oiradar.sources.decode.binance_archive.metrics import (
    METRICS_COLUMNS,
    METRICS_START_LABELS_FROM,
)
from oiradar.sources.decode.binance_archive.names import ArchiveMarket, archive_relpath

__all__ = ["MarketPath", "simulate_path", "write_archive_days", "write_funding_months", "write_zip"]

STEP_MS = 5 * MINUTE_MS
BARS_PER_DAY = DAY_MS // STEP_MS
Layout = Literal["flat", "archive"]


@dataclass(frozen=True, slots=True)
class MarketPath:
    """5-minute bars (columns named as in the kline files) plus OI and ratio snapshots."""

    frame: pl.DataFrame  # open_time, open..close, volume, quote_volume, count, taker_buy_volume,
    # taker_buy_quote_volume, oi, oi_value, top_acc, top_pos, all_acc, taker_ratio


def simulate_path(
    start_ms: int, bars: int, seed: int, *, price0: float = 25.0, oi0: float = 1.5e6
) -> MarketPath:
    """A seeded random walk: log-normal price, volumes, one-sided OI in base units."""
    rng = np.random.default_rng(seed)
    close = price0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, bars)))
    open_ = np.concatenate([[price0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0012, (2, bars)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = np.round(rng.lognormal(np.log(4_000.0), 0.6, bars), 1)
    vwap = np.clip((high + low + close) / 3, low, high)
    taker = np.round(volume * rng.beta(5.0, 5.0, bars), 1)
    oi = np.round(oi0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, bars))), 1)
    close = np.round(close, 3)
    frame = pl.DataFrame(
        {
            "open_time": start_ms + STEP_MS * np.arange(bars, dtype=np.int64),
            "open": np.round(open_, 3), "high": np.round(high, 3),
            "low": np.round(low, 3), "close": np.round(close, 3),
            "volume": volume, "quote_volume": np.round(volume * vwap, 5),
            "count": np.maximum(1, (volume / 7).astype(np.int64)),
            "taker_buy_volume": taker, "taker_buy_quote_volume": np.round(taker * vwap, 5),
            "oi": oi, "oi_value": np.round(oi * close, 5),
            "top_acc": np.round(rng.lognormal(0.3, 0.1, bars), 8),
            "top_pos": np.round(rng.lognormal(0.2, 0.1, bars), 8),
            "all_acc": np.round(rng.lognormal(0.4, 0.15, bars), 8),
            "taker_ratio": np.round(taker / np.maximum(volume - taker, 0.1), 4),
        }
    )  # fmt: skip
    return MarketPath(frame)


def write_zip(folder: Path, zip_name: str, csv_bytes: bytes, day: date) -> Path:
    """``<folder>/<zip_name>`` holding ``<stem>.csv``, and its ``.CHECKSUM`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    info = zipfile.ZipInfo(
        zip_name[:-4] + ".csv", date_time=(day.year, day.month, day.day, 0, 0, 0)
    )
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, csv_bytes)
    data = buf.getvalue()
    path = folder / zip_name
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    path.with_name(zip_name + ".CHECKSUM").write_text(f"{digest}  {zip_name}\n")
    return path


def _metrics_csv(day_bars: pl.DataFrame, symbol: str, start_labels: bool) -> bytes:
    """Rows labelled at the period end (T = bar close) or, from 2026-06-25, at its start."""
    out = day_bars.select(
        _create_time(start_labels),
        pl.lit(symbol).alias("symbol"),
        pl.col("oi").alias("sum_open_interest"),
        pl.col("oi_value").alias("sum_open_interest_value"),
        pl.col("top_acc").alias("count_toptrader_long_short_ratio"),
        pl.col("top_pos").alias("sum_toptrader_long_short_ratio"),
        pl.col("all_acc").alias("count_long_short_ratio"),
        pl.col("taker_ratio").alias("sum_taker_long_short_vol_ratio"),
    )
    assert tuple(out.columns) == METRICS_COLUMNS
    return out.write_csv().encode()


def _coinm_metrics_csv(day_bars: pl.DataFrame, symbol: str, contract_size: float) -> bytes:
    """COIN-M rows: start-of-period labels; the base OI as whole contracts of ``contract_size``
    USD at the snapshot's price (the bar's close); the value in the base coin; empty ratios."""
    contracts = (pl.col("oi") * pl.col("close") / contract_size).round(0)
    empty = pl.lit('""')
    out = day_bars.select(
        _create_time(True),
        pl.lit(symbol).alias("symbol"),
        contracts.alias("sum_open_interest"),
        (contracts * contract_size / pl.col("close")).round(8).alias("sum_open_interest_value"),
        empty.alias("count_toptrader_long_short_ratio"),
        empty.alias("sum_toptrader_long_short_ratio"),
        empty.alias("count_long_short_ratio"),
        pl.col("taker_ratio").alias("sum_taker_long_short_vol_ratio"),
    )
    assert tuple(out.columns) == METRICS_COLUMNS
    return out.write_csv(quote_style="never").encode()


def _create_time(start_labels: bool) -> pl.Expr:
    label = pl.col("open_time") + (0 if start_labels else STEP_MS)
    return (
        pl.from_epoch(label, time_unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S").alias("create_time")
    )


def _klines_csv(day_bars: pl.DataFrame, header: bool) -> bytes:
    out = day_bars.select(
        *KLINE_COLUMNS[:6],
        (pl.col("open_time") + STEP_MS - 1).alias("close_time"),
        *KLINE_COLUMNS[7:11],
        pl.lit(0).alias("ignore"),
    )
    return out.write_csv(include_header=header).encode()


def _folder(root: Path, layout: Layout, name: str) -> Path:
    return root if layout == "flat" else (root / archive_relpath(name)).parent


def write_archive_days(
    folder: str | Path,
    symbol: str = "BTCUSDT",
    start: date = date(2025, 1, 1),
    days: int = 365,
    seed: int = 7,
    *,
    kinds: tuple[str, ...] = ("metrics", "klines"),
    kline_header: bool | None = None,
    layout: Layout = "flat",
    price0: float = 25.0,
    market: ArchiveMarket = "um",
    contract_size: float = 100.0,
) -> list[Path]:
    """Daily 5m ``metrics`` and ``klines`` zips (+ ``.CHECKSUM``) for ``days`` days from ``start``.

    ``kline_header=None`` alternates the two variants that the archive really has (odd days
    without the header row, even days with it). ``layout="archive"`` nests the files as on
    data.binance.vision (``data/futures/um/daily/...``). Returns the zip paths, day by day.
    ``market="cm"`` writes COIN-M ``metrics`` files only (``symbol`` like ``BTCUSD_PERP``, OI in
    contracts of ``contract_size`` USD, under ``data/futures/cm/daily/metrics/...``).
    """
    if market == "cm" and set(kinds) != {"metrics"}:
        raise ValueError("market='cm' writes metrics files only: pass kinds=('metrics',)")
    root = Path(folder)
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    path = simulate_path(start_ms, days * BARS_PER_DAY, seed, price0=price0).frame
    out: list[Path] = []
    for i in range(days):
        day = start + timedelta(days=i)
        bars = path.slice(i * BARS_PER_DAY, BARS_PER_DAY)
        stamp = day.isoformat()
        if "klines" in kinds:
            header = (i % 2 == 0) if kline_header is None else kline_header
            name = f"{symbol}-5m-{stamp}.zip"
            out.append(write_zip(_folder(root, layout, name), name, _klines_csv(bars, header), day))
        if "metrics" in kinds:
            if market == "cm":
                csv = _coinm_metrics_csv(bars, symbol, contract_size)
            else:
                start_labels = start_ms + i * DAY_MS >= METRICS_START_LABELS_FROM
                csv = _metrics_csv(bars, symbol, start_labels)
            name = f"{symbol}-metrics-{stamp}.zip"  # _folder knows um from cm by the name
            out.append(write_zip(_folder(root, layout, name), name, csv, day))
    return out


def write_funding_months(
    folder: str | Path, symbol: str = "BTCUSDT", start: date = date(2025, 1, 1), months: int = 1,
    seed: int = 7, *, layout: Layout = "flat",
) -> list[Path]:  # fmt: skip
    """Monthly ``fundingRate`` zips: a settlement every 8 h, stamped a few ms after the hour."""
    rng = np.random.default_rng(seed)
    root = Path(folder)
    out = []
    year, month = start.year, start.month
    for _ in range(months):
        first = datetime(year, month, 1, tzinfo=UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        n = int((datetime(year, month, 1, tzinfo=UTC) - first).total_seconds() * 1000) // (
            8 * HOUR_MS
        )
        calc = int(first.timestamp() * 1000) + 8 * HOUR_MS * np.arange(n) + rng.integers(0, 10, n)
        frame = pl.DataFrame(
            {"calc_time": calc, "funding_interval_hours": np.full(n, 8),
             "last_funding_rate": np.round(rng.normal(1e-4, 1.5e-4, n), 8)}
        )  # fmt: skip
        assert tuple(frame.columns) == FUNDING_COLUMNS
        name = f"{symbol}-fundingRate-{first:%Y-%m}.zip"
        out.append(
            write_zip(_folder(root, layout, name), name, frame.write_csv().encode(), first.date())
        )
    return out
