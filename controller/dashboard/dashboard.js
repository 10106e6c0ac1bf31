// The operator dashboard: reads the controller's JSON API with the operator's token.
// The token lives in this tab's sessionStorage only (gone when the tab closes) and is sent
// as an Authorization header, never in a URL or a cookie. Everything the API returns is
// written with textContent, never as HTML.
"use strict";

const KEY = "odoo-saas-kit.token";
const PAGE = 200;
const FAILED_SHOWN = 50;
const MAX_PAGES = 25;  // at most 5,000 operations of one state are read for one refresh
const REFRESH_MS = 15000;

const $ = (id) => document.getElementById(id);
let timer = null;
let loading = false;

class ApiError extends Error {
  constructor(status, problem) {
    super(`${status} ${problem.title || ""}: ${problem.detail || ""}`.trim());
    this.status = status;
  }
}

async function api(path) {
  const response = await fetch(path, {
    headers: {"Authorization": `Bearer ${sessionStorage.getItem(KEY) || ""}`, "Accept": "application/json"},
    cache: "no-store",
    credentials: "omit",
  });
  let body = {};
  try {
    body = await response.json();
  } catch (_ignored) {
    body = {title: response.statusText, detail: "the controller did not answer with JSON"};
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// Every item of a paged list; `after` is the previous page's `next`.
async function all(path) {
  const items = [];
  let after = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const separator = path.includes("?") ? "&" : "?";
    const body = await api(`${path}${separator}limit=${PAGE}${after === null ? "" : `&after=${encodeURIComponent(after)}`}`);
    items.push(...body.items);
    if (body.next === null || body.next === undefined) return {items, complete: true};
    after = body.next;
  }
  return {items, complete: false};
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function badge(row, text, kind, title) {
  const td = row.insertCell();
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  if (title) span.title = title;
  td.appendChild(span);
  return td;
}

function hours(value) {
  if (value === null || value === undefined) return "—";
  if (value < 1) return `${Math.round(value * 60)} min`;
  if (value < 48) return `${value.toFixed(value < 10 ? 1 : 0)} h`;
  return `${(value / 24).toFixed(1)} d`;
}

function since(iso) {
  if (!iso) return "—";
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  return `${hours(seconds / 3600)} ago`;
}

function fill(table, rows, render, empty) {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const item of rows) render(body.insertRow(), item);
  if (!rows.length) {
    const row = body.insertRow();
    row.className = "empty";
    const td = cell(row, empty);
    td.colSpan = table.tHead.rows[0].cells.length;
  }
}

function renderTenants({items, complete}) {
  $("tenants-count").textContent = `${items.length}${complete ? "" : "+"}`;
  fill($("tenants"), items, (row, tenant) => {
    row.dataset.tenant = tenant.name;
    cell(row, tenant.name, "name");
    badge(row, tenant.state, `state-${tenant.state}`);
    cell(row, tenant.plan);
    const database = tenant.database || {};
    cell(row, database.strategy === "dedicated" ? "dedicated" : database.server);
    const td = row.insertCell();
    const url = (tenant.urls || [])[0];
    if (url) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      td.appendChild(link);
    } else {
      td.textContent = "—";
    }
    const health = tenant.health || {status: "unknown", detail: ""};
    const healthCell = badge(row, health.status, `health-${health.status}`, health.detail);
    if (health.status !== "ok" && health.detail) {
      const detail = document.createElement("div");
      detail.className = "detail";
      detail.textContent = health.detail;
      healthCell.appendChild(detail);
    }
    const backup = tenant.last_backup;
    cell(row, backup ? `${since(backup.taken_at)} (${backup.kind})` : "none", backup ? "" : "muted");
  }, "No tenants.");
}

function renderServers(servers) {
  const note = $("servers-note");
  if (servers === null) {
    $("servers-count").textContent = "";
    fill($("servers"), [], () => {}, "Not visible to this token's scope (a reseller's).");
    return;
  }
  $("servers-count").textContent = String(servers.length);
  fill($("servers"), servers, (row, server) => {
    row.dataset.server = server.name;
    cell(row, server.name, "name");
    const td = row.insertCell();
    const full = server.capacity ? server.tenants / server.capacity : 1;
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = server.capacity || 1;
    meter.value = server.tenants;
    meter.high = (server.capacity || 1) * 0.8;
    td.appendChild(meter);
    td.append(` ${server.tenants} / ${server.capacity}${full >= 1 ? " full" : ""}`);
    const connections = server.connections || {};
    cell(row, connections.limits);
    cell(row, connections.reserved);
    cell(row, connections.max_connections);
    cell(row, connections.free, connections.free !== null && connections.free <= 0 ? "warn" : "");
  }, "No shared servers registered.");
  note.hidden = false;
  note.textContent = "From the ledger: tenants placed and their roles' connection limits, against the capacity and " +
    "max_connections (less the reserved connections) recorded when each server was registered.";
}

function renderOperations(running, failed) {
  $("running-count").textContent = String(running.length);
  fill($("running"), running, (row, operation) => {
    row.dataset.operation = operation.id;
    cell(row, operation.id, "mono");
    cell(row, operation.kind);
    cell(row, operation.tenant, "name");
    badge(row, operation.state, `op-${operation.state}`);
    cell(row, operation.attempts);
    cell(row, since(operation.created_at));
    cell(row, (operation.steps || []).slice(-1)[0], "step");
  }, "Nothing queued or running.");
  const newest = failed.slice(-FAILED_SHOWN).reverse();
  $("failed-count").textContent = failed.length > FAILED_SHOWN ? `${FAILED_SHOWN} newest of ${failed.length}` : String(failed.length);
  fill($("failed"), newest, (row, operation) => {
    row.dataset.operation = operation.id;
    cell(row, operation.id, "mono");
    cell(row, operation.kind);
    cell(row, operation.tenant, "name");
    cell(row, since(operation.finished_at));
    cell(row, operation.error, "error-text");
  }, "No failed operations.");
}

function showLogin(message) {
  clearInterval(timer);
  timer = null;
  $("board").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("token").focus();
}

async function refresh() {
  if (loading) return;
  loading = true;
  const problem = $("board-error");
  try {
    const [tenants, servers, running, queued, failed] = await Promise.all([
      all("/v1/tenants?include=backup"),
      api("/v1/servers").then((body) => body.items, (error) => {
        if (error.status === 403) return null;
        throw error;
      }),
      all("/v1/operations?state=running"),
      all("/v1/operations?state=queued"),
      all("/v1/operations?state=failed"),
    ]);
    renderTenants(tenants);
    renderServers(servers);
    renderOperations([...running.items, ...queued.items], failed.items);
    problem.hidden = true;
    $("login").hidden = true;
    $("board").hidden = false;
    $("session").hidden = false;
    $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
    if (timer === null) timer = setInterval(() => document.hidden || refresh(), REFRESH_MS);
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem(KEY);
      showLogin(`The controller refused this token: ${error.message}`);
    } else if ($("board").hidden) {
      showLogin(`Could not read the API: ${error.message}`);
    } else {
      problem.hidden = false;
      problem.textContent = `Could not refresh: ${error.message}`;
    }
  } finally {
    loading = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("token");
    sessionStorage.setItem(KEY, field.value.trim());
    field.value = "";
    refresh();
  });
  $("refresh").addEventListener("click", () => refresh());
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showLogin("");
  });
  if (sessionStorage.getItem(KEY)) refresh();
  else showLogin("");
});
