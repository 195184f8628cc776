// The odoo-saas console: every figure and every action is a call of the control API's own
// routes, with the operator's token from this tab's sessionStorage (or, behind the hoster's
// single sign-on, the proxy's header). Text goes into the page as text only (textContent),
// never as HTML. No third-party code, no build step (docs/console.md).
"use strict";

const TOKEN_KEY = "odoo-saas-console-token";
const SCOPES = ["read", "write", "admin"];
const PAGE_ROWS = 100;
const body = document.body;
const SSO = body.dataset.sso === "1";
const $ = (id) => document.getElementById(id);
const ctx = { me: null, plans: {} };

// --- the API ---------------------------------------------------------------------------------
async function api(method, path, data) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  if (SSO) headers["X-Odoo-Saas-Console"] = "1";
  const init = { method, headers, cache: "no-store", credentials: "same-origin" };
  if (data !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(data);
  }
  let answer;
  try {
    answer = await fetch(path, init);
  } catch (err) {
    return { status: 0, ok: false, body: { detail: "the API did not answer" } };
  }
  let payload = null;
  try {
    payload = await answer.json();
  } catch (err) {
    payload = null;
  }
  if (answer.status === 401 && ctx.me) showSignIn("Signed out: " + detail(payload));
  return { status: answer.status, ok: answer.ok, body: payload };
}

function detail(payload) {
  return (payload && payload.detail) || "refused";
}

function allows(needed) {
  return ctx.me && SCOPES.indexOf(ctx.me.scope) >= SCOPES.indexOf(needed);
}

// --- building the page: text only --------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { colspan: columns, class: "empty", text: empty })));
    return;
  }
  const frag = document.createDocumentFragment();
  for (const row of rows) frag.append(row);
  tbody.append(frag);
}

function say(text) {
  $("status").textContent = text;
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().slice(0, 16).replace("T", " ");
}

function age(seconds) {
  if (seconds < 3600) return Math.max(1, Math.round(seconds / 60)) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " d";
}

function stateBadge(state) {
  return el("span", { class: "state state-" + state.replace(/[^a-z-]/g, ""), text: state });
}

function tenantLink(name) {
  return el("a", { href: "/console/tenants/" + encodeURIComponent(name), text: name });
}

// the last backup's colour: green within the schedule's period, amber within two, red beyond
// (or when the backup is unverified or its off-site copy failed)
function backupHealth(last) {
  if (!last) return { cls: "bad", word: "never", seconds: Infinity };
  const seconds = (Date.now() - new Date(last.at).getTime()) / 1000;
  const period = ctx.me.backup_period_seconds || 86400;
  let cls = seconds < period ? "good" : seconds < 2 * period ? "warn" : "bad";
  if (!last.verified || last.offsite === "failed") cls = "bad";
  const word = age(seconds) + " ago" + (last.offsite === "failed" ? ", off-site failed" : "");
  return { cls, word, seconds };
}

function storageLimit(plan) {
  const found = ctx.plans[plan];
  return found && found.max_storage_mb ? found.max_storage_mb * 1048576 : null;
}

function sizeCell(tenant) {
  const total = tenant.database_bytes + tenant.filestore_bytes;
  const limit = storageLimit(tenant.plan);
  const cell = el("td", { class: "num" }, bytes(total));
  if (limit) {
    const ratio = Math.min(1, total / limit);
    const bar = el("span", { class: "bar-fill" + (ratio > 0.9 ? " bad" : "") });
    bar.style.width = (ratio * 100).toFixed(1) + "%"; // CSSOM: allowed by the CSP
    cell.append(
      el("span", { class: "bar", role: "img", "aria-label": Math.round(ratio * 100) + "% of " + bytes(limit) }, bar),
    );
  }
  return cell;
}

function usersText(tenant) {
  const found = ctx.plans[tenant.plan];
  const limit = found && found.max_users ? String(found.max_users) : "∞";
  const users = tenant.active_users === null || tenant.active_users === undefined ? "–" : tenant.active_users;
  return users + " / " + limit;
}

// --- signing in ----------------------------------------------------------------------------------
function showSignIn(message) {
  ctx.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("main").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  const error = $("sign-in-error");
  if (error) error.textContent = message || "";
  const field = $("token-field");
  if (field) field.focus();
}

async function signIn(event) {
  event.preventDefault();
  const field = $("token-field");
  sessionStorage.setItem(TOKEN_KEY, field.value.trim());
  field.value = "";
  const answer = await api("GET", "/v1/me");
  if (!answer.ok) return showSignIn(detail(answer.body));
  await start(answer.body);
}

async function start(me) {
  ctx.me = me;
  $("sign-in").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = me.name + " (" + me.scope + ")";
  $("main").hidden = false;
  const plans = await api("GET", "/v1/plans");
  if (plans.ok) for (const plan of plans.body.items) ctx.plans[plan.name] = plan;
  await PAGES[body.dataset.page]();
  // the actions the scope allows, shown once they work
  for (const node of document.querySelectorAll("[data-needs]")) node.hidden = !allows(node.dataset.needs);
}

// --- the confirmation dialog -------------------------------------------------------------------
// A dangerous action runs only once the operator typed the exact name (of the tenant, or of
// the token) into the dialog; the confirm button is named like the action.
function confirmAction({ title, text, label, expected, action, extra, run }) {
  const dialog = $("confirm");
  const field = $("confirm-name");
  const ok = $("confirm-ok");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-name-label").textContent = label || "Tenant name";
  $("confirm-extra").replaceChildren(...(extra || []));
  $("confirm-error").textContent = "";
  field.value = "";
  ok.textContent = action;
  ok.disabled = true;
  field.oninput = () => {
    ok.disabled = field.value !== expected;
  };
  $("confirm-cancel").onclick = () => dialog.close();
  $("confirm-form").onsubmit = async (event) => {
    event.preventDefault();
    if (field.value !== expected) return;
    ok.disabled = true;
    const answer = await run();
    if (answer.ok) {
      dialog.close();
      say(title + ": " + (answer.body && answer.body.job ? "job " + answer.body.job.id.slice(0, 8) + " queued" : "done"));
    } else {
      $("confirm-error").textContent = detail(answer.body);
      ok.disabled = false;
    }
  };
  dialog.showModal();
  field.focus();
}

function textField(id, label, attrs) {
  const input = el("input", Object.assign({ id, autocomplete: "off", spellcheck: "false" }, attrs || {}));
  return [el("label", { for: id, text: label }), input];
}

// --- jobs as they run -------------------------------------------------------------------------
const ACTIVE = new Set(["queued", "running"]);

function jobOutcome(job) {
  if (job.state === "failed") return el("span", { class: "error", text: job.error || "failed" });
  const progress = job.progress && job.progress !== job.state ? job.progress : "";
  if (job.state === "succeeded") return el("span", { text: progress || "done" });
  return el("span", { text: progress || job.state + "…" });
}

function jobRow(job, withTenant) {
  return el(
    "tr",
    { "data-job": job.id, "data-state": job.state },
    el("td", {}, el("code", { text: job.kind + " " + job.id.slice(0, 8) })),
    withTenant ? el("td", {}, job.tenant ? tenantLink(job.tenant) : "–") : null,
    el("td", {}, stateBadge(job.state)),
    el("td", {}, jobOutcome(job)),
    el("td", { text: when(job.started_at || job.created_at) }),
    withTenant ? null : el("td", { text: when(job.finished_at) }),
  );
}

// poll while something runs: every second then, every 10 s otherwise
function poller(load) {
  let timer = null;
  const tick = async () => {
    clearTimeout(timer);
    const busy = await load();
    timer = setTimeout(tick, busy ? 1000 : 10000);
  };
  return tick;
}

// --- the tenants page --------------------------------------------------------------------------
const list = { all: [], shown: [], sort: "name", desc: false, page: 0, tick: null };
const SORTS = {
  name: (t) => t.name,
  state: (t) => t.state,
  plan: (t) => t.plan,
  users: (t) => t.active_users || 0,
  size: (t) => t.database_bytes + t.filestore_bytes,
  backup: (t) => backupHealth(t.last_backup).seconds,
  domains: (t) => t.domains.length,
  created: (t) => t.created_at || "",
};

async function loadTenants() {
  const items = [];
  let offset = 0;
  while (offset !== null) {
    const answer = await api("GET", "/v1/tenants?limit=500&offset=" + offset);
    if (!answer.ok) {
      say("Tenants: " + detail(answer.body));
      return;
    }
    items.push(...answer.body.items);
    offset = answer.body.next_offset;
  }
  list.all = items;
  const states = new Set(items.map((t) => t.state));
  const plans = new Set([...items.map((t) => t.plan), ...Object.keys(ctx.plans)]);
  setOptions($("filter-state"), states);
  setOptions($("filter-plan"), plans);
  showTenants();
}

function setOptions(select, values) {
  const kept = select.value;
  select.replaceChildren(el("option", { value: "", text: "any" }));
  for (const value of [...values].sort()) select.append(el("option", { value, text: value }));
  select.value = kept;
}

function showTenants() {
  const text = $("filter-text").value.trim().toLowerCase();
  const state = $("filter-state").value;
  const plan = $("filter-plan").value;
  const key = SORTS[list.sort];
  list.shown = list.all.filter(
    (t) =>
      (!state || t.state === state) &&
      (!plan || t.plan === plan) &&
      (!text || t.name.toLowerCase().includes(text) || t.domains.some((d) => d.domain.includes(text))),
  );
  list.shown.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const order = x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : 1;
    return list.desc ? -order : order;
  });
  const pages = Math.max(1, Math.ceil(list.shown.length / PAGE_ROWS));
  list.page = Math.min(list.page, pages - 1);
  const start = list.page * PAGE_ROWS;
  const rows = list.shown.slice(start, start + PAGE_ROWS).map(tenantRow);
  fill(document.querySelector("#tenants tbody"), rows, "No tenant matches.", 8);
  $("count").textContent = list.shown.length + " of " + list.all.length + " tenants";
  $("page-info").textContent = "page " + (list.page + 1) + " of " + pages;
  $("page-prev").disabled = list.page === 0;
  $("page-next").disabled = list.page >= pages - 1;
  for (const th of document.querySelectorAll("#tenants th[data-key]")) {
    th.setAttribute("aria-sort", th.dataset.key === list.sort ? (list.desc ? "descending" : "ascending") : "none");
  }
}

function tenantRow(t) {
  const health = backupHealth(t.last_backup);
  return el(
    "tr",
    { "data-tenant": t.name },
    el("th", { scope: "row" }, tenantLink(t.name)),
    el("td", {}, stateBadge(t.state)),
    el("td", { text: t.plan }),
    el("td", { class: "num", text: usersText(t) }),
    sizeCell(t),
    el("td", {}, el("span", { class: "age " + health.cls, text: health.word })),
    el("td", { text: t.domains.map((d) => d.domain).join(", ") || "–" }),
    el("td", { text: when(t.created_at) }),
  );
}

async function loadRecentJobs() {
  const answer = await api("GET", "/v1/jobs?limit=10");
  if (!answer.ok) return false;
  const rows = answer.body.items.map((job) => jobRow(job, true));
  fill(document.querySelector("#recent-jobs tbody"), rows, "No job yet.", 5);
  return answer.body.items.some((job) => ACTIVE.has(job.state));
}

async function createTenant(event) {
  event.preventDefault();
  const name = $("create-name").value.trim();
  const plan = $("create-plan").value;
  const answer = await api("POST", "/v1/tenants", plan ? { name, plan } : { name });
  if (!answer.ok) {
    say("Create " + name + ": " + detail(answer.body));
    return;
  }
  $("create-name").value = "";
  say("Create " + name + ": job queued");
  list.tick();
  followJob(answer.body.job.id, $("create-job"));
}

// one job followed live until it ends: its progress, then its outcome
async function followJob(id, where) {
  const answer = await api("GET", "/v1/jobs/" + encodeURIComponent(id));
  if (!answer.ok) return;
  const job = answer.body;
  const line = el(
    "p",
    { class: "job-line", "data-job": job.id, "data-state": job.state },
    el("code", { text: job.kind + " " + (job.tenant || "") }),
    " ",
    stateBadge(job.state),
    " ",
    jobOutcome(job),
  );
  if (job.result && job.result.admin_password) {
    line.append(" — admin password (shown once): ", el("code", { text: job.result.admin_password }));
  }
  const old = where.querySelector('[data-job="' + CSS.escape(job.id) + '"]');
  if (old) old.replaceWith(line);
  else where.prepend(line);
  if (ACTIVE.has(job.state)) setTimeout(() => followJob(id, where), 700);
  else {
    loadTenants();
    list.tick();
  }
}

async function tenantsPage() {
  $("filter-text").addEventListener("input", () => ((list.page = 0), showTenants()));
  $("filter-state").addEventListener("change", () => ((list.page = 0), showTenants()));
  $("filter-plan").addEventListener("change", () => ((list.page = 0), showTenants()));
  $("page-prev").addEventListener("click", () => ((list.page -= 1), showTenants()));
  $("page-next").addEventListener("click", () => ((list.page += 1), showTenants()));
  for (const th of document.querySelectorAll("#tenants th[data-key]")) {
    th.querySelector("button").addEventListener("click", () => {
      list.desc = list.sort === th.dataset.key ? !list.desc : false;
      list.sort = th.dataset.key;
      showTenants();
    });
  }
  if (allows("write")) {
    const select = $("create-plan");
    for (const name of Object.keys(ctx.plans).sort()) select.append(el("option", { value: name, text: name }));
    select.value = "default";
    $("create-form").addEventListener("submit", createTenant);
  }
  list.tick = poller(loadRecentJobs);
  await loadTenants();
  list.tick();
}

// --- a tenant's page ---------------------------------------------------------------------------
const tenant = { name: body.dataset.tenant, view: null, tick: null };
const path = () => "/v1/tenants/" + encodeURIComponent(tenant.name);

async function loadTenant() {
  const answer = await api("GET", path());
  if (!answer.ok) {
    $("figures").replaceChildren(el("p", { class: "error", text: detail(answer.body) }));
    return false;
  }
  const t = (tenant.view = answer.body);
  const health = backupHealth(t.last_backup);
  const figures = [
    ["State", stateBadge(t.state)],
    ["Reason", t.state_reason || "–"],
    ["Plan", t.plan],
    ["Users", usersText(t)],
    ["Database", bytes(t.database_bytes)],
    ["Filestore", bytes(t.filestore_bytes)],
    ["Last backup", el("span", { class: "age " + health.cls, text: health.word })],
    ["Odoo", t.odoo_version || "–"],
    ["URL", t.url ? el("a", { href: t.url, rel: "noopener noreferrer", text: t.url }) : "–"],
    ["Created", when(t.created_at)],
  ];
  $("figures").replaceChildren(...figures.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  $("act-suspend").hidden = t.state !== "active";
  $("act-resume").hidden = t.state !== "suspended";
  return true;
}

async function loadJobs() {
  const answer = await api("GET", "/v1/jobs?limit=20&tenant=" + encodeURIComponent(tenant.name));
  if (!answer.ok) return false;
  const items = answer.body.items;
  fill(document.querySelector("#jobs tbody"), items.map((job) => jobRow(job, false)), "No job ran on it.", 5);
  const busy = items.some((job) => ACTIVE.has(job.state));
  if (tenant.busy && !busy) await Promise.all([loadTenant(), loadBackups(), loadSizes()]);
  tenant.busy = busy;
  return busy;
}

async function loadBackups() {
  const answer = await api("GET", path() + "/backups");
  const tbody = document.querySelector("#backups tbody");
  if (!answer.ok) return fill(tbody, [], detail(answer.body), 6);
  const rows = answer.body.items
    .slice()
    .sort((a, b) => (a.taken_at < b.taken_at ? 1 : -1))
    .map((b) =>
      el(
        "tr",
        {},
        el("td", { text: when(b.taken_at) }),
        el("td", { text: b.where }),
        el("td", { text: b.format || "–" }),
        el("td", { class: "num", text: bytes(b.size_bytes) }),
        el("td", {}, el("span", { class: b.verified ? "good" : "bad", text: b.verified ? "verified" : "not verified" })),
        el("td", {}, allows("admin") ? el("button", { type: "button", class: "danger", text: "Restore", on: { click: () => askRestore(b) } }) : null),
      ),
    );
  fill(tbody, rows, "No backup yet.", 6);
}

async function loadDomains() {
  let answer = await api("GET", path() + "/domains");
  let items;
  if (answer.ok) items = answer.body.items;
  else if (answer.status === 404 && tenant.view) items = tenant.view.domains; // route not there yet
  else items = [];
  const rows = items.map((d) =>
    el(
      "tr",
      {},
      el("td", { text: d.domain + (d.primary ? " (primary)" : "") }),
      el("td", {}, el("span", { class: d.verified ? "good" : "warn", text: d.verified ? "verified" : "waiting for DNS" })),
      el("td", {}, el("code", { text: d.record ? d.record.name + " " + d.record.type + " " + d.record.value : "–" })),
      el("td", {}, allows("write") && !d.verified ? el("button", { type: "button", text: "Verify", on: { click: () => verifyDomain(d.domain) } }) : null),
    ),
  );
  fill(document.querySelector("#domains tbody"), rows, "No custom domain.", 4);
}

async function verifyDomain(domain) {
  const answer = await api("POST", path() + "/domains/" + encodeURIComponent(domain) + "/verify");
  say("Verify " + domain + ": " + (answer.ok ? "checked" : detail(answer.body)));
  loadDomains();
}

// the size over the last 30 days: an SVG drawn with DOM calls (no inline anything)
async function loadSizes() {
  const chart = $("size-chart");
  const answer = await api("GET", path() + "/sizes?days=30");
  if (!answer.ok) {
    chart.replaceChildren(el("p", { class: "hint", text: answer.status === 404 ? "Size history is not available on this API." : detail(answer.body) }));
    return;
  }
  const days = answer.body.items;
  if (days.length < 2) {
    chart.replaceChildren(el("p", { class: "hint", text: "Not enough days sampled yet." }));
    return;
  }
  chart.replaceChildren(sizeSvg(days));
}

function sizeSvg(days) {
  const NS = "http://www.w3.org/2000/svg";
  const W = 320, H = 120, P = 4;
  const totals = days.map((d) => d.db_bytes + d.filestore_bytes);
  const top = Math.max(...totals, 1);
  const point = (v, i) => [P + (i * (W - 2 * P)) / (days.length - 1), H - P - (v / top) * (H - 2 * P)];
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("preserveAspectRatio", "none"); // as wide as its panel
  svg.setAttribute("role", "img");
  const first = totals[0], last = totals[totals.length - 1];
  svg.setAttribute("aria-label", "from " + bytes(first) + " on " + days[0].day + " to " + bytes(last) + " on " + days[days.length - 1].day);
  for (const [values, cls] of [[totals, "line-total"], [days.map((d) => d.db_bytes), "line-db"]]) {
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", values.map((v, i) => point(v, i).join(",")).join(" "));
    line.setAttribute("class", cls);
    svg.append(line);
  }
  const legend = el("p", { class: "legend" }, el("span", { class: "key-total", text: "database + filestore" }), " ", el("span", { class: "key-db", text: "database" }), " · top " + bytes(top));
  return el("div", {}, svg, legend);
}

function askRestore(backup) {
  confirmAction({
    title: "Restore " + tenant.name,
    text: "Replace " + tenant.name + " with the backup of " + when(backup.taken_at) + " (" + backup.id + "). A last backup of it is kept. Type the tenant's name to confirm.",
    expected: tenant.name,
    action: "Restore",
    run: () => action("POST", path() + "/restore", { backup: backup.id }),
  });
}

async function action(method, url, data) {
  const answer = await api(method, url, data);
  if (answer.ok) {
    tenant.busy = true;
    await loadTenant();
    tenant.tick();
  }
  return answer;
}

function tenantActions() {
  const name = tenant.name;
  $("act-suspend").addEventListener("click", () =>
    confirmAction({
      title: "Suspend " + name,
      text: "Its users get the suspended page until it is resumed. Type the tenant's name to confirm.",
      expected: name,
      action: "Suspend",
      extra: textField("confirm-reason", "Reason", { required: true, maxlength: 500 }),
      run: () => action("POST", path() + "/suspend", { reason: $("confirm-reason").value.trim() }),
    }),
  );
  $("act-resume").addEventListener("click", () =>
    confirmAction({
      title: "Resume " + name,
      text: "Its users get their Odoo back. Type the tenant's name to confirm.",
      expected: name,
      action: "Resume",
      run: () => action("POST", path() + "/resume", {}),
    }),
  );
  $("act-delete").addEventListener("click", () =>
    confirmAction({
      title: "Delete " + name,
      text: "Its database and filestore go, after a last backup. Type the tenant's name to confirm.",
      expected: name,
      action: "Delete",
      run: () => action("DELETE", path()),
    }),
  );
  $("act-backup").addEventListener("click", async () => {
    const answer = await action("POST", path() + "/backups", {});
    say("Back up: " + (answer.ok ? "job queued" : detail(answer.body)));
  });
  $("act-clone").addEventListener("click", () =>
    confirmAction({
      title: "Clone " + name + " to staging",
      text: "A neutralized copy (no mail, no crons) under the name below. Type the tenant's name to confirm.",
      expected: name,
      action: "Clone",
      extra: textField("confirm-target", "Name of the copy", { value: (name + "-staging").slice(0, 50) }),
      run: () => action("POST", path() + "/clone", { target: $("confirm-target").value.trim() }),
    }),
  );
}

async function tenantPage() {
  if (allows("write")) tenantActions();
  await loadTenant();
  tenant.tick = poller(loadJobs);
  await Promise.all([loadBackups(), loadDomains(), loadSizes()]);
  tenant.tick();
}

// --- plans, webhooks, tokens -------------------------------------------------------------------
async function plansPage() {
  const rows = Object.values(ctx.plans).map((p) =>
    el(
      "tr",
      {},
      el("th", { scope: "row", text: p.name }),
      el("td", { class: "num", text: p.max_users ? String(p.max_users) : "∞" }),
      el("td", { class: "num", text: p.max_storage_mb ? bytes(p.max_storage_mb * 1048576) : "∞" }),
      el("td", { text: p.trial_days ? p.trial_days + " days" : "–" }),
      el("td", { text: p.suspend_over_storage ? "suspended" : "an event" }),
      el("td", { text: p.modules.join(", ") || "–" }),
    ),
  );
  fill(document.querySelector("#plans tbody"), rows, "No plan.", 6);
}

async function webhooksPage() {
  poller(loadWebhooks)();
}

// deliveries as they happen: asked again every second while one is pending
async function loadWebhooks() {
  const where = $("webhooks");
  const answer = await api("GET", "/v1/webhooks");
  if (!answer.ok) {
    where.replaceChildren(el("p", { class: "hint", text: answer.status === 404 ? "Webhooks are not available on this API." : detail(answer.body) }));
    return false;
  }
  const items = answer.body.items;
  if (!items.length) where.replaceChildren(el("p", { class: "hint", text: "No webhook." }));
  else where.replaceChildren(...items.map(webhookPanel));
  return items.some((hook) => (hook.deliveries || []).some((d) => d.state === "pending"));
}

function webhookPanel(hook) {
  const rows = (hook.deliveries || []).map((d) =>
    el(
      "tr",
      {},
      el("td", { text: d.event_type }),
      el("td", {}, stateBadge(d.state)),
      el("td", { class: "num", text: String(d.attempts) }),
      el("td", { class: "num", text: d.last_status === null || d.last_status === undefined ? "–" : String(d.last_status) }),
      el("td", { class: d.last_error ? "error" : "", text: d.last_error || "–" }),
      el("td", { text: when(d.delivered_at || d.next_attempt_at) }),
    ),
  );
  const table = el(
    "table",
    { class: "grid" },
    el("thead", {}, el("tr", {}, ...["Event", "State", "Attempts", "Status", "Error", "When"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody"),
  );
  fill(table.tBodies[0], rows, "No delivery yet.", 6);
  return el(
    "section",
    { class: "panel" },
    el("h2", {}, el("code", { text: hook.url })),
    el("p", { class: "hint", text: "Events: " + ((hook.events || []).join(", ") || "all") + " · since " + when(hook.created_at) }),
    table,
  );
}

async function tokensPage() {
  const answer = await api("GET", "/v1/tokens");
  const tbody = document.querySelector("#tokens tbody");
  if (!answer.ok) return fill(tbody, [], detail(answer.body), 7);
  const rows = answer.body.items.map((t) =>
    el(
      "tr",
      { "data-token": t.name },
      el("th", { scope: "row", text: t.name }),
      el("td", { text: t.scope }),
      el("td", { text: when(t.created_at) }),
      el("td", { text: when(t.expires_at) }),
      el("td", { text: when(t.last_used_at) }),
      el("td", { text: when(t.revoked_at) }),
      el("td", {}, allows("admin") && !t.revoked_at ? el("button", { type: "button", class: "danger", text: "Revoke", on: { click: () => askRevoke(t.name) } }) : null),
    ),
  );
  fill(tbody, rows, "No token.", 7);
}

function askRevoke(name) {
  confirmAction({
    title: "Revoke " + name,
    text: "Whatever uses this token is refused from now on. Type the token's name to confirm.",
    label: "Token name",
    expected: name,
    action: "Revoke",
    run: async () => {
      const answer = await api("POST", "/v1/tokens/" + encodeURIComponent(name) + "/revoke");
      if (answer.ok) tokensPage();
      return answer;
    },
  });
}

const PAGES = { tenants: tenantsPage, tenant: tenantPage, plans: plansPage, webhooks: webhooksPage, tokens: tokensPage };

// --- start -------------------------------------------------------------------------------------
async function boot() {
  const form = $("sign-in-form");
  if (form) form.addEventListener("submit", signIn);
  const out = $("sign-out");
  if (out) out.addEventListener("click", () => showSignIn(""));
  if (!SSO && !sessionStorage.getItem(TOKEN_KEY)) return showSignIn("");
  const answer = await api("GET", "/v1/me");
  if (!answer.ok) return showSignIn(SSO ? "" : detail(answer.body));
  await start(answer.body);
}

boot();
