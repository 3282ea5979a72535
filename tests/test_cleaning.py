from pathlib import Path

from ingest.cleaning import Paragraph, clean, reflow
from ingest.readers import read
from tests.conftest import SEEDS


def _texts(key: str) -> list[str]:
    return [item.text for item in clean(read(SEEDS[key])) if isinstance(item, Paragraph)]


def test_word_broken_across_blank_line_is_rejoined():
    text = "".join(_texts("004"))
    assert "第二批国家产教融合试点城市，推动" in text
    assert "试点城\n" not in text


def test_unclosed_quote_is_rejoined():
    assert any("“金融+财政+土地+信用”组合式激励" in t for t in _texts("000"))


def test_unit_tag_broken_over_lines_is_rejoined():
    assert any(t.endswith("（责任单位：重庆市税务局）") for t in _texts("004"))


def test_page_number_is_dropped_and_paragraph_goes_on():
    texts = _texts("001")
    assert "5" not in texts
    assert any("推进职业院校人才培养与企业联盟、与行业联合" in t for t in texts)


def test_real_paragraph_breaks_are_kept():
    texts = _texts("004")
    assert "若干措施的通知" in texts  # short title line is not glued to the addressee
    assert sum(t.startswith(("1．", "2．", "3．")) for t in texts) == 3


def test_reflow_of_a_hard_wrapped_block():
    width_line = "一二三四五六七八九十" * 3
    lines = [width_line] * 6 + ["短句。", "二、下一节"]
    assert reflow(lines) == [width_line * 6 + "短句。", "二、下一节"]


def test_unwrapped_text_is_left_alone():
    lines = ["第一段没有句号", "第二段也没有"]
    assert reflow(lines) == lines


def test_docx_paragraphs_are_not_reflowed(tmp_path: Path):
    import docx

    document = docx.Document()
    document.add_paragraph("一、总体要求")
    document.add_paragraph("坚持统筹推进")
    path = tmp_path / "a.docx"
    document.save(path)
    assert [i.text for i in clean(read(path))] == ["一、总体要求", "坚持统筹推进"]


def test_page_furniture_patterns_are_dropped(tmp_path: Path):
    path = tmp_path / "p.txt"
    lines = ["一、总体要求", "— 5 —", "坚持统筹推进。", "- 12 -", "第 3 页", "7", "二、重点任务"]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert [i.text for i in clean(read(path))] == ["一、总体要求", "坚持统筹推进。", "二、重点任务"]


def test_split_page_numbers_and_lone_marks_are_dropped(tmp_path: Path):
    path = tmp_path / "p.txt"
    lines = ["一、总体要求", "— 1 0 —", "— —", "11", "X", "坚持统筹推进。"]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert [i.text for i in clean(read(path))] == ["一、总体要求", "坚持统筹推进。"]


def test_a_text_layer_of_one_character_per_line_is_joined(tmp_path: Path):
    path = tmp_path / "v.txt"
    lines = [*"关于印发某方案的通知", "各区：", "现印发给你们。"]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert next(i.text for i in clean(read(path))) == "关于印发某方案的通知"
