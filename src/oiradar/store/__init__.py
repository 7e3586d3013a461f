"""The catalog: Parquet partitions per (exchange, symbol, timeframe, month), queried with DuckDB."""

from oiradar.store.catalog import Catalog, WriteResult
from oiradar.store.resample import resample_bars

__all__ = ["Catalog", "WriteResult", "resample_bars"]
