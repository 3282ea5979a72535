"""Legacy Word (.doc) and WPS (.wps) files through antiword: real files, tables, bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import parse_file
from ingest.readers import SUFFIXES, legacy_word, read
from ingest.readers.base import IngestError, TableBlock, TextBlock
from tests.conftest import SHARED, shared

needs_antiword = pytest.mark.skipif(
    shutil.which("antiword") is None, reason="antiword is not installed (make system)"
)
OLE_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# What `antiword -x db` writes for a LibreOffice-made .doc with a two-column table.
DOCBOOK = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE book PUBLIC "-//OASIS//DTD DocBook XML V4.1.2//EN"
\t"http://www.oasis-open.org/docbook/xml/4.1.2/docbookx.dtd">
<book lang='zh_CN'>
 <bookinfo>
<date>2024-11-07</date>
 </bookinfo>
 <chapter>
<title/>
  <para>
某某市关于推进产教融合的实施意见
  </para>
  <para>

  </para>
   <informaltable frame='none' colsep='0' rowsep='0'>
    <tgroup cols='2'>
     <colspec colwidth='216.00pt'/>
     <colspec colwidth='215.95pt'/>
     <tbody>
      <row>
       <entry>
事项
       </entry>
       <entry>
说明
       </entry>
      </row>
      <row>
       <entry>
培育产教融合型企业
       </entry>
       <entry>
到2025年，全市培育产教融合型企业100家以上，建设一批
高水平实训基地。
       </entry>
      </row>
     </tbody>
    </tgroup>
   </informaltable>
  <para>
二、保障措施 &lt;附件&gt;
  </para>
  <para>
-----------------------－ 2 －
  </para>
 </chapter>
</book>
"""


def _squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def _gold(name: str) -> dict:
    for line in (SHARED / "realdocs" / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["file"] == name:
            return row
    raise KeyError(name)


def _text(path: Path) -> str:
    raw = read(path)
    return "\n".join(line for b in raw.blocks if isinstance(b, TextBlock) for line in b.lines)


def test_both_suffixes_are_registered():
    assert ".doc" in SUFFIXES and ".wps" in SUFFIXES


def test_docbook_paragraphs_and_tables_in_order():
    blocks = legacy_word.docbook_blocks(DOCBOOK.encode())
    assert [type(b) for b in blocks] == [TextBlock, TableBlock, TextBlock]
    assert blocks[0].lines == ["某某市关于推进产教融合的实施意见"]
    assert blocks[1].rows == [
        ["事项", "说明"],
        [
            "培育产教融合型企业",
            "到2025年，全市培育产教融合型企业100家以上，建设一批高水平实训基地。",
        ],
    ]
    assert blocks[2].lines == ["二、保障措施 <附件>", "－ 2 －"]  # footer rule dropped


@needs_antiword
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "beijing_yushou_zijin_draft_2023.doc",
            ["第一条【上位法依据】", "第三十条【执行时点】", "（以下简称市住房城乡建设委）"],
        ),
        ("shenyang_dingqi_tijian.doc", ["附件1", "市房产局：负责牵头组织城镇房屋"]),
        ("hainan_gjj_daikuan_draft.wps", ["一、提高购买自住住房最高贷款基准额度", "年 月 日"]),
    ],
)
def test_realdocs_legacy_files_give_their_body_text(name: str, expected: list[str]):
    path = shared(f"realdocs/files/{name}")
    text = _text(path)
    for phrase in expected:
        assert phrase in text
    assert "MERGEFORMAT" not in text and "-----" not in text
    parsed = parse_file(path)
    assert _squeeze(parsed.document.title) == _squeeze(_gold(name)["title"])
    assert len(parsed.clauses) >= 5


def test_missing_antiword_says_how_to_install(tmp_path: Path, monkeypatch):
    path = tmp_path / "notice.doc"
    path.write_bytes(OLE_HEADER + b"\0" * 2048)
    monkeypatch.setattr(legacy_word.shutil, "which", lambda name: None)
    with pytest.raises(IngestError, match="apt-get install antiword") as error:
        read(path)
    assert error.value.path == str(path)


@needs_antiword
def test_ole_file_antiword_cannot_read_is_refused(tmp_path: Path):
    path = tmp_path / "broken.wps"
    path.write_bytes(OLE_HEADER + b"\0" * 2048)
    with pytest.raises(IngestError, match="antiword cannot read it: ") as error:
        read(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{\\rtf1\\ansi some text}", "an RTF file"),
        (b"<html><body>not word</body></html>", "not an OLE file"),
    ],
)
def test_files_that_are_not_word_binaries_are_refused(tmp_path: Path, content, reason):
    path = tmp_path / "notice.doc"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=reason):
        read(path)


def test_docx_saved_as_doc_is_read_as_docx(tmp_path: Path):
    import docx

    document = docx.Document()
    document.add_paragraph("某某市关于推进产教融合的实施意见")
    document.add_paragraph("一、总体要求")
    path = tmp_path / "renamed.doc"
    document.save(str(path))
    assert _text(path).splitlines() == ["某某市关于推进产教融合的实施意见", "一、总体要求"]
