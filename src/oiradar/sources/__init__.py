"""Data sources, in three layers: decode (formats, pure), clients (network), ingest (writes).

- :mod:`.decode`: wire and file formats -> types that mirror them -> canonical frames
  (:data:`oiradar.model.BAR_SCHEMA`, :data:`oiradar.model.LIQUIDATION_SCHEMA`); no I/O beyond
  reading the input handed in. No raw ``dict`` or venue column name leaves it.
- :mod:`.clients`: ccxt REST, the Binance archive over HTTP, websocket streams; retries, backoff,
  rate limits.
- :mod:`.ingest`: fetch, record and file import, the only code that writes the store from a source.

The names below are what other layers use. They load on first access (PEP 562), so that
``import oiradar.sources`` costs nothing: ccxt and httpx are imported only by the commands that
talk to a venue. Decision 0507.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oiradar._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # ingest: what writes the store
    "FetchPlan": "oiradar.sources.ingest.plan",
    "FetchRequest": "oiradar.sources.ingest.plan",
    "FetchResult": "oiradar.sources.ingest.fetch",
    "run_fetch": "oiradar.sources.ingest.fetch",
    "ImportReport": "oiradar.sources.ingest.imports",
    "import_paths": "oiradar.sources.ingest.imports",
    "RecordOptions": "oiradar.sources.ingest.record",
    "RecordStats": "oiradar.sources.ingest.record",
    "Recorder": "oiradar.sources.ingest.record",
    "record": "oiradar.sources.ingest.record",
    # clients: the network
    "RetryEvent": "oiradar.sources.clients.retry",
    "RetryPolicy": "oiradar.sources.clients.retry",
    "RetryReport": "oiradar.sources.clients.retry",
    "list_markets": "oiradar.sources.clients.markets",
    "load_market_list": "oiradar.sources.clients.markets",
    "MarketList": "oiradar.sources.clients.markets",
    # decode: formats
    "FORMAT_NAMES": "oiradar.sources.decode.files.formats",
    "ImportOptions": "oiradar.sources.decode.files.base",
    "detect_format": "oiradar.sources.decode.files.detect",
    "validate_bars": "oiradar.sources.decode.files.validate",
    "SUPPORTED": "oiradar.sources.decode.venues",
    "MarketInfo": "oiradar.sources.decode.venues",
    "Venue": "oiradar.sources.decode.venues",
    "venue_for": "oiradar.sources.decode.venues",
    "read_archive_file": "oiradar.sources.decode.binance_archive",
    "read_archive_files": "oiradar.sources.decode.binance_archive",
}

__all__ = [
    "FORMAT_NAMES",
    "SUPPORTED",
    "FetchPlan",
    "FetchRequest",
    "FetchResult",
    "ImportOptions",
    "ImportReport",
    "MarketInfo",
    "MarketList",
    "RecordOptions",
    "RecordStats",
    "Recorder",
    "RetryEvent",
    "RetryPolicy",
    "RetryReport",
    "Venue",
    "detect_format",
    "import_paths",
    "list_markets",
    "load_market_list",
    "read_archive_file",
    "read_archive_files",
    "record",
    "run_fetch",
    "validate_bars",
    "venue_for",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # what type checkers and IDEs see; nothing is imported at run time
    from oiradar.sources.clients.markets import MarketList, list_markets, load_market_list
    from oiradar.sources.clients.retry import RetryEvent, RetryPolicy, RetryReport
    from oiradar.sources.decode.binance_archive import read_archive_file, read_archive_files
    from oiradar.sources.decode.files.base import ImportOptions
    from oiradar.sources.decode.files.detect import detect_format
    from oiradar.sources.decode.files.formats import FORMAT_NAMES
    from oiradar.sources.decode.files.validate import validate_bars
    from oiradar.sources.decode.venues import SUPPORTED, MarketInfo, Venue, venue_for
    from oiradar.sources.ingest.fetch import FetchResult, run_fetch
    from oiradar.sources.ingest.imports import ImportReport, import_paths
    from oiradar.sources.ingest.plan import FetchPlan, FetchRequest
    from oiradar.sources.ingest.record import Recorder, RecordOptions, RecordStats, record
