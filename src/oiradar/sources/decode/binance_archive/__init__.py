"""Binance public-archive files (data.binance.vision, USD-M and COIN-M futures) -> canonical bars.

The archive and its formats are described in Binance's README,
https://github.com/binance/binance-public-data (sections "USD-M Futures" and "COIN-M Futures":
klines, metrics, fundingRate). Each zip holds one CSV of the same stem and has a ``.CHECKSUM``
file beside it (``<sha256>  <zip name>``); docs/binance-archive.md shows the published rows.

One module per job: :mod:`.names` (what a file name says, where a file lives), :mod:`.checksum`,
:mod:`.zipread` (the one CSV of a zip, bombs refused), :mod:`.reading` (the CSV bytes of a path),
:mod:`.csvbatch` (many files in one ``read_csv``, errors named by file and line), one parser per
kind (:mod:`.metrics`, :mod:`.klines`, :mod:`.funding`), :mod:`.reader` (many files at once) and
:mod:`.synthetic` (files in the same format with invented values, for tests and benchmarks).
COIN-M ``metrics`` files have the same columns with other units (decision 0505).
"""

from oiradar.sources.decode.binance_archive.checksum import check_sha256, verify_checksum
from oiradar.sources.decode.binance_archive.funding import (
    FUNDING_COLUMNS,
    funding_bodies_to_bars,
    parse_funding,
)
from oiradar.sources.decode.binance_archive.klines import (
    KLINE_COLUMNS,
    klines_bodies_to_bars,
    parse_klines,
)
from oiradar.sources.decode.binance_archive.metrics import (
    METRICS_COLUMNS,
    METRICS_OI_UNIT,
    METRICS_START_LABELS_FROM,
    MetricsLabels,
    metrics_bodies_to_bars,
    parse_metrics,
)
from oiradar.sources.decode.binance_archive.names import (
    COINM_EXCHANGE,
    EXCHANGE,
    ArchiveFile,
    ArchiveKind,
    ArchiveMarket,
    archive_relpath,
    coinm_contract_size,
    detect,
    metrics_relpath,
    unified_symbol,
)
from oiradar.sources.decode.binance_archive.reader import read_archive_file, read_archive_files
from oiradar.sources.decode.binance_archive.reading import load_csv_bytes
from oiradar.sources.decode.binance_archive.zipread import unzip_single

__all__ = [
    "COINM_EXCHANGE",
    "EXCHANGE",
    "FUNDING_COLUMNS",
    "KLINE_COLUMNS",
    "METRICS_COLUMNS",
    "METRICS_OI_UNIT",
    "METRICS_START_LABELS_FROM",
    "ArchiveFile",
    "ArchiveKind",
    "ArchiveMarket",
    "MetricsLabels",
    "archive_relpath",
    "check_sha256",
    "coinm_contract_size",
    "detect",
    "funding_bodies_to_bars",
    "klines_bodies_to_bars",
    "load_csv_bytes",
    "metrics_bodies_to_bars",
    "metrics_relpath",
    "parse_funding",
    "parse_klines",
    "parse_metrics",
    "read_archive_file",
    "read_archive_files",
    "unified_symbol",
    "unzip_single",
    "verify_checksum",
]
