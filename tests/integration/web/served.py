"""A real ``oiradar serve`` in a subprocess on a free loopback port, and the homes it serves.

:func:`serving` starts the real entry point with ``--port 0`` (the system picks a free port, the
command prints it), waits for the printed address and stops the server at the end. Its output is
kept in files, so that a test can read what it printed (and check a token never shows).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.cli_helpers import run_cli

OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
URL = re.compile(r"at (http://\S+/) ")
START_S = 60.0  # a cold start imports polars, numba, FastAPI: seconds on a busy machine
DOT = "DOT/USDT:USDT"


def watch_dot(bars: int, speed: int = 14_400) -> tuple[str, ...]:
    """``oiradar watch`` of the simulated venue's DOT (1h bars) for ``bars`` closed bars."""
    return ("watch", "-e", "sim", "-s", DOT, "-t", "1h", "--sim-speed", str(speed), "-q",
            "--stop-after-bars", str(bars))  # fmt: skip


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT/
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")


def environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "250", "NO_COLOR": "1", **(extra or {})}


@contextmanager
def serving(
    home: Path,
    folder: Path,
    *args: str,
    env: dict[str, str] | None = None,
    config: Path | None = None,
) -> Iterator[Served]:
    """``oiradar --home HOME [--config CONFIG] serve --port 0 ARGS`` run in ``folder`` (which keeps
    its output) until the block ends."""
    root = ["--home", str(home), *(["--config", str(config)] if config else [])]
    out, err = folder / "serve.out", folder / "serve.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen([*OIRADAR, *root, "serve", "--port", "0", *args],
                                stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=environ(env),
                                cwd=folder)  # fmt: skip
    try:
        yield Served(_address(proc, out, err), proc, out, err)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _address(proc: subprocess.Popen[bytes], out: Path, err: Path) -> str:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        found = URL.search(out.read_text(errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"serve did not start (exit {proc.poll()}):\n{out.read_text()}\n"
                         f"{err.read_text()}")  # fmt: skip


def build_home(home: Path, *, alerts: bool = True) -> None:
    """A home with two series: 30 days of a simulated KSM market (1h) and the simulated venue's DOT
    (1h, kept by `watch`); with ``alerts``, a paper account on DOT (entering on the frequent
    ``watch`` signal, so that its journal fills) and the alerts of 150 more watched bars."""
    steps: list[Sequence[str]] = [
        ("simulate", "--days", "30", "-t", "1h"),
        watch_dot(2),
    ]
    if alerts:
        steps += [
            ("paper", "start", "-e", "sim", "-s", DOT, "-t", "1h", "--signal", "watch"),
            watch_dot(150, 200_000),
        ]
    for args in steps:
        done = run_cli(list(args), home, timeout=180)
        assert done.code == 0, f"oiradar {' '.join(args)}\n{done.output}"
