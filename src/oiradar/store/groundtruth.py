"""The simulator's ground truth beside the catalog: what a venue would never publish.

``<home>/sim/<exchange>/<symbol-slug>/`` holds one Parquet file per frame (``positions``,
``regimes``) and ``params.json``, each replaced atomically. The bars and liquidations of the same
simulation are in the catalog; :func:`clear_ground_truth` runs under the catalog lock so that a
wipe and the writes around it are one step for other writers.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from oiradar.errors import StoreError
from oiradar.model import symbol_slug, validate_exchange_name
from oiradar.store.atomic import write_bytes_atomic
from oiradar.store.catalog import Catalog
from oiradar.store.paths import contained

PARAMS_FILE = "params.json"


def ground_truth_root(catalog: Catalog) -> Path:
    return catalog.home / "sim"


def ground_truth_dir(catalog: Catalog, exchange: str, symbol: str) -> Path:
    """The folder of one simulated series, checked to lie inside ``<home>/sim``."""
    root = ground_truth_root(catalog)
    folder = root / validate_exchange_name(exchange) / symbol_slug(symbol)
    return contained(folder, root, "the simulator's folder")


def read_ground_truth_params(catalog: Catalog, exchange: str, symbol: str) -> dict[str, Any] | None:
    """The stored ``params.json`` of a simulated series, or None when there is none."""
    path = ground_truth_dir(catalog, exchange, symbol) / PARAMS_FILE
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc


def write_ground_truth(
    catalog: Catalog,
    exchange: str,
    symbol: str,
    frames: Mapping[str, pl.DataFrame],
    params: Mapping[str, Any],
) -> Path:
    """Write ``<name>.parquet`` per frame (zstd) and ``params.json``; returns the folder."""
    folder = ground_truth_dir(catalog, exchange, symbol)
    for name, frame in frames.items():
        write_bytes_atomic(folder / f"{Path(name).name}.parquet", _parquet_bytes(frame))
    write_bytes_atomic(folder / PARAMS_FILE, json.dumps(dict(params), indent=1).encode())
    return folder


def clear_ground_truth(
    catalog: Catalog, exchange: str | None = None, symbol: str | None = None
) -> None:
    """Delete the ground truth of (exchange, symbol), or all of it when both are None."""
    with catalog.lock():
        if exchange is None or symbol is None:
            shutil.rmtree(ground_truth_root(catalog), ignore_errors=True)
        else:
            shutil.rmtree(ground_truth_dir(catalog, exchange, symbol), ignore_errors=True)


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd")
    return buf.getvalue()
