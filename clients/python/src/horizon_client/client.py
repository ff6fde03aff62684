"""`Client` (blocking) and `AsyncClient`: each runs the operations of `_ops` over httpx."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator, Dict, Generator, Iterator, List, Optional, Sequence, Union

import httpx

from . import _ops
from ._ops import Clock, FileInput, Op, Send, Sleep, T
from .models import ApiKey, Chunk, Job, Upload, Webhook

__all__ = ["Client", "AsyncClient"]


class _KeyAuth(httpx.Auth):
    """The API key, sent to the API's own origin only (never to a presigned S3 URL, nor after a
    redirect elsewhere)."""

    def __init__(self, key: str, base: httpx.URL) -> None:
        self._key = key
        self._origin = (base.scheme, base.host, base.port)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if (request.url.scheme, request.url.host, request.url.port) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key}"
        yield request


def _settings(base_url: Optional[str], api_key: Optional[str]) -> Dict[str, Any]:
    base = base_url or os.environ.get("HORIZON_ENDPOINT") or "http://127.0.0.1:3000"
    key = api_key or os.environ.get("HORIZON_API_KEY")
    if not key:
        raise ValueError("an API key is needed: pass api_key= or set HORIZON_API_KEY")
    url = httpx.URL(base.rstrip("/"))
    return {"base_url": url, "auth": _KeyAuth(key, url)}


def _join(base: httpx.URL, step: Send) -> httpx.URL:
    """A path of the API under its base URL; a full URL (a presigned one) as it is."""
    url = httpx.URL(step.url)
    return url if url.is_absolute_url else base.join(base.path.rstrip("/") + step.url)


def _kwargs(step: Send) -> Dict[str, Any]:
    kwargs = dict(step.kwargs)
    kwargs.pop("presigned", None)
    return kwargs


class Client:
    """A blocking client. `base_url` and `api_key` default to `HORIZON_ENDPOINT` and
    `HORIZON_API_KEY`.

    >>> with Client() as horizon:
    ...     job = horizon.extract("report.pdf")
    ...     print(job.markdown)
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 60.0,
        http: Optional[httpx.Client] = None,
    ) -> None:
        settings = _settings(base_url, api_key)
        # A client of the caller's (its transport, timeouts, proxies) is used with this base URL
        # and key, and left open for the caller to close.
        self._owned = http is None
        self._http = http or httpx.Client(timeout=timeout, **settings)
        self._base = settings["base_url"]
        self._auth = settings["auth"]
        self.jobs = Jobs(self)
        self.uploads = Uploads(self)
        self.webhooks = Webhooks(self)
        self.keys = Keys(self)

    def _url(self, step: Send) -> httpx.URL:
        return _join(self._base, step)

    def _run(self, op: Op[T]) -> T:
        answer: Any = None
        while True:
            try:
                step = op.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(step, Send):
                answer = self._http.request(step.method, self._url(step), auth=self._auth, **_kwargs(step))
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
                answer = None
            elif isinstance(step, Clock):
                answer = time.monotonic()

    def extract(
        self,
        file: Union[FileInput, Upload],
        *,
        wait: bool = True,
        mode: Optional[str] = None,
        pages: Union[str, Sequence[int], None] = None,
        ocr: Optional[str] = None,
        languages: Optional[Sequence[str]] = None,
        max_chunk_chars: Optional[int] = None,
        chunking: Optional[Dict[str, Any]] = None,
        tags: Optional[Sequence[str]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        webhook: Union[str, Dict[str, Any], None] = None,
        filename: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        timeout: float = 900.0,
    ) -> Job:
        """Uploads `file` (a path, bytes, a binary file, or an `Upload`), starts an extraction
        job and, with `wait`, returns it finished, with all its chunks and its Markdown. A failed
        job is returned as such: call `raise_for_status()`. `chunking`: chunks sized for
        retrieval, `{"strategy": "by_title" | "by_page" | "block", "maxChars": N,
        "overlapChars": M}`."""
        return self._run(
            _ops.extract(
                file,
                wait_for=wait,
                mode=mode,
                pages=pages,
                ocr=ocr,
                languages=languages,
                max_chunk_chars=max_chunk_chars,
                chunking=chunking,
                tags=tags,
                metadata=metadata,
                webhook=webhook,
                filename=filename,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The same as `Client`, for asyncio: every method is awaited, `jobs.list` is iterated with
    `async for`."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 60.0,
        http: Optional[httpx.AsyncClient] = None,
    ) -> None:
        settings = _settings(base_url, api_key)
        # A client of the caller's (its transport, timeouts, proxies) is used with this base URL
        # and key, and left open for the caller to close.
        self._owned = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, **settings)
        self._base = settings["base_url"]
        self._auth = settings["auth"]
        self.jobs = AsyncJobs(self)
        self.uploads = AsyncUploads(self)
        self.webhooks = AsyncWebhooks(self)
        self.keys = AsyncKeys(self)

    def _url(self, step: Send) -> httpx.URL:
        return _join(self._base, step)

    async def _run(self, op: Op[T]) -> T:
        answer: Any = None
        while True:
            try:
                step = op.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(step, Send):
                answer = await self._http.request(step.method, self._url(step), auth=self._auth, **_kwargs(step))
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                answer = None
            elif isinstance(step, Clock):
                answer = time.monotonic()

    async def extract(
        self,
        file: Union[FileInput, Upload],
        *,
        wait: bool = True,
        mode: Optional[str] = None,
        pages: Union[str, Sequence[int], None] = None,
        ocr: Optional[str] = None,
        languages: Optional[Sequence[str]] = None,
        max_chunk_chars: Optional[int] = None,
        chunking: Optional[Dict[str, Any]] = None,
        tags: Optional[Sequence[str]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        webhook: Union[str, Dict[str, Any], None] = None,
        filename: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        timeout: float = 900.0,
    ) -> Job:
        """See `Client.extract`."""
        return await self._run(
            _ops.extract(
                file,
                wait_for=wait,
                mode=mode,
                pages=pages,
                ocr=ocr,
                languages=languages,
                max_chunk_chars=max_chunk_chars,
                chunking=chunking,
                tags=tags,
                metadata=metadata,
                webhook=webhook,
                filename=filename,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# The resources: one line per operation for each client.


class Jobs:
    def __init__(self, client: Client) -> None:
        self._run = client._run

    def get(self, job_id: str) -> Job:
        """The job as it stands (with its first chunks when completed)."""
        return self._run(_ops.get_job(job_id))

    def wait(self, job_id: str, *, timeout: float = 900.0) -> Job:
        """Waits for the job to finish; a completed one comes with every chunk and its Markdown."""
        return self._run(_ops.wait(job_id, timeout))

    def chunks(self, job_id: str) -> List[Chunk]:
        return self._run(_ops.chunks(job_id))

    def markdown(self, job_id: str) -> str:
        return self._run(_ops.markdown(job_id))

    def list(
        self, *, status: Optional[str] = None, job_type: Optional[str] = None, tag: Optional[str] = None, page_size: int = 100
    ) -> Iterator[Job]:
        """Every job of the account that matches, newest first, fetched a page at a time."""
        cursor: Optional[str] = None
        while True:
            jobs, cursor = self._run(_ops.list_jobs_page(cursor, status, job_type, tag, page_size))
            yield from jobs
            if not cursor:
                return

    def cancel(self, job_id: str) -> Job:
        return self._run(_ops.cancel(job_id))

    def delete(self, job_id: str) -> None:
        self._run(_ops.delete_job(job_id))


class AsyncJobs:
    def __init__(self, client: AsyncClient) -> None:
        self._run = client._run

    async def get(self, job_id: str) -> Job:
        return await self._run(_ops.get_job(job_id))

    async def wait(self, job_id: str, *, timeout: float = 900.0) -> Job:
        return await self._run(_ops.wait(job_id, timeout))

    async def chunks(self, job_id: str) -> List[Chunk]:
        return await self._run(_ops.chunks(job_id))

    async def markdown(self, job_id: str) -> str:
        return await self._run(_ops.markdown(job_id))

    async def list(
        self, *, status: Optional[str] = None, job_type: Optional[str] = None, tag: Optional[str] = None, page_size: int = 100
    ) -> AsyncIterator[Job]:
        cursor: Optional[str] = None
        while True:
            jobs, cursor = await self._run(_ops.list_jobs_page(cursor, status, job_type, tag, page_size))
            for job in jobs:
                yield job
            if not cursor:
                return

    async def cancel(self, job_id: str) -> Job:
        return await self._run(_ops.cancel(job_id))

    async def delete(self, job_id: str) -> None:
        await self._run(_ops.delete_job(job_id))


class Uploads:
    def __init__(self, client: Client) -> None:
        self._run = client._run

    def create(self, file: FileInput, *, filename: Optional[str] = None) -> Upload:
        return self._run(_ops.upload(file, filename))

    def delete(self, upload_id: str) -> None:
        self._run(_ops.delete_upload(upload_id))


class AsyncUploads:
    def __init__(self, client: AsyncClient) -> None:
        self._run = client._run

    async def create(self, file: FileInput, *, filename: Optional[str] = None) -> Upload:
        return await self._run(_ops.upload(file, filename))

    async def delete(self, upload_id: str) -> None:
        await self._run(_ops.delete_upload(upload_id))


_EVENTS = ("job.completed", "job.failed")


class Webhooks:
    def __init__(self, client: Client) -> None:
        self._run = client._run

    def create(self, url: str, *, events: Sequence[str] = _EVENTS, secret: Optional[str] = None) -> Webhook:
        """An account webhook; its `secret` is shown this once (generated when not given)."""
        return self._run(_ops.create_webhook(url, events, secret))

    def list(self) -> List[Webhook]:
        return self._run(_ops.list_webhooks())

    def delete(self, webhook_id: str) -> None:
        self._run(_ops.delete_webhook(webhook_id))

    def rotate(self, webhook_id: str, *, secret: Optional[str] = None) -> Webhook:
        return self._run(_ops.rotate_webhook(webhook_id, secret))


class AsyncWebhooks:
    def __init__(self, client: AsyncClient) -> None:
        self._run = client._run

    async def create(self, url: str, *, events: Sequence[str] = _EVENTS, secret: Optional[str] = None) -> Webhook:
        return await self._run(_ops.create_webhook(url, events, secret))

    async def list(self) -> List[Webhook]:
        return await self._run(_ops.list_webhooks())

    async def delete(self, webhook_id: str) -> None:
        await self._run(_ops.delete_webhook(webhook_id))

    async def rotate(self, webhook_id: str, *, secret: Optional[str] = None) -> Webhook:
        return await self._run(_ops.rotate_webhook(webhook_id, secret))


class Keys:
    def __init__(self, client: Client) -> None:
        self._run = client._run

    def create(self) -> ApiKey:
        """Another key of the account (shown this once)."""
        return self._run(_ops.create_key())

    def revoke(self, key_id: str) -> None:
        self._run(_ops.revoke_key(key_id))


class AsyncKeys:
    def __init__(self, client: AsyncClient) -> None:
        self._run = client._run

    async def create(self) -> ApiKey:
        return await self._run(_ops.create_key())

    async def revoke(self, key_id: str) -> None:
        await self._run(_ops.revoke_key(key_id))
