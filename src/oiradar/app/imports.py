"""``import``: files users already have (archives, freqtrade, CSV/Parquet, ...) into the catalog.

Every file is validated before anything is written: one bad row refuses the whole import and
leaves the catalog unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from oiradar.app.session import Session
from oiradar.model import Timeframe
from oiradar.sources import ImportReport, import_paths


@dataclass(frozen=True)
class FileImport:
    paths: Sequence[Path]  # files or directories (walked recursively)
    fmt: str = "auto"  # a format name, or auto-detected per file
    exchange: str | None = None  # for files that do not say
    symbol: str | None = None
    timeframe: Timeframe | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)  # column renames SRC -> DST
    drop: Sequence[str] = ()  # canonical bar columns left out of the import


def import_files(session: Session, req: FileImport, *, progress: bool = False) -> ImportReport:
    """Read, validate and write the files; the report holds per-series results and skips.

    ``progress`` shows the importer's own progress bar on the terminal."""
    return import_paths(req.paths, session.catalog, fmt=req.fmt, exchange=req.exchange,
                        symbol=req.symbol, timeframe=req.timeframe, mapping=dict(req.mapping),
                        drop=req.drop, progress=progress)  # fmt: skip


__all__ = ["FileImport", "ImportReport", "import_files"]
