"""Readers on real samples, a GB18030 file, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.models import Level
from ingest.pipeline import parse_file
from ingest.readers import read
from ingest.readers.base import IngestError, TableBlock
from tests.conftest import SEEDS, shared, top_labels


def test_pdf_sample_text_and_tables():
    path = shared("samples/pdf/hzq2023_working.pdf")
    tables = [b for b in read(path).blocks if isinstance(b, TableBlock)]
    assert len(tables) >= 3
    assert ["行政处罚", "4119"] in tables[0].rows
    parsed = parse_file(path)
    assert parsed.document.title == "洪泽区人民政府2023年政府信息公开工作年度报告"
    assert (parsed.document.level, parsed.document.region) == (Level.COUNTY, "淮安市洪泽区")
    assert top_labels(parsed)[:6] == [
        "一、",
        "二、",
        "三、",
        "四、",
        "五、",
        "六、",
    ]
    rows = [c for c in parsed.clauses if c.kind == "table_row"]
    assert any("行政处罚" in r.text and "4119" in r.text for r in rows)


def test_pdf_of_cid_glyph_codes_is_refused():
    path = shared("samples/pdf/sample_report_2023_beijing.pdf")
    with pytest.raises(IngestError, match=r"\(cid:NNN\)") as error:
        parse_file(path)
    assert error.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "region", "level"),
    [
        ("北京", "北京市", Level.PROVINCIAL),
        ("上海", "上海市", Level.PROVINCIAL),
        ("南京", "南京市", Level.MUNICIPAL),
    ],
)
def test_docx_samples(name, region, level):
    parsed = parse_file(shared(f"samples/docx/{name}.docx"))
    assert (parsed.document.region, parsed.document.level) == (region, level)
    assert top_labels(parsed)[:2] == ["一、", "二、"]
    assert len(parsed.clauses) > 10


def test_docx_tables_become_rows(tmp_path: Path):
    import docx

    document = docx.Document()
    document.add_paragraph("某市重点任务分解表")
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["序号", "重点任务", "牵头单位"], strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ["1", "建设实训基地5个", "市教育局"], strict=True):
        cell.text = text
    path = tmp_path / "tasks.docx"
    document.save(path)
    row = next(c for c in parse_file(path).clauses if c.kind == "table_row")
    assert (
        row.label == "1" and row.units[0].name == "市教育局" and row.units[0].role.value == "lead"
    )
    assert [(t.value, t.unit) for t in row.targets] == [(5, "个")]


def test_gb18030_text_is_detected(tmp_path: Path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(SEEDS["004"].read_text(encoding="utf-8").encode("gb18030"))
    parsed = parse_file(path)
    assert parsed.document.doc_number == "渝发改社会〔2023〕1271号"
    assert len([c for c in parsed.clauses if c.kind == "item"]) == 13


JAPANESE = (
    "東京都住宅政策に関する条例\n\n第一条　この条例は、都民の住生活の安定と向上を図ることを目的と"
    "する。\n第二条　都は、住宅政策を総合的かつ計画的に推進するものとする。\n"
)


@pytest.mark.parametrize("encoding", ["shift_jis", "euc_jp"])
def test_japanese_text_is_refused_not_read_as_gb18030(tmp_path: Path, encoding: str):
    path = tmp_path / "jp.txt"
    data = JAPANESE.encode(encoding)
    data.decode("gb18030")  # GB18030 takes these bytes: only the reader's check refuses them
    path.write_bytes(data)
    with pytest.raises(IngestError) as error:
        parse_file(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "cannot decode as Chinese text" in message
    assert "Japanese" in message and "\n" not in message


def test_short_gb18030_chinese_text_is_still_read(tmp_path: Path):
    path = tmp_path / "short.txt"
    path.write_bytes(
        "关于推进产教融合的实施意见\n\n一、总体要求\n\n坚持统筹推进。\n".encode("gb18030")
    )
    assert parse_file(path).document.title == "关于推进产教融合的实施意见"


def test_lawrefbook_markdown():
    path = shared(
        "corpora/lawrefbook/DLC/广东地方法规/地方性法规/广东/广东省实施《消防法》办法(2022-03-29).md"
    )
    parsed = parse_file(path)
    doc = parsed.document
    assert doc.title == "广东省实施《中华人民共和国消防法》办法"
    assert (doc.level, doc.region, doc.date) == (Level.PROVINCIAL, "广东省", "2022-03-29")
    assert doc.issuers == ["广东省第十三届人民代表大会常务委员会"]  # as the event line writes it
    chapters = [c for c in parsed.clauses if c.kind == "heading"]
    assert chapters[0].label == "第一章" and chapters[0].text == "总则"
    first = next(c for c in parsed.clauses if c.label == "第一条")
    assert first.path == ["第一章 总则"]
    assert first.citations[0].title == "中华人民共和国消防法"
    article6 = next(c for c in parsed.clauses if c.label == "第六条")
    items = [c for c in parsed.clauses if c.parent_id == article6.clause_id]
    assert [c.label for c in items][:3] == ["（一）", "（二）", "（三）"]
    after_list = items[11]  # the paragraph after the list is a 款 of the article
    assert (after_list.kind, after_list.label) == ("paragraph", "")
    assert after_list.text.startswith("乡镇人民政府和街道办事处")


def test_markdown_with_a_plain_title(tmp_path: Path):
    path = tmp_path / "plan.md"
    path.write_text(
        "# 某某市关于推进产教融合的实施意见\n\n一、总体要求\n\n坚持统筹推进。\n", encoding="utf-8"
    )
    parsed = parse_file(path)
    assert parsed.document.title == "某某市关于推进产教融合的实施意见"
    assert parsed.clauses[0].label == "一、"


def _encrypted_pdf(path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)


BAD_INPUTS = {
    "missing.txt": (None, "no such file"),
    "empty.txt": (b"  \n\n", "empty file"),
    "binary.txt": (bytes(range(256)) * 8, "binary file"),
    "undecodable.txt": (
        "产教融合".encode() + b"\xff\xfe\xfa" * 40 + "试点".encode(),
        "cannot decode",
    ),
    "scan.pdf": ("blank", "no extractable text"),
    "locked.pdf": ("encrypted", "encrypted PDF"),
    "broken.pdf": (b"%PDF-1.4 not really a pdf", "not a readable PDF"),
    "locked.docx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted or legacy Word"),
    "broken.docx": (b"PK\x03\x04 not a zip", "not a .docx"),
    "slides.pptx": (b"whatever", "unsupported file type"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(tmp_path: Path, name: str):
    content, reason = BAD_INPUTS[name]
    path = tmp_path / name
    if content == "encrypted":
        _encrypted_pdf(path)
    elif content == "blank":
        from pypdf import PdfWriter

        writer = PdfWriter()
        writer.add_blank_page(width=200, height=200)
        with path.open("wb") as handle:
            writer.write(handle)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(IngestError) as error:
        parse_file(path)
    message = str(error.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message
