"""The pictures of one series (``oiradar report`` and ``serve``'s symbol page): Plotly figures drawn
from :class:`~oiradar.app.report.ReportData`, nothing computed here but the drawing.

Each figure's numbers are the application's own: arrays go in as numpy, so Plotly (>= 6) writes them
as typed base64 arrays (``{"dtype": "f8", "bdata": ...}``); time axes carry epoch milliseconds
(UTC) on a date axis. Names: :data:`FIGURES`, in the order a page shows them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from oiradar.app.report import ReportData

FIGURES = ("price", "oi", "volume", "funding", "venues", "heatmap", "verdicts", "equity")
TITLES = {
    "price": "Price, signals and phases",
    "oi": "Open interest, its 30-day mean, the 2-sigma band and the z-score",
    "volume": "Volume against its 20-day mean",
    "funding": "Funding rate",
    "venues": "Open interest per venue (base units) and the divergences",
    "heatmap": "ESTIMATED liquidation heatmap under the price",
    "verdicts": "Verdicts of the framework's claims (event study)",
    "equity": "Backtest: equity and trades",
}
PHASE_COLOURS = {"accumulation": "#2e7d32", "breakout": "#1565c0", "distribution": "#ef6c00",
                 "cascade": "#c62828"}  # fmt: skip
SIGNAL_SYMBOLS = {"oi_extreme": "diamond", "watch": "circle-open", "trigger": "star",
                  "divergence": "x", "entry": "triangle-down", "exchange_divergence": "square",
                  "margin_divergence": "hexagon"}  # fmt: skip
TEMPLATE = "plotly_white"
HEIGHT = 420


def report_figures(data: ReportData) -> dict[str, go.Figure]:
    """Every figure of the report, by name (:data:`FIGURES`)."""
    draw = {"price": _price, "oi": _oi, "volume": _volume, "funding": _funding,
            "venues": _venues, "heatmap": _heatmap, "verdicts": _verdicts, "equity": _equity}  # fmt: skip
    return {name: _titled(draw[name](data), name, data) for name in FIGURES}


def figures_json(data: ReportData) -> dict[str, dict[str, Any]]:
    """Each figure as Plotly JSON (``data`` and ``layout``), arrays as typed base64."""
    return {k: json.loads(pio.to_json(f, validate=False)) for k, f in report_figures(data).items()}


def _titled(fig: go.Figure, name: str, data: ReportData) -> go.Figure:
    fig.update_layout(title={"text": f"{TITLES[name]}<br><sup>{data.title}</sup>", "x": 0.01},
                      template=TEMPLATE, height=HEIGHT, margin={"l": 60, "r": 30, "t": 70, "b": 40},
                      legend={"orientation": "h", "y": -0.12}, hovermode="x unified")  # fmt: skip
    return fig


def _ms(col: pl.Series) -> np.ndarray:
    return col.cast(pl.Float64).to_numpy()  # epoch ms on a date axis


def _f8(col: pl.Series) -> np.ndarray:
    return col.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _missing(why: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=f"Not drawn: {why}", showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper", font={"size": 14})  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _price(d: ReportData) -> go.Figure:
    b = d.bars
    x = _ms(b["ts"])
    fig = go.Figure(go.Candlestick(x=x, open=_f8(b["open"]), high=_f8(b["high"]),
                                   low=_f8(b["low"]), close=_f8(b["close"]), name="price"))  # fmt: skip
    width = float(d.key.timeframe.ms)
    for phase, colour in PHASE_COLOURS.items():
        on = (b["phase"] == phase).fill_null(False).to_numpy()
        if on.any():
            fig.add_trace(go.Bar(x=x[on], y=np.ones(int(on.sum())), width=width, yaxis="y2",
                                 marker={"color": colour, "line": {"width": 0}}, opacity=0.15,
                                 name=f"phase: {phase}", hoverinfo="skip"))  # fmt: skip
    _markers(fig, d, b)
    fig.update_layout(yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
                      xaxis={"type": "date", "rangeslider": {"visible": False}},
                      yaxis={"title": "price"}, barmode="overlay", bargap=0)  # fmt: skip
    return fig


def _markers(fig: go.Figure, d: ReportData, b: pl.DataFrame) -> None:
    own = d.events.filter((pl.col("exchange") == d.key.exchange)
                          & (pl.col("symbol") == d.key.symbol))  # fmt: skip
    if own.is_empty():
        return
    hl = b.select("ts", "high", "low")
    own = own.join(hl, on="ts", how="left")
    for (signal, side), ev in own.group_by(["signal", "side"], maintain_order=True):
        short = side == "short"
        y = _f8(ev["high"]) * 1.01 if short else _f8(ev["low"]) * 0.99
        fig.add_trace(go.Scatter(
            x=_ms(ev["ts"]), y=y, mode="markers", name=f"{signal} {side}",
            marker={"symbol": SIGNAL_SYMBOLS.get(str(signal), "circle"), "size": 9,
                    "color": "#c62828" if short else "#2e7d32"},
            hovertext=ev["why"].to_list(), hoverinfo="text+x"))  # fmt: skip


def _oi(d: ReportData) -> go.Figure:
    b = d.bars
    x = _ms(b["ts"])
    oi, ma, sd = _f8(b["oi"]), _f8(b["oi_ma_30d"]), _f8(b["oi_sd_30d"])
    k = d.z_alert
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32],
                        vertical_spacing=0.04)  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=ma + k * sd, name=f"+{k:g} sigma", line={"width": 0},
                             showlegend=False, hoverinfo="skip"), row=1, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=ma - k * sd, name=f"{k:g}-sigma band", fill="tonexty",
                             line={"width": 0}, fillcolor="rgba(21,101,192,0.12)"), row=1, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=ma, name="30-day mean", line={"dash": "dot",
                                                                   "color": "#1565c0"}), row=1, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=oi, name="OI", line={"color": "#263238"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=_f8(b["oi_z_30d"]), name="z-score",
                             line={"color": "#6a1b9a"}), row=2, col=1)  # fmt: skip
    for level in (k, -k):
        fig.add_hline(y=level, line={"dash": "dash", "color": "#c62828", "width": 1}, row=2, col=1)
    fig.update_yaxes(title_text="OI", row=1, col=1)
    fig.update_yaxes(title_text="z (30d)", row=2, col=1)
    fig.update_xaxes(type="date")
    return fig


def _volume(d: ReportData) -> go.Figure:
    b = d.bars
    if "volume" not in b.columns or b["volume"].null_count() == b.height:
        return _missing("the series has no volume")
    x = _ms(b["ts"])
    fig = go.Figure(go.Bar(x=x, y=_f8(b["volume"]), name="volume", marker={"color": "#90a4ae"}))
    fig.add_trace(go.Scatter(x=x, y=_f8(b["vol_ma_20d"]), name="20-day mean",
                             line={"color": "#ef6c00"}))  # fmt: skip
    fig.update_layout(xaxis={"type": "date"}, yaxis={"title": "volume"}, bargap=0)
    return fig


def _funding(d: ReportData) -> go.Figure:
    b = d.bars
    if "funding_rate" not in b.columns or b["funding_rate"].null_count() == b.height:
        return _missing("no funding rate stored for this series")
    f = b.filter(pl.col("funding_rate").is_not_null())
    rate = _f8(f["funding_rate"]) * 100.0
    colours = np.where(rate >= 0, "#2e7d32", "#c62828")
    fig = go.Figure(go.Bar(x=_ms(f["ts"]), y=rate, name="funding (%)",
                           marker={"color": colours.tolist()}))  # fmt: skip
    fig.update_layout(xaxis={"type": "date"}, yaxis={"title": "funding rate (%)",
                                                     "ticksuffix": "%"}, bargap=0)  # fmt: skip
    return fig


def _venues(d: ReportData) -> go.Figure:
    if "venues" in d.missing:
        return _missing(d.missing["venues"])
    fig = go.Figure()
    for (venue,), leg in d.venues.group_by(["venue"], maintain_order=True):
        fig.add_trace(go.Scatter(x=_ms(leg["ts"]), y=_f8(leg["oi"]), name=str(venue)))
    cross = d.events.filter(pl.col("signal").is_in(["exchange_divergence", "margin_divergence"]))
    if cross.height:
        top = float(np.nanmax(_f8(d.venues["oi"])))
        fig.add_trace(go.Scatter(x=_ms(cross["ts"]), y=np.full(cross.height, top * 1.03),
                                 mode="markers", name="divergence",
                                 marker={"symbol": "triangle-down", "size": 9, "color": "#c62828"},
                                 hovertext=cross["why"].to_list(), hoverinfo="text+x"))  # fmt: skip
    fig.update_layout(xaxis={"type": "date"}, yaxis={"title": "OI (base units)"})
    return fig


def _heatmap(d: ReportData) -> go.Figure:
    h = d.heat
    if h is None:
        return _missing(d.missing.get("heatmap", "the heatmap was not asked for (--no-heatmap)"))
    z = (h.long + h.short).T.astype(np.float32)  # bins x columns
    fig = go.Figure(go.Heatmap(x=h.ts.astype(np.float64), y=h.price.astype(np.float64), z=z,
                               colorscale="Inferno", name="ESTIMATED open notional (USD)",
                               colorbar={"title": {"text": "USD (est.)"}},
                               hovertemplate="%{x}<br>liq. price %{y:,.4g}<br>"
                                             "ESTIMATED $%{z:,.0f}<extra></extra>"))  # fmt: skip
    b = d.bars
    fig.add_trace(go.Scatter(x=_ms(b["ts"]), y=_f8(b["close"]), name="close",
                             line={"color": "#00e5ff", "width": 1.2}))  # fmt: skip
    fig.add_annotation(text=f"ESTIMATED from OI and volume, leverage mix {h.mix}; not realized "
                            "liquidations", showarrow=False, x=0, y=1.06, xref="paper",
                       yref="paper", xanchor="left", font={"size": 11})  # fmt: skip
    fig.update_layout(xaxis={"type": "date"}, yaxis={"title": "liquidation price"})
    return fig


VERDICT_COLUMNS = ("claim", "as stated", "measured", "baseline", "events", "needed", "verdict")


def _verdicts(d: ReportData) -> go.Figure:
    if "verdicts" in d.missing:
        return _missing(d.missing["verdicts"])
    v = d.verdicts
    if v.is_empty():
        return _missing("the study was not run (--no-study)")
    cols = [c for c in VERDICT_COLUMNS if c in v.columns]
    cells = [[_cell(x) for x in v[c].to_list()] for c in cols]
    fig = go.Figure(go.Table(header={"values": cols, "fill_color": "#eceff1", "align": "left"},
                             cells={"values": cells, "align": "left", "height": 26}))  # fmt: skip
    fig.update_layout(height=max(HEIGHT, 120 + 34 * v.height))
    return fig


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _equity(d: ReportData) -> go.Figure:
    bt = d.backtest
    if bt is None:
        return _missing(d.missing.get("backtest", "the backtest was not run (--no-backtest)"))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35],
                        vertical_spacing=0.05)  # fmt: skip
    eq = bt.equity
    fig.add_trace(go.Scatter(x=_ms(eq["ts"]), y=_f8(eq["equity"]), name="equity",
                             line={"color": "#263238"}), row=1, col=1)  # fmt: skip
    t = bt.trades
    if t.height:
        r = _f8(t["r_multiple"])
        fig.add_trace(go.Bar(x=_ms(t["exit_ts"]), y=r, name="trade R (at exit)",
                             marker={"color": np.where(r >= 0, "#2e7d32", "#c62828").tolist()},
                             hovertext=t["reason"].to_list()), row=2, col=1)  # fmt: skip
    m = bt.metrics
    fig.add_annotation(text=_metrics_line(bt.signal, str(bt.side), m), showarrow=False, x=0,
                       y=1.06, xref="paper", yref="paper", xanchor="left", font={"size": 11})  # fmt: skip
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="R", row=2, col=1)
    fig.update_xaxes(type="date")
    return fig


def _metrics_line(signal: str, side: str, m: dict[str, float | None]) -> str:
    def pct(k: str) -> str:
        v = m.get(k)
        return "–" if v is None else f"{v * 100:+.1f}%"

    trades = m.get("trades") or 0
    return (f"{signal} {side}: {int(trades):,} trades, total return {pct('total_return')}, "
            f"max drawdown {pct('max_drawdown')}, win rate {pct('win_rate')}")  # fmt: skip


__all__ = ["FIGURES", "TITLES", "figures_json", "report_figures"]
