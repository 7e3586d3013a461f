"""Start-up stays cheap: the modules a command loads, seen from a fresh process.

``oiradar --help`` must not load polars, numba or ccxt (every command pays for what ``--help``
loads); ``list``, ``sql`` and ``liqprice`` not numba or ccxt. The timings are in
``bench/bench_startup.py``: a test asserts what is imported, never how long it takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the real entry point and writes the names of the loaded modules when the process exits
# (also after typer's SystemExit): the file named by argv[1], the CLI's arguments after it.
PROBE = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["oiradar", *sys.argv[2:]]
from oiradar.cli.main import main
main()
"""
HEAVY = ("numba", "ccxt")


def loaded(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    res = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True,
        timeout=120, check=False, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return {name.split(".")[0] for name in json.loads(out.read_text())}


def test_help_loads_neither_polars_nor_numba_nor_ccxt(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--help")
    assert not modules & {"polars", "numpy", "duckdb", *HEAVY}


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("sql", "select 1 as x"),
        ("liqprice", "--side", "long", "--entry", "25", "--leverage", "10"),
    ],
    ids=["list", "sql", "liqprice"],
)
def test_light_commands_load_neither_numba_nor_ccxt(tmp_path: Path, args: tuple[str, ...]) -> None:
    modules = loaded(tmp_path, "--home", str(tmp_path / "home"), *args)
    assert not modules & set(HEAVY)
    assert "oiradar" in modules  # the probe did run the CLI
