"""The consoles the CLI writes to, and styled labels that never read data as markup.

``markup=False`` everywhere: a CSV cell, an SQL result or a symbol name is printed as it is, never
parsed as rich markup (docs/security.md). Styled text is built with :class:`rich.text.Text`, never
by formatting data into a markup string.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.text import Text

console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

# A table is laid out for a terminal of this many columns when there is no terminal to ask
# (a pipe, a file) and COLUMNS is not set.
DEFAULT_WIDTH = 100
UNLIMITED_WIDTH = 400  # ``--wide`` into a pipe: whole lines, never folded


def styled(label: str, style: str, rest: str = "") -> Text:
    """``label`` in ``style`` followed by ``rest`` as plain text (never parsed as markup)."""
    return Text.assemble((label, style), f" {rest}" if rest else "")


def say(text: str | Text, *, err: bool = False) -> None:
    """One line (or a few) for people: no highlighting, long lines wrap at words."""
    (err_console if err else console).print(text, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """``error: ...`` on stderr, the way every refusal is shown (no traceback)."""
    say(styled("error:", "bold red", message), err=True)


def warning(message: str) -> None:
    say(styled("warning:", "yellow", message), err=True)


def table_console(wide: bool = False) -> Console:
    """The console tables print on: the terminal's width, or ``COLUMNS`` (else 100) in a pipe;
    ``--wide`` into a pipe lifts the limit so that every column is shown whole."""
    if console.is_terminal:
        return console
    if wide:
        return Console(width=UNLIMITED_WIDTH, markup=False)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else DEFAULT_WIDTH
    return Console(width=width, markup=False)


__all__ = ["console", "err_console", "error", "say", "styled", "table_console", "warning"]
