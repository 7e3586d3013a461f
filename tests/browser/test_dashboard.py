"""``oiradar serve`` in headless Chromium: the pages a person sees, drawn from a real server.

- the watchlist lists the stored series, with thousands separators and percents;
- a symbol page draws every chart of the report, with no console error;
- a bar stored by a running ``oiradar watch -e sim`` appears on the symbol page without a reload
  (server-sent events, then the figures fetched again and ``Plotly.react``);
- the alert log, the paper account and its journal, and the daily sheet;
- the empty state says why, and a token in the address carries through links and the events.

Screenshots go to the ``artifacts`` folder (``dashboard-*.png``; docs/dashboard.md shows them).
Predicates are passed to ``wait_for_function`` as functions: the pages' Content-Security-Policy
forbids evaluating strings.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.web.served import (
    DOT,
    OIRADAR,
    Served,
    build_home,
    environ,
    serving,
    watch_dot,
)

TOKEN = "browser-token-0123456789abcdef"
SERIES = [f"sim {DOT} 1h", "sim KSM/USDT:USDT 1h"]
CHARTS = ["price", "oi", "volume", "funding", "venues", "heatmap", "verdicts", "equity"]
WAIT_MS = 60_000
LAST_X = """() => {
    const d = document.getElementById('fig-price');
    const x = d && d._fullData && d._fullData[0] && d._fullData[0].x;
    return x && x.length ? Number(x[x.length - 1]) : null;
}"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("dashboard-home")
    build_home(home)
    return home


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(home, tmp_path_factory.mktemp("dashboard-serve")) as served:
        yield served


def drawn(page: Any) -> None:
    page.wait_for_function("() => document.body.dataset.drawn === '8'", timeout=WAIT_MS)


def test_the_dashboard_lists_the_stored_series(page: Any, server: Served, artifacts: Path) -> None:
    page.goto(server.url)
    page.wait_for_selector("#watchlist tbody tr", timeout=WAIT_MS)
    assert page.locator("#watchlist tbody tr td:first-child a").all_text_contents() == SERIES
    cells = page.locator("#watchlist tbody tr").first.locator("td").all_text_contents()
    heads = page.locator("#watchlist thead th").all_text_contents()
    row = dict(zip(heads, cells, strict=True))
    assert "," in row["OI"] and "," in row["OI (USD)"]  # thousands separators
    assert row["OI 7d"].endswith("%") and row["last bar (UTC)"][:2] == "20"
    page.wait_for_function("() => document.getElementById('live').textContent === 'live'")
    page.screenshot(path=str(artifacts / "dashboard-watchlist.png"), full_page=True)
    assert page.errors == []


def test_a_symbol_page_draws_every_chart(page: Any, server: Served, artifacts: Path) -> None:
    page.goto(server.url)
    page.get_by_role("link", name=SERIES[0]).click()  # from the watchlist
    drawn(page)
    assert page.url.endswith(f"/series/sim/1h/{DOT}")
    ids = page.eval_on_selector_all(".chart", "els => els.map(e => e.id)")
    assert ids == [f"fig-{c}" for c in CHARTS]
    for name in CHARTS:
        div = f"#fig-{name}"
        assert page.locator(f"{div} .main-svg").count() >= 1, name  # Plotly drew it
    traces = page.evaluate("() => [...document.querySelectorAll('.chart')].map(d => d.data.length)")
    assert all(n > 0 for name, n in zip(CHARTS, traces, strict=True) if name != "venues"), traces
    assert page.evaluate(LAST_X) is not None
    page.screenshot(path=str(artifacts / "dashboard-symbol.png"), full_page=True)
    assert page.errors == []


def test_a_stored_bar_appears_without_a_reload(page: Any, server: Served, home: Path) -> None:
    page.goto(f"{server.url}series/sim/1h/{DOT}")
    drawn(page)
    page.wait_for_function("() => document.getElementById('live').textContent === 'live'")
    before = page.evaluate(LAST_X)
    version = int(page.evaluate("() => document.body.dataset.version"))
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
    loads: list[str] = []
    page.on("load", lambda _: loads.append("load"))
    watch = subprocess.Popen([*OIRADAR, "--home", str(home), *watch_dot(8)], env=environ(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        page.wait_for_function(f"() => Number(document.body.dataset.version) > {version}",
                               timeout=WAIT_MS)  # fmt: skip
        page.wait_for_function(f"() => ({LAST_X})() > {before}", timeout=WAIT_MS)
        out, _ = watch.communicate(timeout=120)
    finally:
        watch.kill()
        watch.wait()
    assert watch.returncode == 0, out.decode(errors="replace")
    assert page.evaluate("() => window.sameDocument") is True and loads == []
    assert "new bar" in page.locator("#live").text_content()
    newest = httpx.get(server.url + "api/versions", timeout=60).json()[SERIES[0]]
    assert version < newest and page.evaluate(LAST_X) <= newest
    assert page.errors == []


def test_the_alerts_paper_and_sheet_pages(page: Any, server: Served, artifacts: Path) -> None:
    page.goto(server.url + "alerts")
    page.wait_for_selector("#alerts tbody tr", timeout=WAIT_MS)
    first = page.locator("#alerts tbody tr").first.text_content()
    assert SERIES[0] in first and ("watch" in first or "oi_extreme" in first)
    page.screenshot(path=str(artifacts / "dashboard-alerts.png"), full_page=True)
    page.get_by_role("link", name="Paper").click()
    page.wait_for_selector("#accounts .account table tbody tr", timeout=WAIT_MS)
    card = page.locator("#accounts .account").first.text_content()
    assert f"sim {DOT} 1h" in card and "equity" in card and "verdict" in card
    page.screenshot(path=str(artifacts / "dashboard-paper.png"), full_page=True)
    page.get_by_role("link", name="Daily sheet").click()
    page.wait_for_selector("#sheet tbody tr", timeout=WAIT_MS)
    assert page.locator("#sheet tbody tr td:first-child a").all_text_contents() == SERIES
    page.screenshot(path=str(artifacts / "dashboard-sheet.png"), full_page=True)
    assert page.errors == []


def test_an_empty_home_says_why_and_the_token_carries(page: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with serving(empty, tmp_path, env={"OIRADAR_TOKEN": TOKEN}) as served:
        page.goto(f"{served.url}?token={TOKEN}")
        page.wait_for_selector(".empty", timeout=WAIT_MS)
        assert page.locator(".empty").text_content() == (
            "no series stored: run `oiradar demo` or `oiradar fetch`"
        )
        page.wait_for_function("() => document.getElementById('live').textContent === 'live'")
        assert (
            page.get_by_role("link", name="Alerts").get_attribute("href")
            == f"/alerts?token={TOKEN}"
        )
        page.get_by_role("link", name="Alerts").click()
        page.wait_for_selector(".empty", timeout=WAIT_MS)
        assert "no alert recorded yet" in page.locator(".empty").text_content()
        assert page.errors == []
        page.goto(served.url)  # without the token: refused
        assert "needs its token" in page.content()
