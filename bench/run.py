"""Run the benchmarks: every ``bench/bench_*.py`` module's ``main()``, or the ones named.

Usage: ``python bench/run.py [import ...]`` (``make bench`` runs them all). Each ``main()``
prints its own figures and may return a dict of results, printed here as a summary.
Benchmarks are measurements, never tests: nothing here asserts a time.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def discover(names: list[str]) -> list[Path]:
    """``bench_<name>.py`` files, all of them when ``names`` is empty."""
    found = sorted(HERE.glob("bench_*.py"))
    if not names:
        return found
    by_name = {p.stem.removeprefix("bench_"): p for p in found}
    unknown = [n for n in names if n.removeprefix("bench_") not in by_name]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; available: {' '.join(sorted(by_name))}")
    return [by_name[n.removeprefix("bench_")] for n in names]


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _load() -> str:
    """The 1-minute load average: timings on a shared machine need it beside them."""
    try:
        return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    print(
        f"python {platform.python_version()} on {platform.platform()}, {platform.processor() or '?'}"
    )
    for path in discover(names):
        print(f"\n=== {path.stem} === (load average {_load()})")
        start = time.perf_counter()
        result = load(path).main()
        if isinstance(result, dict):
            for key, value in result.items():
                print(f"  {key}: {value}")
        print(f"  ({time.perf_counter() - start:.1f} s in all; load average {_load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
