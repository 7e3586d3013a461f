"""One exception tree for oiradar.

::

    OiradarError
    ├── ConfigError            bad oiradar.toml, unknown key, bad env override
    ├── InputError             a file or frame that cannot be imported (names file, row, column, value)
    ├── StoreError             the catalog cannot be read or written
    │   └── SeriesNotFound     no stored series matches the request
    └── SourceError            a venue or archive misbehaved after every retry

Every message says what was wrong and, where it can, how to fix it.
"""

from __future__ import annotations


class OiradarError(Exception):
    """Base of every error oiradar raises on purpose."""


class ConfigError(OiradarError):
    """The configuration (file, environment or option) is invalid."""


class InputError(OiradarError):
    """Input data was refused; the message names the file, row, column and value."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.value = value
        where = []
        if file is not None:
            where.append(f"file {file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        if value is not None:
            where.append(f"value {value!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class StoreError(OiradarError):
    """The catalog could not be read or written."""


class SeriesNotFound(StoreError):
    """No stored series matches the request."""


class SourceError(OiradarError):
    """A data source (exchange, archive) failed after every retry."""
