"""Every operation once, free of I/O: a generator that yields what it needs done (send a request,
sleep) and is sent the answer. `Client` runs them with httpx's blocking client, `AsyncClient`
with its async one, so the two cannot behave differently.
"""

from __future__ import annotations

import io
import os
import random
import uuid
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Dict, Generator, List, Optional, Sequence, Tuple, TypeVar, Union

import httpx

from .errors import ProblemError, WaitTimeout
from .models import ApiKey, Chunk, Job, Upload, Webhook, from_json

T = TypeVar("T")

#: Files up to this size go in one request (`POST /api/upload`); larger ones to a presigned URL.
DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024
#: How often a 429 or 503 is tried again before it is raised.
RETRIES = 5


@dataclass
class Send:
    method: str
    url: str
    kwargs: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Sleep:
    seconds: float


@dataclass
class Clock:
    """Asks the driver for its monotonic time (seconds)."""


Step = Union[Send, Sleep, Clock]
Op = Generator[Step, Any, T]

FileInput = Union[str, "os.PathLike[str]", bytes, bytearray, BinaryIO]


def retry_after(response: httpx.Response, attempt: int) -> float:
    """The wait a 429 or 503 asks for (`Retry-After`, seconds or a date), else a backoff with
    jitter; at most a minute."""
    value = response.headers.get("retry-after", "").strip()
    wait: Optional[float] = None
    if value:
        try:
            wait = float(value)
        except ValueError:
            try:
                import datetime

                when = parsedate_to_datetime(value)
                wait = (when - datetime.datetime.now(when.tzinfo)).total_seconds()
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        wait = min(2.0**attempt, 30.0) * (0.5 + random.random())
    return max(0.0, min(wait, 60.0))


def problem(response: httpx.Response) -> ProblemError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    after = response.headers.get("retry-after")
    seconds: Optional[float]
    try:
        seconds = float(after) if after else None
    except ValueError:
        seconds = None
    return ProblemError.from_json(response.status_code, body, seconds)


def call(method: str, url: str, **kwargs: Any) -> Op[httpx.Response]:
    """One request; 429 is tried again after its `Retry-After`, and so is 503 when sending the
    request again is safe (no POST, or one with an `Idempotency-Key`: a 503 may come after the
    work was done). Any other 4xx or 5xx is raised as a `ProblemError`."""
    again = (429, 503) if method != "POST" or "Idempotency-Key" in kwargs.get("headers", {}) else (429,)
    attempt = 0
    while True:
        response: httpx.Response = yield Send(method, url, kwargs)
        if response.status_code in again and attempt < RETRIES:
            yield Sleep(retry_after(response, attempt))
            attempt += 1
            continue
        if response.status_code >= 400:
            raise problem(response)
        return response


# Jobs


def get_job(job_id: str) -> Op[Job]:
    response = yield from call("GET", f"/v1/jobs/{job_id}")
    return from_json(Job, response.json())


def list_jobs_page(
    cursor: Optional[str], status: Optional[str], job_type: Optional[str], tag: Optional[str], limit: int
) -> Op[Tuple[List[Job], Optional[str]]]:
    params = {"status": status, "jobType": job_type, "tag": tag, "cursor": cursor, "limit": limit}
    response = yield from call("GET", "/v1/jobs", params={k: v for k, v in params.items() if v is not None})
    body = response.json()
    return [from_json(Job, j) for j in body.get("jobs", [])], body.get("nextCursor")


def chunks(job_id: str) -> Op[List[Chunk]]:
    """Every chunk of a completed job, page after page."""
    out: List[Chunk] = []
    cursor: Optional[str] = None
    while True:
        params: Dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        response = yield from call("GET", f"/v1/jobs/{job_id}/chunks", params=params)
        body = response.json()
        out.extend(from_json(Chunk, c) for c in body.get("chunks", []))
        cursor = body.get("nextCursor")
        if not cursor:
            return out


def markdown(job_id: str) -> Op[str]:
    # A large document's Markdown is a 307 to a short-lived S3 link (httpx drops the API key
    # when a redirect leaves the API's origin).
    response = yield from call("GET", f"/v1/jobs/{job_id}/markdown", follow_redirects=True)
    return response.text


def cancel(job_id: str) -> Op[Job]:
    response = yield from call("POST", f"/v1/jobs/{job_id}/cancel")
    return from_json(Job, response.json())


def delete_job(job_id: str) -> Op[None]:
    yield from call("DELETE", f"/v1/jobs/{job_id}")


def wait(job_id: str, timeout: float = 900.0, poll: float = 1.0) -> Op[Job]:
    """Polls until the job has finished; a completed job comes with all its chunks and its
    Markdown. Raises `WaitTimeout` when `timeout` seconds pass first."""
    start: float = yield Clock()
    interval = poll
    while True:
        job = yield from get_job(job_id)
        if job.done:
            break
        now: float = yield Clock()
        if now - start >= timeout:
            raise WaitTimeout(job_id, timeout)
        yield Sleep(min(interval, max(0.0, timeout - (now - start))))
        interval = min(interval * 1.5, 5.0)
    if job.status == "completed":
        job.chunks = yield from chunks(job_id)
        job.markdown = yield from markdown(job_id)
    return job


# Uploads


def _read(file: FileInput) -> Tuple[bytes, Optional[str]]:
    """The bytes of a path, bytes or binary file, and its name when it has one."""
    if isinstance(file, (bytes, bytearray)):
        return bytes(file), None
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        return path.read_bytes(), path.name
    if isinstance(file, io.TextIOBase):
        raise TypeError("open the file in binary mode ('rb')")
    data = file.read()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("open the file in binary mode ('rb')")
    name = getattr(file, "name", None)
    return bytes(data), os.path.basename(name) if isinstance(name, str) else None


def sniff(data: bytes) -> str:
    """The type the service will find in these bytes (it checks them again): PDF or an image."""
    signatures = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
    ]
    if b"%PDF-" in data[:1024]:  # PDF readers allow bytes before the header
        return "application/pdf"
    for magic, kind in signatures:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def upload(file: FileInput, filename: Optional[str] = None) -> Op[Upload]:
    """Uploads a file: in one request up to 4 MiB, else through a presigned URL. The service
    detects the type from the bytes."""
    data, name = _read(file)
    filename = filename or name or "document"
    if len(data) <= DIRECT_UPLOAD_LIMIT:
        response = yield from call(
            "POST",
            "/api/upload",
            files={"file": (filename, data, "application/octet-stream")},
            data={"filename": filename},
        )
        return from_json(Upload, response.json())
    # The type, when known here, is declared (the service checks the bytes against it on first
    # use); other documents are declared by their bytes alone.
    kind = sniff(data)
    body: Dict[str, Any] = {"size": len(data), "filename": filename}
    if kind != "application/octet-stream":
        body["contentType"] = kind
    response = yield from call("POST", "/api/uploads", json=body)
    grant = response.json()
    put = yield Send(
        grant.get("method", "PUT"),
        grant["uploadUrl"],
        {"content": data, "headers": grant.get("headers") or {}, "presigned": True},
    )
    if put.status_code >= 300:
        raise ProblemError(put.status_code, "the presigned upload was refused", put.text[:500])
    # The upload's record, as a direct upload returns it (type and pages are known on first use).
    return Upload(
        id=grant["id"],
        content_type=kind,
        size=len(data),
        created_at=grant.get("createdAt", ""),
        url=grant.get("url", ""),
        filename=filename,
    )


def delete_upload(upload_id: str) -> Op[None]:
    yield from call("DELETE", f"/api/uploads/{upload_id}")


# Extraction


def extract(
    file: Union[FileInput, Upload],
    *,
    wait_for: bool,
    mode: Optional[str],
    pages: Union[str, Sequence[int], None],
    ocr: Optional[str],
    languages: Optional[Sequence[str]],
    max_chunk_chars: Optional[int],
    chunking: Optional[Dict[str, Any]],
    tags: Optional[Sequence[str]],
    metadata: Optional[Dict[str, Any]],
    webhook: Union[str, Dict[str, Any], None],
    filename: Optional[str],
    idempotency_key: Optional[str],
    timeout: float,
) -> Op[Job]:
    up = file if isinstance(file, Upload) else (yield from upload(file, filename))
    options: Dict[str, Any] = {}
    if mode is not None:
        options["mode"] = mode
    if pages is not None:
        options["pages"] = pages if isinstance(pages, str) else ",".join(str(p) for p in pages)
    if ocr is not None:
        options["ocr"] = ocr
    if languages is not None:
        options["languages"] = list(languages)
    if max_chunk_chars is not None:
        options["maxChunkChars"] = max_chunk_chars
    if chunking is not None:
        options["chunking"] = chunking
    body: Dict[str, Any] = {"uploadId": up.id}
    if options:
        body["options"] = options
    if tags:
        body["tags"] = list(tags)
    if metadata is not None:
        body["metadata"] = metadata
    if webhook is not None:
        body["webhook"] = (
            {"url": webhook, "events": ["job.completed", "job.failed"]} if isinstance(webhook, str) else webhook
        )
    # Always a key: a 503 after the job was made is then safe to send again.
    headers = {"Idempotency-Key": idempotency_key or f"horizon-client-{uuid.uuid4()}"}
    # The document route reads every type the service reads (PDF, images, Office, HTML…).
    response = yield from call("POST", "/v1/extract/document", json=body, headers=headers)
    job = from_json(Job, response.json())
    if not wait_for:
        return job
    return (yield from wait(job.id, timeout=timeout))


# Webhooks and keys


def create_webhook(url: str, events: Sequence[str], secret: Optional[str]) -> Op[Webhook]:
    body: Dict[str, Any] = {"url": url, "events": list(events)}
    if secret:
        body["secret"] = secret
    response = yield from call("POST", "/v1/webhooks", json=body)
    return from_json(Webhook, response.json())


def list_webhooks() -> Op[List[Webhook]]:
    response = yield from call("GET", "/v1/webhooks")
    return [from_json(Webhook, w) for w in response.json().get("webhooks", [])]


def delete_webhook(webhook_id: str) -> Op[None]:
    yield from call("DELETE", f"/v1/webhooks/{webhook_id}")


def rotate_webhook(webhook_id: str, secret: Optional[str]) -> Op[Webhook]:
    response = yield from call("POST", f"/v1/webhooks/{webhook_id}/rotate", json={"secret": secret} if secret else {})
    return from_json(Webhook, response.json())


def create_key() -> Op[ApiKey]:
    response = yield from call("POST", "/v1/keys")
    return from_json(ApiKey, response.json())


def revoke_key(key_id: str) -> Op[None]:
    yield from call("DELETE", f"/v1/keys/{key_id}")
