"""The report file opens from disk in headless Chromium with the network off and draws every chart
without a console error; ``--png`` writes the main charts as images through kaleido."""

from __future__ import annotations

from pathlib import Path

import pytest

from oiradar.render.figures import FIGURES
from tests.browser.conftest import chromium_path
from tests.integration.cli_helpers import run_cli
from tests.integration.report.helpers import SYMBOL, two_venue_home

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    home = two_venue_home(tmp_path_factory.mktemp("rb") / "home")
    out = home.parent / "report.html"
    res = run_cli(["report", "-e", "sim", "-s", SYMBOL, "-t", "4h", "--out", str(out)], home)
    assert res.code == 0, res.output
    return out


def test_report_opens_offline_and_draws_every_chart(browser, written: Path, artifacts: Path) -> None:
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
    requested: list[str] = []
    context.on("request", lambda r: r.url.startswith("file:") or requested.append(r.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(written.as_uri())
    page.wait_for_function("document.body.dataset.drawn === 'true' || !!document.body.dataset.error",
                           timeout=60_000)  # fmt: skip
    assert page.evaluate("() => document.body.dataset.error || ''") == ""
    for name in FIGURES:
        drawn = page.evaluate("n => { const d = document.getElementById('fig-' + n);"
                              " return d && d.data ? d.data.length : 0 }", name)  # fmt: skip
        assert drawn > 0, f"{name} has no trace"
        assert page.locator(f"#fig-{name} .main-svg").count() > 0, f"{name} is not drawn"
    assert errors == []
    assert requested == [], "the report must not reach for the network"
    page.screenshot(path=str(artifacts / "report-top.png"))
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    page.locator("#fig-heatmap").screenshot(path=str(artifacts / "report-heatmap.png"))
    context.close()


def test_png_writes_the_main_charts(written: Path, tmp_path: Path) -> None:
    chromium_path()  # kaleido draws in Debian's chromium: skip (fail under CI) without it
    home = written.parent / "home"
    res = run_cli(["report", "-e", "sim", "-s", SYMBOL, "--out", str(tmp_path / "r.html"),
                   "--png", str(tmp_path / "png"), "--no-study"], home, timeout=240)  # fmt: skip
    assert res.code == 0, res.output
    pngs = sorted((tmp_path / "png").glob("*.png"))
    names = {p.stem.rsplit("_", 1)[1] for p in pngs}
    assert names == {"price", "oi", "volume", "funding", "venues", "heatmap", "equity"}
    for p in pngs:
        head = p.read_bytes()[:24]
        assert head[:8] == PNG_MAGIC
        width = int.from_bytes(head[16:20], "big")
        assert width == 1200, (p.name, width)
