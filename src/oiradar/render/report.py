"""``oiradar report``: one self-contained HTML file (it opens from disk with the network off) and,
with ``--png``, the main charts as images.

The file holds plotly.js itself, gzipped and base64-encoded (1.5 MB instead of 4.8 MB; the page
inflates it with the browser's ``DecompressionStream``), and the figures as Plotly JSON whose arrays
are typed base64 (``bdata``) in one ``<script type="application/json" id="oiradar-data">``: a script
can read every number back from the file (``read_report``). Decision 0704.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from oiradar.app.report import ReportData
from oiradar.errors import InputError
from oiradar.render.figures import FIGURES, TITLES, report_figures
from oiradar.timeutil import iso_utc

PNG_FIGURES = ("price", "oi", "volume", "funding", "venues", "heatmap", "equity")
PNG_WIDTH = 1200  # pixels


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    size: int  # bytes
    pngs: tuple[Path, ...] = ()


@cache
def plotly_js_gz_b64() -> str:
    """The installed plotly.js, gzipped and base64-encoded (once per process)."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode(), 6, mtime=0)).decode()


def summary(d: ReportData) -> dict[str, Any]:
    """The report's headline numbers: the last bar's, as ``features`` computes them."""
    last = d.bars.filter(d.bars["complete"]).tail(1) if "complete" in d.bars.columns else d.bars
    row = last.tail(1).to_dicts()[0] if last.height else {}
    return {"series": d.title, "bars": d.bars.height,
            "first": iso_utc(int(d.bars["ts"][0])), "last": iso_utc(int(d.bars["ts"][-1])),
            "last_complete": iso_utc(int(row["ts"])) if row else None,
            **{k: row.get(k) for k in ("close", "oi", "oi_z_30d", "oi_chg_7d", "oi_vol_ratio",
                                       "phase")},
            "signals": d.events.height, "notes": list(d.notes), "missing": d.missing}  # fmt: skip


def report_html(d: ReportData, figures: dict[str, go.Figure], generated: int) -> str:
    payload = {"summary": summary(d),
               "figures": {k: json.loads(pio.to_json(figures[k], validate=False)) for k in FIGURES}}  # fmt: skip
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)
    data = data.replace("</", "<\\/")
    return _PAGE.format(
        title=html.escape(d.title), generated=iso_utc(generated), head=_head(d),
        divs="\n".join(f'<section><div id="fig-{k}" class="fig" aria-label="{html.escape(TITLES[k])}">'
                       "</div></section>" for k in FIGURES),
        data=data, plotly=plotly_js_gz_b64(), loader=_LOADER,
    )  # fmt: skip


def _head(d: ReportData) -> str:
    s = summary(d)

    def num(v: Any, fmt: str) -> str:
        return "–" if v is None else format(v, fmt)

    cells = [("last complete bar", f"{s['last_complete'] or '–'} UTC"), ("close", num(s["close"], ",.6g")),
             ("OI", num(s["oi"], ",.0f")), ("OI z-score (30d)", num(s["oi_z_30d"], "+.2f")),
             ("OI 7-day change", "–" if s["oi_chg_7d"] is None else f"{s['oi_chg_7d'] * 100:+.1f}%"),
             ("phase", str(s["phase"] or "–")), ("signals drawn", f"{s['signals']:,}")]  # fmt: skip
    facts = "".join(f"<div><b>{html.escape(k)}</b><br>{html.escape(v)}</div>" for k, v in cells)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in d.notes)
    miss = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in d.missing.items())
    extra = (f"<ul class='notes'>{notes}</ul>" if notes else "") + \
        (f"<p>Not drawn:</p><ul class='missing'>{miss}</ul>" if miss else "")  # fmt: skip
    return f"<div class='facts'>{facts}</div>{extra}"


def write_report(d: ReportData, out: Path, *, png_dir: Path | None = None,
                 generated: int) -> WrittenReport:  # fmt: skip
    """Write the HTML atomically (a temporary file renamed into place) and the PNGs if asked."""
    figures = report_figures(d)
    text = report_html(d, figures, generated)
    out = out.expanduser()
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name such as {out / 'report.html'}")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    pngs = write_pngs(figures, png_dir, d) if png_dir is not None else ()
    return WrittenReport(out, out.stat().st_size, pngs)


def write_pngs(figures: dict[str, go.Figure], folder: Path, d: ReportData) -> tuple[Path, ...]:
    """The main charts as PNG images through kaleido, which draws them in a Chromium (Debian's
    ``chromium``: kaleido finds it on PATH, or at ``BROWSER_PATH``)."""
    folder = folder.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    stem = d.title.replace("/", "-").replace(":", "-").replace(" ", "_")
    paths = [folder / f"{stem}_{k}.png" for k in PNG_FIGURES]
    figs = [figures[k] for k in PNG_FIGURES]
    try:
        pio.write_images(figs, paths, width=PNG_WIDTH, height=[f.layout.height for f in figs])
    except Exception as exc:  # kaleido's own errors: no Chromium, a crashed renderer
        raise InputError(f"--png: kaleido could not draw the images ({type(exc).__name__}: {exc}); "
                         "install Debian's chromium (apt-get install chromium) or point "
                         "BROWSER_PATH at a Chrome") from exc  # fmt: skip
    return tuple(paths)


def read_report(path: Path) -> dict[str, Any]:
    """The summary and figures (Plotly JSON) stored in a report file, for scripts and tests."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="oiradar-data">')
    start = text.index(">", start) + 1
    end = text.index("</script>", start)
    data: dict[str, Any] = json.loads(text[start:end])
    return data


_LOADER = """
(async () => {
  const b64 = document.getElementById('plotly-gz').textContent.trim();
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  const src = await new Response(stream).text();
  const tag = document.createElement('script');
  tag.textContent = src;
  document.head.appendChild(tag);
  const data = JSON.parse(document.getElementById('oiradar-data').textContent);
  const config = {responsive: true, displaylogo: false};
  for (const [name, fig] of Object.entries(data.figures)) {
    await Plotly.newPlot('fig-' + name, fig.data, fig.layout, config);
  }
  document.body.dataset.drawn = 'true';
})().catch(err => { document.body.dataset.error = String(err); console.error(err); });
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>oiradar report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; padding: 0 1rem; max-width: 1400px;
       color: #263238; }}
h1 {{ font-size: 1.4rem; margin-bottom: .2rem; }} .sub {{ color: #607d8b; margin-top: 0; }}
.facts {{ display: flex; flex-wrap: wrap; gap: 1.2rem; margin: 1rem 0; }}
.facts div {{ background: #f5f7f8; padding: .5rem .8rem; border-radius: 6px; }}
.notes, .missing {{ color: #607d8b; font-size: .9rem; }} section {{ margin: 1rem 0; }}
</style></head>
<body data-drawn="false">
<h1>oiradar report: {title}</h1>
<p class="sub">Generated {generated} UTC. Every liquidation figure is ESTIMATED from OI, volume and
an assumed leverage mix. Verdicts and backtest use the series' whole stored history.</p>
{head}
{divs}
<script type="application/json" id="oiradar-data">{data}</script>
<script type="application/octet-stream" id="plotly-gz">{plotly}</script>
<script>{loader}</script>
</body></html>
"""



def show_written(w: WrittenReport, d: ReportData) -> None:
    """What was written, where, and what could not be drawn (and why)."""
    from oiradar.render.console import say, warning

    s = summary(d)
    say(f"Wrote {w.path} ({w.size / 1e6:,.1f} MB): {d.title}, {s['bars']:,} bars from "
        f"{s['first']} to {s['last']} UTC, {s['signals']:,} signal(s).")  # fmt: skip
    for part, why in d.missing.items():
        warning(f"{part} not drawn: {why}")
    for p in w.pngs:
        say(f"Wrote {p}")


def show_demo_report(w: WrittenReport, d: ReportData) -> None:
    """The demo's last lines: where its report is and the command that rebuilds it."""
    import shlex

    from oiradar.render.console import say

    home = shlex.quote(str(w.path.parent))
    key = d.key
    say("\n".join(["Report (docs/report.md)", f"  {w.path}",
                   f"  oiradar --home {home} report -e {key.exchange} -s {key.symbol} "
                   f"-t {key.timeframe.value} --open"]))  # fmt: skip


__all__ = ["WrittenReport", "plotly_js_gz_b64", "read_report", "report_html", "show_demo_report",
           "show_written", "summary", "write_pngs", "write_report"]  # fmt: skip
