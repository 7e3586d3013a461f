"""Where data lives and the settings in force: what every use case receives first.

A front end (the CLI, later ``watch`` and the web server) opens one :class:`Session` from the user's
``--home`` and ``--config`` and hands it to the use cases; the catalog is opened on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from oiradar.config import Settings, load_settings, resolve_home
from oiradar.store import Catalog


@dataclass
class Session:
    """The home folder, the loaded settings and the catalog under that home."""

    settings: Settings
    home: Path
    on_lock_wait: Callable[[str], None] | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        home: str | None = None,
        config: str | None = None,
        on_lock_wait: Callable[[str], None] | None = None,
    ) -> Session:
        """``home``/``config`` as the user gave them (None: ``OIRADAR_HOME``, the default dirs).

        ``on_lock_wait`` is told when a write waits for another process's catalog lock."""
        settings = load_settings(config, home=resolve_home(home))
        return cls(settings, resolve_home(home, settings), on_lock_wait)

    @cached_property
    def catalog(self) -> Catalog:
        timeout = self.settings.catalog.lock_timeout
        return Catalog(self.home, lock_timeout=timeout, on_lock_wait=self.on_lock_wait)


__all__ = ["Session"]
