"""What every command shares: the session (home, settings, catalog) and clean failures.

Light on purpose: imported when ``oiradar --help`` runs, so the session's modules (pydantic, polars,
DuckDB) load only when a command asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from oiradar.errors import OiradarError
from oiradar.render.console import error, say

if TYPE_CHECKING:
    from oiradar.app.session import Session

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppState:
    """The root options (``--home``, ``--config``); the session opens on first use."""

    home_option: str | None = None
    config_option: str | None = None
    _session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            from oiradar.app.session import Session

            on_wait = functools.partial(say, err=True)
            self._session = Session.open(self.home_option, self.config_option, on_wait)
        return self._session


def session(ctx: typer.Context) -> Session:
    """The session of this invocation (opened from the root options on first use)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj.session


def fail(exc: OiradarError | str, code: int = 2) -> typer.Exit:
    """Print a clean error (no traceback) and return the Exit to raise."""
    error(str(exc))
    return typer.Exit(code)


class CommandSet:
    """The commands of one module, registered on the app by :mod:`oiradar.cli.main`.

    An :class:`OiradarError` a command raises becomes a clean ``error:`` line and exit code 2."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Callable[..., Any]]] = []

    def add(self, name: str) -> Callable[[F], F]:
        def keep(fn: F) -> F:
            self.commands.append((name, fn))
            return fn

        return keep

    def register(self, app: typer.Typer) -> None:
        for name, fn in self.commands:
            app.command(name)(_clean_errors(fn))


def _clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OiradarError as exc:
            raise fail(exc) from None

    return run


__all__ = ["AppState", "CommandSet", "fail", "session"]
