"""OCR of scanned PDF pages: self-made scans, the realdocs scans, and every way OCR can fail."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pdfplumber
import pytest
from PIL import Image, ImageDraw, ImageFont

from ingest.layout import issuer_mark_in
from ingest.pipeline import parse_file
from ingest.readers import pdf as pdf_reader
from ingest.readers.base import IngestError, TextBlock
from ingest.readers.ocr import Box, OcrUnavailable, full_width_punctuation, lines_of
from tests.conftest import SHARED, shared

REALDOCS = SHARED / "realdocs"
TITLE = "某某市人民政府关于推进产教融合的通知"
NUMBER = "某政发〔2024〕12号"
PARAGRAPH = (
    "为深入贯彻落实国家关于深化产教融合的决策部署，推动教育链、人才链与产业链、创新链有机"
    "衔接，结合本市实际，现就有关事项通知如下。"
)
ITEM = "一、到2025年，全市培育产教融合型企业100家以上。"


def _squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def _gold(name: str) -> dict:
    for line in (REALDOCS / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["file"] == name:
            return row
    raise KeyError(name)


def _cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """A CJK font (``make browser`` installs WenQuanYi Micro Hei); the test skips without one."""
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        listed = ""
    files = [line.split(":")[0] for line in listed.splitlines() if line.strip()]
    if not files:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    return ImageFont.truetype(sorted(files)[0], size)


def _page_image() -> Image.Image:
    """An A4 page at 150 dpi: title, 文号, a paragraph wrapped over three lines, an item."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    draw.text((220, 200), TITLE, font=_cjk_font(44), fill="black")
    body = _cjk_font(34)
    draw.text((470, 300), NUMBER, font=body, fill="black")
    per_line = 28
    wrapped = [PARAGRAPH[: per_line - 2]]
    rest = PARAGRAPH[per_line - 2 :]
    wrapped += [rest[i : i + per_line] for i in range(0, len(rest), per_line)]
    y = 420
    for number, line in enumerate(wrapped):
        draw.text((150 + (68 if number == 0 else 0), y), line, font=body, fill="black")
        y += 60
    draw.text((218, y), ITEM, font=body, fill="black")
    return page


def _scan(path: Path, image: Image.Image) -> Path:
    """An image-only PDF, as a scanner writes it."""
    image.save(path, "PDF", resolution=150)
    return path


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> Path:
    return _scan(tmp_path_factory.mktemp("ocr") / "scan.pdf", _page_image())


def test_scan_is_read_with_wrapped_lines_rejoined(scanned: Path, monkeypatch):
    raw = pdf_reader.PdfReader().read(scanned)
    assert raw.hints["ocr"] is True and raw.hints["ocr_engine"] == "rapidocr"
    (block,) = raw.blocks
    assert isinstance(block, TextBlock) and block.page == 1
    lines = [_squeeze(line) for line in block.lines]
    assert lines[:2] == [TITLE, NUMBER]
    assert lines[2] == PARAGRAPH  # three printed lines, one paragraph
    assert lines[3] == ITEM
    monkeypatch.setattr("ingest.pipeline.read", lambda path: raw)  # the same pages, parsed
    parsed = parse_file(scanned)
    assert _squeeze(parsed.document.title) == TITLE
    assert parsed.document.doc_number == NUMBER
    assert [c.label for c in parsed.clauses if c.label] == ["一、"]


def test_page_on_its_side_is_turned_upright(tmp_path: Path):
    path = _scan(tmp_path / "sideways.pdf", _page_image().rotate(90, expand=True))
    lines = [_squeeze(line) for line in pdf_reader.PdfReader().read(path).blocks[0].lines]
    assert lines[:2] == [TITLE, NUMBER] and lines[-1] == ITEM


def test_blank_scan_is_refused_after_ocr(tmp_path: Path):
    path = _scan(tmp_path / "blank.pdf", Image.new("RGB", (1240, 1754), "white"))
    with pytest.raises(IngestError, match="OCR found none"):
        pdf_reader.PdfReader().read(path)


def test_missing_engine_says_how_to_install(scanned: Path, monkeypatch):
    def unavailable():
        raise OcrUnavailable("the OCR engine rapidocr is not installed: pip install rapidocr")

    monkeypatch.setattr(pdf_reader, "engine", unavailable)
    with pytest.raises(IngestError, match=r"no text layer.*pip install rapidocr") as error:
        pdf_reader.PdfReader().read(scanned)
    assert error.value.path == str(scanned)


def test_pages_over_the_limit_are_refused_before_ocr(scanned: Path, monkeypatch):
    monkeypatch.setenv("POLICYKB_OCR_MAX_PAGES", "0")
    monkeypatch.setattr(pdf_reader, "engine", _never)
    with pytest.raises(IngestError, match="POLICYKB_OCR_MAX_PAGES"):
        pdf_reader.PdfReader().read(scanned)


class _LatinOnly:
    name = "stub"

    def read(self, image):
        return ["Lorem ipsum dolor sit amet, consectetur adipiscing elit"] * 3


def test_garbage_ocr_output_is_refused(monkeypatch):
    path = shared("samples/pdf/sample_report_2023_beijing.pdf")
    monkeypatch.setattr(pdf_reader, "engine", _LatinOnly)
    with pytest.raises(IngestError, match=r"\(cid:NNN\).*OCR of the page found no Chinese"):
        pdf_reader.PdfReader().read(path)


def _never():
    raise AssertionError("OCR ran on a PDF whose text layer is fine")


@pytest.mark.parametrize(
    "name",
    [
        "shanghai_xiangou_2024.pdf",
        "beijing_guosi_huoche_xize_2026.pdf",
        "changle_rencai_goufang.pdf",
    ],
)
def test_text_pdfs_take_the_fast_path(name: str, monkeypatch):
    """A red header drawn as graphics, tables and forms, blank pages: no OCR for any."""
    monkeypatch.setattr(pdf_reader, "engine", _never)
    raw = pdf_reader.PdfReader().read(shared(f"realdocs/files/{name}"))
    assert "ocr" not in raw.hints


def test_red_header_drawn_as_graphics_is_read_from_the_header_band():
    """A text PDF whose text names no issuer: OCR of page 1's top band reads its 发文机关标志
    (two issuers stacked beside one 文件)."""
    name = "shanghai_xiangou_2024.pdf"
    parsed = parse_file(shared(f"realdocs/files/{name}"))
    assert sorted(parsed.document.issuers) == sorted(_gold(name)["issuers"])
    assert parsed.document.extraction == "text"


def test_header_band_is_not_read_when_the_text_names_its_issuers(monkeypatch):
    monkeypatch.setattr(pdf_reader, "engine", _never)
    assert parse_file(shared("realdocs/files/beijing_diming_2023.pdf")).document.issuers


@pytest.mark.parametrize(
    ("lines", "names"),
    [
        (["上海市住房和城乡建设管理委员会文件", "上海市房屋管理局", "沪建房管联〔2024〕58号"],
         ["上海市住房和城乡建设管理委员会", "上海市房屋管理局"]),
        (["000123", "重 庆 市 公 安 局 文 件", "渝公发〔2023〕1号"], ["重庆市公安局"]),
        (["某某市人民政府办公室", "某府办发〔2024〕3号"], ["某某市人民政府办公室"]),
        (["北京市人民政府公报", "2024年第3期"], []),
    ],
)  # fmt: skip
def test_issuer_mark_in_ocr_lines(lines: list[str], names: list[str]):
    assert issuer_mark_in(lines) == names


def test_realdocs_scan_without_text_layer():
    name = "baoding_gjj_scan_2022.pdf"
    parsed = parse_file(shared(f"realdocs/files/{name}"))
    gold = _gold(name)
    assert _squeeze(parsed.document.title) == _squeeze(gold["title"])
    assert parsed.document.doc_number == gold["doc_number"]
    assert "2022年8月1日起执行" in "".join(c.text for c in parsed.clauses)


def test_realdocs_wrong_ocr_layer_is_read_again():
    path = shared("realdocs/files/changsha_gjj_scan_ocr_2022.pdf")
    raw = pdf_reader.PdfReader().read(path)
    assert raw.hints["ocr_pages"] == [1, 2]
    text = "".join(line for block in raw.blocks for line in block.lines)
    assert "长沙市住房公积金管理委员会文件" in text and "长沛编" not in text
    assert _squeeze(_gold(path.name)["title"]) in _squeeze(text)
    assert "长金管委〔2022〕3号" in text


def test_realdocs_gazette_of_glyph_garbage_is_detected_and_read():
    path = shared("realdocs/files/beijing_tyai_gongbao_2023.pdf")
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        assert pdf_reader._layer_problem(page, pdf_reader._page_blocks(page, 1)) in (
            pdf_reader.GLYPH_JUNK,
            pdf_reader.CID_CODES,
        )
    ((_, image),) = pdf_reader._rendered(path, [1])
    text = _squeeze("".join(pdf_reader.engine().read(image)))
    gold = _gold(path.name)
    assert _squeeze(gold["title"]) in text and gold["doc_number"] in text
    assert "北京市人民政府公报" not in text  # the diagonal watermark is dropped


def _box(text: str, x0: float, y0: float, x1: float, height: float = 40) -> Box:
    return Box(text, 0.99, x0, y0, x1, y0 + height)


def test_lines_rejoin_wrapped_rows_only():
    boxes = [
        _box("一、总体要求", 150, 100, 400),
        _box("为推动产教融合，结合本市", 218, 160, 1100),  # indented: a new paragraph
        _box("实际，制定本方案。", 150, 220, 600),  # wrapped from the row above
        _box("序号", 150, 280, 230),
        _box("责任单位", 700, 280, 860),  # cells far apart: a table row, never joined
        _box("1", 150, 340, 170),
        _box("市教育局", 700, 340, 860),
    ]
    assert lines_of(boxes) == [
        "一、总体要求",
        "为推动产教融合，结合本市实际，制定本方案。",
        "序号 责任单位",
        "1 市教育局",
    ]


def test_half_width_punctuation_next_to_chinese_is_made_full_width():
    assert full_width_punctuation("各有关单位:") == "各有关单位："
    assert full_width_punctuation("(此件公开发布)") == "（此件公开发布）"
    assert full_width_punctuation("3.5, 4.0 (2024)") == "3.5, 4.0 (2024)"
    assert full_width_punctuation("京政办发[2023]15号") == "京政办发〔2023〕15号"
    assert full_width_punctuation("（2023—2025年）") == "（2023—2025年）"
