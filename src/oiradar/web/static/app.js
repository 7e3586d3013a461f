// oiradar serve: each page draws itself from the JSON API (the same API scripts use) and listens
// to /api/events for new bars. No data is ever written into the page as HTML: text only.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const BODY = document.body.dataset;
const DASH = "—";

function withToken(url) {
  if (!TOKEN) return url;
  const u = new URL(url, location.origin);
  u.searchParams.set("token", TOKEN);
  return u.pathname + u.search;
}

async function api(path) {
  const headers = TOKEN ? { Authorization: "Bearer " + TOKEN } : {};
  const res = await fetch(path, { headers, cache: "no-store" });
  const body = await res.json().catch(() => ({ error: res.status + " " + res.statusText }));
  if (!res.ok) throw new Error(body.error || body.detail || res.status + " " + res.statusText);
  return body;
}

// ------------------------------------------------------------------ formats
function num(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
function fixed(v, digits = 2, signed = false) {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const text = v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return signed && v > 0 ? "+" + text : text;
}
function amount(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return num(v, Math.abs(v) >= 1000 ? 0 : Math.abs(v) >= 1 ? 2 : 6);
}
function pct(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return fixed(100 * v, digits, true) + "%";
}
function lag(ms) {
  if (ms === null || ms === undefined) return DASH;
  const s = Math.round(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  if (s < 60) return s + "s";
  if (m < 60) return m + "m";
  if (h < 24) return h + "h " + (m % 60) + "m";
  return num(d, 0) + "d " + (h % 24) + "h";
}
function text(v) {
  return v === null || v === undefined || v === "" ? DASH : String(v);
}

// ------------------------------------------------------------------ DOM helpers (text only)
function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k === "cls") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
function content(...nodes) {
  const c = document.getElementById("content");
  c.replaceChildren(...nodes);
}
function empty(message) {
  return el("p", { cls: "empty", text: message });
}
function failed(err) {
  content(el("p", { cls: "error", text: "could not load: " + err.message }));
}
// columns: [label, row -> string | Node, "num" when right-aligned]
function table(columns, rows, id) {
  const head = el("tr", {}, columns.map(([label, , cls]) => el("th", { cls: cls || "", text: label })));
  const body = rows.map((r) => el("tr", {}, columns.map(([, get, cls]) => {
    const v = get(r);
    return v instanceof Node ? el("td", { cls: cls || "" }, [v]) : el("td", { cls: cls || "", text: v });
  })));
  return el("table", id ? { id } : {}, [el("thead", {}, [head]), el("tbody", {}, body)]);
}
function seriesHref(r) {
  return withToken(`/series/${encodeURIComponent(r.exchange)}/${encodeURIComponent(r.timeframe)}/${r.symbol}`);
}

// ------------------------------------------------------------------ live bars
function listen(onBar, onHello) {
  const live = document.getElementById("live");
  const source = new EventSource(withToken("/api/events"));
  source.addEventListener("hello", (e) => {
    live.textContent = "live";
    live.classList.add("on");
    if (onHello) onHello(JSON.parse(e.data).versions);
  });
  source.addEventListener("bar", (e) => {
    const bar = JSON.parse(e.data);
    live.textContent = "live · new bar " + bar.time + " (" + bar.series + ")";
    if (onBar) onBar(bar);
  });
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
}

// One refresh at a time; asks made while one runs end in one more.
function coalesced(fn) {
  let running = false, again = false;
  return async function run() {
    if (running) { again = true; return; }
    running = true;
    try { await fn(); } finally {
      running = false;
      if (again) { again = false; run(); }
    }
  };
}

// ------------------------------------------------------------------ pages
const WATCH_COLUMNS = [
  ["series", (r) => el("a", { href: seriesHref(r), text: r.series }), "nowrap"],
  ["last bar (UTC)", (r) => text(r.bar_time), "nowrap"],
  ["OI", (r) => amount(r.oi), "num"],
  ["OI (USD)", (r) => amount(r.oi_usd), "num"],
  ["OI 7d", (r) => pct(r.oi_chg_7d), "num"],
  ["z 30d", (r) => fixed(r.oi_z_30d, 2, true), "num"],
  ["OI/vol", (r) => r.oi_vol_ratio === null ? DASH : fixed(r.oi_vol_ratio, 2) + (r.oi_vol_vs_ma === null ? "" : " (" + fixed(r.oi_vol_vs_ma, 2) + "x 30d)"), "num"],
  ["funding", (r) => pct(r.funding_rate, 4), "num"],
  ["phase", (r) => text(r.phase)],
  ["signals", (r) => text(r.signals)],
  ["last alert", (r) => text(r.last_alert)],
  ["lag", (r) => lag(r.lag_ms), "num"],
  ["note", (r) => text(r.note || r.watch_error)],
];

async function watchlistPage() {
  const load = coalesced(async () => {
    const rows = await api("/api/watchlist");
    document.getElementById("subtitle").textContent =
      rows.length + " series · values at each series' last complete bar · as of " + new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
    content(rows.length ? table(WATCH_COLUMNS, rows, "watchlist")
      : empty("no series stored: run `oiradar demo` or `oiradar fetch`"));
  });
  await load().catch(failed);
  let last = 0;
  listen(() => {
    const now = Date.now();
    if (now - last > 3000) { last = now; load().catch(failed); }
  });
}

function seriesLabel() {
  return `${BODY.exchange} ${BODY.symbol} ${BODY.timeframe}`;
}

async function drawFigures(payload) {
  const c = document.getElementById("content");
  if (!c.querySelector(".charts")) c.replaceChildren(el("div", { cls: "missing" }), el("div", { cls: "charts" }));
  const charts = c.querySelector(".charts");
  for (const name of payload.order) {
    let div = document.getElementById("fig-" + name);
    if (!div) {
      div = el("div", { id: "fig-" + name, cls: "chart" });
      charts.append(div);
    }
    const fig = payload.figures[name];
    await Plotly.react(div, fig.data, fig.layout, { responsive: true, displaylogo: false });
    div.dataset.version = String(payload.version);
  }
  const notes = [...payload.notes, ...Object.entries(payload.missing).map(([k, v]) => k + ": " + v)];
  c.querySelector(".missing").replaceChildren(...notes.map((n) => el("p", { cls: "muted", text: n })));
  BODY.version = String(payload.version);
  BODY.drawn = String(payload.order.length);
  const when = payload.version === null ? DASH : new Date(payload.version).toISOString().slice(0, 16).replace("T", " ");
  document.getElementById("subtitle").textContent = "last stored bar " + when + " UTC · " + payload.order.length + " charts";
}

async function symbolPage() {
  const q = new URLSearchParams({ exchange: BODY.exchange, symbol: BODY.symbol, timeframe: BODY.timeframe });
  const load = coalesced(async () => drawFigures(await api("/api/series?" + q.toString())));
  await load().catch(failed);
  const label = seriesLabel();
  const newer = (ts) => BODY.version === undefined || ts > Number(BODY.version);
  listen((bar) => { if (bar.series === label && newer(bar.ts)) load().catch(failed); },
    (versions) => { const v = versions[label]; if (v && newer(v.ts)) load().catch(failed); });
}

const ALERT_COLUMNS = [
  ["bar (UTC)", (a) => text(a.bar_time || a.day), "nowrap"],
  ["series", (a) => (a.symbol ? `${a.exchange} ${a.symbol} ${a.timeframe}` : DASH), "nowrap"],
  ["signal", (a) => text(a.signal)],
  ["side", (a) => text(a.side)],
  ["close", (a) => amount((a.values || {}).close), "num"],
  ["OI z", (a) => fixed((a.values || {}).oi_z_30d, 2, true), "num"],
  ["OI 7d", (a) => pct((a.values || {}).oi_chg_7d), "num"],
  ["why", (a) => text(a.kind === "brief" ? String(a.text).split("\n")[0] : a.why)],
  ["late", (a) => (a.late ? "late" : "")],
  ["fired (UTC)", (a) => text(a.fired_at), "nowrap"],
  ["channels", (a) => Object.entries(a.deliveries || {}).map(([k, v]) => k + ": " + v).join(", ") || DASH],
];

async function alertsPage() {
  const load = coalesced(async () => {
    const alerts = await api("/api/alerts?limit=200");
    document.getElementById("subtitle").textContent = "the last " + num(alerts.length, 0) + " alerts `oiradar watch` recorded, newest bar first";
    content(alerts.length ? table(ALERT_COLUMNS, alerts, "alerts")
      : empty("no alert recorded yet: `oiradar watch` records them"));
  });
  await load().catch(failed);
  listen(() => load().catch(failed));
}

const JOURNAL_COLUMNS = [
  ["bar (UTC)", (e) => text(e.bar_time), "nowrap"],
  ["kind", (e) => text(e.kind)],
  ["reason", (e) => text(e.reason)],
  ["price", (e) => amount(e.price), "num"],
  ["qty", (e) => amount(e.qty), "num"],
  ["PnL", (e) => fixed(e.pnl, 2, true), "num"],
  ["equity", (e) => fixed(e.equity, 2), "num"],
];

function interval(i, f) {
  if (!i || i.estimate === null) return DASH;
  return f(i.estimate) + (i.low === null ? "" : " [" + f(i.low) + ", " + f(i.high) + "]");
}

function accountCard(s) {
  const a = s.account;
  const facts = [
    ["series", `${a.exchange} ${a.symbol} ${a.timeframe}`], ["side", a.side], ["status", a.status],
    ["started (UTC)", text(a.start_time)], ["last bar (UTC)", text(a.last_bar_time)],
    ["equity", fixed(a.equity, 2)], ["return", pct(s.total_return, 2)], ["trades", num(s.trades, 0)],
    ["hit rate", interval(s.hit_rate, (v) => fixed(100 * v, 0) + "%")], ["mean R", interval(s.mean_r, (v) => fixed(v, 2, true))],
    ["verdict", s.verdict + (s.why ? " (" + s.why + ")" : "")],
  ];
  const dl = el("dl", {}, facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  const journal = s.journal.length ? table(JOURNAL_COLUMNS, s.journal) : empty("no journal entry yet");
  return el("section", { cls: "card account" }, [
    el("h2", { text: `#${a.id} ${a.name || ""}`.trim() }), dl,
    el("h3", { text: "journal (last " + s.journal.length + " of " + num(s.journal_total, 0) + ")" }), journal,
  ]);
}

async function paperPage() {
  const load = coalesced(async () => {
    const view = await api("/api/paper");
    document.getElementById("subtitle").textContent = "paper accounts: the backtest's trade model on live bars";
    content(view.accounts.length ? el("div", { id: "accounts" }, view.accounts.map(accountCard)) : empty(view.note));
  });
  await load().catch(failed);
  listen(() => load().catch(failed));
}

const SHEET_COLUMNS = [
  ["series", (r) => el("a", { href: seriesHref(r), text: r.series }), "nowrap"],
  ["bar (UTC)", (r) => text(r.bar_time), "nowrap"],
  ["OI", (r) => amount(r.oi), "num"],
  ["OI (USD)", (r) => amount(r.oi_usd), "num"],
  ["OI 7d", (r) => pct(r.oi_chg_7d), "num"],
  ["OI vs 30d", (r) => pct(r.oi_vs_ma_30d), "num"],
  ["z 30d", (r) => fixed(r.oi_z_30d, 2, true), "num"],
  ["OI/vol", (r) => fixed(r.oi_vol_ratio, 2), "num"],
  ["funding", (r) => pct(r.funding_rate, 4), "num"],
  ["divergences", (r) => text(r.divergences)],
  ["signals", (r) => text(r.signals)],
  ["phase", (r) => text(r.phase)],
  ["note", (r) => text(r.note)],
];

async function sheetPage() {
  const day = new URLSearchParams(location.search).get("date");
  const load = coalesced(async () => {
    const view = await api("/api/sheet" + (day ? "?date=" + encodeURIComponent(day) : ""));
    document.getElementById("subtitle").textContent = view.day
      ? "the daily sheet of " + view.day + " (UTC), at each series' last complete bar of the day" : "";
    content(view.rows.length ? table(SHEET_COLUMNS, view.rows, "sheet") : empty(view.note));
  });
  await load().catch(failed);
  let last = 0;
  listen(() => {
    const now = Date.now();
    if (now - last > 10000) { last = now; load().catch(failed); }
  });
}

// ------------------------------------------------------------------ start
for (const a of document.querySelectorAll("a[href^='/']")) {
  a.setAttribute("href", withToken(a.getAttribute("href")));
  if (a.dataset.nav === BODY.page) a.classList.add("active");
}
const PAGE_RUNNERS = { watchlist: watchlistPage, symbol: symbolPage, alerts: alertsPage, paper: paperPage, sheet: sheetPage };
(PAGE_RUNNERS[BODY.page] || watchlistPage)();
