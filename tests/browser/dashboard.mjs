// The dashboard in a real browser: Debian's Chromium, driven by playwright-core.
//   node dashboard.mjs BASE_URL EXPECTED_JSON SCREENSHOT_PATH
// EXPECTED_JSON: {"recentJobs": n, "failedJobs": n, "failedJob": "job_..."}. Checks that the
// overview's cards show those numbers, opens the failed job, retries it with its button, waits
// for the retry to appear, saves a screenshot, and prints {"retryId": "..."} as its last line.
import { chromium } from "playwright-core";

const [base, expectedJson, screenshot] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (page, message) => {
  await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  console.error(message);
  await browser.close();
  process.exit(1);
};
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on("pageerror", (e) => console.error("page error:", e.message));
try {
  await page.goto(`${base}/horizon`);
  const card = (key) => page.locator(`[data-stat="${key}"]`);
  await card("recentJobs").filter({ hasText: String(expected.recentJobs) }).waitFor({ timeout: 15000 });
  await card("failedJobs").filter({ hasText: String(expected.failedJobs) }).waitFor({ timeout: 15000 });
  await card("status").filter({ hasText: "running" }).waitFor({ timeout: 15000 });
  const rows = await page.locator('[data-table="workload"] tbody tr').count();
  if (rows < 1) await fail(page, "the workload table is empty");
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-overview.png"), fullPage: true });

  // The failed list, then the job's page through its link, as an operator would.
  // Search by error text; a poll (every 3 s) must not wipe what is being typed.
  await page.click('nav a[data-nav="failed"]');
  await page.fill('#search [name="q"]', "INVALID_PDF");
  await page.waitForTimeout(3500);
  const typed = await page.inputValue('#search [name="q"]');
  if (typed !== "INVALID_PDF") await fail(page, `the search box was reset by polling: ${JSON.stringify(typed)}`);
  await page.click('#search button[type="submit"]');
  await page.locator("[data-total]").filter({ hasText: String(expected.failedJobs) }).waitFor({ timeout: 15000 });
  const link = page.locator(`tr[data-job="${expected.failedJob}"] a`);
  await link.waitFor({ timeout: 15000 });
  await link.click();
  await page.locator("[data-exception]").waitFor({ timeout: 15000 });
  await page.click("#retry");
  const retryRow = page.locator("[data-retry-row]").first();
  await retryRow.waitFor({ timeout: 15000 });
  const retryId = await retryRow.getAttribute("data-retry-row");
  if (!retryId || retryId === expected.failedJob) await fail(page, `no new retry row: ${retryId}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ retryId }));
} catch (e) {
  await fail(page, `browser check failed: ${e.message}`);
}
await browser.close();
