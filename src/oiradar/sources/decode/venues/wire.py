"""Wire types: records as a venue sends them, read field by field, with errors that name the field.

A wire type is a frozen dataclass whose fields mirror one record of the venue's JSON verbatim, by
key (a JSON object) or by position (a JSON array), and whose ``columns`` say which canonical column
each field fills. Every venue adapter declares its records this way and reads them
with the same code (:meth:`Wire.from_json`, :meth:`Wire.frame`); no raw ``dict`` goes further.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, Self

import polars as pl

from oiradar.errors import SourceError


class PayloadError(SourceError):
    """A response that does not have the documented shape: an error for its chunk, retried."""


def need(payload: Any, kind: type, what: str) -> Any:
    """``payload`` if it is a ``kind``; else a :class:`PayloadError` naming what was expected."""
    if not isinstance(payload, kind):
        got = f"{type(payload).__name__}: {str(payload)[:120]}"
        raise PayloadError(f"{what}: expected a JSON {kind.__name__}, got {got}")
    return payload


def num(record: Mapping[str, Any] | Sequence[Any], key: Any, what: str) -> float:
    """A number from a wire record (venues send numbers as strings); PayloadError when absent."""
    try:
        value = record[key]
        return float(value)
    except (KeyError, IndexError, TypeError, ValueError):
        raise PayloadError(
            f"{what}: field {key!r} missing or not a number in {str(record)[:160]}"
        ) from None


def opt_num(record: Mapping[str, Any], key: str, what: str) -> float | None:
    """Like :func:`num`, but an empty string or null is missing (None), never zero."""
    value = record.get(key)
    if value in (None, ""):
        return None
    return num(record, key, what)


# The polars type of every canonical column a wire type can fill (``_t``: a snapshot's time).
COLUMN_TYPES: dict[str, pl.DataType] = {
    "ts": pl.Int64(), "_t": pl.Int64(), "open": pl.Float64(), "high": pl.Float64(),
    "low": pl.Float64(), "close": pl.Float64(), "volume": pl.Float64(),
    "quote_volume": pl.Float64(), "taker_buy_volume": pl.Float64(),
    "taker_buy_quote_volume": pl.Float64(), "oi_raw": pl.Float64(), "oi_value": pl.Float64(),
    "funding_rate": pl.Float64(), "long_short_ratio": pl.Float64(),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Wire:
    """A record as the venue sends it: a JSON object read field by name (the venue's key), or, with
    ``json = list``, a JSON array read field by position (the venue's order).

    ``float`` and ``int`` fields take numbers (venues send them as strings too), and a missing or
    malformed one is a :class:`PayloadError` naming the field; a ``str`` field takes the value as
    text (its default when absent).
    """

    json: ClassVar[type] = dict  # or list
    what: ClassVar[str] = ""  # how errors name the record: "<venue> <endpoint>"
    columns: ClassVar[Mapping[str, str]] = MappingProxyType({})  # see :func:`canonical`

    @classmethod
    def from_json(cls, raw: Any, what: str = "") -> Self:
        """One record; ``what`` names it in errors in place of the class's ``what``."""
        what = what or cls.what
        raw = need(raw, cls.json, what)
        keys = [f.name for f in fields(cls)] if cls.json is dict else range(len(fields(cls)))
        return cls(*(_read(raw, key, f, what) for key, f in zip(keys, fields(cls), strict=True)))

    @classmethod
    def parse(cls, rows: Sequence[Any], what: str = "") -> list[Self]:
        return [cls.from_json(r, what) for r in rows]

    @classmethod
    def frame(cls, recs: Sequence[Wire]) -> pl.DataFrame:
        """Records -> a frame of the canonical columns ``columns`` names, in that order."""
        return pl.DataFrame(
            {col: [getattr(r, name) for r in recs] for col, name in cls.columns.items()},
            schema={col: COLUMN_TYPES[col] for col in cls.columns},
        )


def canonical(
    base: Mapping[str, str] = MappingProxyType({}), /, **columns: str
) -> Mapping[str, str]:
    """A wire type's ``columns``: each keyword names a canonical column and the field (or property)
    that fills it; ``base``, those of a parent type, which the keywords change or extend."""
    return MappingProxyType({**base, **columns})


def _read(raw: Any, key: Any, f: Field[Any], what: str) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind != "str":
        value = num(raw, key, what)
        return int(value) if kind == "int" else value
    absent = None if f.default is MISSING else f.default
    if isinstance(raw, dict):
        return str(raw.get(key, absent))
    return str(raw[key] if key < len(raw) else absent)
