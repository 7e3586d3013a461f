"""What an archive file's name says (kind, symbol, interval, date, market) and where it lives.

Paths on data.binance.vision (Binance's README, https://github.com/binance/binance-public-data):
``data/futures/<um|cm>/daily/metrics/<SYM>/<SYM>-metrics-YYYY-MM-DD.zip``,
``data/futures/<um|cm>/{daily,monthly}/klines/<SYM>/<interval>/<SYM>-<interval>-YYYY-MM[-DD].zip``,
``data/futures/<um|cm>/monthly/fundingRate/<SYM>/<SYM>-fundingRate-YYYY-MM.zip``. USD-M symbols
(``BTCUSDT``) settle in their quote, COIN-M perpetuals (``BTCUSD_PERP``) in their base coin.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from oiradar.errors import InputError
from oiradar.model import Timeframe

EXCHANGE = "binanceusdm"
COINM_EXCHANGE = "binancecoinm"
ArchiveMarket = Literal["um", "cm"]  # USD-M, COIN-M: the path segment of data.binance.vision
# COIN-M contract sizes in USD (SPEC section 1; Binance "Contract Specifications": BTCUSD_PERP
# 100 USD, every other COIN-M contract 10 USD). The fetcher takes ccxt's ``contractSize``; the
# file importer has no market list, so it uses these.
COINM_CONTRACT_USD: dict[str, float] = {"BTC": 100.0}
COINM_DEFAULT_CONTRACT_USD = 10.0


def coinm_contract_size(base: str) -> float:
    """USD per COIN-M contract of ``base`` (``BTC`` -> 100, others -> 10; SPEC section 1)."""
    return COINM_CONTRACT_USD.get(base, COINM_DEFAULT_CONTRACT_USD)


class ArchiveKind(StrEnum):
    METRICS = "metrics"
    KLINES = "klines"
    FUNDING = "fundingRate"


@dataclass(frozen=True, kw_only=True, slots=True)
class ArchiveFile:
    """What a Binance archive file name says: kind, symbols, interval and date."""

    kind: ArchiveKind
    raw_symbol: str  # as Binance spells it: BTCUSDT
    symbol: str  # ccxt unified: BTC/USDT:USDT
    interval: str | None  # klines only: 5m, 1h, ...
    date: str  # YYYY-MM-DD (daily) or YYYY-MM (monthly)
    name: str
    market: ArchiveMarket = "um"  # "cm": a COIN-M file (BTCUSD_PERP-...), decision 0506

    @property
    def exchange(self) -> str:
        """The ccxt id of the venue the file comes from."""
        return EXCHANGE if self.market == "um" else COINM_EXCHANGE

    @property
    def monthly(self) -> bool:
        return len(self.date) == 7

    @property
    def timeframe(self) -> Timeframe:
        """The kline interval as an oiradar timeframe (metrics are 5-minute)."""
        if self.kind is ArchiveKind.METRICS:
            return Timeframe.M5
        if self.interval is None:
            raise InputError(f"{self.name}: a {self.kind} file has no timeframe of its own")
        try:
            return Timeframe(self.interval)
        except ValueError:
            valid = " ".join(t.value for t in Timeframe)
            raise InputError(
                f"{self.name}: kline interval {self.interval!r} is not an oiradar timeframe "
                f"({valid}); download one of those intervals instead"
            ) from None


_DATE = r"(?P<date>\d{4}-\d{2}(?:-\d{2})?)"
_SYM = r"(?P<sym>[A-Z0-9]{2,30}(?:_PERP)?)"  # COIN-M perpetuals: BTCUSD_PERP
_NAME_RES = (
    (ArchiveKind.METRICS, re.compile(rf"^{_SYM}-metrics-(?P<date>\d{{4}}-\d{{2}}-\d{{2}})$")),
    (ArchiveKind.FUNDING, re.compile(rf"^{_SYM}-fundingRate-(?P<date>\d{{4}}-\d{{2}})$")),
    (ArchiveKind.KLINES, re.compile(rf"^{_SYM}-(?P<interval>\d{{1,2}}(?:s|m|h|d|w|mo))-{_DATE}$")),
)
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD")


def unified_symbol(raw: str) -> str | None:
    """``BTCUSDT`` -> ``BTC/USDT:USDT`` (USD-M perpetuals settle in their quote); else None.

    COIN-M perpetuals settle in their base coin: ``BTCUSD_PERP`` -> ``BTC/USD:BTC`` (SPEC 1).
    """
    if raw.endswith("USD_PERP"):
        base = raw.removesuffix("USD_PERP")
        return f"{base}/USD:{base}" if base else None
    for quote in _QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote):
            return f"{raw[: -len(quote)]}/{quote}:{quote}"
    return None


def detect(path_or_name: str | Path) -> ArchiveFile | None:
    """Read kind, symbol, interval and date from an archive file name; None if it is not one."""
    name = os.path.basename(os.fspath(path_or_name))
    stem = name.removesuffix(".CHECKSUM")
    stem = stem.removesuffix(".zip").removesuffix(".csv")
    for kind, pattern in _NAME_RES:
        m = pattern.match(stem)
        if m is None:
            continue
        symbol = unified_symbol(m["sym"])
        if symbol is None:
            return None
        interval = m.groupdict().get("interval")
        return ArchiveFile(
            kind=kind,
            raw_symbol=m["sym"],
            symbol=symbol,
            interval=interval,
            date=m["date"],
            name=name,
            market="cm" if m["sym"].endswith("_PERP") else "um",
        )
    return None


def detect_or_fail(path: str | Path) -> ArchiveFile:
    """:func:`detect`, or an :class:`InputError` that shows the names expected."""
    info = detect(path)
    if info is not None and info.name.endswith(".CHECKSUM"):
        raise InputError("a .CHECKSUM file: pass the zip beside it", file=str(path))
    if info is None:
        raise InputError(
            "not a Binance USD-M or COIN-M archive file name (expected e.g. "
            "BTCUSDT-metrics-2025-01-01.zip, BTCUSDT-5m-2025-01-01.zip, "
            "BTCUSDT-fundingRate-2025-01.zip or BTCUSD_PERP-metrics-2025-01-01.zip)",
            file=str(path),
        )
    return info


def metrics_relpath(market_id: str, day: str, market: ArchiveMarket = "um") -> str:
    """``data/futures/<um|cm>/daily/metrics/<ID>/<ID>-metrics-<YYYY-MM-DD>.zip``."""
    return f"data/futures/{market}/daily/metrics/{market_id}/{market_id}-metrics-{day}.zip"


def archive_relpath(name: str) -> str:
    """Where data.binance.vision keeps a file, e.g. ``data/futures/um/daily/metrics/BTCUSDT/<name>``."""
    info = detect(name)
    if info is None:
        raise InputError("not a Binance USD-M or COIN-M archive file name", file=name)
    period = "monthly" if info.monthly else "daily"
    sub = (
        f"{info.raw_symbol}/{info.interval}" if info.kind is ArchiveKind.KLINES else info.raw_symbol
    )
    return f"data/futures/{info.market}/{period}/{info.kind.value}/{sub}/{info.name}"
