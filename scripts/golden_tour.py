"""Run the README's tour of the CLI in a fresh home and keep what each command prints.

``python scripts/golden_tour.py OUT_DIR`` writes ``OUT_DIR/<n>-<name>.txt`` (stdout, stderr and the
exit code of each command); ``--update`` writes into ``tests/golden/``, the files that
``tests/integration/test_golden_cli.py`` compares with. The commands are read from README.md's
"A short tour of the CLI" block, so the goldens follow the tour the README shows; what varies run
to run (elapsed seconds, the temporary home, ingestion stamps) is masked.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
SKIPPED = ("import", "fetch")  # they need the user's files or the network
MASKS = (
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<T> s"),  # elapsed times: "took 1.7 s", "in 0.3 s"
    (re.compile(r"(ingested_at\W+)[\dT:. +-]+"), r"\1<TS>"),
)


def tour_commands(readme: Path = ROOT / "README.md") -> list[list[str]]:
    """The ``oiradar ...`` lines of the tour block, comments dropped, ``import``/``fetch`` left out."""
    text = readme.read_text(encoding="utf-8")
    block = text.split("## A short tour of the CLI", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["oiradar"] and words[1:2] and words[1] not in SKIPPED:
            commands.append(words[1:])
    return commands


def golden_name(n: int, args: list[str]) -> str:
    """``03-sql``, ``11-liqmap-what-if``: the number, the command and its mode flag if any."""
    mode = next((a[2:] for a in args[1:] if a in ("--what-if", "--fresh", "--score")), None)
    name = args[0] if mode is None or args[0] == "demo" else f"{args[0]}-{mode}"
    return f"{n:02d}-{name}"


def mask(text: str, home: Path, work: Path) -> str:
    """Replace what changes between runs with placeholders."""
    for path, label in ((home, "<HOME>"), (work, "<WORK>")):
        for form in (shlex.quote(str(path)), str(path)):
            text = text.replace(form, label)
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return text


def run_one(args: list[str], home: Path, work: Path) -> str:
    before = {p.name for p in work.iterdir()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    env.update({"COLUMNS": "100", "LINES": "50", "NO_COLOR": "1", "TERM": "dumb"})
    res = subprocess.run(
        [*OIRADAR, "--home", str(home), *args], capture_output=True, text=True, cwd=work,
        env=env, stdin=subprocess.DEVNULL, timeout=300, check=False,
    )  # fmt: skip
    shown = shlex.join(["oiradar", "--home", "<HOME>", *args])
    parts = [f"$ {shown}", f"# exit {res.returncode}", "# stdout", res.stdout]
    if res.stderr:
        parts += ["# stderr", res.stderr]
    parts += [describe(path) for path in sorted(work.iterdir()) if path.name not in before]
    return mask("\n".join(parts), home, work)


def describe(path: Path) -> str:
    """A file the command wrote: a CSV's first lines, a Parquet file's schema and height."""
    if path.suffix == ".parquet":
        import polars as pl

        frame = pl.read_parquet(path)
        schema = ", ".join(f"{k}:{v}" for k, v in frame.schema.items())
        return f"# file {path.name}: {frame.height} rows\n{schema}\n"
    lines = path.read_text(encoding="utf-8").splitlines()
    head = [line.split(",") for line in lines[:3]]
    if head and "ingested_at" in head[0]:  # the time of the demo's write
        at = head[0].index("ingested_at")
        for row in head[1:]:
            row[at] = "<TS>"
    return f"# file {path.name}: {len(lines)} lines\n" + "\n".join(map(",".join, head)) + "\n"


def run_tour(out: Path) -> list[Path]:
    """Run ``demo --fresh`` and the tour in a fresh home; write one file per command in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    # A short, fixed-length home path: rich wraps long lines, so its length must not vary.
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    tmp = Path(tempfile.mkdtemp(prefix="oiradar-golden-", dir=base))
    home, work = tmp / "home", tmp / "work"
    work.mkdir()
    written = []
    try:
        for n, args in enumerate(tour_commands(), start=1):
            path = out / f"{golden_name(n, args)}.txt"
            path.write_text(run_one(args, home, work), encoding="utf-8")
            written.append(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder for the outputs")
    parser.add_argument("--update", action="store_true", help="rewrite tests/golden/")
    ns = parser.parse_args()
    if ns.update == (ns.out is not None):
        parser.error("give either OUT or --update")
    out = GOLDEN if ns.update else ns.out
    if ns.update:
        for old in GOLDEN.glob("*.txt"):
            old.unlink()
    for path in run_tour(out):
        print(path)


if __name__ == "__main__":
    main()
