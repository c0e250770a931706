// smsgate web console: a single page on the management API (/api/v1). No framework, no
// build step, no third-party code. Every element is built with h() from text (never HTML
// strings), so nothing from the API is ever parsed as markup.
"use strict";

const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let csrf = sessionStorage.getItem("smsgate-csrf") || "";
let me = null;
let timers = [];

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["content-type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET") opts.headers["x-csrf-token"] = csrf;
  const r = await fetch("/api/v1/" + path, opts);
  let v = null;
  try { v = await r.json(); } catch (_) { v = null; }
  if (r.status === 401 && path !== "login") {
    showLogin("Your session ended: log in again.");
    throw new ApiError(401, "not logged in");
  }
  if (!r.ok) throw new ApiError(r.status, (v && v.error) || r.statusText, v && v.field);
  return v;
}

function say(text) {
  statusLine.textContent = text;
  clearTimeout(say.t);
  say.t = setTimeout(() => { statusLine.textContent = ""; }, 4000);
}

function fmtTime(ms) {
  if (!ms) return "";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

function num(n) {
  if (!Number.isFinite(n)) return "–";
  return (Math.abs(n) < 10 && n % 1 ? Math.round(n * 100) / 100 : Math.round(n * 10) / 10).toLocaleString("en");
}

function clearTimers() {
  for (const t of timers) clearInterval(t);
  timers = [];
}

function every(ms, f) {
  f();
  timers.push(setInterval(f, ms));
}

function can(role) {
  const rank = { "read-only": 0, operator: 1, admin: 2 };
  return me && rank[me.role] >= rank[role];
}

// Show an API error in a form: beside the field it names, and as a summary at the top.
function showError(form, e) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  const box = form.querySelector(".form-error");
  box.textContent = e ? e.message : "";
  if (!e || !e.field) return;
  const input = form.querySelector(`[name="${CSS.escape(e.field)}"]`) || form.querySelector("textarea[name=extra]");
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const id = "err-" + Math.random().toString(36).slice(2);
    input.setAttribute("aria-describedby", id);
    input.closest("label").append(h("span", { class: "field-error", id }, e.message));
    input.focus();
  }
}

function errorBox() {
  return h("p", { class: "error form-error", role: "alert" });
}

// ---------------------------------------------------------------- login

function showLogin(message) {
  clearTimers();
  me = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  const form = h("form", { class: "card", id: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    message ? h("p", { class: "muted" }, message) : null,
    h("div", { class: "row" },
      h("label", {}, "Name", h("input", { name: "name", autocomplete: "username", required: true })),
      h("label", {}, "Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
      h("button", { type: "submit" }, "Log in")),
    errorBox());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      const v = await api("POST", "login", { name: f.get("name"), password: f.get("password") });
      csrf = v.csrf;
      sessionStorage.setItem("smsgate-csrf", csrf);
      me = { name: v.name, role: v.role };
      enter();
    } catch (e) {
      showError(form, e);
    }
  });
  main.replaceChildren(form);
  form.querySelector("input").focus();
}

async function start() {
  try {
    const v = await api("GET", "whoami");
    me = { name: v.name, role: v.role };
    csrf = v.csrf;
    sessionStorage.setItem("smsgate-csrf", csrf);
    enter();
  } catch (e) {
    if (e.status !== 401) showLogin(e.message);
  }
}

function enter() {
  document.getElementById("nav").hidden = false;
  const out = document.getElementById("logout");
  out.hidden = false;
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  if (!location.hash || location.hash === "#/") location.hash = "#/dashboard";
  else render();
}

document.getElementById("logout").addEventListener("click", async () => {
  try { await api("POST", "logout"); } catch (_) { /* gone already */ }
  sessionStorage.removeItem("smsgate-csrf");
  csrf = "";
  showLogin("Logged out.");
});

// ---------------------------------------------------------------- routing

const SECTIONS = {
  smppccs: { title: "SMPP connectors", key: "cid", noun: "connector",
    fields: [["cid", "text", true], ["host", "text", true], ["port", "number", true], ["username", "text"], ["password", "password"], ["bind", "select", false, ["transceiver", "transmitter", "receiver"]], ["start", "checkbox"]],
    columns: ["cid", "host", "port", "username", "bind"] },
  httpccs: { title: "HTTP connectors", key: "cid", noun: "connector",
    fields: [["cid", "text", true], ["url", "text", true], ["method", "select", false, ["GET", "POST"]]],
    columns: ["cid", "url", "method"] },
  users: { title: "Users", key: "uid", noun: "user",
    fields: [["username", "text", true], ["password", "password", true], ["gid", "text", true], ["uid", "text"]],
    columns: ["uid", "username", "gid", "enabled"] },
  groups: { title: "Groups", key: "gid", noun: "group",
    fields: [["gid", "text", true]], columns: ["gid", "enabled"] },
  filters: { title: "Filters", key: "fid", noun: "filter",
    fields: [["fid", "text", true], ["type", "select", true, ["TransparentFilter", "ConnectorFilter", "UserFilter", "GroupFilter", "SourceAddrFilter", "DestinationAddrFilter", "ShortMessageFilter", "DateIntervalFilter", "TimeIntervalFilter", "TagFilter", "EvalPyFilter"]],
      ["destination_addr", "text"], ["source_addr", "text"], ["short_message", "text"], ["uid", "text"], ["gid", "text"], ["cid", "text"], ["tag", "text"]],
    columns: ["fid", "type", "destination_addr", "source_addr", "short_message", "uid", "gid", "cid", "tag"] },
  mtroutes: { title: "MT routes", key: "order", noun: "route", route: true,
    fields: [["type", "select", true, ["DefaultRoute", "StaticMTRoute", "RandomRoundrobinMTRoute", "FailoverMTRoute", "LeastCostMTRoute", "PluginMTRoute"]], ["order", "number", true], ["connector", "text"], ["connectors", "list"], ["filters", "list"], ["rate", "number"]],
    columns: ["order", "type", "connector", "connectors", "filters", "rate"] },
  moroutes: { title: "MO routes", key: "order", noun: "route", route: true,
    fields: [["type", "select", true, ["DefaultRoute", "StaticMORoute", "RandomRoundrobinMORoute", "FailoverMORoute", "PluginMORoute"]], ["order", "number", true], ["connector", "text"], ["connectors", "list"], ["filters", "list"]],
    columns: ["order", "type", "connector", "connectors", "filters"] },
  mtinterceptors: { title: "MT interceptors", key: "order", noun: "interceptor",
    fields: [["type", "select", true, ["DefaultInterceptor", "StaticMTInterceptor"]], ["order", "number", true], ["filters", "list"], ["script", "text"]],
    columns: ["order", "type", "filters", "script", "plugin"] },
  mointerceptors: { title: "MO interceptors", key: "order", noun: "interceptor",
    fields: [["type", "select", true, ["DefaultInterceptor", "StaticMOInterceptor"]], ["order", "number", true], ["filters", "list"], ["script", "text"]],
    columns: ["order", "type", "filters", "script", "plugin"] },
};

function render() {
  if (!me) return;
  clearTimers();
  const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
  const page = parts[0] || "dashboard";
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === "#/" + page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const view = page === "dashboard" ? dashboard()
    : SECTIONS[page] ? sectionPage(page)
    : page === "queues" ? queuesPage()
    : page === "plugins" ? pluginsPage()
    : page === "route-test" ? routeTestPage()
    : page === "messages" && parts[1] ? timelinePage(parts[1])
    : page === "messages" ? messagesPage()
    : page === "audit" ? auditPage()
    : h("p", {}, "No such page.");
  main.replaceChildren(view);
  document.title = `${(view.querySelector("h1") || {}).textContent || "smsgate"} · smsgate console`;
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", render);

// ---------------------------------------------------------------- dashboard

// A line chart of the last `n` samples of several series, drawn on a canvas.
function chart(title, series) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const summary = h("figcaption", {});
  const swatch = (color) => { const i = h("i", { "aria-hidden": "true" }); i.style.background = color; return i; };
  const legend = h("div", { class: "legend" }, series.map((s) => h("span", {}, swatch(s.color), s.name)));
  const fig = h("figure", {}, h("figcaption", {}, h("strong", {}, title)), canvas, legend, summary);
  const data = series.map(() => []);
  const n = 120;
  fig.push = (values) => {
    values.forEach((v, i) => { data[i].push(v); if (data[i].length > n) data[i].shift(); });
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 400, ht = canvas.clientHeight || 180;
    canvas.width = w * dpr; canvas.height = ht * dpr;
    const g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, ht);
    const max = Math.max(1, ...data.flat());
    g.strokeStyle = "#d6dae0"; g.fillStyle = "#5b6470"; g.font = "11px system-ui";
    for (let k = 0; k <= 4; k++) {
      const y = 8 + (ht - 24) * (1 - k / 4);
      g.beginPath(); g.moveTo(40, y); g.lineTo(w - 4, y); g.stroke();
      g.fillText(num(max * k / 4), 2, y + 4);
    }
    data.forEach((d, i) => {
      g.strokeStyle = series[i].color; g.lineWidth = 2; g.beginPath();
      d.forEach((v, j) => {
        const x = 40 + (w - 44) * (j + n - d.length) / (n - 1);
        const y = 8 + (ht - 24) * (1 - v / max);
        if (j === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    });
    summary.textContent = series.map((s, i) => `${s.name}: ${num(data[i][data[i].length - 1])}`).join(" · ");
  };
  return fig;
}

function metric(stats, name, cid) {
  return (stats[name] || []).filter((s) => cid === undefined || s.labels.cid === cid).reduce((a, s) => a + s.value, 0);
}

function dashboard() {
  const tiles = h("div", { class: "tiles" });
  const rates = chart("Messages per second", [{ name: "in", color: "#0b5cad" }, { name: "out to SMSCs", color: "#1e7b34" }, { name: "receipts", color: "#c77700" }]);
  const depth = chart("Queued messages", [{ name: "queued", color: "#7b1fa2" }]);
  const table = h("tbody");
  const view = h("div", {},
    h("h1", {}, "Dashboard"),
    tiles,
    h("div", { class: "charts" }, rates, depth),
    h("h2", {}, "Connectors"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Connector", "State", "Sent/s", "Receipts/s", "Errors", "Queued"].map((t) => h("th", { scope: "col" }, t)))), table));
  let prev = null;
  every(1000, async () => {
    try {
      const [stats, queues, status] = await Promise.all([api("GET", "stats"), api("GET", "queues"), api("GET", "status")]);
      const now = performance.now();
      const totals = {
        in: metric(stats, "queue_accepted_count"),
        out: metric(stats, "smppc_submit_sm_count"),
        receipts: metric(stats, "smppc_deliver_sm_count"),
      };
      const per = {};
      for (const c of status.connectors) {
        per[c.cid] = { sent: metric(stats, "smppc_submit_sm_count", c.cid), receipts: metric(stats, "smppc_deliver_sm_count", c.cid) };
      }
      const rate = (a, b, dt) => (prev ? Math.max(0, (a - b) / dt) : 0);
      const dt = prev ? (now - prev.at) / 1000 : 1;
      const queued = queues.reduce((a, q) => a + q.ready + q.delayed + q.unacked, 0);
      const r = {
        in: rate(totals.in, prev && prev.totals.in, dt),
        out: rate(totals.out, prev && prev.totals.out, dt),
        receipts: rate(totals.receipts, prev && prev.totals.receipts, dt),
      };
      rates.push([r.in, r.out, r.receipts]);
      depth.push([queued]);
      tiles.replaceChildren(
        ...[["Accepted", totals.in], ["Sent to SMSCs", totals.out], ["Receipts", totals.receipts], ["In /s", r.in], ["Out /s", r.out], ["Queued", queued]]
          .map(([k, v]) => h("div", { class: "tile" }, h("div", { class: "v", "data-metric": k }, num(v)), h("div", { class: "k" }, k))));
      table.replaceChildren(...status.connectors.map((c) => {
        const q = queues.find((x) => x.cid === c.cid) || { ready: 0, delayed: 0, unacked: 0 };
        const p = prev && prev.per[c.cid];
        const errors = metric(stats, "smppc_throttling_error_count", c.cid) + metric(stats, "smppc_other_submit_error_count", c.cid);
        return h("tr", {},
          h("td", {}, c.cid),
          h("td", { class: "state-" + c.state }, c.state),
          h("td", {}, num(p ? Math.max(0, (per[c.cid].sent - p.sent) / dt) : 0)),
          h("td", {}, num(p ? Math.max(0, (per[c.cid].receipts - p.receipts) / dt) : 0)),
          h("td", {}, num(errors)),
          h("td", {}, num(q.ready + q.delayed + q.unacked)));
      }));
      prev = { at: now, totals, per };
    } catch (e) {
      if (e.status !== 401) say(e.message);
    }
  });
  return view;
}

// ---------------------------------------------------------------- configuration sections

function cell(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function fieldInput([name, type, required, options]) {
  let input;
  if (type === "select") {
    input = h("select", { name, required }, required ? null : h("option", { value: "" }, "—"), options.map((o) => h("option", { value: o }, o)));
  } else if (type === "checkbox") {
    return h("label", { class: "check" }, h("input", { name, type: "checkbox" }), name);
  } else {
    input = h("input", { name, type: type === "list" ? "text" : type, required, step: type === "number" ? "any" : null, autocomplete: type === "password" ? "new-password" : "off", placeholder: type === "list" ? "a;b" : null });
  }
  return h("label", {}, name + (required ? " (required)" : ""), input);
}

// The object a section's add form describes: its fields, then the extra JSON merged in.
function formObject(form, sec) {
  const f = new FormData(form);
  const o = {};
  for (const [name, type] of sec.fields) {
    const v = f.get(name);
    if (type === "checkbox") { if (v) o[name] = true; continue; }
    if (v === null || v === "") continue;
    if (type === "number") o[name] = Number(v);
    else if (type === "list") o[name] = String(v).split(";").map((x) => x.trim()).filter(Boolean);
    else o[name] = v;
  }
  const extra = String(f.get("extra") || "").trim();
  if (extra) {
    let more;
    try { more = JSON.parse(extra); } catch (e) { throw new ApiError(400, "Other fields: not JSON: " + e.message, "extra"); }
    Object.assign(o, more);
  }
  return o;
}

function sectionPage(name) {
  const sec = SECTIONS[name];
  const tbody = h("tbody");
  const editor = h("div");
  const view = h("div", {}, h("h1", {}, sec.title));
  const load = async () => {
    try {
      const list = await api("GET", name);
      const states = name === "smppccs" ? (await api("GET", "status")).connectors : [];
      tbody.replaceChildren(...list.map((o) => row(o, states.find((s) => s.cid === o.cid))));
      if (!list.length) tbody.append(h("tr", {}, h("td", { colspan: sec.columns.length + 1 }, h("span", { class: "muted" }, `No ${sec.noun}s.`))));
    } catch (e) { say(e.message); }
  };
  const row = (o, st) => {
    const key = String(o[sec.key]);
    const actions = h("div", { class: "actions" });
    if (st) {
      actions.append(h("button", { type: "button", class: "secondary", onclick: async () => {
        try { await api("POST", `smppccs/${encodeURIComponent(key)}/${st.started ? "stop" : "start"}`); say(`${key} ${st.started ? "stopped" : "started"}`); load(); } catch (e) { say(e.message); }
      }, disabled: !can("operator"), "aria-label": `${st.started ? "Stop" : "Start"} ${key}` }, st.started ? "Stop" : "Start"));
    }
    if (name === "users") {
      actions.append(h("button", { type: "button", class: "secondary", disabled: !can("admin"), onclick: () => topUp(key), "aria-label": `Top up ${key}` }, "Top up"));
    }
    actions.append(
      h("button", { type: "button", class: "secondary", disabled: !can("admin"), onclick: () => edit(key, o), "aria-label": `Edit ${sec.noun} ${key}` }, "Edit"),
      h("button", { type: "button", class: "danger", disabled: !can("admin"), "aria-label": `Delete ${sec.noun} ${key}`, onclick: async () => {
        if (!confirm(`Delete ${sec.noun} ${key}?`)) return;
        try { await api("DELETE", `${name}/${encodeURIComponent(key)}`); say(`${sec.noun} ${key} deleted`); load(); } catch (e) { say(e.message); }
      } }, "Delete"));
    return h("tr", { "data-key": key },
      ...sec.columns.map((c) => h("td", {}, cell(o[c]))),
      st ? h("td", { class: "state-" + st.state }, st.state) : null,
      h("td", {}, actions));
  };
  const edit = (key, o) => {
    const form = h("form", { class: "card", "aria-label": `Edit ${sec.noun} ${key}` },
      h("h2", {}, `Edit ${sec.noun} ${key}`),
      h("label", {}, "The object (JSON; a password left out is kept)", h("textarea", { name: "extra", rows: 12 }, JSON.stringify(o, null, 2))),
      errorBox(),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", class: "secondary", onclick: () => editor.replaceChildren() }, "Cancel")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        let body;
        try { body = JSON.parse(new FormData(form).get("extra")); } catch (e) { throw new ApiError(400, "not JSON: " + e.message, "extra"); }
        await api("PUT", `${name}/${encodeURIComponent(key)}`, body);
        editor.replaceChildren();
        say(`${sec.noun} ${key} saved`);
        load();
      } catch (e) { showError(form, e); }
    });
    editor.replaceChildren(form);
    form.querySelector("textarea").focus();
  };
  const topUp = (uid) => {
    const form = h("form", { class: "card", "aria-label": `Top up ${uid}` },
      h("h2", {}, `Top up ${uid}`),
      h("div", { class: "row" },
        h("label", {}, "amount", h("input", { name: "amount", type: "number", step: "any" })),
        h("label", {}, "sms_count", h("input", { name: "sms_count", type: "number", step: "1" })),
        h("button", { type: "submit" }, "Add to the balance")),
      errorBox());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const body = {};
      if (f.get("amount")) body.amount = Number(f.get("amount"));
      if (f.get("sms_count")) body.sms_count = Number(f.get("sms_count"));
      try {
        const v = await api("POST", `users/${encodeURIComponent(uid)}/balance`, body);
        editor.replaceChildren(h("p", { class: "ok", role: "status" }, `${uid}: balance ${cell(v.balance)}, sms_count ${cell(v.sms_count)}`));
      } catch (e) { showError(form, e); }
    });
    editor.replaceChildren(form);
  };
  const add = h("form", { class: "card", id: "add-form", "aria-labelledby": "add-title" },
    h("h2", { id: "add-title" }, `Add a ${sec.noun}`),
    h("div", { class: "row" }, sec.fields.map(fieldInput)),
    h("label", {}, "Other fields (JSON object, optional)", h("textarea", { name: "extra", rows: 3, placeholder: "{}" })),
    errorBox(),
    h("button", { type: "submit", disabled: !can("admin") }, `Add ${sec.noun}`));
  add.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const o = formObject(add, sec);
      const v = await api("POST", name, o);
      showError(add, null);
      add.reset();
      say(`${sec.noun} ${cell(v && v[sec.key] !== undefined ? v[sec.key] : o[sec.key])} added`);
      load();
    } catch (e) { showError(add, e); }
  });
  view.append(
    h("table", {}, h("thead", {}, h("tr", {}, ...sec.columns.map((c) => h("th", { scope: "col" }, c)), name === "smppccs" ? h("th", { scope: "col" }, "state") : null, h("th", { scope: "col" }, "actions"))), tbody),
    editor,
    add);
  load();
  if (name === "smppccs") timers.push(setInterval(load, 3000));
  return view;
}

// ---------------------------------------------------------------- queues, plugins

function queuesPage() {
  const tbody = h("tbody");
  const out = h("div");
  const view = h("div", {}, h("h1", {}, "Queues"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Connector", "Ready", "Delayed", "Being sent", "Actions"].map((t) => h("th", { scope: "col" }, t)))), tbody), out);
  const load = async () => {
    try {
      const qs = await api("GET", "queues");
      tbody.replaceChildren(...qs.map((q) => h("tr", {},
        h("td", {}, q.cid), h("td", {}, num(q.ready)), h("td", {}, num(q.delayed)), h("td", {}, num(q.unacked)),
        h("td", {}, h("div", { class: "actions" },
          h("button", { type: "button", class: "secondary", "aria-label": `Peek at ${q.cid}`, onclick: () => peek(q.cid) }, "Peek"),
          h("button", { type: "button", class: "secondary", disabled: !can("operator"), "aria-label": `Move ${q.cid}`, onclick: () => move(q.cid, qs.map((x) => x.cid)) }, "Move"),
          h("button", { type: "button", class: "danger", disabled: !can("operator"), "aria-label": `Purge ${q.cid}`, onclick: async () => {
            if (!confirm(`Purge every message waiting for ${q.cid}? They fail (and their failure receipts are sent).`)) return;
            try { const v = await api("POST", `queues/${encodeURIComponent(q.cid)}/purge`); say(`${v.purged} purged`); load(); } catch (e) { say(e.message); }
          } }, "Purge"))))));
    } catch (e) { say(e.message); }
  };
  const peek = async (cid) => {
    try {
      const v = await api("GET", `queues/${encodeURIComponent(cid)}?peek=20`);
      out.replaceChildren(h("h2", {}, `Next messages for ${cid}`),
        h("table", {}, h("thead", {}, h("tr", {}, ["id", "user", "from", "to", "parts", "tries", "accepted"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, (v.messages || []).map((m) => h("tr", {},
            h("td", {}, h("a", { href: "#/messages/" + m.id }, m.id)), h("td", {}, cell(m.user)), h("td", {}, m.from), h("td", {}, m.to), h("td", {}, m.parts), h("td", {}, m.tries), h("td", {}, fmtTime(m.created_at)))))));
    } catch (e) { say(e.message); }
  };
  const move = (cid, all) => {
    const form = h("form", { class: "card", "aria-label": `Move ${cid}` },
      h("h2", {}, `Move the messages waiting for ${cid}`),
      h("div", { class: "row" }, h("label", {}, "to", h("select", { name: "to" }, all.filter((c) => c !== cid).map((c) => h("option", { value: c }, c)))), h("button", { type: "submit" }, "Move")),
      errorBox());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { const v = await api("POST", `queues/${encodeURIComponent(cid)}/move`, { to: new FormData(form).get("to") }); out.replaceChildren(h("p", { class: "ok" }, `${v.moved} moved to ${v.to}`)); load(); } catch (e) { showError(form, e); }
    });
    out.replaceChildren(form);
  };
  every(2000, load);
  return view;
}

function pluginsPage() {
  const tbody = h("tbody");
  const view = h("div", {}, h("h1", {}, "Plugins"));
  const load = async () => {
    try {
      const v = await api("GET", "plugins");
      if (!v.enabled) { view.replaceChildren(h("h1", {}, "Plugins"), h("p", {}, "Plugins are disabled ([plugins] enabled = false).")); return; }
      tbody.replaceChildren(...v.plugins.map((p) => h("tr", {},
        h("td", {}, p.name), h("td", {}, p.world), h("td", { class: p.stale ? "state-stale" : "state-ok" }, p.stale ? "stale: " + p.stale : "ok"),
        h("td", {}, num(p.calls)), h("td", {}, num(p.traps + p.timeouts + p.memory_errors)), h("td", {}, num(p.denied)),
        h("td", {}, h("code", {}, (p.sha256 || "").slice(0, 12))),
        h("td", {}, h("button", { type: "button", class: "secondary", disabled: !can("admin"), "aria-label": `Reload ${p.name}`, onclick: async () => {
          try { await api("POST", `plugins/${encodeURIComponent(p.name)}/reload`); say(`${p.name} reloaded`); load(); } catch (e) { say(e.message); }
        } }, "Reload")))));
      if (!v.plugins.length) tbody.append(h("tr", {}, h("td", { colspan: 8 }, h("span", { class: "muted" }, "No plugins loaded."))));
    } catch (e) { say(e.message); }
  };
  view.append(h("table", {}, h("thead", {}, h("tr", {}, ["Plugin", "World", "State", "Calls", "Errors", "Denied", "SHA-256", "Actions"].map((t) => h("th", { scope: "col" }, t)))), tbody));
  every(3000, load);
  return view;
}

// ---------------------------------------------------------------- route tester, messages

function routeTestPage() {
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "route-test", "aria-labelledby": "rt-title" },
    h("h1", { id: "rt-title" }, "Route tester"),
    h("p", { class: "muted" }, "Which MT route a message would take now (the interceptors run, nothing is sent); and a real test message through it."),
    h("div", { class: "row" },
      h("label", {}, "username (required)", h("input", { name: "username", required: true })),
      h("label", {}, "to (required)", h("input", { name: "to", required: true, inputmode: "tel" })),
      h("label", {}, "from", h("input", { name: "from" })),
      h("label", {}, "content", h("input", { name: "content", value: "Test message from the smsgate console" }))),
    errorBox(),
    h("div", { class: "actions" },
      h("button", { type: "submit", name: "test" }, "Which route?"),
      h("button", { type: "button", id: "send-test", disabled: !can("operator") }, "Send a test message")));
  const probe = () => {
    const f = new FormData(form);
    return { username: f.get("username"), to: f.get("to"), from: f.get("from") || "", content: f.get("content") || "" };
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const v = await api("POST", "route-test", probe());
      showError(form, null);
      const asked = probe().to.replace(/^\+/, "");
      const rewritten = v.destination && v.destination !== asked ? ` (an interceptor changed the destination to ${v.destination})` : "";
      result.replaceChildren(v.intercepted
        ? h("p", { class: "ok", id: "route-result" }, "An interceptor answers it: it would be accepted without being routed or sent.")
        : v.route
          ? h("p", { class: "ok", id: "route-result" }, `Route ${v.route.order} → ${v.route.connector}` + (v.route.rate ? ` (rate ${v.route.rate})` : "") + rewritten + (v.parts > 1 ? `, ${v.parts} parts` : ""))
          : h("p", { class: "error", id: "route-result" }, "No route: the message would be refused (No route found)."));
    } catch (e) { showError(form, e); }
  });
  form.querySelector("#send-test").addEventListener("click", async () => {
    if (!form.reportValidity()) return;
    const p = probe();
    try {
      const v = await api("POST", "messages", { username: p.username, to: p.to, from: p.from || null, content: p.content });
      showError(form, null);
      result.replaceChildren(h("p", { class: "ok", id: "sent-result" }, "Sent: ", h("a", { href: "#/messages/" + v.id, id: "sent-link" }, v.id), ` via ${v.connector}`));
    } catch (e) { showError(form, e); }
  });
  return h("div", {}, form, result);
}

function messagesPage() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const tbody = h("tbody");
  const form = h("form", { class: "card", id: "search", "aria-labelledby": "ms-title" },
    h("h1", { id: "ms-title" }, "Messages"),
    h("div", { class: "row" },
      h("label", {}, "id", h("input", { name: "id", size: 38 })),
      h("label", {}, "user", h("input", { name: "user" })),
      h("label", {}, "destination contains", h("input", { name: "destination", inputmode: "tel" })),
      h("label", {}, "direction", h("select", { name: "direction" }, h("option", { value: "" }, "both"), h("option", { value: "mt" }, "MT"), h("option", { value: "mo" }, "MO"))),
      h("label", {}, "from (UTC)", h("input", { name: "from", type: "datetime-local", step: 1 })),
      h("label", {}, "to (UTC)", h("input", { name: "to", type: "datetime-local", step: 1 })),
      h("button", { type: "submit" }, "Search")),
    errorBox());
  for (const [k, v] of q) if (form.elements[k]) form.elements[k].value = v;
  const search = async () => {
    const f = new FormData(form);
    const params = new URLSearchParams();
    for (const [k, v] of f) {
      if (!v) continue;
      params.set(k, (k === "from" || k === "to") ? new Date(v + "Z").toISOString() : v);
    }
    try {
      const v = await api("GET", "messages?" + params.toString());
      showError(form, null);
      tbody.replaceChildren(...v.messages.map((m) => h("tr", {},
        h("td", {}, h("a", { href: "#/messages/" + m.id }, m.id)), h("td", {}, fmtTime(m.at)), h("td", {}, m.direction.toUpperCase()),
        h("td", {}, m.user), h("td", {}, m.source), h("td", {}, m.destination), h("td", {}, m.connector), h("td", { class: "msg-state" }, m.state))));
      if (!v.messages.length) tbody.append(h("tr", {}, h("td", { colspan: 8 }, h("span", { class: "muted" }, "Nothing found."))));
    } catch (e) { showError(form, e); }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  search();
  return h("div", {}, form,
    h("table", { id: "results" }, h("thead", {}, h("tr", {}, ["id", "received", "dir", "user", "from", "to", "connector", "state"].map((t) => h("th", { scope: "col" }, t)))), tbody));
}

function timelinePage(id) {
  const body = h("div", {}, h("p", {}, "Loading…"));
  const view = h("div", {}, h("h1", {}, "Message ", h("code", {}, id)), h("p", {}, h("a", { href: "#/messages" }, "← Search")), body);
  every(2000, async () => {
    try {
      const t = await api("GET", "messages/" + encodeURIComponent(id));
      const m = t.message;
      body.replaceChildren(
        m ? h("dl", { class: "card" },
          ...[["direction", m.direction.toUpperCase()], ["user", m.user], ["from", m.source], ["to", m.destination], ["connector", m.connector], ["state", m.state]]
            .flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-field": k }, v || "—")]))
          : h("p", { class: "muted" }, "Only later phases are known here (accepted on another node with a journal of its own, or before the journal was on)."),
        h("h2", {}, "Timeline"),
        h("ol", { class: "timeline", id: "timeline" }, t.events.map((e) => h("li", { "data-phase": e.phase },
          h("strong", {}, e.phase), " ", h("span", { class: "muted" }, fmtTime(e.start) + (e.end > e.start ? ` (${e.end - e.start} ms)` : "") + (e.node ? ` on ${e.node}` : "")),
          h("div", {}, Object.entries(e.attrs).map(([k, v]) => `${k}: ${v}`).join(" · "))))));
    } catch (e) {
      body.replaceChildren(h("p", { class: "error" }, e.status === 404 ? "This message is not in the journal (unknown, or older than its retention)." : e.message));
    }
  });
  return view;
}

function auditPage() {
  const tbody = h("tbody");
  const view = h("div", {}, h("h1", {}, "Audit log"), h("p", { class: "muted" }, "Every configuration change, whatever made it (console, API, jCli, SIGHUP), newest first."),
    h("table", {}, h("thead", {}, h("tr", {}, ["when", "source", "who", "node", "what"].map((t) => h("th", { scope: "col" }, t)))), tbody));
  (async () => {
    try {
      const entries = await api("GET", "audit?limit=200");
      tbody.replaceChildren(...entries.map((e) => h("tr", {},
        h("td", {}, fmtTime(e.at)), h("td", {}, e.actor.source), h("td", {}, e.actor.name), h("td", {}, e.node || ""),
        h("td", {}, e.changes.map((c) => h("div", {}, `${c.before === null ? "added" : c.after === null ? "removed" : "changed"} ${c.kind} ${c.key}`))))));
    } catch (e) { say(e.message); }
  })();
  return view;
}

start();
