"""Data sources: wire and file formats converted into domain frames at the edge.

``files`` imports files users already have (CSV, Parquet, freqtrade, Coinalyze, Binance JSON and
recordings); venue clients live beside it, one module or folder per venue. No raw ``dict`` or
venue-specific column name leaves this package: everything returned is a canonical bar frame
(:data:`oiradar.model.BAR_SCHEMA`) or liquidation frame (:data:`oiradar.model.LIQUIDATION_SCHEMA`).
"""
