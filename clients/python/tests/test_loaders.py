from __future__ import annotations

from pathlib import Path

from horizon_client.langchain import HorizonLoader
from horizon_client.llama_index import HorizonReader


def test_the_langchain_loader_gives_a_document_per_chunk(fixture: Path) -> None:
    docs = HorizonLoader(fixture / "report.pdf").load()
    assert docs
    tables = [d for d in docs if d.metadata["type"] == "table"]
    assert tables and tables[0].page_content.lstrip().startswith("|")
    for d in docs:
        assert d.metadata["source"].endswith("report.pdf")
        assert d.metadata["job_id"].startswith("job_") and d.metadata["page"] >= 1
        assert len(d.metadata["bbox"]) == 4 and isinstance(d.metadata["headings"], list)
    lazy = list(HorizonLoader(fixture / "two-pages.pdf").lazy_load())
    assert [d.metadata["page"] for d in lazy] == [1, 2]
    sections = HorizonLoader(fixture / "report.pdf", chunking={"strategy": "by_title", "maxChars": 1000}).load()
    assert len(sections) < len(docs)


def test_the_llama_index_reader_gives_a_document_per_chunk(fixture: Path) -> None:
    docs = HorizonReader().load_data(fixture / "two-pages.pdf", extra_info={"collection": "tests"})
    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "walking skeleton" in docs[0].text
    assert docs[0].metadata["collection"] == "tests" and docs[0].metadata["type"] == "paragraph"
    assert docs[0].id_.startswith("job_")
