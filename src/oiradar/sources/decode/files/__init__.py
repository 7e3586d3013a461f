"""Parsers of files users already have: one module per format, each file -> validated batches.

:mod:`.formats` picks each file's parser; :mod:`.merge` combines the batches of a series. Nothing
here writes: :func:`oiradar.sources.ingest.imports.import_paths` does (see ``docs/importing.md``).
"""

from oiradar.sources.decode.files.base import BarBatch, FundingEvents, ImportOptions, ParsedFile
from oiradar.sources.decode.files.detect import detect_format
from oiradar.sources.decode.files.formats import FORMAT_NAMES
from oiradar.sources.decode.files.validate import validate_bars

__all__ = [
    "FORMAT_NAMES",
    "BarBatch",
    "FundingEvents",
    "ImportOptions",
    "ParsedFile",
    "detect_format",
    "validate_bars",
]
