"""The dashboard page: one HTML document that draws every panel with Chart.js (vendored under
``static/``, MIT licence), either live (fetches ``data.json`` every few seconds) or self-contained
(``llmops report``: the data and Chart.js inlined, no network needed). Each panel's element gets
``data-points`` (how many values it drew) once rendered, and the body ``data-ready``; the browser test
reads them.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from shared.observability.story import Section

STATIC = Path(__file__).resolve().parent / "static"
CHART_JS = STATIC / "chart.umd.min.js"
LEVELS = (("infrastructure", "Infrastructure"), ("model", "Model behaviour"), ("business", "Business"),
          ("requests", "Recent requests"))

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{padding:12px 20px;background:#1d2330;color:#fff;display:flex;gap:16px;align-items:baseline}
header small{opacity:.7} h2{margin:18px 20px 6px;font-size:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:12px;padding:0 20px}
.panel{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px;min-height:240px}
.panel.wide{grid-column:1/-1} .panel h3{margin:0 0 6px;font-size:13px;font-weight:600}
.panel canvas{max-height:220px} table{border-collapse:collapse;font-size:12px;width:100%}
td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left} .empty{color:#999;font-size:12px}
footer{padding:16px 20px;font-size:12px;color:#666}
"""

_SCRIPT = """
const KINDS = {timechart: "line", barchart: "bar", piechart: "doughnut"};
const charts = {};
function points(data) {
  if (data.rows) return data.rows.length;
  return data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null && v !== undefined).length, 0);
}
function table(el, data) {
  const head = "<tr>" + data.columns.map(c => `<th>${c}</th>`).join("") + "</tr>";
  const body = data.rows.map(row => "<tr>" + row.map((v, i) => {
    const text = String(v).replace(/[&<>]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;"}[c]));
    const linked = i === 0 && LIVE && el.id === "panel-request-story";
    return linked ? `<td><a href="requests/${encodeURIComponent(v)}">${text}</a></td>` : `<td>${text}</td>`;
  }).join("") + "</tr>").join("");
  el.querySelector(".body").innerHTML = `<table>${head}${body}</table>`;
}
function draw(fig) {
  const el = document.getElementById("panel-" + fig.key);
  const n = points(fig.data);
  el.dataset.points = n;
  el.querySelector(".empty").textContent = n ? "" : "no data in this time range";
  if (fig.chart === "table") { table(el, fig.data); return; }
  const data = {labels: fig.data.labels, datasets: fig.data.datasets.map(d => ({...d, spanGaps: true}))};
  if (charts[fig.key]) { charts[fig.key].data = data; charts[fig.key].update("none"); return; }
  charts[fig.key] = new Chart(el.querySelector("canvas"), {type: KINDS[fig.chart], data,
    options: {animation: false, responsive: true, maintainAspectRatio: false,
              plugins: {legend: {position: "bottom", labels: {boxWidth: 10, font: {size: 10}}}}}});
}
function render(payload) {
  payload.figures.forEach(draw);
  document.getElementById("updated").textContent = payload.generated_at;
  document.getElementById("telemetry").textContent = payload.telemetry.map(
    f => `${f.file} ${(f.bytes / 1024).toFixed(1)} KiB`).join(" · ") || "none";
  document.body.dataset.ready = "1";
}
render(INITIAL);
if (LIVE) setInterval(async () => {
  try { const r = await fetch("data.json", {cache: "no-store"}); if (r.ok) render(await r.json()); } catch (e) {}
}, REFRESH_MS);
"""


def _panel_html(fig: dict[str, Any]) -> str:
    body = '<div class="body"></div>' if fig["chart"] == "table" else '<div class="body"><canvas></canvas></div>'
    wide = " wide" if fig["chart"] == "table" and fig["level"] == "requests" else ""
    return (f'<section class="panel{wide}" id="panel-{fig["key"]}" data-chart="{fig["chart"]}">'
            f'<h3>{html.escape(fig["title"])}</h3><div class="empty"></div>{body}</section>')


def render_page(payload: dict[str, Any], *, live: bool, refresh_ms: int = 5000) -> str:
    """The page; ``live`` loads Chart.js from ``static/`` and refreshes, otherwise everything is inline."""
    sections = []
    for level, title in LEVELS:
        figs = [f for f in payload["figures"] if f["level"] == level]
        sections.append(f"<h2>{title}</h2><div class=\"grid\">{''.join(_panel_html(f) for f in figs)}</div>")
    library = ('<script src="static/chart.umd.min.js"></script>' if live
               else f"<script>{CHART_JS.read_text(encoding='utf-8')}</script>")
    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    config = f"const INITIAL = {data}; const LIVE = {str(live).lower()}; const REFRESH_MS = {int(refresh_ms)};"
    mode = f"live, refreshed every {refresh_ms / 1000:g} s" if live else "report"
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>LLMOps dashboard</title>"
            f"<style>{_STYLE}</style>{library}</head><body><header><strong>LLMOps dashboard</strong>"
            f"<small>{html.escape(payload['range'])} · {mode} · updated <span id=\"updated\"></span></small>"
            f"</header>{''.join(sections)}<footer>Local telemetry files: <span id=\"telemetry\"></span>. "
            "Panels are defined once in shared/observability/panels.py, like the Azure Monitor workbook."
            f"</footer><script>{config}{_SCRIPT}</script></body></html>")


def render_story_page(request_id: str, sections: list[Section], links: dict[str, str]) -> str:
    rows = "".join(f"<h2>{html.escape(s.title)}</h2><div class=\"grid\"><section class=\"panel wide\"><table>"
                   + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in s.rows)
                   + "</table></section></div>" for s in sections)
    azure = "".join(f'<tr><th>{html.escape(k)}</th><td><a href="{html.escape(v)}">{html.escape(v[:90])}…</a></td></tr>'
                    for k, v in links.items())
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Request {html.escape(request_id)}</title>"
            f"<style>{_STYLE}</style></head><body><header><strong>Request {html.escape(request_id)}</strong>"
            f"<small><a style=\"color:#fff\" href=\"../\">dashboard</a></small></header>{rows}"
            f"<h2>In Azure Monitor</h2><div class=\"grid\"><section class=\"panel wide\"><table>{azure}</table>"
            "</section></div></body></html>")
