from __future__ import annotations

import io
import time
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from horizon_client import AsyncClient, Client, JobFailedError, ProblemError, WebhookVerificationError, _ops, webhooks


def test_a_pdf_is_extracted_into_typed_chunks_and_markdown(client: Client, fixture: Path, tag: str) -> None:
    job = client.extract(fixture / "two-pages.pdf", tags=[tag], metadata={"from": "python"})
    job.raise_for_status()
    assert job.status == "completed" and job.id.startswith("job_")
    assert job.result is not None and job.result.pages == 2
    assert [c.page for c in job.chunks] == [1, 2]
    first = job.chunks[0]
    assert first.type == "paragraph" and "walking skeleton" in first.text
    assert len(first.bbox) == 4 and first.bbox[2] > first.bbox[0]
    assert job.markdown is not None and "<!-- page 2 -->" in job.markdown
    assert "It ends here." in job.markdown
    assert job.tags and tag in job.tags and job.metadata == {"from": "python"}


def test_bytes_and_open_files_are_files_too(client: Client, fixture: Path) -> None:
    data = (fixture / "two-pages.pdf").read_bytes()
    from_bytes = client.extract(data)
    with open(fixture / "two-pages.pdf", "rb") as f:
        from_file = client.extract(f)
    assert [c.text for c in from_bytes.chunks] == [c.text for c in from_file.chunks]
    with pytest.raises(TypeError):
        client.extract(io.StringIO("text"))  # type: ignore[arg-type]


def test_an_image_is_read_with_ocr_and_its_tables_found(client: Client, fixture: Path) -> None:
    job = client.extract(fixture / "scan-table.jpg").raise_for_status()
    assert job.job_type == "extract/document"
    assert job.result is not None and job.result.content_type == "image/jpeg"
    tables = [c for c in job.chunks if c.type == "table"]
    assert tables and len({cell.row for cell in tables[0].cells}) >= 4


def test_a_large_file_goes_through_the_presigned_upload(
    client: Client, fixture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ops, "DIRECT_UPLOAD_LIMIT", 1024)
    data = (fixture / "report.pdf").read_bytes()
    assert len(data) > 1024
    upload = client.uploads.create(data, filename="report.pdf")
    job = client.extract(upload).raise_for_status()
    assert job.result is not None and job.result.pages >= 1 and job.chunks
    client.jobs.delete(job.id)
    client.uploads.delete(upload.id)
    with pytest.raises(ProblemError) as e:
        client.jobs.get(job.id)
    assert e.value.status == 404
    image = client.extract(fixture / "scan.jpg").raise_for_status()
    assert image.result is not None and image.result.content_type == "image/jpeg" and image.chunks


def test_jobs_are_listed_page_after_page(client: Client, fixture: Path, tag: str) -> None:
    upload = client.uploads.create(fixture / "two-pages.pdf")
    started = [client.extract(upload, wait=False, tags=[tag]).id for _ in range(3)]
    listed = [job.id for job in client.jobs.list(tag=tag, page_size=1)]
    assert sorted(listed) == sorted(started)
    for job_id in started:
        assert client.jobs.wait(job_id).status == "completed"


def test_problems_are_raised_with_their_fields(client: Client, fixture: Path) -> None:
    with pytest.raises(ProblemError) as unknown:
        client.jobs.get("job_01JQZZZZZZZZZZZZZZZZZZZZZZ")
    assert unknown.value.status == 404 and unknown.value.title and unknown.value.instance
    with pytest.raises(ProblemError) as bad:
        client.extract(fixture / "two-pages.pdf", pages="three")
    assert bad.value.status == 400
    assert any(err.field.endswith("pages") for err in bad.value.errors), bad.value.errors
    with pytest.raises(ProblemError) as refused:
        client.uploads.create(b"\x7fELF\x02\x01\x01 an executable is not a document")
    assert refused.value.status == 415
    with pytest.raises(ProblemError) as no_key:
        with Client(api_key="hzn_not_a_key") as stranger:
            stranger.jobs.get("job_01JQZZZZZZZZZZZZZZZZZZZZZZ")
    assert no_key.value.status == 401


def test_chunks_for_retrieval_gather_sections_and_keep_their_blocks(client: Client, fixture: Path) -> None:
    report = fixture / "report.pdf"
    blocks = client.extract(report).raise_for_status()
    sections = client.extract(
        report, chunking={"strategy": "by_title", "maxChars": 400, "overlapChars": 40}
    ).raise_for_status()
    assert sections.markdown == blocks.markdown
    assert 0 < len(sections.chunks) < len(blocks.chunks)
    by_id = {c.id: c for c in blocks.chunks}
    for chunk in sections.chunks:
        assert chunk.blocks and all(b.id in by_id for b in chunk.blocks)
        assert all(by_id[b.id].type not in ("header", "footer", "page_number") for b in chunk.blocks)
        assert len(chunk.text) <= 400 + 41 or chunk.type == "table"
    gathered = [c for c in sections.chunks if c.type == "composite"]
    assert gathered and all(c.headings for c in gathered[1:])
    tables = [c for c in sections.chunks if c.type == "table"]
    assert tables and tables[0].cells and len(tables[0].blocks) == 1
    pages = client.extract(report, chunking={"strategy": "by_page"}).raise_for_status()
    assert {c.page for c in pages.chunks} == {1, 2}
    assert all(b.page == c.page for c in pages.chunks for b in c.blocks)
    with pytest.raises(ProblemError) as e:
        client.extract(report, chunking={"strategy": "by_title", "maxChars": 50})
    assert e.value.status == 400 and e.value.errors[0].field == "options.chunking.maxChars"


def test_a_failed_job_raises_with_its_code(client: Client, fixture: Path) -> None:
    job = client.extract(fixture / "encrypted-user-password.pdf")
    assert job.status == "failed"
    with pytest.raises(JobFailedError) as e:
        job.raise_for_status()
    assert e.value.code == "encrypted"


def test_a_cancelled_job_ends_failed(client: Client, fixture: Path) -> None:
    job = client.extract(fixture / "scan.pdf", wait=False, ocr="always")
    try:
        cancelled = client.jobs.cancel(job.id)
        assert cancelled.status == "failed" and cancelled.error and cancelled.error.code == "cancelled"
    except ProblemError as e:  # it finished first
        assert e.status == 409


class _Receiver(BaseHTTPRequestHandler):
    deliveries: List[Tuple[bytes, Dict[str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.deliveries.append((body, dict(self.headers.items())))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_webhook_delivery_is_verified(client: Client, fixture: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        job = client.extract(fixture / "two-pages.pdf", webhook=url)
        assert job.webhook_secret is None  # shown only when the job is created
        first = client.extract(fixture / "two-pages.pdf", wait=False, webhook={"url": url, "events": ["job.completed"]})
        secret = first.webhook_secret
        assert secret and secret.startswith("whsec_")
        client.jobs.wait(first.id)
        deadline = time.monotonic() + 60
        mine = []
        while time.monotonic() < deadline and not mine:
            mine = [d for d in _Receiver.deliveries if first.id.encode() in d[0]]
            time.sleep(0.2)
        assert mine, "no delivery arrived within 60 s"
        body, headers = mine[0]
        event = webhooks.verify(body, headers, secret)
        assert event.type == "job.completed" and event.data.id == first.id
        assert event.data.status == "completed"
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(body.replace(b"completed", b"failed"), headers, secret)
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(body, headers, "whsec_" + "A" * 32)
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(body, headers, "whsec_")
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(body, {**headers, "webhook-signature": "v1,é"}, secret)
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(body, headers, secret, now=float(headers["webhook-timestamp"]) + 3600)
    finally:
        server.shutdown()


async def test_the_async_client_does_the_same(fixture: Path, tag: str) -> None:
    async with AsyncClient() as client:
        job = await client.extract(fixture / "two-pages.pdf", tags=[tag])
        assert job.status == "completed" and len(job.chunks) == 2 and job.markdown
        listed = [j.id async for j in client.jobs.list(tag=tag, page_size=1)]
        assert listed == [job.id]
        with pytest.raises(ProblemError):
            await client.jobs.get("job_01JQZZZZZZZZZZZZZZZZZZZZZZ")


def test_keys_and_account_webhooks(client: Client) -> None:
    key = client.keys.create()
    assert key.key.startswith("hzn_")
    with Client(api_key=key.key) as other:
        assert other.webhooks.list() is not None
    client.keys.revoke(key.id)
    hook = client.webhooks.create("https://example.com/hooks/horizon")
    assert hook.secret and hook.secret.startswith("whsec_")
    assert hook.id in [w.id for w in client.webhooks.list()]
    rotated = client.webhooks.rotate(hook.id)
    assert rotated.secret and rotated.secret != hook.secret and rotated.previous_secret_until
    client.webhooks.delete(hook.id)
    assert hook.id not in [w.id for w in client.webhooks.list()]
