"""Time as oiradar handles it: epoch milliseconds UTC inside, ISO-8601 UTC at the edges.

One module for what used to be written at every layer: reading dates and durations typed by users
(:func:`parse_instant`, :func:`duration_ms`, :func:`parse_when`), writing epoch ms for people
(:func:`iso_utc`, :func:`iso_utc_expr`), and aligning epoch ms to a bar grid or a calendar
(:func:`floor_to`, :func:`ceil_to`, :func:`day_start_ms`, :func:`utc_date`, :func:`months_between`).

It sits below every layer: it imports only the model's constants and the errors.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from oiradar.errors import ConfigError, InputError
from oiradar.model import DAY_MS, HOUR_MS, MINUTE_MS

if TYPE_CHECKING:
    import polars as pl

T = TypeVar("T")  # an int, a numpy array or a polars expression: anything with // * + -

ISO_MINUTE = "%Y-%m-%d %H:%M"
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
_UNIT_MS = {"m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


def duration_ms(text: str) -> int:
    """Parse a duration such as ``"30d"``, ``"24h"``, ``"90m"`` or ``"2w"`` into milliseconds.

    Durations come from the configuration first (feature windows), hence :class:`ConfigError`.
    """
    m = _DURATION_RE.match(text)
    if m is None:
        raise ConfigError(f"invalid duration {text!r}; write e.g. '30d', '24h', '15m' or '2w'")
    return int(float(m[1]) * _UNIT_MS[m[2]])


def parse_instant(text: str, option: str = "date") -> int:
    """``2024-01-31``, ``2024-01-31T12:00`` or ``2024-01-31 12:00`` (UTC unless an offset is given)
    -> epoch ms; ``option`` names the option or field in the error (e.g. ``--since``)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InputError(
            f"{option}: invalid date {text!r}; write e.g. 2024-01-31 or 2024-01-31T12:00 (UTC)"
        ) from None
    return datetime_ms(dt)


def datetime_ms(dt: datetime) -> int:
    """A datetime as epoch ms, read as UTC when it carries no time zone."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_when(text: str, now: int, option: str = "date") -> int:
    """A date (see :func:`parse_instant`, UTC) or a duration back from ``now`` (``90d``) -> epoch ms;
    ``option`` names the option in the error (e.g. ``--since``)."""
    text = text.strip()
    if _DATE_RE.match(text):
        return parse_instant(text, option)
    try:
        return now - duration_ms(text)
    except ConfigError:
        raise InputError(
            f"{option}: cannot read the date {text!r}; write 2024-01-01, 2024-01-01T12:00 (UTC) "
            "or 90d"
        ) from None


def iso_utc(ms: int, fmt: str = ISO_MINUTE) -> str:
    """Epoch ms as UTC text for people, ``2024-01-31 12:00`` by default."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def iso_utc_expr(col: str | pl.Expr, fmt: str = ISO_MINUTE) -> pl.Expr:
    """The polars expression of :func:`iso_utc` over an epoch-ms column (null stays null)."""
    import polars as pl  # here: this module is imported by the CLI before it needs polars

    expr = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(expr, time_unit="ms").dt.strftime(fmt)


def floor_to(ms: T, step_ms: int) -> T:
    """The start of the grid cell of ``step_ms`` (a bar, a day) holding ``ms``: ``ms // step * step``.

    Works on ints, numpy arrays and polars expressions alike; the epoch is on every grid.
    """
    return cast(T, cast(Any, ms) // step_ms * step_ms)


def ceil_to(ms: T, step_ms: int) -> T:
    """The first grid point at or after ``ms`` (``ms`` itself when it lies on the grid)."""
    return cast(T, (cast(Any, ms) + step_ms - 1) // step_ms * step_ms)


def day_start_ms(day: date) -> int:
    """00:00 UTC of ``day`` as epoch ms."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def utc_date(ms: int) -> date:
    """The UTC calendar day holding ``ms``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def months_between(first_ms: int, last_ms: int) -> list[tuple[int, int, int]]:
    """``(year, month, start_ms)`` of every UTC calendar month from the one holding ``first_ms`` to
    the one holding ``last_ms``, in order (the catalog partitions bars by month)."""
    first, last = utc_date(first_ms), utc_date(last_ms)
    out, (y, m) = [], (first.year, first.month)
    while (y, m) <= (last.year, last.month):
        out.append((y, m, day_start_ms(date(y, m, 1))))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
