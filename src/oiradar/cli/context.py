"""State shared by every command: where data lives and the loaded settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from oiradar.config import Settings, load_settings, resolve_home
from oiradar.errors import OiradarError
from oiradar.store import Catalog

# markup=False: data (CSV cells, SQL results, names) is never read as rich markup (issue 11).
# Styled text is built with Text objects, never by formatting data into a markup string.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


@dataclass
class AppState:
    home_option: str | None = None
    config_option: str | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            home = resolve_home(self.home_option)
            self._settings = load_settings(self.config_option, home=home)
        return self._settings

    @property
    def home(self) -> Path:
        return resolve_home(self.home_option, self.settings)

    @property
    def catalog(self) -> Catalog:
        timeout = self.settings.catalog.lock_timeout
        return Catalog(self.home, lock_timeout=timeout, on_lock_wait=_tell_waiting)


def _tell_waiting(message: str) -> None:
    err_console.print(message, highlight=False, soft_wrap=True)


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):
        obj = AppState()
        ctx.find_root().obj = obj
    return obj


def fail(exc: OiradarError | str, code: int = 2) -> typer.Exit:
    """Print a clean error (no traceback) and return the Exit to raise."""
    err_console.print(styled("error:", "bold red", str(exc)), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def styled(label: str, style: str, rest: str = "") -> Text:
    """``label`` in ``style`` followed by ``rest`` as plain text (never parsed as markup)."""
    return Text.assemble((label, style), f" {rest}" if rest else "")
