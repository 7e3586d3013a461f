"""What a series' bars cannot give: the features and signals that lack a column, said once.

A column counts as present when some bar holds a value. Features and signals that read a column
no bar has (``volume`` in a mark-price file, ``high`` and ``low`` in close-only bars) stay empty
and never fire; every analysis command (``features``, ``scan``, ``study``, ``backtest``, ``brief``,
``report``) adds :func:`input_notes` to the series' notes and runs the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from oiradar.app.series import LoadedSeries
from oiradar.features.availability import unavailable_features
from oiradar.model import BAR_COLUMNS
from oiradar.signals.availability import unavailable_signals

_PRICE_PARTS = ("open", "high", "low")


@dataclass(frozen=True)
class Unavailable:
    """Features and signals that cannot be computed, each with the bar columns it lacks."""

    features: dict[str, tuple[str, ...]]
    signals: dict[str, tuple[str, ...]]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every lacking column, in the bar columns' order (then any other)."""
        lacks = {c for cols in (*self.features.values(), *self.signals.values()) for c in cols}
        order = {c: i for i, c in enumerate(BAR_COLUMNS)}
        return tuple(sorted(lacks, key=lambda c: (order.get(c, len(order)), c)))

    def __bool__(self) -> bool:
        return bool(self.features or self.signals)


def present_columns(bars: pl.DataFrame) -> set[str]:
    """The columns of ``bars`` that hold a value on at least one bar."""
    counts = bars.select(pl.all().count()).row(0, named=True) if bars.height else {}
    return {c for c, n in counts.items() if n}


def unavailable(bars: pl.DataFrame) -> Unavailable:
    """The features and signals ``bars`` cannot give for lack of a column."""
    present = present_columns(bars)
    return Unavailable(unavailable_features(present), unavailable_signals(present))


def input_notes(bars: pl.DataFrame) -> list[str]:
    """One note naming the lacking columns, the features left empty and the signals that cannot
    fire (none when nothing lacks), e.g. ``no volume in the bars: oi_vol_ratio, ... stay empty;
    watch, trigger cannot fire (the rest runs)``."""
    lost = unavailable(bars)
    if not lost or bars.is_empty():
        return []
    parts = [f"{', '.join(lost.features)} stay empty"] if lost.features else []
    parts += [f"{', '.join(lost.signals)} cannot fire"] if lost.signals else []
    text = f"no {', '.join(lost.columns)} in the bars: {'; '.join(parts)} (the rest runs)"
    if "atr_14" in lost.features:
        text += "; without atr_14 no event outcome and no stop can be measured"
    present = present_columns(bars)
    if "close" in present and not present & set(_PRICE_PARTS):
        text += ("; close-only bars: a timeframe coarser than the stored one builds "
                 "open/high/low from the closes")  # fmt: skip
    return [text]


def with_input_notes(loaded: LoadedSeries) -> LoadedSeries:
    """``loaded`` with :func:`input_notes` of its bars added to its notes."""
    notes = input_notes(loaded.bars)
    return replace(loaded, notes=(*loaded.notes, *notes)) if notes else loaded


__all__ = ["Unavailable", "input_notes", "present_columns", "unavailable", "with_input_notes"]
