// The playground: an API user's view of Horizon, through the public API only (/api and /v1,
// with the API key as a bearer token) and through the TypeScript client (@horizon/client, served
// from clients/typescript/dist), so that it is also their living example and the client runs in
// a browser. Sign in, drop a file (uploaded, then an extraction job started), watch its
// progress, then read the document: its pages with the blocks found on them, its Markdown (copy,
// download) and its JSON.
import { esc, renderDocument, pageSize, pageNumbers, hasPages } from "./document.js";
import { Horizon, ProblemError } from "./horizon-client.js";

const KEY = "horizon.apiKey";
const $ = (id) => document.getElementById(id);

function key() {
  return sessionStorage.getItem(KEY);
}

// The client for the key signed in with; a key that is refused signs out.
function horizon() {
  return new Horizon({ baseUrl: location.origin, apiKey: key() || "none" });
}

async function api(use) {
  try {
    return await use(horizon());
  } catch (e) {
    if (e instanceof ProblemError && e.status === 401) {
      signOut("That API key was not accepted.");
      throw new Error("not signed in");
    }
    throw e instanceof ProblemError ? new Error(e.detail || e.title) : e;
  }
}

function fail(e) {
  $("error").textContent = e.message;
  $("error").hidden = false;
}

function signOut(why) {
  sessionStorage.removeItem(KEY);
  $("signin").hidden = false;
  $("work").hidden = true;
  $("sign-out").hidden = true;
  if (why) fail(new Error(why));
}

async function signedIn() {
  $("signin").hidden = true;
  $("work").hidden = false;
  $("sign-out").hidden = false;
  $("error").hidden = true;
  await recentJobs();
  const shown = new URLSearchParams(location.hash.slice(1)).get("job");
  if (shown) await follow(shown);
}

$("key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, e.target.elements.key.value.trim());
  e.target.reset();
  try {
    await api((h) => h.jobs.list({ pageSize: 1 }).next());
    await signedIn();
  } catch (err) {
    if (key()) fail(err);
  }
});
$("sign-out").addEventListener("click", () => signOut());

// ---------------------------------------------------------------------------------------------
// Upload, start, follow

async function start(file) {
  $("error").hidden = true;
  $("result").innerHTML = "";
  progress(`Uploading ${file.name} (${(file.size / 1024).toFixed(0)} KB)…`, null);
  const job = await api((h) => h.extract(file, {
    wait: false,
    tags: ["playground"],
    ocr: $("ocr").value,
    mode: $("mode").value,
    languages: languages(),
  }));
  location.hash = `job=${job.jobId}`;
  await follow(job.jobId);
}

// The languages typed in ("en, fr"), as the API's list.
function languages() {
  return $("languages").value.split(/[\s,]+/).filter(Boolean);
}

function progress(text, fraction) {
  $("progress-box").hidden = false;
  $("progress-text").textContent = text;
  const bar = $("progress");
  if (fraction == null) bar.removeAttribute("value");
  else bar.value = fraction;
}

// The job being followed: opening another one stops following the first.
let following = 0;

async function follow(id) {
  const mine = ++following;
  $("error").hidden = true;
  for (;;) {
    const job = await api((h) => h.jobs.get(id));
    if (mine !== following) return;
    const p = job.progress;
    if (job.status === "queued") progress(`Job ${id} is queued…`, null);
    else if (job.status === "processing") progress(p ? `Reading page ${p.pagesDone} of ${p.pagesTotal}…` : "Reading…", p ? p.pagesDone / Math.max(p.pagesTotal, 1) : null);
    else {
      progress(job.status === "completed" ? `Done: ${job.result.pages} pages, ${job.result.chunkCount} chunks${job.result.ocrPages?.length ? `, OCR on page ${job.result.ocrPages.join(", ")}` : ""}.` : `The job failed: ${job.error?.message || ""}`, 1);
      $("progress-box").dataset.status = job.status;
      if (job.status === "completed") await show(job, mine);
      else fail(new Error(`${job.error?.code}: ${job.error?.message}`));
      recentJobs();
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------------------------------------
// The result: document, Markdown, JSON

function download(name, type, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function show(job, mine) {
  const id = job.jobId;
  const chunks = await api((h) => h.jobs.chunks(id));
  const markdown = await api((h) => h.jobs.markdown(id)).catch(() => "");
  if (mine !== following) return;
  const asJson = JSON.stringify({ ...job, result: { ...job.result, chunks, nextCursor: null } }, null, 2);
  const tabs = [["document", "Document"], ["markdown", "Markdown"], ["json", "JSON"]];
  $("result").innerHTML = `<div class="tabs" role="tablist">${tabs.map(([k, label], i) => `<button type="button" role="tab" id="tab-${k}" aria-controls="panel-${k}" aria-selected="${i === 0}">${label}</button>`).join("")}</div>
    <div role="tabpanel" id="panel-document" aria-labelledby="tab-document"></div>
    <div role="tabpanel" id="panel-markdown" aria-labelledby="tab-markdown" hidden>
      <p><button type="button" id="copy-md">Copy Markdown</button> <button type="button" class="secondary" id="download-md">Download .md</button></p>
      <pre data-markdown>${esc(markdown)}</pre></div>
    <div role="tabpanel" id="panel-json" aria-labelledby="tab-json" hidden>
      <p><button type="button" id="copy-json">Copy JSON</button> <button type="button" class="secondary" id="download-json">Download .json</button></p>
      <pre data-json>${esc(asJson)}</pre></div>`;
  $("result").querySelectorAll("[role=tab]").forEach((tab) => tab.addEventListener("click", () => {
    $("result").querySelectorAll("[role=tab]").forEach((t) => {
      t.setAttribute("aria-selected", String(t === tab));
      $(t.getAttribute("aria-controls")).hidden = t !== tab;
    });
  }));
  const copy = async (button, text) => {
    await navigator.clipboard.writeText(text).then(() => { button.textContent = "Copied"; }, () => { button.textContent = "Copy failed: select the text"; });
  };
  $("copy-md").addEventListener("click", (e) => copy(e.target, markdown));
  $("copy-json").addEventListener("click", (e) => copy(e.target, asJson));
  $("download-md").addEventListener("click", () => download(`${id}.md`, "text/markdown", markdown));
  $("download-json").addEventListener("click", () => download(`${id}.json`, "application/json", asJson));
  const width = Math.min(1600, Math.max(400, Math.ceil((window.devicePixelRatio || 1) * 700 / 400) * 400));
  renderDocument($("panel-document"), {
    pages: pageNumbers(job.result.pages, chunks),
    chunks,
    flowing: !hasPages(job.result.contentType),
    pageImage: async (n) => {
      const resp = await api((h) => h.request("GET", `/v1/jobs/${encodeURIComponent(id)}/pages/${n}`, { query: { w: width } }));
      const size = pageSize(resp);
      return { url: URL.createObjectURL(await resp.blob()), ...size };
    },
  });
}

async function recentJobs() {
  const list = { jobs: [] };
  await api(async (h) => {
    for await (const job of h.jobs.list({ pageSize: 20 })) {
      if (list.jobs.push(job) >= 20) break;
    }
  });
  $("jobs").innerHTML = list.jobs.length ? `<div class="scroll"><table data-table="jobs"><thead><tr><th>Job</th><th>Type</th><th>Status</th><th>Created</th><th>Pages</th></tr></thead><tbody>
    ${list.jobs.map((j) => `<tr data-job="${esc(j.jobId)}"><td><a href="#job=${esc(j.jobId)}" data-open="${esc(j.jobId)}">${esc(j.jobId)}</a></td><td>${esc(j.jobType)}</td>
      <td><span class="badge ${esc(j.status)}">${esc(j.status)}</span></td><td>${esc(new Date(j.createdAt).toLocaleString())}</td><td class="num">${j.result ? esc(j.result.pages) : ""}</td></tr>`).join("")}
    </tbody></table></div>` : `<p class="muted">No jobs yet: drop a file above.</p>`;
}

$("jobs").addEventListener("click", (e) => {
  const a = e.target.closest("[data-open]");
  if (!a) return;
  e.preventDefault();
  location.hash = `job=${a.dataset.open}`;
  follow(a.dataset.open).catch(fail);
});

const drop = $("drop");
$("file").addEventListener("change", (e) => { if (e.target.files[0]) start(e.target.files[0]).catch(fail); });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) start(file).catch(fail);
});

if (key()) signedIn().catch(fail);
