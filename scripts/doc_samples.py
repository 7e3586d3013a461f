"""Write the sample outputs in docs/*.md by running the commands they show; ``--check`` only compares.

A sample is a fenced block right after a marker line (an HTML comment, invisible on the rendered page):

    <!-- sample -->
    ```console
    $ oiradar --home /tmp/dh features -e sim -s KSM/USDT:USDT -t 1d -n 3
    ...the output, rewritten by this script...
    ```

Each ``$ oiradar ...`` line of a ``console`` block is run and the lines after it, up to the next
``$`` line, are its output (``$ python docs/examples/X.py ...`` runs an example script, which takes
``--home`` as the CLI does). ``<!-- sample: oiradar ARGS -->`` before any other fenced block runs
``ARGS`` and makes the whole block its output (for a command shown elsewhere on the page).
Options go before the colon, ``<!-- sample columns=160 head=12 -->``:

- ``columns=N``: terminal width (default 100, what a reader's terminal is assumed to have);
- ``head=N``: keep the first N lines of each output and say how many were left out;
- ``rc=N``: the exit code the command must end with (default 0; a sample of an error is rc=2).

Homes: ``--home PATH`` in a shown command names a home, which the script maps to a fresh folder of
its own (never the PATH itself). ``/tmp/dh`` is the demo catalog (the market ``oiradar demo``
simulates: preset ksm, 180 days of 5-minute bars, seed 7); any other home starts empty and is filled
by the page's own commands, run in order (pages in name order). Commands without ``--home`` share one
home per page, shown as the default home. Outputs show the home as the page names it, elapsed times
are compared as ``<T> s`` (and kept as written when nothing else changed), trailing spaces are dropped.

    python scripts/doc_samples.py                 # rewrite every sample in docs/*.md
    python scripts/doc_samples.py --check         # exit 1 and show a diff where a page drifted
    python scripts/doc_samples.py docs/analysis.md  # only these pages
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
DEMO_HOME = "/tmp/dh"
SETUPS = {DEMO_HOME: ("simulate", "--preset", "ksm", "--days", "180", "--seed", "7")}
DEFAULT_HOME_SHOWN = "~/.local/share/oiradar"
MARKER = re.compile(r"^<!--\s*sample\b(?P<opts>[^:]*?)(?::\s*(?P<cmd>.*?))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)(?P<lang>[\w-]*)\s*$")
ELAPSED = re.compile(r"\b\d+(\.\d+)? s\b")
UPDATE_HINT = "python scripts/doc_samples.py"
EXAMPLES = "docs/examples/"  # scripts a sample may run with python


class SampleError(Exception):
    """A marker or block this script cannot read, or a command that failed."""


@dataclass(frozen=True)
class Options:
    columns: int = 100
    head: int | None = None
    rc: int = 0

    @classmethod
    def parse(cls, text: str, where: str) -> Options:
        values: dict[str, int] = {}
        for word in text.split():
            key, sep, value = word.partition("=")
            if not sep or key not in ("columns", "head", "rc") or not value.isdigit():
                raise SampleError(f"{where}: bad sample option {word!r} (columns=N, head=N, rc=N)")
            values[key] = int(value)
        return cls(**values)


@dataclass
class Homes:
    """The real folder behind each home a page names, set up on first use."""

    work: Path
    made: dict[str, Path] = field(default_factory=dict)

    def get(self, shown: str) -> Path:
        if shown not in self.made:
            real = self.work / f"home{len(self.made)}"
            self.made[shown] = real
            setup = SETUPS.get(shown)
            if setup is not None:
                out = run(real, list(setup), 250, cwd=self.work)
                if out[0] != 0:
                    raise SampleError(f"setting up {shown} failed:\n{out[1]}")
        return self.made[shown]


def run(
    home: Path, args: list[str], columns: int, cwd: Path, program: tuple[str, ...] = OIRADAR
) -> tuple[int, str]:
    """``oiradar --home HOME ARGS`` (or another ``program``): exit code and stdout+stderr as one
    text (as a terminal shows them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    env.update({"COLUMNS": str(columns), "LINES": "50", "NO_COLOR": "1", "TERM": "dumb",
                "PYTHONUNBUFFERED": "1"})  # fmt: skip
    res = subprocess.run(
        [*program, "--home", str(home), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL, timeout=600, check=False,
    )  # fmt: skip
    return res.returncode, res.stdout


@dataclass
class Runner:
    homes: Homes
    page: str

    def output(self, command: str, opts: Options, where: str) -> list[str]:
        """What ``command`` prints (as the page shows it: ``oiradar ...``, or ``python
        docs/examples/X.py ...``, a script that takes ``--home``)."""
        words = shlex.split(command)
        if words[:1] == ["oiradar"]:
            program, words = OIRADAR, words[1:]
        elif words[:1] == ["python"] and words[1:2] and words[1].startswith(EXAMPLES):
            program, words = (sys.executable, str(ROOT / words[1])), words[2:]
        else:
            raise SampleError(f"{where}: samples run `oiradar ...` or `python {EXAMPLES}X.py ...`, "
                              f"got {command!r}")  # fmt: skip
        args, shown = _take_home(words, self.page)
        home = self.homes.get(shown)
        cwd = self.homes.work / "cwd"
        cwd.mkdir(exist_ok=True)
        args = [str(ROOT / a) if _is_repo_path(a) else a for a in args]
        code, text = run(home, args, opts.columns, cwd, program)
        if code != opts.rc:
            raise SampleError(f"{where}: `{command}` exited {code} (expected {opts.rc}):\n{text}")
        shown_home = DEFAULT_HOME_SHOWN if shown.startswith("<") else shown
        text = text.replace(str(home), shown_home).replace(str(ROOT) + os.sep, "")
        lines = [line.rstrip() for line in text.rstrip("\n").splitlines()]
        if opts.head is not None and len(lines) > opts.head:
            lines = [*lines[: opts.head], f"... ({len(lines) - opts.head} more lines)"]
        return lines


def _take_home(args: list[str], page: str) -> tuple[list[str], str]:
    """The arguments without ``--home PATH``, and the home's name (the page's own without one)."""
    if "--home" in args:
        i = args.index("--home")
        if i + 1 >= len(args):
            raise SampleError(f"--home without a folder in {args}")
        return args[:i] + args[i + 2 :], args[i + 1]
    return args, f"<{page}>"


def _is_repo_path(arg: str) -> bool:
    return not arg.startswith(("-", "/")) and "/" in arg and (ROOT / arg).exists()


def render_page(path: Path, runner: Runner) -> str:
    """The page with every sample block rewritten."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        out.append(lines[i])
        i += 1
        if m is None:
            continue
        where = f"{_shown(path)}:{i}"
        opts = Options.parse(m["opts"], where)
        fence = FENCE.match(lines[i]) if i < len(lines) else None
        if fence is None:
            raise SampleError(f"{where}: a sample marker must be followed by a fenced block")
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip() == fence["fence"]), None
        )
        if end is None:
            raise SampleError(f"{where}: the sample's block is not closed")
        body = lines[i + 1 : end]
        if m["cmd"]:
            new = runner.output(m["cmd"], opts, where)
        elif fence["lang"] == "console":
            new = _console(body, runner, opts, where)
        else:
            raise SampleError(f"{where}: `<!-- sample -->` needs a console block, or name the "
                              "command: `<!-- sample: oiradar ARGS -->`")  # fmt: skip
        out += [lines[i], *_keep_timings(body, new), lines[end]]
        i = end + 1
    return "\n".join(out)


def _console(body: list[str], runner: Runner, opts: Options, where: str) -> list[str]:
    """Each ``$`` line (``\\`` continues it) followed by what it prints."""
    out: list[str] = []
    k = 0
    while k < len(body):
        if not body[k].startswith("$ "):
            k += 1  # an old output line
            continue
        shown = [body[k]]
        while shown[-1].endswith("\\") and k + 1 < len(body):
            k += 1
            shown.append(body[k])
        k += 1
        command = " ".join(s.rstrip("\\").strip() for s in shown)[2:]
        out += [*shown, *runner.output(command, opts, where)]
    if not out:
        raise SampleError(f"{where}: a console sample holds no `$ oiradar ...` line")
    return out


def _keep_timings(old: list[str], new: list[str]) -> list[str]:
    """The old lines where they differ from the new only by elapsed times (no churn from clocks)."""
    return old if [_masked(s) for s in old] == [_masked(s) for s in new] else new


def _masked(line: str) -> str:
    return ELAPSED.sub("<T> s", line.rstrip())


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def pages(names: list[str]) -> list[Path]:
    found = [Path(n).resolve() for n in names] if names else sorted(DOCS.glob("*.md"))
    return [
        p for p in found if any(MARKER.match(line) for line in p.read_text("utf-8").splitlines())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="pages to do (default: every docs/*.md)")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    ns = parser.parse_args(argv)
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="oiradar-docs-", dir=base))
    drifted = []
    try:
        homes = Homes(work)
        for path in pages(ns.pages):
            old = path.read_text(encoding="utf-8")
            try:
                new = render_page(path, Runner(homes, path.stem))
            except SampleError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            name = _shown(path)
            if new == old:
                print(f"{name}: up to date")
            elif ns.check:
                drifted.append(name)
                diff = difflib.unified_diff(old.splitlines(keepends=True),
                                            new.splitlines(keepends=True), f"{name} (page)",
                                            f"{name} (now)")  # fmt: skip
                print("".join(diff))
            else:
                path.write_text(new, encoding="utf-8")
                print(f"{name}: rewritten")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if drifted:
        print(
            f"samples drifted in {', '.join(drifted)}; to update: {UPDATE_HINT} {' '.join(drifted)}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
