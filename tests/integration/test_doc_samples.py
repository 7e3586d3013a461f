"""The sample outputs in docs/*.md are what the commands print today (``scripts/doc_samples.py``).

A page drifts when a command's output changes; if the change is deliberate, rewrite the samples
with ``python scripts/doc_samples.py`` (or name the pages) and review the diff like code.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "doc_samples.py"
PAGES = ("analysis.md", "evidence.md", "liquidations.md")  # pages whose samples run on the demo


def _script(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, check=False)  # fmt: skip


@pytest.mark.slow
def test_the_docs_samples_are_what_the_commands_print() -> None:
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert "<!-- sample" in text, f"docs/{page} has no sample left to check"
    res = _script("--check")
    assert res.returncode == 0, (
        f"{res.stdout}\n{res.stderr}\nIf the change is deliberate: python scripts/doc_samples.py"
    )


PAGE = """# A page

Text before.

<!-- sample -->
```console
$ oiradar liqprice --side long --entry 100 --leverage 10 --mmr 0.01
an old output line
$ oiradar liqprice --side short --entry 100 --leverage 10 --mmr 0.01
```

<!-- sample: oiradar liqprice --side long --entry 100 --leverage 5 --mmr 0.01 -->
```
stale
```

<!-- sample rc=2 -->
```console
$ oiradar liqprice --side sideways --entry 100 --leverage 10
```

```console
$ oiradar liqprice --side long --entry 1 --leverage 1
not a sample: left as written
```
"""


def test_a_drifted_page_is_shown_then_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    check = _script("--check", str(page), timeout=120)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "-an old output line" in check.stdout and "-stale" in check.stdout
    assert "liquidation price 90.9091" in check.stdout  # 100 x (1 - 1/10) / (1 - 0.01)
    assert f"python scripts/doc_samples.py {page}" in check.stdout
    assert page.read_text(encoding="utf-8") == PAGE  # --check writes nothing

    update = _script(str(page), timeout=120)
    assert update.returncode == 0, update.stdout + update.stderr
    text = page.read_text(encoding="utf-8")
    assert "an old output line" not in text and "stale" not in text
    assert "liquidation price 90.9091" in text and "liquidation price 108.911" in text
    assert "must be long or short, got 'sideways'" in text
    assert "not a sample: left as written" in text
    assert _script("--check", str(page), timeout=120).returncode == 0


def test_a_failing_sample_command_is_an_error_not_a_rewrite(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE.replace("<!-- sample rc=2 -->", "<!-- sample -->"), encoding="utf-8")
    res = _script(str(page), timeout=120)
    assert res.returncode == 2
    assert "exited 2 (expected 0)" in res.stderr and "sideways" in res.stderr
    assert "an old output line" in page.read_text(encoding="utf-8")


DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                    *(ROOT / "docs" / "decisions").glob("*.md")])  # fmt: skip
OUTSIDE = re.compile(r"\bSPEC\b|the seed('s)?\b|seed article|SPEC section")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings (code blocks left out)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    heads = re.findall(r"^#+ (.*)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_the_docs_stand_alone() -> None:
    """No page cites a document outside the repository, and every link leads to a page (and a
    heading) that exists."""
    problems = []
    for page in DOC_FILES:
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(ROOT)
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) and "hence the claim names" not in line:
                problems.append(f"{name}:{n}: cites an outside document: {line.strip()[:80]}")
        for link in LINK.findall(text):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                problems.append(f"{name}: broken link {link}")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
                problems.append(f"{name}: no heading #{anchor} in {path or name}")
    assert not problems, "\n".join(problems)
