// Horizon's dashboard: a small single-page app over /horizon/api. Views are chosen by the path
// (/horizon/{view?}); each view renders from the API and polls it (overview every 5 s, lists 3 s).
"use strict";

const API = "/horizon/api";
const view = document.getElementById("view");
const errorBox = document.getElementById("error");
let timer = null;

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const when = (s) => (s ? new Date(s * 1000).toLocaleString() : "");
const enc = encodeURIComponent;

async function api(path, options = {}) {
  const resp = await fetch(API + path, { credentials: "same-origin", headers: { accept: "application/json", ...(options.body ? { "content-type": "application/json" } : {}) }, ...options });
  const text = await resp.text();
  const body = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    if (resp.status === 403) location.href = "/horizon/login";
    throw new Error((body && (body.detail || body.title)) || resp.statusText);
  }
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
  view.dataset.frame = key;
  return true;
}

function go(path) {
  history.pushState({}, "", path);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (a && !e.metaKey && !e.ctrlKey) {
    e.preventDefault();
    go(a.getAttribute("href"));
  }
});
window.addEventListener("popstate", route);

function route() {
  view.dataset.frame = "";
  const parts = location.pathname.replace(/^\/horizon\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = parts;
  let nav = "dashboard";
  if (!first || first === "dashboard") poll(overview, 5000);
  else if (first === "monitoring" && second) (nav = "monitoring"), poll(() => tagJobs(second), 3000);
  else if (first === "monitoring") (nav = "monitoring"), poll(monitoring, 3000);
  else if (first === "metrics" && second && third) (nav = "metrics"), poll(() => metricChart(second, third), 5000);
  else if (first === "metrics") (nav = "metrics"), poll(metrics, 5000);
  else if (first === "failed" && second) (nav = "failed"), poll(() => jobDetail(second, true), 3000);
  else if (first === "failed") (nav = "failed"), poll(failedJobs, 3000);
  else if (first === "jobs" && ["recent", "pending", "completed"].includes(second)) (nav = second), poll(() => jobList(second), 3000);
  else if (first === "jobs" && second) (nav = "recent"), poll(() => jobDetail(second, false), 3000);
  else view.innerHTML = `<p>No view ${esc(first)}.</p>`;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
}

function card(label, value, key) {
  return `<div class="card"><small>${esc(label)}</small><strong data-stat="${esc(key)}">${esc(value)}</strong></div>`;
}

async function overview() {
  const [stats, workload, masters] = await Promise.all([api("/stats"), api("/workload"), api("/masters")]);
  const status = document.getElementById("status");
  status.textContent = stats.status;
  status.className = `badge ${stats.status}`;
  const wait = Object.entries(stats.wait || {})[0];
  let html = `<h2>Overview</h2><div class="cards">
    ${card("Jobs per minute", stats.jobsPerMinute, "jobsPerMinute")}
    ${card(`Jobs past ${stats.periods.recentJobs} min`, stats.recentJobs, "recentJobs")}
    ${card(`Failed past ${stats.periods.failedJobs} min`, stats.failedJobs, "failedJobs")}
    ${card("Status", stats.status, "status")}
    ${card("Total processes", stats.processes, "processes")}
    ${card(wait ? `Max wait (${wait[0].replace(/^sqs:/, "")})` : "Max wait", wait ? `${wait[1]} s` : "-", "wait")}
    ${card("Max runtime", stats.queueWithMaxRuntime || "-", "queueWithMaxRuntime")}
    ${card("Max throughput", stats.queueWithMaxThroughput || "-", "queueWithMaxThroughput")}
  </div>
  <h2>Current workload</h2>
  <table data-table="workload"><thead><tr><th>Queue</th><th>Jobs</th><th>Processes</th><th>Wait</th><th></th></tr></thead><tbody>
  ${workload.map((q) => `<tr data-queue="${esc(q.name)}"><td>${esc(q.name)} ${q.paused ? '<span class="badge paused">paused</span>' : ""}</td>
    <td class="num" data-field="length">${q.length}</td><td class="num" data-field="processes">${q.processes}</td><td class="num">${q.wait} s</td>
    <td><button class="secondary" data-pause="${esc(q.name)}" data-paused="${q.paused}">${q.paused ? "Continue" : "Pause"}</button></td></tr>`).join("")}
  </tbody></table>`;
  for (const master of Object.values(masters || {})) {
    html += `<h2>${esc(master.name)} <span class="badge ${esc(master.status)}">${esc(master.status)}</span></h2>
    <table><thead><tr><th>Supervisor</th><th>Queue</th><th>Processes</th><th>Max processes</th><th>Tries</th><th>Timeout</th><th>Memory</th><th>Status</th></tr></thead><tbody>
    ${master.supervisors.map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.options.queue)}</td>
      <td class="num">${Object.values(s.processes).reduce((a, b) => a + b, 0)}</td><td class="num">${esc(s.options.maxProcesses ?? "")}</td>
      <td class="num">${esc(s.options.maxTries ?? "")}</td><td class="num">${esc(s.options.timeout ?? "")} s</td><td class="num">${esc(s.options.memory ?? "")} MB</td>
      <td><span class="badge ${esc(s.status)}">${esc(s.status)}</span></td></tr>`).join("")}
    </tbody></table>`;
  }
  view.innerHTML = html;
  view.querySelectorAll("button[data-pause]").forEach((b) =>
    b.addEventListener("click", async () => {
      await api(`/queues/${enc(b.dataset.pause)}/${b.dataset.paused === "true" ? "continue" : "pause"}`, { method: "POST" });
      overview();
    }));
}

function jobsTable(jobs, detailBase) {
  if (!jobs.length) return `<p class="muted" data-empty>No jobs.</p>`;
  return `<table data-table="jobs"><thead><tr><th>Job</th><th>Type</th><th>Tags</th><th>Queued</th><th>Status</th><th>Runtime</th></tr></thead><tbody>
  ${jobs.map((j) => {
    const end = j.completed_at || j.failed_at;
    const runtime = end && j.reserved_at ? `${(end - j.reserved_at).toFixed(2)} s` : "";
    return `<tr data-job="${esc(j.id)}"><td><a href="${detailBase}/${esc(j.id)}" data-link>${esc(j.id)}</a>${j.retry_of ? ` <span class="muted">retry of ${esc(j.retry_of)}</span>` : ""}</td>
      <td>${esc(j.name)}</td><td>${j.payload.tags.map((t) => `<span class="badge">${esc(t)}</span>`).join(" ")}</td>
      <td>${when(j.payload.pushedAt)}</td><td><span class="badge ${esc(j.status)}">${esc(j.status)}</span></td><td>${runtime}</td></tr>`;
  }).join("")}</tbody></table>`;
}

async function jobList(which) {
  const page = await api(`/jobs/${which}`);
  view.innerHTML = `<h2>${which[0].toUpperCase() + which.slice(1)} jobs <span class="muted" data-total>${page.total}</span></h2>${jobsTable(page.jobs, "/horizon/jobs")}`;
}

const failedSearch = { tag: "", type: "", q: "" };

async function failedJobs() {
  const params = new URLSearchParams(Object.entries(failedSearch).filter(([, v]) => v));
  const page = await api(`/jobs/failed?${params}`);
  if (frame("failed", `<h2>Failed jobs <span class="muted" data-total></span></h2>
  <form class="inline" id="search"><input name="tag" placeholder="tag" value="${esc(failedSearch.tag)}">
    <input name="type" placeholder="job type" value="${esc(failedSearch.type)}">
    <input name="q" placeholder="error text" value="${esc(failedSearch.q)}">
    <button type="submit">Search</button><button type="button" class="secondary" id="retry-all">Retry all matching</button></form>
  <p id="bulk" class="muted"></p><div id="results"></div>`)) {
    const form = document.getElementById("search");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      for (const k of Object.keys(failedSearch)) failedSearch[k] = form.elements[k].value.trim();
      failedJobs();
    });
    document.getElementById("retry-all").addEventListener("click", async () => {
      const chosen = new URLSearchParams(Object.entries(failedSearch).filter(([, v]) => v));
      const all = !chosen.toString();
      if (all && !confirm("Retry every failed job?")) return;
      const r = await api(`/jobs/retry?${all ? "all=true" : chosen}`, { method: "POST" });
      document.getElementById("bulk").textContent = `Retried ${r.retried}; ${r.skippedAlreadyRetried} already retried.`;
    });
  }
  view.querySelector("[data-total]").textContent = page.total;
  document.getElementById("results").innerHTML = jobsTable(page.jobs, "/horizon/failed");
}

async function jobDetail(id, failed) {
  const job = await api(failed ? `/jobs/failed/${enc(id)}` : `/jobs/${enc(id)}`);
  const rows = [["ID", job.id], ["Type", job.name], ["Queue", job.queue], ["Status", job.status], ["Account", job.account],
    ["Tags", job.payload.tags.join(", ")], ["Attempts", job.payload.attempts], ["Queued at", when(job.payload.pushedAt)],
    ["Started at", when(job.reserved_at)], ["Completed at", when(job.completed_at)], ["Failed at", when(job.failed_at)],
    ["Retry of", job.retry_of || ""]];
  view.innerHTML = `<h2>Job ${esc(job.id)} <span class="badge ${esc(job.status)}" data-job-status>${esc(job.status)}</span>
    ${job.status === "failed" ? `<button id="retry" data-retry="${esc(job.id)}">Retry</button>` : ""}</h2>
  <table><tbody>${rows.filter(([, v]) => v !== "" && v != null).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</tbody></table>
  ${job.exception ? `<h2>Exception</h2><pre data-exception>${esc(job.exception)}</pre>` : ""}
  ${job.context ? `<h2>Context</h2><pre>${esc(JSON.stringify(job.context, null, 2))}</pre>` : ""}
  <h2>Data</h2><pre>${esc(JSON.stringify(job.payload.data, null, 2))}</pre>
  ${job.result ? `<h2>Result</h2><pre>${esc(JSON.stringify(job.result, null, 2))}</pre>` : ""}
  <h2>Recent retries</h2>${job.retried_by.length ? `<table data-table="retries"><thead><tr><th>Job</th><th>Status</th><th>Retried at</th></tr></thead><tbody>
    ${job.retried_by.map((r) => `<tr data-retry-row="${esc(r.id)}"><td><a href="/horizon/jobs/${esc(r.id)}" data-link>${esc(r.id)}</a></td>
      <td><span class="badge ${esc(r.status)}">${esc(r.status)}</span></td><td>${when(r.retried_at)}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">None.</p>`}`;
  const button = document.getElementById("retry");
  if (button) button.addEventListener("click", async () => {
    button.disabled = true;
    await api(`/jobs/retry/${enc(job.id)}`, { method: "POST" });
    jobDetail(id, failed);
  });
}

async function monitoring() {
  const tags = await api("/monitoring");
  if (frame("monitoring", `<h2>Monitored tags</h2>
  <form class="inline" id="monitor"><input name="tag" placeholder="tag, e.g. type:extract/pdf" required><button type="submit">Monitor</button></form>
  <div id="results"></div>`)) {
    document.getElementById("monitor").addEventListener("submit", async (e) => {
      e.preventDefault();
      await api("/monitoring", { method: "POST", body: JSON.stringify({ tag: e.target.elements.tag.value.trim() }) });
      e.target.reset();
      monitoring();
    });
  }
  const results = document.getElementById("results");
  results.innerHTML = tags.length ? `<table data-table="tags"><thead><tr><th>Tag</th><th>Jobs</th><th></th></tr></thead><tbody>
  ${tags.map((t) => `<tr data-tag="${esc(t.tag)}"><td><a href="/horizon/monitoring/${enc(t.tag)}" data-link>${esc(t.tag)}</a></td><td class="num">${t.count}</td>
    <td><button class="secondary" data-stop="${esc(t.tag)}">Stop monitoring</button></td></tr>`).join("")}</tbody></table>` : `<p class="muted">No tags are monitored.</p>`;
  results.querySelectorAll("button[data-stop]").forEach((b) => b.addEventListener("click", async () => {
    await api(`/monitoring/${enc(b.dataset.stop)}`, { method: "DELETE" });
    monitoring();
  }));
}

async function tagJobs(tag) {
  const [all, failed] = await Promise.all([api(`/monitoring/${enc(tag)}`), api(`/monitoring/${enc("failed:" + tag)}`)]);
  view.innerHTML = `<h2>Tag ${esc(tag)}: ${all.total} jobs</h2>${jobsTable(all.jobs, "/horizon/jobs")}
  <h2>Failed with this tag: ${failed.total}</h2>${jobsTable(failed.jobs, "/horizon/failed")}`;
}

async function metrics() {
  const [jobs, queues] = await Promise.all([api("/metrics/jobs"), api("/metrics/queues")]);
  const list = (kind, names) => names.length ? `<ul>${names.map((n) => `<li><a href="/horizon/metrics/${kind}/${enc(n)}" data-link>${esc(n)}</a></li>`).join("")}</ul>` : `<p class="muted">None yet.</p>`;
  view.innerHTML = `<h2>Jobs</h2>${list("jobs", jobs)}<h2>Queues</h2>${list("queues", queues)}`;
}

function chart(points, key, label) {
  if (!points.length) return `<p class="muted">No snapshots yet: one is taken every interval.</p>`;
  const values = points.map((p) => p[key] ?? 0);
  const max = Math.max(...values, 1e-9);
  const w = 340, h = 120, pad = 20;
  const xy = values.map((v, i) => `${pad + (i * (w - 2 * pad)) / Math.max(values.length - 1, 1)},${h - pad - (v / max) * (h - 2 * pad)}`);
  return `<svg class="chart" viewBox="0 0 ${w} ${h + 20}" role="img" aria-label="${esc(label)}"><text x="4" y="12">${esc(label)} (max ${max})</text>
    <polyline points="${xy.join(" ")}"></polyline><text x="${pad}" y="${h + 12}">${new Date(points[0].time * 1000).toLocaleTimeString()}</text>
    <text x="${w - 80}" y="${h + 12}">${new Date(points[points.length - 1].time * 1000).toLocaleTimeString()}</text></svg>`;
}

async function metricChart(kind, name) {
  const snaps = await api(`/metrics/${kind}/${enc(name)}`);
  view.innerHTML = `<h2>${esc(name)}</h2><div class="charts">${chart(snaps, "throughput", "Throughput (jobs per interval)")}
    ${chart(snaps, "runtime", "Average runtime (s)")}${kind === "queues" ? chart(snaps, "wait", "Average wait (s)") : ""}</div>`;
}

route();
