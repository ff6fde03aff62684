/**
 * Horizon's TypeScript client: upload a document, extract it, read typed chunks and Markdown.
 * No dependencies beyond `fetch` and Web Crypto: Node ≥ 20 and browsers.
 *
 * ```ts
 * import { Horizon } from "@horizon/client";
 * const horizon = new Horizon({ baseUrl: "http://127.0.0.1:3000", apiKey: "hzn_..." });
 * const job = await horizon.extract(bytes, { mode: "accurate" });
 * console.log(job.markdown);
 * ```
 */

import type { components } from "./openapi.js";

type Schemas = components["schemas"];
/** A chunk: a heading, paragraphs, a list, a table (with `cells`), a caption, a figure's words... */
export type Chunk = Schemas["Chunk"];
export type TableCell = Schemas["TableCell"];
export type BlockRef = Schemas["BlockRef"];
export type Chunking = Schemas["Chunking"];
export type JobView = Schemas["JobView"];
export type JobStatus = Schemas["JobStatus"];
export type Upload = Schemas["UploadView"];
export type Webhook = Schemas["SubscriptionView"];
export type ApiKey = Schemas["ApiKeyView"];
export type Problem = Schemas["Problem"];
export type ExtractOptions = Schemas["ExtractOptions"];
export type EventType = Schemas["EventType"];

/** A job as `GET /v1/jobs/{jobId}` gives it; once waited for, with every chunk and its Markdown. */
export type Job = JobView & {
  /** Every chunk once the job was waited for (`extract({wait: true})`, `jobs.wait`); else the first page. */
  chunks: Chunk[];
  /** The whole document as Markdown, once waited for. */
  markdown?: string;
};

/** A verified webhook delivery. */
export interface WebhookEvent {
  type: EventType;
  timestamp: string;
  data: JobView;
}

export class HorizonError extends Error {}

/** The API refused a request: an RFC 9457 problem. */
export class ProblemError extends HorizonError {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly instance: string;
  readonly errors: { field: string; message: string }[];
  constructor(status: number, body: Partial<Problem> | undefined) {
    const errors = body?.errors ?? [];
    const fields = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    super(`${status} ${body?.title ?? "HTTP error"}${body?.detail ? `: ${body.detail}` : ""}${fields ? ` (${fields})` : ""}`);
    this.name = "ProblemError";
    this.status = body?.status ?? status;
    this.title = body?.title ?? "HTTP error";
    this.detail = body?.detail ?? "";
    this.type = body?.type ?? "about:blank";
    this.instance = body?.instance ?? "";
    this.errors = errors;
  }
}

/** A job ended `failed` (`code` as in its `error.code`). */
export class JobFailedError extends HorizonError {
  constructor(
    readonly jobId: string,
    readonly code: string,
    message: string,
  ) {
    super(`job ${jobId} failed: ${code}: ${message}`);
    this.name = "JobFailedError";
  }
}

/** A job had not finished when the wait ran out (it goes on). */
export class WaitTimeoutError extends HorizonError {
  constructor(readonly jobId: string, seconds: number) {
    super(`job ${jobId} had not finished after ${seconds} s`);
    this.name = "WaitTimeoutError";
  }
}

export class WebhookVerificationError extends HorizonError {}

/** Bytes to upload: a Blob (a browser's File), an ArrayBuffer, a Uint8Array (Node's Buffer), or in Node a path. */
export type FileInput = Blob | ArrayBuffer | Uint8Array | string;

export interface ExtractParams {
  /** Wait for the job to finish (default true), up to `timeout` seconds (900). */
  wait?: boolean;
  timeout?: number;
  mode?: "accurate" | "fast";
  ocr?: "auto" | "always" | "never";
  pages?: string;
  languages?: string[];
  maxChunkChars?: number;
  chunking?: Chunking;
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** A URL (for `job.completed` and `job.failed`), or the whole subscription. */
  webhook?: string | { url: string; events: EventType[]; secret?: string };
  filename?: string;
  idempotencyKey?: string;
}

export interface HorizonOptions {
  /** Default `HORIZON_ENDPOINT` (in Node), else http://127.0.0.1:3000. */
  baseUrl?: string;
  /** Default `HORIZON_API_KEY` (in Node). */
  apiKey?: string;
  fetch?: typeof fetch;
  /** How often a 429 or 503 is tried again after its `Retry-After` (5). */
  maxRetries?: number;
}

/** Files up to this size go in one request; larger ones to a presigned URL. */
export const DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024;

const env = (name: string): string | undefined =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];

const sleep = (seconds: number) => new Promise((r) => setTimeout(r, seconds * 1000));

function retryAfter(response: Response, attempt: number): number {
  const value = response.headers.get("retry-after");
  let wait = value === null ? NaN : Number(value);
  if (value !== null && Number.isNaN(wait)) {
    wait = (Date.parse(value) - Date.now()) / 1000;
  }
  if (Number.isNaN(wait)) {
    wait = Math.min(2 ** attempt, 30) * (0.5 + Math.random());
  }
  return Math.max(0, Math.min(wait, 60));
}

export class Horizon {
  readonly baseUrl: string;
  readonly jobs: Jobs;
  readonly uploads: Uploads;
  readonly webhooks: Webhooks;
  readonly keys: Keys;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #retries: number;

  constructor(options: HorizonOptions = {}) {
    this.baseUrl = (options.baseUrl ?? env("HORIZON_ENDPOINT") ?? "http://127.0.0.1:3000").replace(/\/+$/, "");
    const key = options.apiKey ?? env("HORIZON_API_KEY");
    if (!key) throw new HorizonError("an API key is needed: pass apiKey or set HORIZON_API_KEY");
    this.#apiKey = key;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#retries = options.maxRetries ?? 5;
    this.jobs = new Jobs(this);
    this.uploads = new Uploads(this);
    this.webhooks = new Webhooks(this);
    this.keys = new Keys(this);
  }

  /** One API request: 429 and 503 are tried again after `Retry-After`; any other error is a `ProblemError`. */
  async request(method: string, path: string, init: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; query?: Record<string, string | number | undefined> } = {}): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(init.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#apiKey}`, ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    // A 503 may come after the work was done: sent again only when that is safe (no POST, or
    // one with an Idempotency-Key).
    const again = method !== "POST" || "Idempotency-Key" in headers ? [429, 503] : [429];
    for (let attempt = 0; ; attempt++) {
      const response = await this.#fetch(url, { method, headers, body });
      if (again.includes(response.status) && attempt < this.#retries) {
        await response.body?.cancel();
        await sleep(retryAfter(response, attempt));
        continue;
      }
      if (response.status >= 400) {
        let problem: Partial<Problem> | undefined;
        try {
          problem = (await response.json()) as Partial<Problem>;
        } catch {
          problem = undefined;
        }
        throw new ProblemError(response.status, problem);
      }
      return response;
    }
  }

  async json<T>(method: string, path: string, init?: Parameters<Horizon["request"]>[2]): Promise<T> {
    return (await (await this.request(method, path, init)).json()) as T;
  }

  /** PUTs bytes to a presigned URL: no API key goes with them. */
  async put(url: string, headers: Record<string, string>, body: Blob): Promise<void> {
    const response = await this.#fetch(url, { method: "PUT", headers, body });
    if (!response.ok) throw new ProblemError(response.status, { title: "the presigned upload was refused", detail: (await response.text()).slice(0, 500) });
  }

  /**
   * Uploads `file`, starts an extraction job and, unless `wait: false`, returns it finished with
   * every chunk and its Markdown. A failed job is returned as such: see `raiseForStatus`.
   */
  async extract(file: FileInput | Upload, params: ExtractParams = {}): Promise<Job> {
    const upload = isUpload(file) ? file : await this.uploads.create(file, { filename: params.filename });
    const options: ExtractOptions = {};
    if (params.mode) options.mode = params.mode;
    if (params.ocr) options.ocr = params.ocr;
    if (params.pages) options.pages = params.pages;
    if (params.languages) options.languages = params.languages;
    if (params.maxChunkChars) options.maxChunkChars = params.maxChunkChars;
    if (params.chunking) options.chunking = params.chunking;
    const body: Record<string, unknown> = { uploadId: upload.id };
    if (Object.keys(options).length) body.options = options;
    if (params.tags?.length) body.tags = params.tags;
    if (params.metadata) body.metadata = params.metadata;
    if (params.webhook) {
      body.webhook = typeof params.webhook === "string" ? { url: params.webhook, events: ["job.completed", "job.failed"] } : params.webhook;
    }
    // The document route reads every type the service reads (PDF, images, Office, HTML…).
    const route = "/v1/extract/document";
    // Always a key: a 503 after the job was made is then safe to send again.
    const headers = { "Idempotency-Key": params.idempotencyKey ?? `horizon-client-${crypto.randomUUID()}` };
    const job = withChunks(await this.json<JobView>("POST", route, { json: body, headers }));
    if (params.wait === false) return job;
    return this.jobs.wait(job.jobId, { timeout: params.timeout });
  }
}

function isUpload(file: FileInput | Upload): file is Upload {
  return typeof file === "object" && file !== null && "id" in file && "contentType" in file && !(file instanceof Blob);
}

function withChunks(view: JobView): Job {
  return { ...view, chunks: view.result?.chunks ?? [] };
}

/** Throws `JobFailedError` when the job failed; else returns it. */
export function raiseForStatus<T extends JobView>(job: T): T {
  if (job.status === "failed") {
    throw new JobFailedError(job.jobId, job.error?.code ?? "failed", job.error?.message ?? "the job failed");
  }
  return job;
}

/** The type the service will find in these bytes (it checks them again): PDF or an image. */
async function sniff(blob: Blob): Promise<string> {
  const head = new Uint8Array(await blob.slice(0, 1024).arrayBuffer());
  const text = String.fromCharCode(...head);
  if (text.includes("%PDF-")) return "application/pdf"; // PDF readers allow bytes before it
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (text.startsWith("GIF87a") || text.startsWith("GIF89a")) return "image/gif";
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "image/tiff";
  if (text.startsWith("RIFF") && text.slice(8, 12) === "WEBP") return "image/webp";
  return "application/octet-stream";
}

async function toBlob(file: Exclude<FileInput, string> | string): Promise<{ blob: Blob; name?: string }> {
  if (typeof file === "string") {
    // A path, in Node: read with node:fs, imported only here (browsers never reach it).
    const fs = "node:fs/promises";
    const { readFile } = (await import(/* @vite-ignore */ fs)) as { readFile(p: string): Promise<Uint8Array> };
    const bytes = await readFile(file);
    return { blob: new Blob([bytes as Uint8Array<ArrayBuffer>]), name: file.split(/[\\/]/).pop() };
  }
  if (file instanceof Blob) return { blob: file, name: (file as { name?: string }).name };
  return { blob: new Blob([(file instanceof Uint8Array ? file : new Uint8Array(file)) as Uint8Array<ArrayBuffer>]) };
}

class Jobs {
  constructor(private readonly h: Horizon) {}

  /** The job as it stands (with its first chunks when completed). */
  async get(jobId: string): Promise<Job> {
    return withChunks(await this.h.json<JobView>("GET", `/v1/jobs/${encodeURIComponent(jobId)}`));
  }

  /** Polls until the job has finished; a completed job comes with every chunk and its Markdown. */
  async wait(jobId: string, { timeout = 900 }: { timeout?: number } = {}): Promise<Job> {
    const start = Date.now();
    let interval = 1;
    for (;;) {
      const job = await this.get(jobId);
      if (job.status === "completed") {
        return { ...job, chunks: await this.chunks(jobId), markdown: await this.markdown(jobId) };
      }
      if (job.status === "failed") return job;
      const left = timeout - (Date.now() - start) / 1000;
      if (left <= 0) throw new WaitTimeoutError(jobId, timeout);
      await sleep(Math.min(interval, left));
      interval = Math.min(interval * 1.5, 5);
    }
  }

  /** Every chunk of a completed job, page after page. */
  async chunks(jobId: string): Promise<Chunk[]> {
    const out: Chunk[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.h.json<Schemas["ChunkPage"]>("GET", `/v1/jobs/${encodeURIComponent(jobId)}/chunks`, { query: { limit: 1000, cursor } });
      out.push(...page.chunks);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** The whole document as Markdown (a large one is fetched from its short-lived S3 link). */
  async markdown(jobId: string): Promise<string> {
    return (await this.h.request("GET", `/v1/jobs/${encodeURIComponent(jobId)}/markdown`)).text();
  }

  /** Every job of the account that matches, newest first, fetched a page at a time. */
  async *list(filter: { status?: JobStatus; jobType?: string; tag?: string; pageSize?: number } = {}): AsyncGenerator<Job> {
    let cursor: string | undefined;
    do {
      const page = await this.h.json<Schemas["JobList"]>("GET", "/v1/jobs", {
        query: { status: filter.status, jobType: filter.jobType, tag: filter.tag, limit: filter.pageSize ?? 100, cursor },
      });
      for (const job of page.jobs) yield withChunks(job);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  async cancel(jobId: string): Promise<Job> {
    return withChunks(await this.h.json<JobView>("POST", `/v1/jobs/${encodeURIComponent(jobId)}/cancel`));
  }

  async delete(jobId: string): Promise<void> {
    await this.h.request("DELETE", `/v1/jobs/${encodeURIComponent(jobId)}`);
  }
}

class Uploads {
  constructor(private readonly h: Horizon) {}

  /** Uploads a file: in one request up to 4 MiB, else through a presigned URL. */
  async create(file: FileInput, { filename, directLimit = DIRECT_UPLOAD_LIMIT }: { filename?: string; directLimit?: number } = {}): Promise<Upload> {
    const { blob, name } = await toBlob(file);
    const fileName = filename ?? name ?? "document";
    if (blob.size <= directLimit) {
      const form = new FormData();
      form.append("file", blob, fileName);
      form.append("filename", fileName);
      return this.h.json<Upload>("POST", "/api/upload", { body: form });
    }
    // The type, when known here, is declared (the service checks the bytes against it on first
    // use); other documents are declared by their bytes alone.
    const contentType = await sniff(blob);
    const request = contentType === "application/octet-stream" ? { size: blob.size, filename: fileName } : { size: blob.size, filename: fileName, contentType };
    const grant = await this.h.json<Schemas["PresignView"]>("POST", "/api/uploads", { json: request });
    await this.h.put(grant.uploadUrl, (grant.headers ?? {}) as Record<string, string>, blob);
    return { id: grant.id, contentType, size: blob.size, createdAt: "", url: grant.url, filename: fileName } as Upload;
  }

  async delete(uploadId: string): Promise<void> {
    await this.h.request("DELETE", `/api/uploads/${encodeURIComponent(uploadId)}`);
  }
}

class Webhooks {
  constructor(private readonly h: Horizon) {}

  /** An account webhook; its `secret` is shown this once (generated when not given). */
  async create(url: string, { events = ["job.completed", "job.failed"], secret }: { events?: EventType[]; secret?: string } = {}): Promise<Webhook> {
    return this.h.json<Webhook>("POST", "/v1/webhooks", { json: secret ? { url, events, secret } : { url, events } });
  }

  async list(): Promise<Webhook[]> {
    return (await this.h.json<Schemas["WebhookList"]>("GET", "/v1/webhooks")).webhooks;
  }

  async delete(webhookId: string): Promise<void> {
    await this.h.request("DELETE", `/v1/webhooks/${encodeURIComponent(webhookId)}`);
  }

  async rotate(webhookId: string, { secret }: { secret?: string } = {}): Promise<Webhook> {
    return this.h.json<Webhook>("POST", `/v1/webhooks/${encodeURIComponent(webhookId)}/rotate`, { json: secret ? { secret } : {} });
  }
}

class Keys {
  constructor(private readonly h: Horizon) {}

  /** Another key of the account (shown this once). */
  async create(): Promise<ApiKey> {
    return this.h.json<ApiKey>("POST", "/v1/keys");
  }

  async revoke(keyId: string): Promise<void> {
    await this.h.request("DELETE", `/v1/keys/${encodeURIComponent(keyId)}`);
  }
}

const header = (headers: Headers | Record<string, string>, name: string): string => {
  const value = headers instanceof Headers ? headers.get(name) : Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  if (value === undefined || value === null) throw new WebhookVerificationError(`the ${name} header is missing`);
  return value;
};

/**
 * Verifies a webhook delivery as it arrived (the raw body, its headers, the subscription's
 * `whsec_...` secret) per Standard Webhooks, and returns the event. During a secret's rotation a
 * delivery carries two signatures: either verifies it. `tolerance`: how far (seconds) its
 * timestamp may be from now (300).
 */
export async function verifyWebhook(
  body: string | Uint8Array,
  headers: Headers | Record<string, string>,
  secret: string,
  { tolerance = 300, now = Date.now() / 1000 }: { tolerance?: number; now?: number } = {},
): Promise<WebhookEvent> {
  const raw = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const id = header(headers, "webhook-id");
  const stamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  const sent = Number(stamp);
  if (!Number.isInteger(sent)) throw new WebhookVerificationError("webhook-timestamp is not a number");
  if (Math.abs(now - sent) > tolerance) throw new WebhookVerificationError("the delivery's timestamp is too far from now");
  let key: Uint8Array<ArrayBuffer>;
  try {
    key = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
  } catch {
    throw new WebhookVerificationError("the secret is not whsec_ and base64");
  }
  if (key.length === 0) throw new WebhookVerificationError("the secret is empty");
  const prefix = new TextEncoder().encode(`${id}.${stamp}.`);
  const signed = new Uint8Array(prefix.length + raw.length);
  signed.set(prefix);
  signed.set(raw, prefix.length);
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  for (const candidate of signatures.split(" ")) {
    const [version, signature] = candidate.split(",", 2);
    if (version !== "v1" || !signature) continue;
    let mac: Uint8Array<ArrayBuffer>;
    try {
      mac = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
    } catch {
      continue;
    }
    // crypto.subtle.verify compares in constant time.
    if (await crypto.subtle.verify("HMAC", hmac, mac, signed)) {
      try {
        const event = JSON.parse(new TextDecoder().decode(raw)) as WebhookEvent;
        if (!event.type || !event.data) throw new Error("no type or data");
        return event;
      } catch (e) {
        throw new WebhookVerificationError(`the body is no Horizon event: ${(e as Error).message}`);
      }
    }
  }
  throw new WebhookVerificationError("no signature matches");
}
