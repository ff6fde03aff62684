"""Office documents, web pages and bad files through the client, as a user sends them: the
documents are written with the formats' own libraries (see documents.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import documents
from horizon_client import Client


def test_a_docx_keeps_its_headings_lists_and_merged_table(client: Client, tmp_path: Path) -> None:
    job = client.extract(documents.docx(tmp_path / "report.docx")).raise_for_status()
    assert job.job_type == "extract/document"
    assert job.result is not None
    assert job.result.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    md = job.markdown
    for expected in [
        "# Quarterly report",
        "## Results",
        "1. Hire two engineers\n2. Open the Lisbon office\n    - Before June",
        "### Figures",
        # A table with a spanned cell is HTML in Markdown: a pipe table cannot span.
        "<tr><th>Region</th><th>Q1</th><th>Q2</th></tr>",
        '<tr><td rowspan="2">Both</td><td>10</td><td>12</td></tr>',
        "Table 1: Revenue by region",
    ]:
        assert expected in md, f"{expected!r} is not in\n{md}"
    table = next(c for c in job.chunks if c.type == "table")
    both = next(cell for cell in table.cells if cell.text == "Both")
    assert (both.row, both.col, both.row_span) == (1, 0, 2)
    assert table.headings == ["Quarterly report", "Results", "Figures"]
    assert next(c for c in job.chunks if c.type == "caption").text == "Table 1: Revenue by region"


def test_a_pptx_gives_a_page_per_slide_with_titles_bullets_tables_and_notes(client: Client, tmp_path: Path) -> None:
    job = client.extract(documents.pptx(tmp_path / "deck.pptx")).raise_for_status()
    assert job.result is not None and job.result.pages == 2
    titles = [(c.page, c.text) for c in job.chunks if c.type == "heading"]
    assert titles == [(1, "Roadmap"), (2, "Budget")]
    assert "- Ship the loaders\n    - LangChain first" in job.markdown
    notes = [c for c in job.chunks if c.type == "note"]
    assert [(n.page, n.text) for n in notes] == [(1, "Say when the beta opens.")]
    table = next(c for c in job.chunks if c.type == "table")
    assert table.page == 2 and "| Servers | 400 |" in table.markdown
    # Slides have boxes, in points on a 720 × 540 slide.
    assert all(0 <= v <= 720 for v in table.bbox) and table.bbox[2] > table.bbox[0]


def test_an_xlsx_gives_each_sheet_as_a_table_under_its_name(client: Client, tmp_path: Path) -> None:
    job = client.extract(documents.xlsx(tmp_path / "orders.xlsx")).raise_for_status()
    headings = [c.text for c in job.chunks if c.type == "heading"]
    assert headings == ["Orders", "Rates (hidden sheet)"]
    orders = next(c for c in job.chunks if c.type == "table")
    assert "| Order | Customer | Date |" in orders.markdown
    assert "| 1001 | Ada | 2026-03-01 |" in orders.markdown


def test_a_web_page_keeps_its_structure_and_drops_its_scripts(client: Client, tmp_path: Path) -> None:
    job = client.extract(documents.html(tmp_path / "guide.html")).raise_for_status()
    md = job.markdown
    assert "# Field guide" in md and "## Gulls" in md
    assert "- Herring gull\n    - large\n- Common gull" in md
    assert "| Herring gull | 60 cm |" in md
    assert "track()" not in md and "About" not in md


def test_markdown_and_a_large_docx_through_the_presigned_upload(client: Client, tmp_path: Path) -> None:
    job = client.extract(b"# Notes\n\n- one\n- two\n").raise_for_status()
    assert job.result is not None and job.result.content_type == "text/markdown"
    assert "# Notes\n\n- one\n- two" in job.markdown
    path = documents.docx(tmp_path / "report.docx")
    upload = client.uploads.create(path)
    assert upload.content_type.endswith("wordprocessingml.document")


def _zip(entries: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def test_bad_office_files_fail_their_job_with_a_clear_error(client: Client) -> None:
    broken = _zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": "<w:document><w:body><w:p>"})
    job = client.extract(broken)
    assert job.status == "failed" and job.error is not None
    assert job.error.code == "invalid_document" and "word/document.xml" in job.error.message
    bomb = _zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"\0" * (64 << 20)})
    assert len(bomb) < 1 << 20
    job = client.extract(bomb)
    assert job.status == "failed" and job.error is not None and job.error.code == "unsafe_document"
    entities = _zip(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "word/document.xml": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>',
        }
    )
    job = client.extract(entities)
    assert job.status == "failed" and job.error is not None and job.error.code == "unsafe_document"
