"""Start-up time of the CLI against ``python -c "import typer"``, in the same run.

Every command pays the start-up, so ``oiradar --help`` (and the cheap commands ``list`` and
``liqprice``) should cost little more than the bare interpreter with typer. Each command runs
``BENCH_REPEATS`` times (default 15) in a fresh process, the contenders alternating; the median
wall time is printed with its ratio to ``import typer``. ``BENCH_STARTUP_SRC=DIR`` measures the
package under ``DIR`` (e.g. an unpacked older commit) instead of the installed one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = "from oiradar.cli.main import main; main()"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    src = os.environ.get("BENCH_STARTUP_SRC")
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def contenders(home: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c 'import typer'": [py, "-c", "import typer"],
        "oiradar --help": [py, "-c", CLI, "--help"],
        "oiradar list (empty home)": [py, "-c", CLI, "--home", str(home), "list"],
        "oiradar liqprice": [py, "-c", CLI, "liqprice", "--side", "long", "--entry", "25",
                             "--leverage", "10"],
    }  # fmt: skip


def main() -> dict[str, str]:
    repeats = int(os.environ.get("BENCH_REPEATS", "15"))
    env = _env()
    with tempfile.TemporaryDirectory() as tmp:
        runs = contenders(Path(tmp))
        for argv in runs.values():  # warm the OS file cache and the bytecode caches
            _time(argv, env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, argv in runs.items():
                times[name].append(_time(argv, env))
    base = statistics.median(times["python -c 'import typer'"])
    out = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        out[name] = f"{med:.3f} s median of {repeats} ({med / base:.2f}x import typer)"
    return out


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key}: {value}")
