// The dashboard and the playground in a real browser: Debian's Chromium, or Debian's Firefox ESR
// (over WebDriver BiDi), driven by playwright-core, against the real local service (run by
// tests/e2e/dashboard.rs).
//   node dashboard.mjs BASE_URL EXPECTED_JSON SHOTS_DIR [chromium|firefox]
// EXPECTED_JSON says what the Rust side made: the overview's numbers, a failed job, a tag to
// filter by and the one job it selects, the paused queue and how many messages wait in it, a
// completed job to view, an API key and a file for the playground with a line its Markdown
// holds. Each step checks what an operator or a tenant would look at; the last line printed is
// a JSON report for the Rust side to check against the API.
import { chromium, firefox } from "playwright-core";

const [base, expectedJson, shots, which = "chromium"] = process.argv.slice(2);
const x = JSON.parse(expectedJson);
const browser = which === "firefox"
  ? await firefox.launch({ channel: "moz-firefox", executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr", headless: true })
  : await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
// Chromium's screenshots are the README's; another browser's are named after it.
const prefix = which === "chromium" ? "" : `${which}-`;
const report = {};
let page;
let step = "start";
const check = (ok, message) => { if (!ok) throw new Error(message); };
const shot = (name, options = {}) => page.screenshot({ path: `${shots}/${prefix}${name}.png`, ...options });
const T = { timeout: 20000 };

async function run() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));

  step = "overview";
  await page.goto(`${base}/horizon`);
  const stat = (key) => page.locator(`[data-stat="${key}"]`);
  await stat("recentJobs").filter({ hasText: new RegExp(`^${x.recentJobs}$`) }).waitFor(T);
  await stat("failedJobs").filter({ hasText: new RegExp(`^${x.failedJobs.length}$`) }).waitFor(T);
  await page.locator(`[data-table="workload"] tr[data-queue="${x.queue}"] [data-field="length"]`).filter({ hasText: String(x.waiting) }).waitFor(T);
  await shot("overview", { fullPage: true });

  step = "the header's status is live on another view";
  await page.click('nav a[data-nav="completed"]');
  await page.locator("#status").filter({ hasText: /running|paused|inactive/ }).waitFor(T);

  step = "a filter in the URL survives a reload";
  await page.click('nav a[data-nav="recent"]');
  await page.fill("#f-tag", x.tag);
  await page.click('#search button[type="submit"]');
  await page.waitForURL((url) => url.searchParams.get("tag") === x.tag, T);
  const rows = page.locator('#results tr[data-job]');
  await page.locator(`#results tr[data-job="${x.taggedJob}"]`).waitFor(T);
  await page.waitForTimeout(500);
  check((await rows.count()) === 1, `the tag filter shows ${await rows.count()} rows, not 1`);
  await page.reload();
  await page.locator(`#results tr[data-job="${x.taggedJob}"]`).waitFor(T);
  check((await page.inputValue("#f-tag")) === x.tag, "the filter's field is empty after a reload");
  check((await rows.count()) === 1, `after a reload the filter shows ${await rows.count()} rows`);
  // Typing is not wiped by the list's polling (every 3 s).
  await page.fill("#f-q", "typed");
  await page.waitForTimeout(3500);
  check((await page.inputValue("#f-q")) === "typed", "polling reset the search box");

  step = "a failed job is retried from its page";
  await page.goto(`${base}/horizon/failed?q=INVALID_PDF`);
  await page.locator(`tr[data-job="${x.failedJobs[0]}"] a`).click();
  await page.locator("[data-exception]").waitFor(T);
  await page.click("#retry");
  const retryRow = page.locator("[data-retry-row]").first();
  await retryRow.waitFor(T);
  report.retryId = await retryRow.getAttribute("data-retry-row");
  check(report.retryId && !x.failedJobs.includes(report.retryId), `no new retry row: ${report.retryId}`);

  step = "every failed job matching a filter is deleted, after a confirmation naming how many";
  await page.goto(`${base}/horizon/failed?q=invalid_pdf`);
  // The retry waits in the paused queue; the two failed jobs are the filter's.
  await page.locator("[data-total]").filter({ hasText: /^2$/ }).waitFor(T);
  await page.click("#delete-all");
  const dialog = page.locator("dialog#confirm[open]");
  await dialog.waitFor(T);
  const asked = await dialog.locator("[data-message]").textContent();
  check(/\b2 failed jobs\b/.test(asked), `the confirmation does not say how many: ${asked}`);
  await dialog.locator("[data-confirm]").click();
  await page.locator("#bulk").filter({ hasText: "Deleted 2 failed jobs" }).waitFor(T);
  await page.locator("#results [data-empty]").waitFor(T);
  report.deleted = x.failedJobs;

  step = "a queue is purged after a confirmation naming how many messages go";
  await page.goto(`${base}/horizon`);
  const purge = page.locator(`button[data-purge="${x.queue}"]`);
  await purge.waitFor(T);
  await purge.click();
  await dialog.waitFor(T);
  const purgeText = await dialog.locator("[data-message]").textContent();
  // The retry made above waits there too.
  const purged = x.waiting + 1;
  check(purgeText.includes(`${purged} messages will be deleted`), `the purge confirmation says: ${purgeText}`);
  await dialog.locator("[data-confirm]").click();
  await page.locator("#flash").filter({ hasText: `${purged} messages deleted, ${purged} waiting jobs failed` }).waitFor(T);
  await page.locator(`tr[data-queue="${x.queue}"] [data-field="length"]`).filter({ hasText: /^0$/ }).waitFor(T);
  // ... and the paused queue continues.
  await page.click(`button[data-pause="${x.queue}"][data-paused="true"]`);
  await page.locator(`button[data-pause="${x.queue}"][data-paused="false"]`).waitFor(T);

  step = "a job's page: timeline, then its pages with the blocks' boxes where the API says";
  await page.goto(`${base}/horizon/jobs/${x.completedJob}`);
  await page.locator('[data-timeline] [data-step="completed"]').waitFor(T);
  check((await page.locator("[data-timeline]").textContent()).includes("by worker"), "the timeline names no worker");
  await page.locator('figure.page[data-page="1"][data-drawn="true"]').waitFor({ timeout: 30000 });
  const geometry = await page.evaluate(async (id) => {
    const api = await (await fetch(`/horizon/api/jobs/${id}/chunks?limit=1000`)).json();
    const figure = document.querySelector('figure.page[data-page="1"]');
    const img = figure.querySelector("img").getBoundingClientRect();
    const [W, H] = figure.querySelector("svg").dataset.pageSize.split(" ").map(Number);
    const out = { checked: 0, problems: [] };
    for (const c of api.chunks.filter((c) => c.page === 1)) {
      const g = figure.querySelector(`[data-chunk="${CSS.escape(c.id)}"]`);
      if (!g) { out.problems.push(`no box for ${c.id}`); continue; }
      if (g.dataset.bbox !== c.bbox.join(",")) out.problems.push(`${c.id}: box ${g.dataset.bbox} vs bbox ${c.bbox}`);
      const r = g.querySelector("rect").getBoundingClientRect();
      const want = [img.left + (c.bbox[0] * img.width) / W, img.top + (c.bbox[1] * img.height) / H,
        img.left + (c.bbox[2] * img.width) / W, img.top + (c.bbox[3] * img.height) / H];
      const got = [r.left, r.top, r.right, r.bottom];
      if (got.some((v, i) => Math.abs(v - want[i]) > 2)) out.problems.push(`${c.id}: drawn at ${got.map(Math.round)} not ${want.map(Math.round)}`);
      out.checked++;
    }
    return out;
  }, x.completedJob);
  check(geometry.checked >= 5 && !geometry.problems.length, `boxes: ${JSON.stringify(geometry)}`);
  report.boxesChecked = geometry.checked;
  // Hover or click a block: its text and Markdown; the keyboard reaches it too.
  const heading = page.locator('figure.page[data-page="1"] g.block.t-heading').first();
  await heading.click();
  const text = await page.locator("[data-selected-text]").textContent();
  check(text.includes(x.heading), `the selected heading shows ${JSON.stringify(text)}`);
  check((await page.locator("[data-selected-markdown]").textContent()).startsWith("#"), "a heading's Markdown starts with #");
  const table = page.locator('figure.page[data-page="1"] g.block.t-table').first();
  await table.focus();
  await page.keyboard.press("Enter");
  check((await page.locator("[data-selected-markdown]").textContent()).includes("| --- |"), "the table's Markdown is no pipe table");
  await page.locator("#document").scrollIntoViewIfNeeded();
  await shot("document");

  step = "phone width";
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.locator('figure.page[data-page="1"]').scrollIntoViewIfNeeded();
  await page.locator('figure.page[data-page="1"][data-drawn="true"]').waitFor({ timeout: 30000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the job page is ${overflow}px wider than a phone`);
  await context.close();

  step = "the playground: sign in, drop a file, watch it, read its Markdown";
  const tenant = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  page = await tenant.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(`${base}/playground`);
  await page.fill("#api-key", x.apiKey);
  await page.click('#key-form button[type="submit"]');
  await page.locator("#work").waitFor(T);
  check(!page.url().includes(x.apiKey), "the API key went into the URL");
  await page.setInputFiles("#file", x.playgroundFile);
  await page.locator('#progress-box[data-status="completed"]').waitFor({ timeout: 90000 });
  await page.locator('#panel-document figure.page[data-page="1"][data-drawn="true"]').waitFor({ timeout: 30000 });
  const ocr = await page.locator("#panel-document g.block").first().getAttribute("aria-label");
  check(/OCR \d+%/.test(ocr), `an OCR'd block shows no confidence: ${ocr}`);
  await shot("playground");
  await page.click("#tab-markdown");
  const markdown = await page.locator("[data-markdown]").textContent();
  check(markdown.includes(x.markdownHas), `the Markdown lacks ${JSON.stringify(x.markdownHas)}`);
  report.playgroundJob = new URLSearchParams(new URL(page.url()).hash.slice(1)).get("job");
  await shot("playground-markdown");
  // The key lives in the tab's session: a reload keeps the session and the job shown.
  await page.reload();
  await page.locator('#panel-document figure.page[data-page="1"]').waitFor(T);
  check(await page.evaluate(() => !!sessionStorage.getItem("horizon.apiKey")), "the key is not in session storage");
  await page.locator(`#jobs tr[data-job="${report.playgroundJob}"]`).waitFor(T);

  step = "the playground: a web page, which has no page pictures, drawn as a flowing page";
  await page.setInputFiles("#file", x.flowingFile);
  const flowHeading = page.locator("#panel-document .sheet.flowing .flow-block.t-heading").first();
  await flowHeading.waitFor({ state: "attached", timeout: 90000 });
  const headingText = await flowHeading.textContent();
  check(headingText.includes(x.flowingHeading), `the flowing page's first heading is ${JSON.stringify(headingText)}`);
  check(await page.locator("#panel-document .sheet.flowing .flow-block.t-table").count() === 1, "the web page's table is not drawn");
  await page.click("#tab-document").catch(() => {});
  await shot("playground-flowing");
  await tenant.close();
}

try {
  await run();
  console.log(JSON.stringify(report));
} catch (e) {
  if (page) await page.screenshot({ path: `${shots}/${prefix}failure.png`, fullPage: true }).catch(() => {});
  console.error(`${which}: browser check failed at "${step}": ${e.message}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
