"""Office documents and a web page, written with the formats' own libraries (python-docx,
python-pptx, openpyxl), for the tests of both clients: `python tests/documents.py DIR` writes
them to DIR (scripts/test-clients does, for the TypeScript tests)."""

from __future__ import annotations

import sys
from pathlib import Path

HTML = """<!doctype html><html><head><title>Field guide</title><script>track()</script></head>
<body><nav>Home | About</nav><h1>Field guide</h1><p>Birds of the <b>coast</b>.</p>
<h2>Gulls</h2><ul><li>Herring gull<ul><li>large</li></ul></li><li>Common gull</li></ul>
<table><thead><tr><th>Bird</th><th>Length</th></tr></thead><tbody><tr><td>Herring gull</td><td>60 cm</td></tr></tbody></table>
</body></html>"""


def docx(path: Path) -> Path:
    from docx import Document

    d = Document()
    d.add_heading("Quarterly report", 0)
    d.add_heading("Results", 1)
    d.add_paragraph("Revenue grew in every region.")
    d.add_paragraph("Hire two engineers", style="List Number")
    d.add_paragraph("Open the Lisbon office", style="List Number")
    d.add_paragraph("Before June", style="List Bullet 2")
    d.add_heading("Figures", 2)
    t = d.add_table(rows=3, cols=3)
    rows = [["Region", "Q1", "Q2"], ["North", "10", "12"], ["South", "7", "9"]]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            t.cell(r, c).text = value
    merged = t.cell(1, 0).merge(t.cell(2, 0))
    merged.text = "Both"
    d.add_paragraph("Table 1: Revenue by region", style="Caption")
    d.save(path)
    return path


def pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Roadmap"
    body = slide.placeholders[1].text_frame
    body.text = "Ship the loaders"
    p = body.add_paragraph()
    p.text = "LangChain first"
    p.level = 1
    slide.notes_slide.notes_text_frame.text = "Say when the beta opens."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Budget"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Item", (0, 1): "Cost", (1, 0): "Servers", (1, 1): "400"}.items():
        table.cell(r, c).text = value
    deck.save(path)
    return path


def xlsx(path: Path) -> Path:
    import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["Order", "Customer", "Date"])
    sheet.append([1001, "Ada", datetime.date(2026, 3, 1)])
    sheet.append([1002, "Grace", datetime.date(2026, 3, 2)])
    hidden = book.create_sheet("Rates")
    hidden.append(["Rate", 0.2])
    hidden.sheet_state = "hidden"
    book.save(path)
    return path


def html(path: Path) -> Path:
    path.write_text(HTML, encoding="utf-8")
    return path


def write_all(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    docx(directory / "report.docx")
    pptx(directory / "deck.pptx")
    xlsx(directory / "orders.xlsx")
    html(directory / "guide.html")


if __name__ == "__main__":
    write_all(Path(sys.argv[1]))
