"""Binance public-archive files (data.binance.vision, USD-M futures) -> canonical bar frames.

COIN-M ``metrics`` files (``data/futures/cm/daily/metrics/BTCUSD_PERP/...``) have the same
columns with other units: :func:`parse_metrics` ``market="cm"`` reads them (decision 0505).

The archive and its formats are described in Binance's README:
https://github.com/binance/binance-public-data (section "USD-M Futures": klines, metrics,
fundingRate). Paths: ``data/futures/um/daily/metrics/<SYM>/<SYM>-metrics-YYYY-MM-DD.zip``,
``data/futures/um/{daily,monthly}/klines/<SYM>/<interval>/<SYM>-<interval>-YYYY-MM[-DD].zip``,
``data/futures/um/monthly/fundingRate/<SYM>/<SYM>-fundingRate-YYYY-MM.zip``; each zip holds one
CSV of the same stem and has a ``.CHECKSUM`` file beside it (``<sha256>  <zip name>``).

Three file kinds (the klines sample is the one in Binance's README; the metrics and funding
rows are published rows as quoted by other projects' parsers; see docs/binance-archive.md):

``metrics`` (daily, 5-minute snapshots)::

    create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio
    2025-07-01 00:05:00,ETHUSDT,1893129.089,4706583953.32646,1.91519612,3.27485900,1.46745437,1.08735800

``klines`` (same columns as ``GET /fapi/v1/klines``; older files have no header row)::

    open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore
    1601510340000,4.15070000,4.15870000,4.15060000,4.15540000,539.23000000,1601510399999,2240.39860900,13,401.82000000,1669.98121300,0

``fundingRate`` (monthly, one row per settlement)::

    calc_time,funding_interval_hours,last_funding_rate
    1751328000007,8,0.00008191

Parsing is vectorised: every file's body (header stripped) is concatenated and parsed by one
polars ``read_csv`` call; a row index maps each parsed row back to its file and line, so a bad
cell is reported with file, line, column and value (decision 0201). ``row`` in an
:class:`~oiradar.errors.InputError` is the **line number in the CSV file** (1-based, the header
line counted when there is one).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Literal, cast

import numpy as np
import polars as pl

from oiradar.errors import InputError
from oiradar.model import MINUTE_MS, Timeframe

__all__ = [
    "METRICS_COLUMNS",
    "METRICS_START_LABELS_FROM",
    "ArchiveFile",
    "ArchiveKind",
    "archive_relpath",
    "check_sha256",
    "coinm_contract_size",
    "detect",
    "load_csv_bytes",
    "metrics_relpath",
    "parse_funding",
    "parse_klines",
    "parse_metrics",
    "read_archive_file",
    "read_archive_files",
    "unified_symbol",
    "verify_checksum",
]

EXCHANGE = "binanceusdm"
METRICS_COLUMNS = (
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)
KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")

# USD-M metrics changed their create_time convention on this day (binance-public-data issue
# #491): files dated before it label a row with the END of its 5-minute period (rows 00:05 ..
# 00:00 next day, the snapshot taken at T); files from it on label the START (rows 00:00 ..
# 23:55, the snapshot taken at T + 5m). Decision 0200.
METRICS_START_LABELS_FROM = int(datetime(2026, 6, 25, tzinfo=UTC).timestamp() * 1000)
_METRICS_START_DATE = (
    datetime.fromtimestamp(METRICS_START_LABELS_FROM / 1000, UTC).date().isoformat()
)
_METRICS_STEP = 5 * MINUTE_MS
_MICROS_FROM = 10**14  # epoch ms stay below 1e14 until the year 5138; epoch us are above it
_MAX_MEMBER_BYTES = 1 << 30
MetricsLabels = Literal["auto", "end", "start"]
ArchiveMarket = Literal["um", "cm"]  # USD-M, COIN-M: the path segment of data.binance.vision
# The unit of ``sum_open_interest`` per market, as the ``OiUnit`` value the REST path stamps
# (oiradar.sources.venues.base; not imported here: that package imports ccxt, 0.4 s that the
# file importer does not need). A test pins each to its venue's ``oi_unit``. Decision 0505:
# USD-M counts one side in base units; COIN-M counts contracts of ``contractSize`` USD.
METRICS_OI_UNIT: dict[str, str] = {"um": "base", "cm": "contracts_usd"}
COINM_EXCHANGE = "binancecoinm"
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


# ---------------------------------------------------------------------------- bytes and zips
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def check_sha256(data: bytes, checksum_text: str, name: str) -> None:
    """Raise :class:`InputError` unless ``checksum_text`` (``<sha256>  <name>``) matches ``data``."""
    parts = checksum_text.split()
    if not parts or not _SHA256_HEX.fullmatch(parts[0]):
        raise InputError(
            f"{name}.CHECKSUM is not '<sha256>  <name>'", file=name, value=checksum_text[:80]
        )
    if len(parts) > 1 and os.path.basename(parts[1].lstrip("*")) != name:
        raise InputError(f"{name}.CHECKSUM is for another file {parts[1]!r}", file=name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != parts[0].lower():
        raise InputError(
            f"SHA-256 mismatch: the file hashes to {digest} but its .CHECKSUM says {parts[0]}; "
            "the download is damaged or the file was changed: download it again",
            file=name,
        )


def verify_checksum(path: str | Path) -> bool:
    """Verify ``path`` against the ``.CHECKSUM`` beside it: True if verified, False if none.

    A mismatch raises :class:`InputError` naming the file.
    """
    path = Path(path)
    checksum = path.with_name(path.name + ".CHECKSUM")
    if not checksum.is_file():
        return False
    check_sha256(path.read_bytes(), checksum.read_text(errors="replace"), path.name)
    return True


def _unsafe_member(member: str) -> bool:
    """An absolute path, a drive, or a ``..`` part (string checks: pathlib is slow per file)."""
    parts = member.replace("\\", "/").split("/")
    return member.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]


def unzip_single(data: bytes, name: str, *, check_crc: bool = True) -> bytes:
    """The one CSV inside an archive zip; refuses escaping paths, extra members, bombs.

    The common case (one member, no archive comment) is read straight from the central
    directory and inflated with ISA-L (``isal``) or zlib-ng when present (2.5x, 1.8x zlib),
    with its CRC-32 checked; anything unusual goes through :mod:`zipfile` (decision 0201).
    """
    fast = _unzip_fast(data, name, check_crc)
    return fast if fast is not None else _unzip_zipfile(data, name)


def _unzip_fast(data: bytes, name: str, check_crc: bool = True) -> bytes | None:
    if len(data) < 98 or data[-22:-18] != b"PK\x05\x06":
        return None
    _disk, _cd_disk, _n_here, n_total, cd_size, cd_off, comment = _EOCD.unpack(data[-18:])
    if n_total != 1 or comment or cd_off + cd_size > len(data) - 22:
        return None
    cd = data[cd_off : cd_off + cd_size]
    if cd[:4] != b"PK\x01\x02" or len(cd) < 46:
        return None
    method, crc, csize, usize, nlen, _elen, _clen, local = _CDIR.unpack(
        cd[10:12] + cd[16:34] + cd[42:46]
    )
    member = cd[46 : 46 + nlen].decode("utf-8", "replace")
    if _unsafe_member(member) or member.endswith("/") or usize > _MAX_MEMBER_BYTES:
        return None
    if data[local : local + 4] != b"PK\x03\x04":
        return None
    lnlen, lelen = _LOCAL.unpack(data[local + 26 : local + 30])
    start = local + 30 + lnlen + lelen
    raw = data[start : start + csize]
    if method == zipfile.ZIP_STORED:
        out = raw
    elif method == zipfile.ZIP_DEFLATED:
        out = _inflate_capped(raw, usize, name)
    else:
        return None
    if len(out) != usize or (check_crc and zlib.crc32(out) != crc):
        raise InputError("damaged zip: size or CRC-32 of the CSV does not match", file=name)
    return out


def _inflate_capped(raw: bytes, usize: int, name: str) -> bytes:
    """Inflate the raw deflate stream ``raw`` into at most ``usize + 1`` bytes.

    ``usize`` is what the zip's header claims (already checked against the limit); a stream that
    inflates past it, a zip bomb, is refused once one byte more has come out, never inflated whole.
    """
    inflater = _inflate(-15)
    try:
        out = inflater.decompress(raw, usize + 1)  # max_length 0 would mean no limit: never 0
    except _INFLATE_ERRORS as exc:
        raise InputError(f"damaged zip: {exc}", file=name) from None
    if len(out) > usize:
        raise InputError(_too_big(f"the {usize} bytes its zip header states"), file=name)
    if not inflater.eof:
        raise InputError("damaged zip: the compressed CSV ends too early", file=name)
    return out


def _too_big(limit: str) -> str:
    return (
        f"the CSV inflates to more than {limit}; refused (a zip bomb or a damaged file: "
        "download it again)"
    )


def _unzip_zipfile(data: bytes, name: str) -> bytes:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable zip file: {exc}", file=name) from None
    with zf:
        members = zf.infolist()
        if len(members) != 1:
            listing = [m.filename for m in members][:5]
            raise InputError(
                f"expected one CSV inside the zip, found {len(members)}: {listing}", file=name
            )
        member = members[0]
        if _unsafe_member(member.filename) or member.is_dir():
            raise InputError(
                "zip member path escapes the folder; refused", file=name, value=member.filename
            )
        if member.file_size > _MAX_MEMBER_BYTES:
            raise InputError(
                f"zip member is {member.file_size} bytes uncompressed; refused", file=name
            )
        try:
            with zf.open(member) as f:
                return _read_capped(f, name)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise InputError(f"damaged zip: {exc}", file=name) from None


def _read_capped(f: IO[bytes], name: str) -> bytes:
    """All of ``f`` in 1 MiB reads, refused as soon as more than the limit has been inflated."""
    chunks: list[bytes] = []
    total = 0
    while chunk := f.read(1 << 20):
        total += len(chunk)
        if total > _MAX_MEMBER_BYTES:
            raise InputError(
                _too_big(f"{_MAX_MEMBER_BYTES} bytes, the most read from one zip"), file=name
            )
        chunks.append(chunk)
    return b"".join(chunks)


_EOCD = struct.Struct("<HHHHIIH")
_CDIR = struct.Struct("<HIIIHHHI")
_LOCAL = struct.Struct("<HH")
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,)
# _inflate(wbits) is a decompressor object, so that the output can be capped (_inflate_capped)
_inflate: Callable[[int], Any]
try:  # ISA-L inflates these files about 1.3x faster than zlib-ng, 2.5x zlib (bench/README)
    from isal import isal_zlib as _isal
    from isal.isal_zlib import decompressobj as _inflate

    _INFLATE_ERRORS += (cast(type[Exception], _isal.error),)
except ImportError:  # pragma: no cover - optional; zlib-ng is installed with ccxt
    try:
        from zlib_ng import zlib_ng as _zng
        from zlib_ng.zlib_ng import decompressobj as _inflate

        _INFLATE_ERRORS += (cast(type[Exception], _zng.error),)
    except ImportError:
        from zlib import decompressobj as _inflate


Source = str | Path | bytes


def load_csv_bytes(
    source: Source, name: str | None = None, *, verify: bool = True
) -> tuple[str, bytes]:
    """``(name, csv bytes)`` of a path (zip or csv) or raw bytes (zip or csv).

    A zip path's ``.CHECKSUM`` beside it is verified when ``verify`` is set.
    """
    verified = False
    if isinstance(source, bytes):
        label = name or "<bytes>"
        data = source
    else:
        path = os.fspath(source)
        label = name or os.path.basename(path)
        try:
            data = _read_file(path)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=path) from None
        verified = verify and _is_zip(data) and _verify_beside(path, data)
    if _is_zip(data):
        # a zip whose SHA-256 matched needs no second integrity check (its CRC-32)
        data = unzip_single(data, label, check_crc=not verified)
    return label, data


def _is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _verify_beside(path: str, data: bytes) -> bool:
    try:
        text = _read_file(path + ".CHECKSUM").decode("utf-8", "replace")
    except FileNotFoundError:
        return False
    check_sha256(data, text, os.path.basename(path))
    return True


def _read_file(path: str) -> bytes:
    """The whole file, read with ``os.read``: about half the time of ``open().read()`` for a
    small file (the buffered reader's set-up dominates), and a year of daily archive files is
    1,460 of them (zips and checksums)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) != size:  # a short read, or a file that grew: read on to the end
            parts = [data]
            while chunk := os.read(fd, 1 << 20):
                parts.append(chunk)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- batched CSV parse
@dataclass(frozen=True, slots=True)
class _Body:
    """One file's CSV rows without the header row (kept apart for checking), newline-ended."""

    name: str
    data: bytes
    header: tuple[str, ...] | None
    info: ArchiveFile | None = None


def _split_body(name: str, data: bytes, first_col: str, info: ArchiveFile | None = None) -> _Body:
    """Strip the header row (kept for checking) and make the body end with a newline."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data[:1].isspace():
        data = data.lstrip()
    header: tuple[str, ...] | None = None
    # data rows start with a digit (a time); a header row with a letter (any column order)
    if data[:1].isalpha() or data[: len(first_col)].lower() == first_col.encode():
        head, _, data = data.partition(b"\n")
        header = _header_cells(head)
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return _Body(name, data, header, info or detect(name))


@functools.lru_cache(maxsize=64)
def _header_cells(head: bytes) -> tuple[str, ...]:
    return tuple(c.strip() for c in head.decode("utf-8", "replace").split(","))


def _check_header(body: _Body, expected: Sequence[str], required: Iterable[str]) -> None:
    if body.header is None:
        return
    missing = [c for c in required if c not in body.header]
    if missing:
        raise InputError(
            f"the header lacks column {missing[0]!r} (header: {','.join(body.header)}; "
            f"expected: {','.join(expected)})",
            file=body.name,
            row=1,
            column=missing[0],
        )


@dataclass
class _Parsed:
    """Rows of many files parsed together; ``_row`` is each row's line in the joined text.

    Which file a row came from is worked out only when needed (an error to report, files out of
    order, duplicates): counting the lines of every file costs time that the common case of
    clean, ordered files does not need to spend.
    """

    frame: pl.DataFrame
    bodies: list[_Body]
    _starts: np.ndarray | None = None

    @property
    def starts(self) -> np.ndarray:
        """The ``_row`` of each file's first line."""
        if self._starts is None:
            counts = np.array([b.data.count(b"\n") for b in self.bodies], dtype=np.int64)
            self._starts = np.cumsum(counts) - counts
        return self._starts

    def file_index(self) -> pl.Series:
        """Each row's file (index into ``bodies``)."""
        rows = self.frame["_row"].to_numpy()
        return pl.Series("_file", np.searchsorted(self.starts, rows, side="right") - 1)

    def where(self, index: int) -> tuple[str, int]:
        row = int(self.frame["_row"][index])
        file_idx = int(np.searchsorted(self.starts, row, side="right") - 1)
        body = self.bodies[file_idx]
        return body.name, row - int(self.starts[file_idx]) + 1 + (1 if body.header else 0)

    def drop_blank_lines(self) -> None:
        """Blank lines parse as all-null rows: skipped, not refused (looked for only when the
        first column has a null, which is free to know)."""
        first = next((c for c in self.frame.columns if c != "_row"), None)
        if first is not None and self.frame[first].null_count():
            self.frame = self.frame.filter(_not_blank())

    def check(self, rules: Sequence[tuple[pl.Expr, str, str]]) -> None:
        """Evaluate every ``(mask, column, message)`` rule in one pass; raise at the first bad row.

        The earliest row that breaks any rule is reported (rule order breaks ties).
        """
        if not rules or self.frame.is_empty():
            return
        firsts = self.frame.select(
            mask.fill_null(False).arg_true().first().alias(str(i))
            for i, (mask, _c, _m) in enumerate(rules)
        ).row(0)
        hits = [(row, i) for i, row in enumerate(firsts) if row is not None]
        if not hits:
            return
        index, rule = min(hits)
        _mask, column, message = rules[rule]
        name, line = self.where(int(index))
        value = self.frame[column][int(index)] if column in self.frame.columns else None
        raise InputError(message, file=name, row=line, column=column, value=value)

    def fail(self, mask: pl.Expr, column: str, message: str) -> None:
        """Raise an :class:`InputError` at the first row where ``mask`` is true."""
        self.check([(mask, column, message)])


def _not_blank() -> pl.Expr:
    """Blank lines parse as all-null rows: they are skipped, not refused."""
    return pl.any_horizontal(pl.all().exclude("_row").is_not_null())


def _parse_bodies(
    bodies: list[_Body], schema: dict[str, pl.DataType], keep: Sequence[str] | None = None
) -> _Parsed:
    """Parse every body in one ``read_csv`` call; on any error, find the bad cell per file.

    ``keep``: the columns to parse (the others are skipped unread, which is much faster).
    """
    names = list(schema)
    keep = list(keep) if keep is not None else names
    bodies = [b for b in bodies if b.data]
    if not bodies:
        empty = pl.DataFrame(schema={**{c: schema[c] for c in keep}, "_row": pl.Int64()})
        return _Parsed(empty, bodies)
    ordered = [b if _header_in_order(b, schema) else _reorder(b, schema) for b in bodies]
    try:
        frame = pl.read_csv(
            b"".join(b.data for b in ordered), has_header=False, schema=schema,
            columns=[names.index(c) for c in keep], truncate_ragged_lines=False, quote_char=None,
        )  # fmt: skip
    except pl.exceptions.PolarsError as exc:
        for body in ordered:
            _locate_bad_cell(body, schema, keep)
        raise InputError(f"cannot parse CSV: {exc}", file=ordered[0].name) from None
    # polars turns every newline-ended line into one row (a blank line into an all-null row)
    return _Parsed(frame.with_row_index("_row").cast({"_row": pl.Int64}), ordered)


def _header_in_order(body: _Body, schema: dict[str, pl.DataType]) -> bool:
    return body.header is None or body.header == tuple(schema)


def _reorder(body: _Body, schema: dict[str, pl.DataType]) -> _Body:
    """A file whose header has other columns or another order: rewrite its rows in ours."""
    assert body.header is not None
    frame = pl.read_csv(
        body.data, has_header=False, new_columns=list(body.header), infer_schema=False,
        quote_char=None, truncate_ragged_lines=True,
    )  # fmt: skip
    frame = frame.select(
        [pl.col(c) if c in frame.columns else pl.lit(None, pl.String).alias(c) for c in schema]
    )
    data = frame.write_csv(include_header=False)
    return _Body(body.name, data.encode(), body.header, body.info)


def _locate_bad_cell(body: _Body, schema: dict[str, pl.DataType], keep: Sequence[str]) -> None:
    """Slow path, only after a parse error: raise at the first cell that does not parse."""
    offset = 2 if body.header else 1
    names = list(schema)
    for i, line in enumerate(body.data.decode("utf-8", "replace").split("\n")):  # as polars
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) > len(names):
            raise InputError(
                f"{len(cells)} fields where {len(names)} are expected ({','.join(names)})",
                file=body.name, row=i + offset, value=line[:120],
            )  # fmt: skip
        for col, cell in zip(names, cells, strict=False):
            if col in keep and not _cell_ok(cell.strip(), schema[col]):
                kind = "an integer" if schema[col] == pl.Int64() else "a number"
                raise InputError(
                    f"not {kind}", file=body.name, row=i + offset, column=col, value=cell
                )


def _cell_ok(cell: str, dtype: pl.DataType) -> bool:
    if cell == "" or dtype == pl.String():
        return True
    try:
        int(cell) if dtype == pl.Int64() else float(cell)
    except ValueError:
        return False
    return True


def _epoch_ms(col: str) -> pl.Expr:
    """Epoch timestamps in ms; newer archive files use microseconds (detected per value)."""
    c = pl.col(col)
    return pl.when(c >= _MICROS_FROM).then(c // 1000).otherwise(c).alias(col)


def _bad_number(col: str) -> pl.Expr:
    """Negative, NaN or infinite (a null is missing, not bad)."""
    c = pl.col(col)
    return ~c.is_finite() | (c < 0)


def _load_bodies(
    sources: Sequence[Source], first_col: str, names: Sequence[str | None]
) -> list[_Body]:
    out = []
    for source, name in zip(sources, names, strict=True):
        label, data = load_csv_bytes(source, name)
        out.append(_split_body(label, data, first_col))
    return out


# ---------------------------------------------------------------------------- metrics
_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "create_time": pl.String(),
    "symbol": pl.String(),
    **{c: pl.Float64() for c in METRICS_COLUMNS[2:]},
}
_METRICS_VALUES = ("sum_open_interest", "sum_open_interest_value", "count_long_short_ratio")
_VALUES_METRICS = ["oi_raw", "oi_value", "long_short_ratio"]  # the same, canonical names


def parse_metrics(
    source: Source,
    *,
    name: str | None = None,
    labels: MetricsLabels = "auto",
    market: ArchiveMarket = "um",
) -> pl.DataFrame:
    """A daily ``metrics`` file -> 5m bars with ``oi``, ``oi_value``, ``long_short_ratio``.

    USD-M (``market="um"``): ``oi`` = ``oi_raw`` = ``sum_open_interest`` (one side, base units:
    the figure of REST ``openInterestHist.sumOpenInterest``), ``oi_value`` =
    ``sum_open_interest_value`` (USDT).

    COIN-M (``market="cm"``, decision 0505): ``oi_raw`` = ``sum_open_interest`` in **contracts**
    of ``contractSize`` USD (``oi_unit = contracts_usd``, as REST ``sumOpenInterest`` "unit:
    cont"); ``oi`` and ``oi_value`` are null here: the fetcher derives them with the one
    conversion the REST path uses (:func:`oiradar.sources.venues.base.oi_to_base`: contracts x
    size / the bar's close), which needs the contract size and the klines.
    ``sum_open_interest_value`` (base coin, Binance's own conversion) is checked, not kept.

    ``long_short_ratio`` = ``count_long_short_ratio`` (all accounts, as REST
    ``globalLongShortAccountRatio.longShortRatio``; the two ``toptrader`` columns are top
    traders only and the taker ratio is a flow: neither is canonical). An empty cell (also
    written ``""``, as COIN-M files do) is missing (null), never zero. ``labels``: see
    :func:`metrics_bodies_to_bars` and decision 0200.
    """
    bodies = _load_bodies([source], "create_time", [name])
    return metrics_bodies_to_bars(bodies, labels=labels, market=market)


def metrics_bodies_to_bars(
    bodies: list[_Body], *, labels: MetricsLabels = "auto", market: ArchiveMarket = "um"
) -> pl.DataFrame:
    """Parse metrics files together. Bar ``ts`` is the open of the 5-minute bar the snapshot closes.

    ``labels="end"``: ``create_time`` T is the snapshot at T (the bar closing at T: ts = T - 5m);
    ``"start"``: T labels the period starting at T (snapshot at T + 5m: ts = T); ``"auto"``:
    USD-M per file, ``"start"`` when its first row is at or after
    :data:`METRICS_START_LABELS_FROM`; COIN-M always ``"start"`` (decisions 0200, 0505).
    Identical duplicate rows are dropped; a conflicting duplicate keeps the later row.
    """
    if market not in METRICS_OI_UNIT:
        raise InputError(f"archive market {market!r} is not 'um' (USD-M) or 'cm' (COIN-M)")
    if market == "cm" and labels == "auto":
        labels = "start"
    bodies = [_empty_quotes_blank(b) for b in bodies]
    for body in bodies:
        _check_header(body, METRICS_COLUMNS, ("create_time", "sum_open_interest"))
    _check_symbols(bodies)
    parsed = _parse_bodies(bodies, _METRICS_SCHEMA, ("create_time", *_METRICS_VALUES))
    parsed.drop_blank_lines()
    parsed.frame = parsed.frame.with_columns(_create_time(pl.col("create_time")))
    if parsed.frame["_t"].null_count():  # padded cells: retry them stripped (rare, slower)
        parsed.frame = parsed.frame.with_columns(
            _create_time(pl.col("create_time").str.strip_chars())
        )
    t = pl.col("_t")
    rules = [
        (t.is_null(), "create_time", "not a 'YYYY-MM-DD HH:MM:SS' UTC time"),
        ((t - _round_to_step(t)).abs() > MINUTE_MS, "create_time", "not near the 5-minute grid"),
        *[(_bad_number(c), c, "negative or non-finite value") for c in _METRICS_VALUES],
    ]
    parsed.check(rules)
    return _metrics_frame(parsed, labels, market)


def _empty_quotes_blank(body: _Body) -> _Body:
    """``""`` cells (COIN-M files write empty ratios so) -> empty cells: the parse reads no quotes.

    Equals ``pandas.read_csv`` reading ``""`` as NaN. The ``in`` test is one ``memchr``: files
    without a quote (all USD-M ones) are not copied.
    """
    if b'"' not in body.data:
        return body
    return _Body(body.name, body.data.replace(b'""', b""), body.header, body.info)


def _create_time(text: pl.Expr) -> pl.Expr:
    return (
        # cache=False: every time is distinct, so a cache of parsed strings only costs (1.5x)
        text.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", strict=False, cache=False)
        .dt.epoch("ms")
        .alias("_t")
    )


def _round_to_step(t: pl.Expr) -> pl.Expr:
    return ((t + _METRICS_STEP // 2) // _METRICS_STEP) * _METRICS_STEP


def _check_symbols(bodies: Sequence[_Body]) -> None:
    """Each file's first row names the symbol of its file name (or of the batch's first file).

    Only the first row is read here: parsing the ``symbol`` column of every row would cost a
    third of the parse time for a value that never changes inside a file.
    """
    expected = next((sym for b in bodies if (sym := _named_symbol(b)) is not None), None)
    for body in bodies:
        first = body.data[:256].split(b"\n", 1)[0].split(b",")
        at = body.header.index("symbol") if body.header and "symbol" in body.header else 1
        if len(first) <= at or not first[0].strip():
            continue
        symbol = first[at].strip().decode("utf-8", "replace")
        expected = expected or symbol
        if symbol != expected:
            row = 2 if body.header else 1
            msg = f"the symbol is not {expected!r}"
            raise InputError(msg, file=body.name, row=row, column="symbol", value=symbol)


_METRICS_NAME = re.compile(r"^(?P<sym>[A-Z0-9_]{2,40})-metrics-\d{4}-\d{2}-\d{2}\b")


def _named_symbol(body: _Body) -> str | None:
    """The symbol a metrics file's name gives: USD-M through :func:`detect`; COIN-M
    (``BTCUSD_PERP-metrics-...``, which :func:`detect` does not take) by the bare pattern."""
    if body.info is not None:
        return body.info.raw_symbol
    m = _METRICS_NAME.match(body.name)
    return m["sym"] if m else None


def _starts_from_name(body: _Body) -> bool | None:
    """Start-of-period labels when the file's date (from its name) is on or after the change."""
    if body.info is None or body.info.monthly:
        return None
    return body.info.date >= _METRICS_START_DATE  # ISO dates compare as strings (no strptime)


def _metrics_frame(parsed: _Parsed, labels: MetricsLabels, market: ArchiveMarket) -> pl.DataFrame:
    t = _round_to_step(pl.col("_t"))
    starts = _start_labels(parsed, labels)
    if isinstance(starts, bool):  # one convention for every row: no per-row choice
        ts = t if starts else t - _METRICS_STEP
    else:
        ts = pl.when(starts).then(t).otherwise(t - _METRICS_STEP)
    raw = pl.col("sum_open_interest")
    if market == "um":  # one side in base units already; the value in USDT
        oi, value = raw, pl.col("sum_open_interest_value")
    else:  # contracts: the fetcher converts (oi_to_base), as it does REST's contracts
        oi = value = pl.lit(None, pl.Float64)
    out = parsed.frame.select(
        ts.alias("ts"),
        oi.alias("oi"),
        value.alias("oi_value"),
        pl.col("count_long_short_ratio").alias("long_short_ratio"),
        raw.alias("oi_raw"),
        pl.lit(METRICS_OI_UNIT[market]).alias("oi_unit"),
        "_row",
    )
    if out.select(_VALUES_METRICS).null_count().sum_horizontal().item():
        # a row whose every value is empty says nothing: no bar (the gap stays visible)
        out = out.filter(pl.any_horizontal(pl.col(_VALUES_METRICS).is_not_null()))
    if not _strictly_increasing(out):
        values = [c for c in out.columns if c != "_row"]
        out = out.unique(subset=values, keep="first")
        out = out.sort("ts", "_row").unique(subset="ts", keep="last", maintain_order=True)
    return out.drop("_row")


def _start_labels(parsed: _Parsed, labels: MetricsLabels) -> pl.Expr | bool:
    """Per row: is ``create_time`` the start of its period? (decision 0200). A bool when the
    answer is the same for every row."""
    if labels != "auto":
        return labels == "start"
    by_name = [_starts_from_name(b) for b in parsed.bodies]
    if by_name and None not in by_name and len(set(by_name)) == 1:
        return bool(by_name[0])  # the common case: every file named, all on one side
    files = parsed.file_index()
    from_rows = pl.col("_t").min().over(files) >= METRICS_START_LABELS_FROM
    named = pl.Series(by_name, dtype=pl.Boolean).gather(files)
    return pl.coalesce(pl.lit(named), from_rows)


def _strictly_increasing(frame: pl.DataFrame) -> bool:
    """True when ``ts`` needs neither sorting nor de-duplication (the common case: skip both)."""
    return bool(frame.select((pl.col("ts").diff().drop_nulls() > 0).all()).item())


# ---------------------------------------------------------------------------- klines
_KLINE_SCHEMA: dict[str, pl.DataType] = {
    "open_time": pl.Int64(),
    **{c: pl.Float64() for c in ("open", "high", "low", "close", "volume")},
    "close_time": pl.Int64(),
    "quote_volume": pl.Float64(),
    "count": pl.Int64(),
    "taker_buy_volume": pl.Float64(),
    "taker_buy_quote_volume": pl.Float64(),
    "ignore": pl.String(),
}
_KLINE_REQUIRED = ("open_time", "open", "high", "low", "close", "volume")
# close_time, count, taker_buy_quote_volume and ignore are not canonical: left unparsed
_KLINE_KEEP = (*_KLINE_REQUIRED, "quote_volume", "taker_buy_volume")


def parse_klines(source: Source, *, name: str | None = None) -> pl.DataFrame:
    """A ``klines`` file (daily or monthly, with or without header) -> canonical OHLCV bars.

    ``ts`` = ``open_time`` (ms; microsecond files are detected and converted), ``volume`` is
    base, ``quote_volume`` quote, ``taker_buy_volume`` base. Refused: an empty required cell,
    a negative volume, ``high < low``, open/close outside [low, high], taker volume above the
    volume, a duplicate or out-of-order ``open_time`` inside a file.
    """
    return klines_bodies_to_bars(_load_bodies([source], "open_time", [name]))


def klines_bodies_to_bars(
    bodies: list[_Body], *, market: ArchiveMarket = "um", contract_size: float | None = None
) -> pl.DataFrame:
    """Parse kline files together; across files, a repeated ``ts`` keeps the later file's row.

    COIN-M (``market="cm"``): the columns are in the same places but count other things
    (Binance README, "COIN-M Futures" klines: volume in contracts, then "Base asset volume",
    "Taker buy volume" in contracts, "Taker buy base asset volume"). They are mapped by
    :func:`oiradar.sources.venues.binance.coinm_kline_volumes`, the mapping of REST
    ``/dapi/v1/klines``: ``volume`` = base volume, ``quote_volume`` = contracts x
    ``contract_size`` USD, ``taker_buy_volume`` = taker buy base volume (decision 0506).
    """
    if market == "cm" and contract_size is None:
        raise InputError("COIN-M klines need the contract size (USD per contract)")
    for body in bodies:
        _check_header(body, KLINE_COLUMNS, KLINE_COLUMNS[:6])
    if market == "cm":  # COIN-M headers may name columns 7 and 10 otherwise: read by position
        bodies = [_positional_kline_header(b) for b in bodies]
    keep = _KLINE_KEEP if market == "um" else (*_KLINE_KEEP, "taker_buy_quote_volume")
    parsed = _parse_bodies(bodies, _KLINE_SCHEMA, keep)
    parsed.drop_blank_lines()
    parsed.frame = parsed.frame.with_columns(_epoch_ms("open_time"))
    parsed.check(_kline_rules())
    _check_kline_order(parsed)
    f = parsed.frame.select(
        pl.col("open_time").alias("ts"), "open", "high", "low", "close", "volume",
        "quote_volume", "taker_buy_volume", pl.lit(False).alias("quote_volume_estimated"),
        *(["taker_buy_quote_volume"] if market == "cm" else []), "_row",
    )  # fmt: skip
    if not _strictly_increasing(f):
        f = f.sort("ts", "_row").unique(subset="ts", keep="last", maintain_order=True)
    f = f.drop("_row")
    if market == "cm":
        # lazily: the venues package imports ccxt, which USD-M imports never need
        from oiradar.sources.venues.binance import coinm_kline_volumes

        f = coinm_kline_volumes(f, cast(float, contract_size))
    return f


def _positional_kline_header(body: _Body) -> _Body:
    """A 12-column header is taken as the documented column order, whatever its names."""
    if body.header is None or len(body.header) != len(KLINE_COLUMNS):
        return body
    return _Body(body.name, body.data, KLINE_COLUMNS, body.info)


def _check_kline_order(parsed: _Parsed) -> None:
    """Inside one file, ``open_time`` strictly increases (files may come in any order)."""
    step = pl.col("open_time").diff()
    if parsed.frame.is_empty() or parsed.frame.select((step > 0).all()).item():
        return
    same_file = parsed.file_index().diff().fill_null(1) == 0
    parsed.check(
        [
            (pl.lit(same_file) & (step == 0), "open_time", "duplicate open_time"),
            (
                pl.lit(same_file) & (step < 0),
                "open_time",
                "open_time goes backwards (rows out of order)",
            ),
        ]
    )


def _kline_rules() -> list[tuple[pl.Expr, str, str]]:
    """Every kline check as ``(bad-row mask, column, message)``."""
    c = pl.col
    return [
        *[(c(col).is_null(), col, "empty cell in a required column") for col in _KLINE_REQUIRED],
        *[
            (~c(col).is_finite() | (c(col) <= 0), col, "price must be positive")
            for col in ("open", "high", "low", "close")
        ],
        *[
            (_bad_number(col), col, "negative or non-finite volume")
            for col in ("volume", "quote_volume", "taker_buy_volume")
        ],
        (c("high") < c("low"), "high", "high is below low"),
        *[
            ((c(col) > c("high")) | (c(col) < c("low")), col, "outside the bar's [low, high] range")
            for col in ("open", "close")
        ],
        (
            c("taker_buy_volume") > c("volume") * (1 + 1e-9),
            "taker_buy_volume",
            "taker buy volume exceeds the bar's volume",
        ),
    ]


# ---------------------------------------------------------------------------- funding
_FUNDING_SCHEMA: dict[str, pl.DataType] = {
    "calc_time": pl.Int64(),
    "funding_interval_hours": pl.Int64(),
    "last_funding_rate": pl.Float64(),
}


def parse_funding(
    source: Source, timeframe: Timeframe | str, *, name: str | None = None
) -> pl.DataFrame:
    """A monthly ``fundingRate`` file -> ``funding_rate`` of the ``timeframe`` bars.

    A settlement at ``calc_time`` belongs to the bar that contains it (``ts = calc_time -
    calc_time % tf``; Binance stamps settlements a few ms after the hour). Several
    settlements in one bar are summed (SPEC: funding is a flow), as pandas
    ``df.groupby(calc_time // tf * tf).last_funding_rate.sum()``.
    """
    return funding_bodies_to_bars(_load_bodies([source], "calc_time", [name]), timeframe)


def funding_bodies_to_bars(bodies: list[_Body], timeframe: Timeframe | str) -> pl.DataFrame:
    tf = Timeframe.parse(str(timeframe))
    for body in bodies:
        _check_header(body, FUNDING_COLUMNS, ("calc_time", "last_funding_rate"))
    parsed = _parse_bodies(bodies, _FUNDING_SCHEMA)
    parsed.drop_blank_lines()
    parsed.frame = parsed.frame.with_columns(_epoch_ms("calc_time"))
    parsed.fail(pl.col("calc_time").is_null(), "calc_time", "empty cell in a required column")
    rate = pl.col("last_funding_rate")
    parsed.fail(
        rate.is_null() | ~rate.is_finite(), "last_funding_rate", "missing or non-finite rate"
    )
    f = parsed.frame.unique(subset=["calc_time", "last_funding_rate"], keep="first")
    f = f.sort("calc_time", "_row").unique(subset="calc_time", keep="last", maintain_order=True)
    return (
        f.group_by((pl.col("calc_time") - pl.col("calc_time") % tf.ms).alias("ts"))
        .agg(rate.sum().alias("funding_rate"))
        .sort("ts")
    )


# ---------------------------------------------------------------------------- whole files
def read_archive_file(
    path: str | Path, *, funding_timeframe: Timeframe | str = Timeframe.M5
) -> tuple[ArchiveKind, str, Timeframe, pl.DataFrame]:
    """``(kind, unified symbol, timeframe, bars)`` of one archive file, named as Binance names it.

    A ``.CHECKSUM`` beside a zip is verified. Funding rows are put on ``funding_timeframe``
    bars (default 5m, the timeframe of the metrics files they usually join).
    """
    return read_archive_files([path], funding_timeframe=funding_timeframe)[0]


def read_archive_files(
    paths: Sequence[str | Path],
    *,
    funding_timeframe: Timeframe | str = Timeframe.M5,
    workers: int | None = None,
) -> list[tuple[ArchiveKind, str, Timeframe, pl.DataFrame]]:
    """Many archive files at once: one frame per (kind, symbol, timeframe), in first-seen order.

    Each group's files are read and checksum-verified, then parsed by one ``read_csv`` call
    (decision 0201). The parse of a group runs in a helper thread while the next group's files
    are read: polars works outside the GIL, so reading and parsing overlap. ``workers`` > 1
    also reads files in that many threads.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    infos = [_detect_or_fail(p) for p in paths]
    groups: dict[tuple[ArchiveKind, str, Timeframe], list[int]] = {}
    markets = {info.symbol: info.market for info in infos}
    for i, info in enumerate(infos):
        tf = (
            Timeframe.parse(str(funding_timeframe))
            if info.kind is ArchiveKind.FUNDING
            else info.timeframe
        )
        groups.setdefault((info.kind, info.symbol, tf), []).append(i)
    pending: list[tuple[ArchiveKind, str, Timeframe, Future[pl.DataFrame]]] = []
    with ThreadPoolExecutor(max_workers=1) as parser:
        for (kind, symbol, tf), idx in groups.items():
            bodies = _load_all([paths[i] for i in idx], [infos[i] for i in idx], workers)
            task = parser.submit(_parse_group, kind, bodies, tf, symbol, markets[symbol])
            pending.append((kind, symbol, tf, task))
        return [(kind, symbol, tf, future.result()) for kind, symbol, tf, future in pending]


def _parse_group(
    kind: ArchiveKind,
    bodies: list[_Body],
    tf: Timeframe,
    symbol: str = "",
    market: ArchiveMarket = "um",
) -> pl.DataFrame:
    if kind is ArchiveKind.METRICS:
        return metrics_bodies_to_bars(bodies, market=market)
    if kind is ArchiveKind.KLINES:
        size = coinm_contract_size(symbol.split("/")[0]) if market == "cm" else None
        return klines_bodies_to_bars(bodies, market=market, contract_size=size)
    return funding_bodies_to_bars(bodies, tf)


def _detect_or_fail(path: str | Path) -> ArchiveFile:
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


_FIRST_COL = {
    ArchiveKind.METRICS: "create_time",
    ArchiveKind.KLINES: "open_time",
    ArchiveKind.FUNDING: "calc_time",
}


def _load_all(
    paths: Sequence[str | Path], infos: list[ArchiveFile], workers: int | None
) -> list[_Body]:
    """Read, verify and unzip every file; in ``workers`` threads, each taking a slice."""

    def load(idx: range) -> list[_Body]:
        out = []
        for i in idx:
            label, data = load_csv_bytes(paths[i])
            out.append(_split_body(label, data, _FIRST_COL[infos[i].kind], infos[i]))
        return out

    n = len(paths)
    workers = workers or 1
    if n < 16 or workers == 1:
        return load(range(n))
    from concurrent.futures import ThreadPoolExecutor

    chunks = [range(k, n, workers) for k in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(load, chunks))
    bodies: list[_Body | None] = [None] * n
    for chunk, part in zip(chunks, parts, strict=True):
        for i, body in zip(chunk, part, strict=True):
            bodies[i] = body
    return [b for b in bodies if b is not None]
