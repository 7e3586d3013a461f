"""What a command says beside its result, on stderr (stdout stays the table, CSV or JSON): how a
series was built (``note:``) and which series an every-series command skipped, and why."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from oiradar.render.console import say

if TYPE_CHECKING:
    from oiradar.app.series import Skipped


def show_notes(notes: Iterable[str], skipped: Iterable[Skipped] = ()) -> None:
    """``note: ...`` lines, then ``skipped SERIES: why`` lines and their count."""
    for note in notes:
        say(f"note: {note}", err=True)
    skipped = list(skipped)
    for s in skipped:
        say(f"skipped {s.series}: {s.why}", err=True)
    if skipped:
        say(f"{len(skipped)} series skipped (listed above); the others are shown", err=True)


__all__ = ["show_notes"]
