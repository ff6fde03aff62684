// The client against a live Horizon: scripts/test-clients starts a local runner and sets
// HORIZON_ENDPOINT, HORIZON_API_KEY and HORIZON_FIXTURES (the repo's tests/fixtures).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { test } from "node:test";

import { Horizon, JobFailedError, ProblemError, WebhookVerificationError, raiseForStatus, verifyWebhook } from "@horizon/client";

const fixtures = process.env.HORIZON_FIXTURES ?? new URL("../../../tests/fixtures/", import.meta.url).pathname;
const fixture = (name) => `${fixtures.replace(/\/$/, "")}/${name}`;
const tag = () => `ts-${Math.random().toString(36).slice(2, 14)}`;
const horizon = new Horizon();

test("a PDF is extracted into typed chunks and Markdown", async () => {
  const t = tag();
  const job = raiseForStatus(await horizon.extract(fixture("two-pages.pdf"), { tags: [t], metadata: { from: "typescript" } }));
  assert.equal(job.status, "completed");
  assert.equal(job.result?.pages, 2);
  assert.deepEqual(job.chunks.map((c) => c.page), [1, 2]);
  assert.equal(job.chunks[0].type, "paragraph");
  assert.match(job.chunks[0].text, /walking skeleton/);
  assert.equal(job.chunks[0].bbox.length, 4);
  assert.match(job.markdown, /<!-- page 2 -->/);
  assert.ok(job.tags.includes(t));
  assert.deepEqual(job.metadata, { from: "typescript" });
});

// Office documents written by the Python client's tests/documents.py (python-docx and the like):
// scripts/test-clients writes them to HORIZON_DOCUMENTS.
const documents = process.env.HORIZON_DOCUMENTS;

test("a DOCX and a web page keep their headings, lists and tables", { skip: !documents && "HORIZON_DOCUMENTS is not set" }, async () => {
  const report = raiseForStatus(await horizon.extract(`${documents}/report.docx`));
  assert.equal(report.jobType, "extract/document");
  assert.match(report.markdown, /^# Quarterly report$/m);
  assert.match(report.markdown, /1\. Hire two engineers\n2\. Open the Lisbon office\n {4}- Before June/);
  const table = report.chunks.find((c) => c.type === "table");
  assert.deepEqual(table.headings, ["Quarterly report", "Results", "Figures"]);
  assert.equal(table.cells.find((c) => c.text === "Both").rowSpan, 2);
  const page = raiseForStatus(await horizon.extract(new Blob(["<!doctype html><h1>Hello</h1><ol><li>one</li><li>two</li></ol>"])));
  assert.equal(page.result.contentType, "text/html");
  assert.match(page.markdown, /# Hello\n\n1\. one\n2\. two/);
});

test("a Buffer, an ArrayBuffer and a Blob are files too", async () => {
  const bytes = await readFile(fixture("two-pages.pdf"));
  const texts = [];
  for (const file of [bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), new Blob([bytes])]) {
    texts.push((await horizon.extract(file)).chunks.map((c) => c.text));
  }
  assert.deepEqual(texts[1], texts[0]);
  assert.deepEqual(texts[2], texts[0]);
});

test("an image is read with OCR and its table found", async () => {
  const job = raiseForStatus(await horizon.extract(fixture("scan-table.jpg")));
  assert.equal(job.jobType, "extract/document");
  assert.equal(job.result.contentType, "image/jpeg");
  const table = job.chunks.find((c) => c.type === "table");
  assert.ok(table && new Set(table.cells.map((c) => c.row)).size >= 4);
});

test("a large file goes through the presigned upload", async () => {
  const upload = await horizon.uploads.create(fixture("report.pdf"), { directLimit: 1024 });
  assert.ok(upload.size > 1024);
  const job = raiseForStatus(await horizon.extract(upload));
  assert.ok(job.chunks.length > 0);
  await horizon.jobs.delete(job.jobId);
  await horizon.uploads.delete(upload.id);
  await assert.rejects(horizon.jobs.get(job.jobId), (e) => e instanceof ProblemError && e.status === 404);
  const image = await horizon.uploads.create(fixture("scan.jpg"), { directLimit: 1024 });
  assert.equal(image.contentType, "image/jpeg");
  const read = raiseForStatus(await horizon.extract(image));
  assert.equal(read.result.contentType, "image/jpeg");
  assert.ok(read.chunks.length > 0);
});

test("jobs are listed page after page", async () => {
  const t = tag();
  const upload = await horizon.uploads.create(fixture("two-pages.pdf"));
  const started = [];
  for (let i = 0; i < 3; i++) started.push((await horizon.extract(upload, { wait: false, tags: [t] })).jobId);
  const listed = [];
  for await (const job of horizon.jobs.list({ tag: t, pageSize: 1 })) listed.push(job.jobId);
  assert.deepEqual(listed.sort(), started.sort());
  for (const id of started) assert.equal((await horizon.jobs.wait(id)).status, "completed");
});

test("problems are thrown with their fields", async () => {
  await assert.rejects(horizon.jobs.get("job_01JQZZZZZZZZZZZZZZZZZZZZZZ"), (e) => e instanceof ProblemError && e.status === 404 && e.instance !== "");
  await assert.rejects(
    horizon.extract(fixture("two-pages.pdf"), { pages: "three" }),
    (e) => e instanceof ProblemError && e.status === 400 && e.errors.some((f) => f.field.endsWith("pages")),
  );
  await assert.rejects(horizon.uploads.create(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])), (e) => e instanceof ProblemError && e.status === 415);
  const stranger = new Horizon({ apiKey: "hzn_not_a_key" });
  await assert.rejects(stranger.jobs.get("job_01JQZZZZZZZZZZZZZZZZZZZZZZ"), (e) => e instanceof ProblemError && e.status === 401);
});

test("a failed job throws with its code", async () => {
  const job = await horizon.extract(fixture("encrypted-user-password.pdf"));
  assert.equal(job.status, "failed");
  assert.throws(() => raiseForStatus(job), (e) => e instanceof JobFailedError && e.code === "encrypted");
});

test("chunks for retrieval: by_title gathers sections, the Markdown stays", async () => {
  const blocks = await horizon.extract(fixture("report.pdf"));
  const sections = await horizon.extract(fixture("report.pdf"), { chunking: { strategy: "by_title", maxChars: 400 } });
  assert.equal(sections.markdown, blocks.markdown);
  assert.ok(sections.chunks.length < blocks.chunks.length);
  const ids = new Set(blocks.chunks.map((c) => c.id));
  for (const c of sections.chunks) assert.ok(c.blocks.length > 0 && c.blocks.every((b) => ids.has(b.id)));
  assert.ok(sections.chunks.some((c) => c.type === "composite"));
});

test("a webhook delivery is verified", async () => {
  const deliveries = [];
  const server = createServer((req, res) => {
    const parts = [];
    req.on("data", (d) => parts.push(d));
    req.on("end", () => {
      deliveries.push({ body: Buffer.concat(parts), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${server.address().port}/hook`;
    const job = await horizon.extract(fixture("two-pages.pdf"), { wait: false, webhook: { url, events: ["job.completed"] } });
    assert.match(job.webhookSecret, /^whsec_/);
    await horizon.jobs.wait(job.jobId);
    const deadline = Date.now() + 60_000;
    let mine;
    while (!mine && Date.now() < deadline) {
      mine = deliveries.find((d) => d.body.includes(job.jobId));
      if (!mine) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(mine, "no delivery arrived within 60 s");
    const event = await verifyWebhook(mine.body, mine.headers, job.webhookSecret);
    assert.equal(event.type, "job.completed");
    assert.equal(event.data.jobId, job.jobId);
    const tampered = Buffer.from(mine.body.toString().replace("completed", "failed"));
    await assert.rejects(verifyWebhook(tampered, mine.headers, job.webhookSecret), WebhookVerificationError);
    await assert.rejects(verifyWebhook(mine.body, mine.headers, `whsec_${"A".repeat(32)}`), WebhookVerificationError);
    await assert.rejects(verifyWebhook(mine.body, mine.headers, "whsec_"), WebhookVerificationError);
    await assert.rejects(
      verifyWebhook(mine.body, mine.headers, job.webhookSecret, { now: Number(mine.headers["webhook-timestamp"]) + 3600 }),
      WebhookVerificationError,
    );
  } finally {
    server.close();
  }
});

test("keys and account webhooks", async () => {
  const key = await horizon.keys.create();
  assert.match(key.key, /^hzn_/);
  assert.ok(Array.isArray(await new Horizon({ apiKey: key.key }).webhooks.list()));
  await horizon.keys.revoke(key.id);
  const hook = await horizon.webhooks.create("https://example.com/hooks/horizon");
  assert.match(hook.secret, /^whsec_/);
  const rotated = await horizon.webhooks.rotate(hook.id);
  assert.notEqual(rotated.secret, hook.secret);
  await horizon.webhooks.delete(hook.id);
  assert.ok(!(await horizon.webhooks.list()).some((w) => w.id === hook.id));
});
