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
export declare class HorizonError extends Error {
}
/** The API refused a request: an RFC 9457 problem. */
export declare class ProblemError extends HorizonError {
    readonly status: number;
    readonly title: string;
    readonly detail: string;
    readonly type: string;
    readonly instance: string;
    readonly errors: {
        field: string;
        message: string;
    }[];
    constructor(status: number, body: Partial<Problem> | undefined);
}
/** A job ended `failed` (`code` as in its `error.code`). */
export declare class JobFailedError extends HorizonError {
    readonly jobId: string;
    readonly code: string;
    constructor(jobId: string, code: string, message: string);
}
/** A job had not finished when the wait ran out (it goes on). */
export declare class WaitTimeoutError extends HorizonError {
    readonly jobId: string;
    constructor(jobId: string, seconds: number);
}
export declare class WebhookVerificationError extends HorizonError {
}
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
    webhook?: string | {
        url: string;
        events: EventType[];
        secret?: string;
    };
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
export declare const DIRECT_UPLOAD_LIMIT: number;
export declare class Horizon {
    #private;
    readonly baseUrl: string;
    readonly jobs: Jobs;
    readonly uploads: Uploads;
    readonly webhooks: Webhooks;
    readonly keys: Keys;
    constructor(options?: HorizonOptions);
    /** One API request: 429 and 503 are tried again after `Retry-After`; any other error is a `ProblemError`. */
    request(method: string, path: string, init?: {
        json?: unknown;
        body?: BodyInit;
        headers?: Record<string, string>;
        query?: Record<string, string | number | undefined>;
    }): Promise<Response>;
    json<T>(method: string, path: string, init?: Parameters<Horizon["request"]>[2]): Promise<T>;
    /** PUTs bytes to a presigned URL: no API key goes with them. */
    put(url: string, headers: Record<string, string>, body: Blob): Promise<void>;
    /**
     * Uploads `file`, starts an extraction job and, unless `wait: false`, returns it finished with
     * every chunk and its Markdown. A failed job is returned as such: see `raiseForStatus`.
     */
    extract(file: FileInput | Upload, params?: ExtractParams): Promise<Job>;
}
/** Throws `JobFailedError` when the job failed; else returns it. */
export declare function raiseForStatus<T extends JobView>(job: T): T;
declare class Jobs {
    private readonly h;
    constructor(h: Horizon);
    /** The job as it stands (with its first chunks when completed). */
    get(jobId: string): Promise<Job>;
    /** Polls until the job has finished; a completed job comes with every chunk and its Markdown. */
    wait(jobId: string, { timeout }?: {
        timeout?: number;
    }): Promise<Job>;
    /** Every chunk of a completed job, page after page. */
    chunks(jobId: string): Promise<Chunk[]>;
    /** The whole document as Markdown (a large one is fetched from its short-lived S3 link). */
    markdown(jobId: string): Promise<string>;
    /** Every job of the account that matches, newest first, fetched a page at a time. */
    list(filter?: {
        status?: JobStatus;
        jobType?: string;
        tag?: string;
        pageSize?: number;
    }): AsyncGenerator<Job>;
    cancel(jobId: string): Promise<Job>;
    delete(jobId: string): Promise<void>;
}
declare class Uploads {
    private readonly h;
    constructor(h: Horizon);
    /** Uploads a file: in one request up to 4 MiB, else through a presigned URL. */
    create(file: FileInput, { filename, directLimit }?: {
        filename?: string;
        directLimit?: number;
    }): Promise<Upload>;
    delete(uploadId: string): Promise<void>;
}
declare class Webhooks {
    private readonly h;
    constructor(h: Horizon);
    /** An account webhook; its `secret` is shown this once (generated when not given). */
    create(url: string, { events, secret }?: {
        events?: EventType[];
        secret?: string;
    }): Promise<Webhook>;
    list(): Promise<Webhook[]>;
    delete(webhookId: string): Promise<void>;
    rotate(webhookId: string, { secret }?: {
        secret?: string;
    }): Promise<Webhook>;
}
declare class Keys {
    private readonly h;
    constructor(h: Horizon);
    /** Another key of the account (shown this once). */
    create(): Promise<ApiKey>;
    revoke(keyId: string): Promise<void>;
}
/**
 * Verifies a webhook delivery as it arrived (the raw body, its headers, the subscription's
 * `whsec_...` secret) per Standard Webhooks, and returns the event. During a secret's rotation a
 * delivery carries two signatures: either verifies it. `tolerance`: how far (seconds) its
 * timestamp may be from now (300).
 */
export declare function verifyWebhook(body: string | Uint8Array, headers: Headers | Record<string, string>, secret: string, { tolerance, now }?: {
    tolerance?: number;
    now?: number;
}): Promise<WebhookEvent>;
export {};
