"""oiradar: an open-interest radar for crypto perpetual futures.

The public API is small; everything else is reachable through its modules::

    from oiradar import Catalog, SeriesKey, Timeframe
    cat = Catalog("~/.local/share/oiradar")
    bars = cat.read_bars(SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=Timeframe.H4))
"""

from oiradar import _allocator  # noqa: F401  first: it must run before polars loads (decision 0307)
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

__version__ = "0.1.0"

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
