"""State shared by every command: where data lives and the loaded settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from oiradar.config import Settings, load_settings, resolve_home
from oiradar.errors import OiradarError
from oiradar.store import Catalog

console = Console()
err_console = Console(stderr=True)


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
        return Catalog(self.home)


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):
        obj = AppState()
        ctx.find_root().obj = obj
    return obj


def fail(exc: OiradarError | str, code: int = 2) -> typer.Exit:
    """Print a clean error (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
