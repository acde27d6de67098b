#include "serve/web_page.h"

namespace gocrate {

namespace {

constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gocrate</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <h1>gocrate</h1>
  <span id="connection" class="muted">connecting…</span>
  <form id="token-form" hidden>
    <label>Token <input id="token" type="password" autocomplete="off"></label>
    <button type="submit">Connect</button>
  </form>
</header>
<main>
  <section class="wide">
    <h2>Containers <span id="container-count" class="muted"></span></h2>
    <table id="containers">
      <thead><tr><th>Name</th><th>Container ID</th><th>Image</th><th>State</th><th>Health</th><th>Ports</th>
        <th>Restarts</th><th>CPU</th><th></th><th>Memory</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="detail">
    <h2>Container <span id="detail-name"></span></h2>
    <div class="charts">
      <figure><figcaption>CPU <span id="detail-cpu"></span></figcaption><canvas id="cpu-chart" width="460" height="150"></canvas></figure>
      <figure><figcaption>Memory <span id="detail-memory"></span></figcaption><canvas id="memory-chart" width="460" height="150"></canvas></figure>
    </div>
    <h3>Log</h3>
    <pre id="log"></pre>
  </section>
  <section>
    <h2>Events</h2>
    <ol id="events"></ol>
  </section>
  <section class="wide">
    <h2>Images</h2>
    <table id="images">
      <thead><tr><th>Name</th><th>Digest</th><th>Size</th><th>Platforms</th><th>Signatures</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script src="/app.js"></script>
</body>
</html>
)page";

constexpr std::string_view kStyle = R"css(
:root { --fg: #1d2330; --muted: #6b7385; --line: #dfe3ea; --bg: #f6f7f9; --cpu: #e4572e; --memory: #2e86de; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1.2em; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.2em; margin: 0; }
h2 { font-size: 1em; margin: 0 0 .5em; }
h3 { font-size: .9em; margin: .8em 0 .3em; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; padding: 1em; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8em; min-width: 0; }
section.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: .85em; }
tbody tr { cursor: pointer; }
tbody tr.selected { background: #eef4fd; }
.muted { color: var(--muted); }
.state-running { color: #1e8e3e; } .state-exited, .state-dead { color: #b3261e; } .state-paused, .state-restarting { color: #b06000; }
.health-unhealthy { color: #b3261e; } .health-healthy { color: #1e8e3e; }
canvas.spark { width: 120px; height: 26px; display: block; }
.charts { display: flex; gap: 1em; flex-wrap: wrap; }
figure { margin: 0; } figcaption { color: var(--muted); font-size: .85em; }
#cpu-chart, #memory-chart { width: 460px; max-width: 100%; height: 150px; border: 1px solid var(--line); }
#log { background: #11151c; color: #d8dee9; padding: .6em; height: 16em; overflow: auto; margin: 0; font-size: 12px; white-space: pre-wrap; }
#log .stderr { color: #ff8f80; }
#events { list-style: none; margin: 0; padding: 0; max-height: 24em; overflow: auto; font-size: .85em; }
#events li { padding: .15em 0; border-bottom: 1px solid var(--line); }
#events time { color: var(--muted); margin-right: .5em; }
)css";

constexpr std::string_view kScript = R"js(
"use strict";
const HISTORY = 120;
const state = { containers: new Map(), history: new Map(), selected: null, token: sessionStorage.getItem("gocrate-token") || "", logFor: null, controller: null, updates: 0 };
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

function needToken() {
  $("#token-form").hidden = false;
  $("#connection").textContent = "this server wants its token";
}

// Points per container from the second sample on: CPU as a fraction of one CPU since the sample
// before, memory (working set) in bytes.
function record(c) {
  let h = state.history.get(c.id);
  if (!h) { h = { cpu: [], memory: [], last: null }; state.history.set(c.id, h); }
  if (!c.measured) { h.last = null; return h; }
  if (h.last && c.sampledAt > h.last.sampledAt) {
    const cpu = Math.max(0, (c.cpuSeconds - h.last.cpuSeconds) / ((c.sampledAt - h.last.sampledAt) / 1000));
    h.cpu.push(cpu);
    h.memory.push(c.memory.workingSet);
    if (h.cpu.length > HISTORY) { h.cpu.shift(); h.memory.shift(); }
  }
  h.last = c;
  return h;
}

function draw(canvas, values, color, max, grid) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, hgt = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(hgt * ratio); }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, hgt);
  if (grid) {
    g.strokeStyle = "#eceff4"; g.lineWidth = 1;
    for (let i = 1; i < 4; i++) { g.beginPath(); g.moveTo(0, hgt * i / 4); g.lineTo(w, hgt * i / 4); g.stroke(); }
  }
  if (!values.length) return;
  const top = Math.max(max, ...values) * 1.2 || 1;
  const step = w / (HISTORY - 1);
  const x0 = w - step * (values.length - 1);
  const y = (v) => hgt - 2 - (v / top) * (hgt - 4);
  g.beginPath();
  g.moveTo(x0, hgt);
  values.forEach((v, i) => g.lineTo(x0 + i * step, y(v)));
  g.lineTo(x0 + (values.length - 1) * step, hgt);
  g.closePath();
  g.fillStyle = color + "33"; g.fill();
  g.beginPath();
  values.forEach((v, i) => (i ? g.lineTo(x0 + i * step, y(v)) : g.moveTo(x0, y(v))));
  g.strokeStyle = color; g.lineWidth = grid ? 2 : 1.5; g.stroke();
}

function cpuText(h) { return h.cpu.length ? (100 * h.cpu[h.cpu.length - 1]).toFixed(1) + "%" : ""; }
function memoryText(c) { return c.measured ? bytes(c.memory.workingSet) + (c.memory.limit ? " / " + bytes(c.memory.limit) : "") : ""; }

function renderContainers(list) {
  const body = $("#containers tbody");
  const seen = new Set();
  list.forEach((c, index) => {
    seen.add(c.id);
    state.containers.set(c.id, c);
    const h = record(c);
    let row = body.querySelector(`tr[data-id="${c.id}"]`);
    if (!row) {
      row = el("tr", { "data-id": c.id, "data-name": c.name });
      for (let i = 0; i < 11; i++) row.append(el("td"));
      row.cells[8].append(el("canvas", { class: "spark cpu", width: 120, height: 26 }));
      row.cells[10].append(el("canvas", { class: "spark memory", width: 120, height: 26 }));
      row.addEventListener("click", () => select(c.id));
    }
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
    const cells = row.cells;
    cells[0].textContent = c.name;
    cells[1].textContent = c.id.slice(0, 12);
    cells[2].textContent = c.image;
    cells[3].textContent = c.status;
    cells[3].className = "state-" + c.state;
    cells[4].textContent = c.health || "";
    cells[4].className = "health-" + (c.health || "none");
    cells[5].textContent = c.ports.join(", ");
    cells[6].textContent = c.restartCount;
    cells[7].textContent = cpuText(h);
    cells[9].textContent = memoryText(c);
    draw(cells[8].firstChild, h.cpu, "#e4572e", 0.05, false);
    draw(cells[10].firstChild, h.memory, "#2e86de", 0, false);
    row.classList.toggle("selected", c.id === state.selected);
  });
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id)) { row.remove(); state.containers.delete(row.dataset.id); }
  $("#container-count").textContent = `${list.length}`;
  if (!state.selected || !state.containers.has(state.selected)) {
    const first = list.find((c) => c.state === "running") || list[0];
    if (first) select(first.id);
  }
  renderDetail();
  state.updates++;
  document.body.dataset.updates = state.updates;
}

function renderDetail() {
  const c = state.containers.get(state.selected);
  if (!c) return;
  const h = state.history.get(c.id);
  $("#detail-name").textContent = c.name;
  $("#detail-cpu").textContent = cpuText(h);
  $("#detail-memory").textContent = memoryText(c);
  draw($("#cpu-chart"), h.cpu, "#e4572e", 0.05, true);
  draw($("#memory-chart"), h.memory, "#2e86de", 0, true);
}

function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  for (const row of $("#containers tbody").rows) row.classList.toggle("selected", row.dataset.id === id);
  renderDetail();
  connect();
}

function appendLog(lines, replace) {
  const log = $("#log");
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  if (replace) log.textContent = "";
  for (const line of lines) log.append(el("span", { class: line.stream }, line.text + (line.partial ? "" : "\n")));
  while (log.childNodes.length > 1000) log.firstChild.remove();
  if (atEnd || replace) log.scrollTop = log.scrollHeight;
}

function eventText(e) {
  const a = (e.Actor && e.Actor.Attributes) || {};
  const who = a.name || (e.Actor && e.Actor.ID || "").slice(0, 19);
  const extra = Object.entries(a).filter(([k]) => k === "exitCode" || k === "image" && e.Type === "container").map(([k, v]) => `${k}=${v}`);
  return `${e.Type} ${e.Action} ${who}` + (extra.length ? ` (${extra.join(", ")})` : "");
}

function addEvent(e, prepend) {
  const list = $("#events");
  const when = new Date(Math.floor((e.timeNano || e.time * 1e9) / 1e6));
  const item = el("li", {}, el("time", {}, when.toLocaleTimeString()), eventText(e));
  prepend ? list.prepend(item) : list.append(item);
  while (list.children.length > 300) list.lastChild.remove();
}

function renderImages(list) {
  const body = $("#images tbody");
  body.textContent = "";
  for (const image of list) {
    const signatures = image.signatures.length
      ? image.signatures.map((s) => `${s.kind}: ${s.identity || "?"}`).join("; ") + " (not verified here)"
      : "none";
    body.append(el("tr", { "data-name": image.name }, el("td", {}, image.name), el("td", {}, image.digest.slice(7, 19)),
      el("td", {}, bytes(image.size)), el("td", {}, image.platforms.join(", ")), el("td", {}, signatures)));
  }
}

const handlers = {
  containers: renderContainers,
  images: renderImages,
  events: (list) => { $("#events").textContent = ""; list.slice().reverse().forEach((e) => addEvent(e, false)); },
  event: (e) => addEvent(e, true),
  logs: (d) => { if (d.id === state.selected) appendLog(d.lines, true); },
  log: (d) => { if (d.id === state.selected) appendLog(d.lines, false); },
  error: (d) => { $("#connection").textContent = d.message; },
};

// The stream is read with fetch rather than EventSource, which cannot send the token.
async function connect() {
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const url = "/api/stream" + (state.selected ? "?logs=" + encodeURIComponent(state.selected) : "");
  try {
    const response = await fetch(url, { headers: headers(), signal: controller.signal, cache: "no-store" });
    if (response.status === 401) { needToken(); return; }
    if (!response.ok) throw new Error("HTTP " + response.status);
    $("#connection").textContent = "live";
    $("#token-form").hidden = true;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let end;
      while ((end = pending.indexOf("\n\n")) >= 0) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data && handlers[name]) handlers[name](JSON.parse(data));
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    $("#connection").textContent = "disconnected: " + error.message;
  }
  if (state.controller === controller) setTimeout(() => { if (state.controller === controller) connect(); }, 1000);
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("#token").value.trim();
  sessionStorage.setItem("gocrate-token", state.token);
  connect();
});
connect();
)js";

constexpr WebAsset kAssets[] = {
    {"/", "text/html; charset=utf-8", kPage},
    {"/index.html", "text/html; charset=utf-8", kPage},
    {"/app.css", "text/css; charset=utf-8", kStyle},
    {"/app.js", "text/javascript; charset=utf-8", kScript},
};

}  // namespace

const WebAsset* web_asset(std::string_view path) {
  for (const auto& asset : kAssets) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace gocrate
