"""Progress bars fed by the use cases' ``(done, total)`` callbacks; transient, gone when done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from oiradar.render.console import console, err_console

Tick = Callable[[int, int], None]


@contextmanager
def progress_bar(label: str, out: Console = console) -> Iterator[Tick]:
    """One bar (the simulator's steps); yields the callback to hand to the use case. The bar goes
    once the count is complete, so what the use case reports next prints without it."""
    columns = (TextColumn(label), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    bar = Progress(*columns, console=out, transient=True)
    task = bar.add_task(label, total=None)
    stopped = False

    def finish() -> None:
        nonlocal stopped
        if not stopped:  # once: in a pipe each stop prints a newline
            stopped = True
            bar.stop()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        if done >= total:
            finish()

    bar.start()
    try:
        yield update
    finally:
        finish()


@contextmanager
def progress_tasks(disable: bool = False) -> Iterator[Callable[[str], Tick]]:
    """One bar per labelled task (each series fetched), on stderr; yields ``label -> callback``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err_console, disable=disable) as progress:

        def start(label: str) -> Tick:
            task: TaskID = progress.add_task(label, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        yield start


__all__ = ["progress_bar", "progress_tasks"]
