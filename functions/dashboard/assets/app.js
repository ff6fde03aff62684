// Horizon's dashboard: a small single-page app over /horizon/api. Views are chosen by the path
// (/horizon/{view?}) and a list's filters by the query string, so that any view can be shared
// and survives a reload. Each view renders from the API and polls it (overview every 5 s, lists
// 3 s); the header's status is polled on every view.
import { esc, renderDocument, pageSize, allChunks, pageNumbers, hasPages } from "./document.js";

const API = "/horizon/api";
const view = document.getElementById("view");
const errorBox = document.getElementById("error");
let timer = null;

const when = (s) => (s ? new Date(s * 1000).toLocaleString() : "");
const enc = encodeURIComponent;
const secs = (s) => (s == null ? "" : s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(s < 10 ? 2 : 1)} s` : `${(s / 60).toFixed(1)} min`);
const WAIT_HELP = "Wait: how long the jobs waiting in this queue would take to clear — its length times the average runtime of its recent jobs, shared among the workers reading it.";

async function call(path, options = {}) {
  const resp = await fetch(API + path, { credentials: "same-origin", headers: { accept: "application/json", ...(options.body ? { "content-type": "application/json" } : {}) }, ...options });
  if (resp.status === 403) location.href = "/horizon/login";
  return resp;
}

async function api(path, options = {}) {
  const resp = await call(path, options);
  const text = await resp.text();
  const body = text && resp.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!resp.ok) throw new Error((body && (body.detail || body.title)) || resp.statusText);
  return body;
}

function poll(render, every) {
  clearTimeout(timer);
  const token = {};
  poll.current = token;
  const run = async () => {
    try {
      await render();
      errorBox.hidden = true;
    } catch (e) {
      errorBox.textContent = e.message;
      errorBox.hidden = false;
    }
    if (poll.current === token && every) timer = setTimeout(run, every);
  };
  run();
}

// A view whose controls (forms) must survive polling renders its frame once, then only its
// results; otherwise a poll would wipe what the operator is typing.
function frame(key, html) {
  if (view.dataset.frame === key) return false;
  view.innerHTML = html;
  view.paintedHtml = null;
  view.dataset.frame = key;
  return true;
}

// An action's handler: its failure is shown, not lost in the console.
const guard = (fn) => async (e) => {
  try {
    await fn(e);
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.hidden = false;
  }
};

// Writes HTML only when it changed, so that a poll does not take the keyboard focus away from a
// button that is still there.
function paint(el, html) {
  if (el.paintedHtml === html) return false;
  el.innerHTML = html;
  el.paintedHtml = html;
  return true;
}

function go(path) {
  history.pushState({}, "", path);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (a && !e.metaKey && !e.ctrlKey && !e.shiftKey) {
    e.preventDefault();
    go(a.getAttribute("href"));
  }
});
window.addEventListener("popstate", route);

// A confirmation that says what will happen; resolves true when confirmed.
function confirmDialog(message, action) {
  const dialog = document.getElementById("confirm");
  dialog.querySelector("[data-message]").textContent = message;
  dialog.querySelector("[data-confirm]").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
}

// The header's status, live on every view.
async function headerStatus() {
  try {
    const stats = await api("/stats");
    const status = document.getElementById("status");
    status.textContent = stats.status;
    status.className = `badge ${stats.status}`;
  } catch { /* the view shows errors */ }
  setTimeout(headerStatus, 5000);
}

function route() {
  view.dataset.frame = "";
  view.dataset.extra = "";
  view.paintedHtml = null;
  const parts = location.pathname.replace(/^\/horizon\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = parts;
  let nav = "dashboard";
  if (!first || first === "dashboard") poll(overview, 5000);
  else if (first === "monitoring" && second) (nav = "monitoring"), poll(() => jobList({ tag: second }), 3000);
  else if (first === "monitoring") (nav = "monitoring"), poll(monitoring, 3000);
  else if (first === "metrics") (nav = "metrics"), poll(() => metrics(second, third), 10000);
  else if (first === "failed" && second) (nav = "failed"), poll(() => jobDetail(second), 3000);
  else if (first === "failed") (nav = "failed"), poll(() => jobList({ list: "failed" }), 3000);
  else if (first === "jobs" && ["recent", "pending", "completed"].includes(second)) (nav = second), poll(() => jobList({ list: second }), 3000);
  else if (first === "jobs" && second) (nav = "recent"), poll(() => jobDetail(second), 3000);
  else view.innerHTML = `<p>No view ${esc(first)}.</p>`;
  document.querySelectorAll("nav a").forEach((a) => {
    a.classList.toggle("active", a.dataset.nav === nav);
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
}

function card(label, value, key, help) {
  return `<div class="card"${help ? ` title="${esc(help)}"` : ""}><small>${esc(label)}${help ? ' <span class="help" aria-hidden="true">?</span>' : ""}</small><strong data-stat="${esc(key)}">${esc(value)}</strong></div>`;
}

const scroll = (table) => `<div class="scroll">${table}</div>`;

async function overview() {
  const [stats, workload, masters, outbox] = await Promise.all([api("/stats"), api("/workload"), api("/masters"), api("/outbox")]);
  const wait = Object.entries(stats.wait || {})[0];
  let html = `<h2>Overview</h2><div class="cards">
    ${card("Jobs per minute", stats.jobsPerMinute, "jobsPerMinute")}
    ${card(`Jobs past ${stats.periods.recentJobs} min`, stats.recentJobs, "recentJobs")}
    ${card(`Failed past ${stats.periods.failedJobs} min`, stats.failedJobs, "failedJobs")}
    ${card("Status", stats.status, "status")}
    ${card("Total processes", stats.processes, "processes")}
    ${card(wait ? `Max wait (${wait[0].replace(/^sqs:/, "")})` : "Max wait", wait ? `${wait[1]} s` : "-", "wait", WAIT_HELP)}
    ${card("Max runtime", stats.queueWithMaxRuntime || "-", "queueWithMaxRuntime")}
    ${card("Max throughput", stats.queueWithMaxThroughput || "-", "queueWithMaxThroughput")}
  </div>
  <h2>Current workload</h2>
  ${scroll(`<table data-table="workload"><thead><tr><th>Queue</th><th>Jobs</th><th>Processes</th><th><abbr title="${esc(WAIT_HELP)}">Wait</abbr></th><th></th></tr></thead><tbody>
  ${workload.map((q) => `<tr data-queue="${esc(q.name)}"><td>${esc(q.name)} ${q.paused ? '<span class="badge paused">paused</span>' : ""}</td>
    <td class="num" data-field="length">${esc(q.length)}</td><td class="num" data-field="processes">${esc(q.processes)}</td><td class="num">${esc(q.wait)} s</td>
    <td class="actions"><button class="secondary" data-pause="${esc(q.name)}" data-paused="${esc(q.paused)}">${q.paused ? "Continue" : "Pause"}</button>
      <button class="danger" data-purge="${esc(q.name)}" data-length="${esc(q.length)}">Purge</button></td></tr>`).join("")}
  </tbody></table>`)}
  <p class="muted">${esc(WAIT_HELP)}</p>`;
  if (outbox.records.length) {
    html += `<h2>Parked outbox records <button class="secondary" id="replay-parked">Replay all</button></h2>
    <p class="muted">Writes whose effects (webhooks, counts) could not be applied; the stream went on past them. Replay them once their cause is fixed.</p>
    ${scroll(`<table data-table="outbox"><thead><tr><th>Record</th><th>Job</th><th>Parked</th><th>Replays</th><th>Error</th></tr></thead><tbody>
    ${outbox.records.map((r) => `<tr><td>${esc(r.id)}</td><td>${r.job ? `<a href="/horizon/jobs/${enc(r.job)}">${esc(r.job)}</a>` : "-"}</td>
      <td>${esc(r.parkedAt)}</td><td class="num">${esc(r.replays)}</td><td>${esc(r.error)}</td></tr>`).join("")}
    </tbody></table>`)}`;
  }
  for (const master of Object.values(masters || {})) {
    html += `<h2>${esc(master.name)} <span class="badge ${esc(master.status)}">${esc(master.status)}</span></h2>
    ${scroll(`<table><thead><tr><th>Supervisor</th><th>Queue</th><th>Processes</th><th>Max processes</th><th>Tries</th><th>Timeout</th><th>Memory</th><th>Status</th></tr></thead><tbody>
    ${master.supervisors.map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.options.queue)}</td>
      <td class="num">${esc(Object.values(s.processes).reduce((a, b) => a + b, 0))}</td><td class="num">${esc(s.options.maxProcesses ?? "")}</td>
      <td class="num">${esc(s.options.maxTries ?? "")}</td><td class="num">${esc(s.options.timeout ?? "")} s</td><td class="num">${esc(s.options.memory ?? "")} MB</td>
      <td><span class="badge ${esc(s.status)}">${esc(s.status)}</span></td></tr>`).join("")}
    </tbody></table>`)}`;
  }
  if (document.querySelector("dialog[open]")) return; // do not redraw under a confirmation
  view.dataset.frame = "overview";
  paint(view, html);
}

// The overview's queue buttons (one handler for every redraw).
view.addEventListener("click", guard(async (e) => {
  const pause = e.target.closest("button[data-pause]");
  const purge = e.target.closest("button[data-purge]");
  if (e.target.closest("#replay-parked")) {
    const r = await api("/outbox/replay", { method: "POST" });
    flash(`Asked for ${r.asked} parked record${r.asked === 1 ? "" : "s"} to be replayed: each leaves the list once applied.`);
    await overview();
  } else if (pause) {
    pause.disabled = true;
    await api(`/queues/${enc(pause.dataset.pause)}/${pause.dataset.paused === "true" ? "continue" : "pause"}`, { method: "POST" });
    await overview();
  } else if (purge) {
    const queue = purge.dataset.purge;
    const [q] = (await api("/workload")).filter((w) => w.name === queue);
    const n = q ? q.length : Number(purge.dataset.length);
    const ok = await confirmDialog(`Purge queue ${queue}? ${n} message${n === 1 ? "" : "s"} will be deleted; the jobs still waiting in it fail as "purged" (their clients are told). Jobs already running finish.`, `Purge ${n} message${n === 1 ? "" : "s"}`);
    if (!ok) return;
    const r = await api(`/queues/${enc(queue)}/purge`, { method: "POST" });
    flash(`Purged ${r.queue}: ${r.messages} messages deleted, ${r.jobsFailed} waiting jobs failed as purged${r.more ? " (more are still waiting: purge again)" : ""}.`);
    await overview();
  }
}));

function flash(text) {
  const box = document.getElementById("flash");
  box.textContent = text;
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Lists and their filters (in the URL's query string)

const FILTERS = [
  ["tag", "tag", "text"], ["status", "status", "select"], ["queue", "queue", "text"], ["type", "job type", "select"],
  ["account", "account", "text"], ["q", "error text", "text"], ["from", "from", "datetime-local"], ["until", "until", "datetime-local"],
];
const STATUSES = ["", "pending", "reserved", "completed", "failed"];
const TYPES = ["", "extract/pdf", "extract/image", "extract/document"];

function filtersFromUrl() {
  const p = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map(([k]) => [k, p.get(k) || ""]));
}

// The API's query: times from the form's local date-times to unix ms.
function apiQuery(filters) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) {
    if (!v) continue;
    q.set(k, k === "from" || k === "until" ? String(new Date(v).getTime()) : v);
  }
  return q;
}

function filterForm(filters, omit = []) {
  const field = ([k, label, kind]) => {
    if (omit.includes(k)) return "";
    const id = `f-${k}`;
    if (kind === "select") {
      const options = k === "status" ? STATUSES : TYPES;
      return `<label for="${id}">${esc(label)}<select id="${id}" name="${k}">${options.map((o) => `<option value="${esc(o)}"${o === filters[k] ? " selected" : ""}>${esc(o || "any")}</option>`).join("")}</select></label>`;
    }
    return `<label for="${id}">${esc(label)}<input id="${id}" name="${k}" type="${kind}" value="${esc(filters[k])}"${kind === "text" ? ` placeholder="${esc(label)}"` : ""}></label>`;
  };
  return `<form class="filters" id="search" role="search">${FILTERS.map(field).join("")}
    <span class="buttons"><button type="submit">Filter</button><button type="reset" class="secondary" id="clear">Clear</button></span></form>`;
}

function jobsTable(jobs, { selectable, more } = {}) {
  if (!jobs.length) return `<p class="muted" data-empty>${more ? "None matched among the jobs read so far: Load more reads on." : "No jobs."}</p>`;
  return scroll(`<table data-table="jobs"><thead><tr><th>Job</th><th>Type</th><th>Tags</th><th>Queued</th><th>Status</th><th>Runtime</th>${selectable ? "<th></th>" : ""}</tr></thead><tbody>
  ${jobs.map((j) => {
    const end = j.completed_at || j.failed_at;
    const runtime = end && j.reserved_at ? secs(end - j.reserved_at) : "";
    const base = j.status === "failed" ? "/horizon/failed" : "/horizon/jobs";
    return `<tr data-job="${esc(j.id)}"><td><a href="${base}/${esc(j.id)}" data-link>${esc(j.id)}</a>${j.retry_of ? ` <span class="muted">retry of ${esc(j.retry_of)}</span>` : ""}</td>
      <td>${esc(j.name)}</td><td>${j.payload.tags.map((t) => `<span class="badge">${esc(t)}</span>`).join(" ")}</td>
      <td>${when(j.payload.pushedAt)}</td><td><span class="badge ${esc(j.status)}">${esc(j.status)}</span></td><td>${runtime}</td>
      ${selectable ? `<td class="actions"><button class="secondary" data-retry-one="${esc(j.id)}">Retry</button><button class="danger" data-delete-one="${esc(j.id)}">Delete</button></td>` : ""}</tr>`;
  }).join("")}</tbody></table>`);
}

const TITLES = { recent: "Recent jobs", pending: "Pending jobs", completed: "Completed jobs", failed: "Failed jobs" };

// A list (`list`) or a monitored tag's jobs (`tag`), filtered by the URL's query.
async function jobList({ list, tag }) {
  const filters = filtersFromUrl();
  const key = `${list || "tag:" + tag}?${location.search}`;
  const failed = list === "failed";
  const q = apiQuery(filters);
  const path = tag ? `/monitoring/${enc(tag)}?${q}` : `/jobs/${list}?${q}`;
  if (frame(key, `<h2>${esc(tag ? `Tag ${tag}` : TITLES[list])} <span class="muted" data-total></span></h2>
    ${filterForm(filters, tag ? ["tag"] : [])}
    ${failed ? `<p class="bulk"><button type="button" class="secondary" id="retry-all">Retry all matching</button>
      <button type="button" class="danger" id="delete-all">Delete all matching</button></p>` : ""}
    <p id="bulk" class="muted" aria-live="polite"></p><div id="results"></div>
    <p><button type="button" class="secondary" id="more" hidden>Load more</button></p>
    ${tag ? `<h2>Failed with this tag <span class="muted" data-failed-total></span></h2><div id="failed-results"></div>` : ""}`)) {
    const form = document.getElementById("search");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const next = new URLSearchParams();
      for (const [k] of FILTERS) {
        const el = form.elements[k];
        if (el && el.value.trim()) next.set(k, el.value.trim());
      }
      go(`${location.pathname}${next.toString() ? `?${next}` : ""}`);
    });
    form.addEventListener("reset", (e) => { e.preventDefault(); go(location.pathname); });
    if (failed) {
      const chosen = () => { const c = apiQuery(filtersFromUrl()); return c.toString() ? c : new URLSearchParams({ all: "true" }); };
      const scope = () => (apiQuery(filtersFromUrl()).toString() ? "that match this filter" : "— every failed job");
      document.getElementById("retry-all").addEventListener("click", guard(async () => {
        const total = view.querySelector("[data-total]").textContent;
        if (!(await confirmDialog(`Retry the ${total} failed jobs ${scope()}? Jobs retried already are skipped.`, "Retry them"))) return;
        const r = await api(`/jobs/retry?${chosen()}`, { method: "POST" });
        document.getElementById("bulk").textContent = `Retried ${r.retried}; ${r.skippedAlreadyRetried} already retried${r.more ? "; more match: run it again" : ""}.`;
      }));
      document.getElementById("delete-all").addEventListener("click", guard(async () => {
        const total = view.querySelector("[data-total]").textContent;
        if (!(await confirmDialog(`Delete the ${total} failed jobs ${scope()}? Their results and delivery logs go too; this cannot be undone.`, `Delete ${total} jobs`))) return;
        const r = await api(`/jobs/failed?${chosen()}`, { method: "DELETE" });
        route();
        document.getElementById("bulk").textContent = `Deleted ${r.deleted} failed job${r.deleted === 1 ? "" : "s"}${r.more ? "; more match: run it again" : ""}.`;
      }));
    }
    document.getElementById("more").addEventListener("click", guard(async () => {
      const page = await api(`${path}&starting_at=${enc(view.dataset.next)}`);
      const body = view.querySelector("#results tbody");
      if (body) body.insertAdjacentHTML("beforeend", rowsOf(page.jobs, failed));
      else document.getElementById("results").innerHTML = jobsTable(page.jobs, { selectable: failed, more: !!page.next });
      view.dataset.next = page.next || "";
      document.getElementById("more").hidden = !page.next;
      view.dataset.extra = "true"; // polling leaves a list that was extended by hand alone
    }));
  }
  if (view.dataset.extra === "true") return;
  const page = await api(path);
  // A newer view (another filter, another list) was drawn while this answer came: it is stale.
  if (view.dataset.frame !== key) return;
  view.querySelector("[data-total]").textContent = `${page.total}${page.totalExact === false ? "+" : ""}`;
  paint(document.getElementById("results"), jobsTable(page.jobs, { selectable: failed, more: !!page.next }));
  view.dataset.next = page.next || "";
  document.getElementById("more").hidden = !page.next;
  if (tag) {
    const failedPage = await api(`/monitoring/${enc("failed:" + tag)}?${q}`);
    if (view.dataset.frame !== key) return;
    view.querySelector("[data-failed-total]").textContent = failedPage.total;
    paint(document.getElementById("failed-results"), jobsTable(failedPage.jobs));
  }
}

// A failed row's Retry and Delete (one handler for every list drawn).
view.addEventListener("click", guard(async (e) => {
  const del = e.target.closest("[data-delete-one]");
  const retry = e.target.closest("[data-retry-one]");
  const note = (text) => { const b = document.getElementById("bulk"); if (b) b.textContent = text; };
  if (del) {
    if (!(await confirmDialog(`Delete failed job ${del.dataset.deleteOne}? This cannot be undone.`, "Delete it"))) return;
    del.disabled = true;
    await api(`/jobs/failed/${enc(del.dataset.deleteOne)}`, { method: "DELETE" });
    route();
    note(`Deleted ${del.dataset.deleteOne}.`);
  } else if (retry) {
    retry.disabled = true;
    const r = await api(`/jobs/retry/${enc(retry.dataset.retryOne)}`, { method: "POST" });
    note(`Retried as ${r.id}.`);
  }
}));

function rowsOf(jobs, failed) {
  const html = jobsTable(jobs, { selectable: failed });
  const t = document.createElement("template");
  t.innerHTML = html;
  return Array.from(t.content.querySelectorAll("tbody tr")).map((tr) => tr.outerHTML).join("");
}

// ---------------------------------------------------------------------------------------------
// A job: its fields, timeline, lineage, deliveries and document

function timeline(job) {
  const steps = job.history || [];
  if (!steps.length) return `<p class="muted">No timeline was kept for this job.</p>`;
  const first = steps[0].at;
  const firstClaim = steps.find((s) => s.status === "reserved");
  const waited = firstClaim ? firstClaim.at - first : null;
  return `<ol class="timeline" data-timeline>${steps.map((s, i) => {
    const next = steps[i + 1];
    const label = { pending: i === 0 ? "queued" : "back in the queue", reserved: `processing (attempt ${s.attempt})`, completed: "completed", failed: "failed" }[s.status] || s.status;
    return `<li class="step ${esc(s.status)}" data-step="${esc(s.status)}"><span class="dot"></span><strong>${esc(label)}</strong>
      <time datetime="${new Date(s.at * 1000).toISOString()}">${when(s.at)}</time> <span class="muted">+${secs(s.at - first)}</span>
      ${s.worker ? `<span class="muted">by worker ${esc(s.worker)}</span>` : ""}${next ? ` <span class="muted">· ${secs(next.at - s.at)} until the next step</span>` : ""}</li>`;
  }).join("")}</ol>
  ${parts(job, first)}
  ${waited != null ? `<p class="muted" data-wait>Waited ${secs(waited)} in the queue: from when it was queued to when a worker first took it (the "wait" the overview averages per queue).</p>` : ""}`;
}

// A long job's parts on its timeline: when each was taken and read, by which worker.
function parts(job, first) {
  const all = job.parts || [];
  if (!all.length) return "";
  const steps = all.flatMap((p, i) => [
    p.startedAt != null ? { at: p.startedAt, label: `part ${i + 1} (pages ${p.pages}) taken${p.attempts > 1 ? ` (attempt ${p.attempts})` : ""}`, worker: p.worker, state: "reserved" } : null,
    p.finishedAt != null ? { at: p.finishedAt, label: `part ${i + 1} (pages ${p.pages}) read`, state: "completed" } : null,
  ]).filter(Boolean).sort((a, b) => a.at - b.at);
  const waiting = all.filter((p) => p.state === "queued").length;
  return `<h3>Parts</h3><p class="muted" data-parts-summary>Read in ${all.length} parts: ${all.filter((p) => p.state === "done").length} read, ${all.filter((p) => p.state === "running").length} running, ${waiting} waiting.</p>
  <ol class="timeline" data-parts>${steps.map((s) => `<li class="step ${s.state}" data-part-step><span class="dot"></span><strong>${esc(s.label)}</strong>
    <time datetime="${new Date(s.at * 1000).toISOString()}">${when(s.at)}</time> <span class="muted">+${secs(s.at - first)}</span>
    ${s.worker ? `<span class="muted">by worker ${esc(s.worker)}</span>` : ""}</li>`).join("")}</ol>`;
}

function lineage(job) {
  const back = job.lineage || [];
  const forward = job.retried_by || [];
  if (!back.length && !forward.length) return `<p class="muted">Not a retry, and not retried.</p>`;
  const link = (r, here) => `<li${here ? ' aria-current="true"' : ""}>${here ? `<strong>${esc(r.id)}</strong> (this job)` : `<a href="/horizon/jobs/${esc(r.id)}" data-link>${esc(r.id)}</a>`}
    <span class="badge ${esc(r.status)}">${esc(r.status)}</span>${r.retried_at ? ` <span class="muted">retried ${when(r.retried_at)}</span>` : ""}</li>`;
  return `<ol class="lineage" data-lineage>${back.map((r) => link(r)).join("")}${link({ id: job.id, status: job.status }, true)}</ol>
    ${forward.length ? `<h3>Retries of this job</h3>${scroll(`<table data-table="retries"><thead><tr><th>Job</th><th>Status</th><th>Retried at</th></tr></thead><tbody>
    ${forward.map((r) => `<tr data-retry-row="${esc(r.id)}"><td><a href="/horizon/jobs/${esc(r.id)}" data-link>${esc(r.id)}</a></td>
      <td><span class="badge ${esc(r.status)}">${esc(r.status)}</span></td><td>${when(r.retried_at)}</td></tr>`).join("")}</tbody></table>`)}` : ""}`;
}

function deliveries(log) {
  const attempts = log.deliveries || [];
  const subs = log.subscriptions || [];
  if (!subs.length && !attempts.length) return `<p class="muted">No webhooks: neither the job nor its account subscribed.</p>`;
  return `${subs.length ? `<p class="muted">Subscribed: ${subs.map((s) => esc(s.url)).join(", ")}</p>` : ""}
  ${attempts.length ? scroll(`<table data-table="deliveries"><thead><tr><th>Delivery</th><th>Event</th><th>Attempt</th><th>At</th><th>Result</th><th>Latency</th><th></th></tr></thead><tbody>
  ${attempts.map((a) => `<tr data-delivery="${esc(a.deliveryId)}"><td><code>${esc(a.deliveryId)}</code>${a.replay ? ` <span class="badge">replay ${esc(a.replay)}</span>` : ""}</td>
    <td>${esc(a.event || "")}</td><td class="num">${esc(a.attempt)}</td><td>${esc(a.at ? new Date(a.at).toLocaleString() : "")}</td>
    <td>${a.statusCode ? `<span class="badge ${a.statusCode < 300 ? "completed" : "failed"}">${esc(a.statusCode)}</span>` : ""} ${esc(a.error || "")}</td>
    <td class="num">${a.latencyMs != null ? `${esc(a.latencyMs)} ms` : ""}</td>
    <td><button class="secondary" data-replay="${esc(a.deliveryId)}">Replay</button></td></tr>`).join("")}</tbody></table>`) : `<p class="muted">No attempts yet.</p>`}`;
}

async function jobDetail(id) {
  const job = await api(`/jobs/${enc(id)}`);
  const done = job.status === "completed";
  const key = `job:${id}:${job.status}:${(job.retried_by || []).length}:${job.progress?.pagesDone ?? ""}`;
  const rows = [["ID", job.id], ["Type", job.name], ["Queue", job.queue], ["Status", job.status], ["Account", job.account],
    ["Upload", job.payload.data.uploadId], ["Tags", job.payload.tags.join(", ")], ["Attempts", job.payload.attempts],
    ["Queued at", when(job.payload.pushedAt)], ["Started at", when(job.reserved_at)], ["Completed at", when(job.completed_at)],
    ["Failed at", when(job.failed_at)], ["Progress", job.progress ? `${job.progress.pagesDone} of ${job.progress.pagesTotal} pages` : ""],
    ["Pages", job.result ? `${job.result.pages}${job.result.ocrPages?.length ? ` (OCR: ${job.result.ocrPages.join(", ")})` : ""}` : ""],
    ["Chunks", job.result ? job.result.chunkCount : ""]];
  const fresh = frame(key, `<h2>Job ${esc(job.id)} <span class="badge ${esc(job.status)}" data-job-status>${esc(job.status)}</span>
    ${job.status === "failed" ? `<button id="retry" data-retry="${esc(job.id)}">Retry</button> <button id="delete" class="danger">Delete</button>` : ""}</h2>
  <div class="jobgrid"><div>${scroll(`<table><tbody>${rows.filter(([, v]) => v !== "" && v != null).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</tbody></table>`)}</div>
  <div><h2>Timeline</h2><div id="timeline"></div></div></div>
  ${job.exception ? `<h2>Exception</h2><pre data-exception>${esc(job.exception)}</pre>` : ""}
  <h2>Retry lineage</h2><div id="lineage"></div>
  <h2>Webhook deliveries</h2><div id="deliveries"></div>
  ${done ? `<h2>Document <a class="small" href="${API}/jobs/${esc(job.id)}/markdown" target="_blank" rel="noopener">Markdown</a></h2><div id="document"></div>` : ""}
  <details><summary>Data</summary><pre>${esc(JSON.stringify(job.payload.data, null, 2))}</pre>
  ${job.result ? `<h3>Result</h3><pre>${esc(JSON.stringify(job.result, null, 2))}</pre>` : ""}</details>`);
  paint(document.getElementById("timeline"), timeline(job));
  paint(document.getElementById("lineage"), lineage(job));
  // The buttons work as soon as they are drawn.
  if (fresh) handleJobPage(job);
  paint(document.getElementById("deliveries"), deliveries(await api(`/jobs/${enc(id)}/deliveries`)));
  if (fresh && done) await jobDocument(id, job);
}

function handleJobPage(job) {
  const id = job.id;
  const retry = document.getElementById("retry");
  if (retry) retry.addEventListener("click", guard(async () => {
    retry.disabled = true;
    await api(`/jobs/retry/${enc(job.id)}`, { method: "POST" });
    await jobDetail(id);
  }));
  const del = document.getElementById("delete");
  if (del) del.addEventListener("click", guard(async () => {
    if (!(await confirmDialog(`Delete failed job ${job.id}? This cannot be undone.`, "Delete it"))) return;
    await api(`/jobs/failed/${enc(job.id)}`, { method: "DELETE" });
    go("/horizon/failed");
  }));
  document.getElementById("deliveries").addEventListener("click", guard(async (e) => {
    const b = e.target.closest("[data-replay]");
    if (!b) return;
    b.disabled = true;
    await api(`/jobs/${enc(job.id)}/deliveries/${enc(b.dataset.replay)}/replay`, { method: "POST" });
    b.textContent = "Replay queued";
  }));
}

// The job's document view: every chunk, and its pages drawn as they come into view.
async function jobDocument(id, job) {
  const chunks = await allChunks(async (cursor) => {
    const offset = cursor || 0;
    const page = await api(`/jobs/${enc(id)}/chunks?offset=${offset}&limit=1000`);
    const next = offset + page.chunks.length;
    return { chunks: page.chunks, cursor: next < page.total && page.chunks.length ? next : null };
  });
  const width = Math.min(1600, Math.max(400, Math.ceil((window.devicePixelRatio || 1) * 700 / 400) * 400));
  renderDocument(document.getElementById("document"), {
    pages: pageNumbers(job.result.pages, chunks),
    chunks,
    flowing: !hasPages(job.result.contentType),
    pageImage: async (n) => {
      const resp = await call(`/jobs/${enc(id)}/pages/${n}?w=${width}`);
      if (!resp.ok) throw new Error((await resp.json().catch(() => ({}))).detail || resp.statusText);
      const size = pageSize(resp);
      return { url: URL.createObjectURL(await resp.blob()), ...size };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Monitoring and metrics

async function monitoring() {
  const tags = await api("/monitoring");
  if (frame("monitoring", `<h2>Monitored tags</h2>
  <form class="inline" id="monitor"><label for="tag-input" class="sr-only">Tag</label><input id="tag-input" name="tag" placeholder="tag, e.g. type:extract/pdf" required><button type="submit">Monitor</button></form>
  <div id="results"></div>`)) {
    document.getElementById("monitor").addEventListener("submit", guard(async (e) => {
      e.preventDefault();
      await api("/monitoring", { method: "POST", body: JSON.stringify({ tag: e.target.elements.tag.value.trim() }) });
      e.target.reset();
      await monitoring();
    }));
    document.getElementById("results").addEventListener("click", guard(async (e) => {
      const stop = e.target.closest("button[data-stop]");
      if (!stop) return;
      stop.disabled = true;
      await api(`/monitoring/${enc(stop.dataset.stop)}`, { method: "DELETE" });
      await monitoring();
    }));
  }
  paint(document.getElementById("results"), tags.length ? scroll(`<table data-table="tags"><thead><tr><th>Tag</th><th>Jobs</th><th></th></tr></thead><tbody>
  ${tags.map((t) => `<tr data-tag="${esc(t.tag)}"><td><a href="/horizon/monitoring/${enc(t.tag)}" data-link>${esc(t.tag)}</a></td><td class="num">${esc(t.count)}</td>
    <td><button class="secondary" data-stop="${esc(t.tag)}">Stop monitoring</button></td></tr>`).join("")}</tbody></table>`) : `<p class="muted">No tags are monitored.</p>`);
}

const nice = (v) => (v >= 100 ? Math.round(v) : v >= 10 ? Math.round(v * 10) / 10 : Math.round(v * 100) / 100);

// A line chart with a labelled y axis (0, half, max), times along x, and each value on hover.
function chart(points, key, label, unit) {
  if (!points.length) return `<p class="muted">No snapshots yet: one is taken every interval.</p>`;
  const values = points.map((p) => p[key] ?? 0);
  const max = Math.max(...values) || 1;
  const w = 420, h = 170, left = 44, right = 10, top = 24, bottom = 28;
  const x = (i) => left + (i * (w - left - right)) / Math.max(values.length - 1, 1);
  const y = (v) => top + (h - top - bottom) * (1 - v / max);
  const time = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const xs = [...new Set([0, Math.floor((values.length - 1) / 2), values.length - 1])];
  const last = values[values.length - 1];
  return `<figure class="chart" data-chart="${esc(key)}"><figcaption>${esc(label)} <span class="muted">latest ${nice(last)}${unit}, max ${nice(max)}${unit}</span></figcaption>
    <svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}: latest ${nice(last)}${unit}, highest ${nice(max)}${unit}">
    ${[0, 0.5, 1].map((f) => `<line class="grid" x1="${left}" x2="${w - right}" y1="${y(max * f)}" y2="${y(max * f)}"></line><text class="axis" x="${left - 4}" y="${y(max * f) + 3}" text-anchor="end">${nice(max * f)}</text>`).join("")}
    ${xs.map((i) => `<text class="axis" x="${x(i)}" y="${h - 8}" text-anchor="middle">${time(points[i].time)}</text>`).join("")}
    <polyline points="${values.map((v, i) => `${x(i)},${y(v)}`).join(" ")}"></polyline>
    ${values.map((v, i) => `<circle cx="${x(i)}" cy="${y(v)}" r="3"><title>${time(points[i].time)}: ${nice(v)}${unit}</title></circle>`).join("")}
    </svg></figure>`;
}

function charts(kind, snaps) {
  return `${chart(snaps, "throughput", "Throughput (jobs per interval)", "")}${chart(snaps, "runtime", "Average runtime", " s")}${kind === "queues" ? chart(snaps, "wait", "Average wait", " s") : ""}`;
}

// Every job type's and queue's charts, or one metric's when the path names it.
async function metrics(kind, name) {
  const chosen = kind && name ? [[kind, [name]]] : [["jobs", await api("/metrics/jobs")], ["queues", await api("/metrics/queues")]];
  let html = "";
  for (const [k, names] of chosen) {
    if (!["jobs", "queues"].includes(k)) throw new Error(`no metrics of ${k}`);
    html += `<h2>${k === "jobs" ? "Job types" : "Queues"}</h2>`;
    if (!names.length) html += `<p class="muted">None yet.</p>`;
    for (const n of names) {
      const snaps = await api(`/metrics/${k}/${enc(n)}`);
      html += `<h3><a href="/horizon/metrics/${esc(k)}/${enc(n)}" data-link>${esc(n)}</a></h3><div class="charts" data-metric="${esc(k)}:${esc(n)}">${charts(k, snaps)}</div>`;
    }
  }
  paint(view, html);
}

headerStatus();
route();
