"""Import files users already have into the catalog (``oiradar import``).

One module per format; :func:`import_paths` detects each file's format, parses and validates
every file first, then writes each series once. See ``docs/importing.md``.
"""

from oiradar.sources.files.base import ImportOptions, ImportReport, ParsedFile
from oiradar.sources.files.detect import detect_format
from oiradar.sources.files.dispatch import FORMAT_NAMES, import_paths
from oiradar.sources.files.validate import validate_bars

__all__ = [
    "FORMAT_NAMES",
    "ImportOptions",
    "ImportReport",
    "ParsedFile",
    "detect_format",
    "import_paths",
    "validate_bars",
]
