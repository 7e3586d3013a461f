"""oiradar: an open-interest radar for crypto perpetual futures.

The public API is small; everything else is reachable through its modules::

    from oiradar import Catalog, SeriesKey, Timeframe
    cat = Catalog("~/.local/share/oiradar")
    bars = cat.read_bars(SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=Timeframe.H4))

The names load on first access (PEP 562), so that ``import oiradar.cli.main`` (every command's
start, ``oiradar --help`` included) does not pay for polars, DuckDB and pydantic up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oiradar import _allocator  # noqa: F401  first: it must run before polars loads (decision 0307)
from oiradar._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Settings": "oiradar.config",
    "load_settings": "oiradar.config",
    "ConfigError": "oiradar.errors",
    "InputError": "oiradar.errors",
    "OiradarError": "oiradar.errors",
    "SeriesNotFound": "oiradar.errors",
    "SourceError": "oiradar.errors",
    "StoreError": "oiradar.errors",
    "SeriesKey": "oiradar.model",
    "Side": "oiradar.model",
    "Source": "oiradar.model",
    "Timeframe": "oiradar.model",
    "Catalog": "oiradar.store",
    "resample_bars": "oiradar.store",
}

__all__ = [
    "Catalog",
    "ConfigError",
    "InputError",
    "OiradarError",
    "SeriesKey",
    "SeriesNotFound",
    "Settings",
    "Side",
    "Source",
    "SourceError",
    "StoreError",
    "Timeframe",
    "load_settings",
    "resample_bars",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # what type checkers see; nothing is imported at run time
    from oiradar.config import Settings, load_settings
    from oiradar.errors import (
        ConfigError,
        InputError,
        OiradarError,
        SeriesNotFound,
        SourceError,
        StoreError,
    )
    from oiradar.model import SeriesKey, Side, Source, Timeframe
    from oiradar.store import Catalog, resample_bars
