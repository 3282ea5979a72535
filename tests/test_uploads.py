"""Uploads over HTTP on the real app, model and FAISS index, over a copy of the corpus KB.

Every bad upload gets a clear error naming the file and the reason, and leaves the KB as it
was; a good one becomes searchable, a second write meanwhile gets 409, and delete removes it.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
import pypdf
import pypdfium2
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from index.kb import DB_FILE, KnowledgeBase
from index.tokens import TokenStore

LIMITS = {"max_upload_mb": 1, "max_request_mb": 3, "max_upload_files": 20, "max_pdf_pages": 10,
          "max_unzipped_mb": 5, "max_zip_entries": 50, "writes_per_minute": 1000}  # fmt: skip
GOOD_TEXT = (
    "关于推进社区嵌入式养老服务的若干措施\n\n"
    "一、加快建设社区嵌入式养老服务驿站，每个街道至少建成一个综合性驿站。\n"
    "二、支持社会力量参与居家上门助浴服务，落实场地租金减免。\n"
    "三、加强养老护理员队伍建设，开展职业技能等级认定。\n"
)


@dataclass
class Writable:
    """An app over a KB of its own (a copy of the corpus KB) and a valid token for it."""

    client: TestClient
    kb: KnowledgeBase
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def copy_kb(source: KnowledgeBase, folder: Path) -> KnowledgeBase:
    """A writable copy of a KB (SQLite backup, manifest, vectors) sharing its loaded model."""
    folder.mkdir(parents=True)
    with sqlite3.connect(source.folder / DB_FILE) as db, sqlite3.connect(folder / DB_FILE) as to:
        db.backup(to)
    for path in source.folder.iterdir():
        if path.name == "manifest.json" or path.name.startswith("vectors-"):
            shutil.copy2(path, folder / path.name)
    return KnowledgeBase(folder, encoder=source.encoder)


def kb_state(kb: KnowledgeBase, generation: bool = True) -> tuple:
    """What a refused write must not change: counts, documents, stored uploads, generation
    (which a write undone by a removal does change)."""
    sources = kb.folder / "sources"
    files = sorted(str(p.relative_to(sources)) for p in sources.rglob("*"))
    hashes = {d.doc_id: kb.store.content_hash(d.doc_id) for d in kb.documents()}
    documents = sorted((d.doc_id, hashes[d.doc_id], d.clauses) for d in kb.documents())
    stats = {k: v for k, v in kb.stats().items() if k != "generation"}
    return stats, documents, files, kb.store.get_meta("generation", "0") if generation else None


def wait_for(client: TestClient, job_id: str, headers: dict, seconds: float = 120) -> dict:
    """The job once it is done or failed (polled, as the page's script does)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']} after {seconds} s")


@pytest.fixture(scope="module")
def writable(corpus_kb, tmp_path_factory):
    kb = copy_kb(corpus_kb, tmp_path_factory.mktemp("uploads") / "kb")
    _, token = TokenStore(kb.folder).create("uploader")
    with TestClient(create_app(Settings(home=kb.folder, **LIMITS), kb=kb)) as client:
        yield Writable(client, kb, token)
    kb.close()


# --- bad uploads ----------------------------------------------------------------------------


def _pdf(pages: int) -> bytes:
    pdf = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(595, 842)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _encrypted_pdf() -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(_pdf(1)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _sidecar_case(meta: bytes) -> list[tuple[str, bytes]]:
    return [("措施.txt", GOOD_TEXT.encode()), ("措施.meta.json", meta)]


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
BOMB = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(6 * 1024 * 1024)})
MANY_PARTS = _zip({f"word/part{i}.xml": b"<p/>" for i in range(60)})
BAD_UPLOADS = {
    # name: (files, statuses allowed, what the reason must say)
    "exe": ([("setup.exe", b"MZ\x90\x00" + bytes(60))], {415}, "unsupported file type .exe"),
    "no extension": ([("README", "通知".encode())], {415}, "unsupported file type (none)"),
    "png named txt": ([("scan.txt", PNG)], {415}, "binary"),
    "fake pdf": ([("report.pdf", "这不是PDF文件".encode())], {415}, "no %PDF- header"),
    "broken pdf": ([("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)))], {415}, "not a readable"),
    "encrypted pdf": ([("secret.pdf", _encrypted_pdf())], {422}, "encrypted"),
    "too many pages": ([("long.pdf", _pdf(12))], {413}, "12 pages"),
    "zip bomb docx": ([("bomb.docx", BOMB)], {413}, "zip bomb"),
    "zip of many parts": ([("parts.docx", MANY_PARTS)], {413}, "60 parts"),
    "docx not a zip": ([("plain.docx", "正文".encode())], {415}, "not a zip"),
    "zip not word": ([("other.docx", _zip({"hello.txt": b"hi"}))], {415}, "word/document.xml"),
    "doc not ole": ([("old.doc", "正文".encode())], {415}, "OLE"),
    "html not markup": ([("page.html", PNG)], {415}, "NUL"),
    "oversized": ([("big.txt", "政".encode() * 400_000)], {413}, "larger than the 1 MB"),
    "empty": ([("empty.txt", b"")], {422}, "empty file"),
    "blank": ([("blank.txt", b" \n\n\t ")], {422}, "empty file"),
    "traversal": ([("../../x.txt", GOOD_TEXT.encode())], {422}, "without folders"),
    "absolute": ([("/etc/cron.d/x.txt", GOOD_TEXT.encode())], {422}, "without folders"),
    "windows traversal": ([("..\\..\\x.txt", GOOD_TEXT.encode())], {422}, "without folders"),
    "hidden name": ([(".profile.txt", GOOD_TEXT.encode())], {422}, "starts with a dot"),
    "long name": ([("政" * 70 + ".txt", GOOD_TEXT.encode())], {422}, "longer than 200 bytes"),
    "bad sidecar json": (_sidecar_case(b"{title: 1"), {422}, "invalid sidecar JSON"),
    "sidecar not object": (_sidecar_case(b"[1, 2]"), {422}, "JSON object"),
    "sidecar wrong type": (_sidecar_case(b'{"title": 123}'), {422}, "title must be"),
    "sidecar bad date": (_sidecar_case(b'{"date": "2023-13-45"}'), {422}, "not a date"),
    "sidecar bad level": (_sidecar_case(b'{"level": "galactic"}'), {422}, "level"),
    "sidecar unknown field": (_sidecar_case(b'{"author": "x"}'), {422}, "unknown sidecar"),
    "sidecar alone": ([("孤立.meta.json", b'{"title": "x"}')], {422}, "without its document"),
    "junk with NUL": ([("junk.txt", bytes(range(256)) * 8)], {415}, "NUL"),
    "junk not utf-8": ([("junk.md", bytes(range(128, 256)) * 8)], {415}, "cannot decode"),
    "too many files": ([(f"f{i}.txt", GOOD_TEXT.encode()) for i in range(21)], {413}, "at most 20"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_bad_upload_is_refused_and_the_kb_is_unchanged(writable, case):
    files, statuses, reason = BAD_UPLOADS[case]
    before = kb_state(writable.kb)
    response = writable.client.post(
        "/documents", files=[("files", f) for f in files], headers=writable.auth
    )
    body = response.json()
    assert response.status_code in statuses, body
    assert reason in body["message"], body
    named = {r["file"] for r in body.get("rejected", [])}
    assert files[0][0] in named or case == "too many files", body
    assert kb_state(writable.kb) == before


def test_a_file_without_body_text_fails_in_its_job_and_the_kb_is_unchanged(writable):
    before = kb_state(writable.kb)
    title_only = "关于印发社区养老服务试点方案的通知\n".encode()
    response = writable.client.post("/documents", files=[("files", ("仅标题.txt", title_only))],
                                    headers=writable.auth)  # fmt: skip
    assert response.status_code == 202, response.json()
    job = wait_for(writable.client, response.json()["job"], writable.auth)
    assert job["state"] == "failed"
    [failed] = job["report"]["failed"]
    assert failed["file"] == "仅标题.txt" and "no body text" in failed["reason"]
    assert kb_state(writable.kb) == before


def test_no_files_and_a_body_over_the_limit(writable):
    before = kb_state(writable.kb)
    response = writable.client.post("/documents", data={"note": "x"}, headers=writable.auth)
    assert response.status_code == 422 and "no file uploaded" in response.json()["message"]
    huge = [("files", (f"f{i}.txt", "政".encode() * 300_000)) for i in range(4)]  # 3.4 MB
    response = writable.client.post("/documents", files=huge, headers=writable.auth)
    assert response.status_code == 413 and "larger than 3 MB" in response.json()["message"]
    assert kb_state(writable.kb) == before


def test_good_files_go_in_and_bad_ones_of_the_same_upload_are_listed(writable):
    """The rest of the batch goes on: a good file is ingested, a bad one named with its reason."""
    before = kb_state(writable.kb, generation=False)
    files = [("files", ("良好.txt", GOOD_TEXT.encode())), ("files", ("假的.pdf", b"not a pdf"))]
    response = writable.client.post("/documents", files=files, headers=writable.auth)
    assert response.status_code == 202
    assert response.json()["rejected"][0]["file"] == "假的.pdf"
    job = wait_for(writable.client, response.json()["job"], writable.auth)
    assert job["state"] == "done" and len(job["report"]["added"]) == 1
    assert job["report"]["failed"][0]["file"] == "假的.pdf"
    doc_id = job["report"]["added"][0]
    assert writable.client.delete(f"/documents/{doc_id}", headers=writable.auth).status_code == 200
    assert kb_state(writable.kb, generation=False) == before


# --- good uploads ---------------------------------------------------------------------------


def _docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_upload_is_searchable_idempotent_stored_by_content_and_removable(writable):
    client, auth = writable.client, writable.auth
    before = kb_state(writable.kb, generation=False)
    word = _docx(["关于加强城市更新中历史街区保护利用的实施意见",
                  "一、建立历史街区保护名录，实行挂牌保护和动态更新。",
                  "二、鼓励老字号商铺在历史街区内原址经营，给予修缮补助。"])  # fmt: skip
    sidecar = json.dumps({"title": "历史街区保护利用实施意见", "date": "2024-03-01",
                          "region": "绍兴市", "level": "municipal"}).encode()  # fmt: skip
    files = [("files", ("养老.txt", GOOD_TEXT.encode())), ("files", ("街区.docx", word)),
             ("files", ("街区.meta.json", sidecar))]  # fmt: skip
    response = client.post("/documents", files=files, headers=auth)
    assert response.status_code == 202 and response.headers["location"].startswith("/jobs/")
    job = wait_for(client, response.json()["job"], auth)
    assert job["state"] == "done" and len(job["report"]["added"]) == 2, job
    titles = {client.get(f"/documents/{d}").json()["title"]: d for d in job["report"]["added"]}
    assert "历史街区保护利用实施意见" in titles  # the sidecar, matched by name
    found = client.get("/search", params={"q": "社区嵌入式养老服务驿站", "top_k": 3}).json()
    assert found["results"][0]["doc_title"] == "关于推进社区嵌入式养老服务的若干措施"
    sources = writable.kb.folder / "sources"
    for doc_id in job["report"]["added"]:
        source = Path(client.get(f"/documents/{doc_id}").json()["source"])
        assert source.parent.parent == sources and len(source.parent.name) == 64

    again = client.post("/documents", files=files, headers=auth)
    job_again = wait_for(client, again.json()["job"], auth)
    assert sorted(job_again["report"]["unchanged"]) == sorted(job["report"]["added"])
    for doc_id in job["report"]["added"]:
        assert client.delete(f"/documents/{doc_id}", headers=auth).json()["removed"] == doc_id
        assert client.get(f"/documents/{doc_id}").status_code == 404
    assert client.delete(f"/documents/{doc_id}", headers=auth).status_code == 404
    found = client.get("/search", params={"q": "社区嵌入式养老服务驿站", "top_k": 3}).json()
    assert all("养老服务的若干措施" not in r["doc_title"] for r in found["results"])
    assert kb_state(writable.kb, generation=False) == before


def _long_document(clauses: int) -> bytes:
    """A document of many new clauses: embedding them keeps the writer busy for a while."""
    places = ["街道", "社区", "园区", "乡镇", "学校", "医院", "企业", "港区"]
    works = ["建设智慧服务平台", "开展技能培训", "完善应急预案", "推进数据共享", "落实资金保障"]
    lines = ["关于开展基层治理能力提升专项行动的通知", ""]
    for n in range(1, clauses + 1):
        place, work = places[n % len(places)], works[n % len(works)]
        lines.append(f"{n}．在第{n}批试点{place}{work}，到{2024 + n % 5}年完成{n * 3}个项目。")
    return "\n".join(lines).encode()


def test_a_second_write_while_one_runs_is_told_409_with_its_job(writable):
    client, auth = writable.client, writable.auth
    before = kb_state(writable.kb, generation=False)
    first = client.post("/documents", files=[("files", ("专项行动.txt", _long_document(150)))],
                        headers=auth)  # fmt: skip
    assert first.status_code == 202
    second = client.post("/documents", files=[("files", ("养老.txt", GOOD_TEXT.encode()))],
                         headers=auth)  # fmt: skip
    removal = client.delete("/documents/anything", headers=auth)
    job = wait_for(client, first.json()["job"], auth)
    assert second.status_code == 409 and second.json()["job"] == first.json()["job"]
    assert removal.status_code == 409 and removal.json()["job"] == first.json()["job"]
    assert job["state"] == "done" and job["report"]["clauses"] >= 150
    client.delete(f"/documents/{job['report']['added'][0]}", headers=auth)
    assert kb_state(writable.kb, generation=False) == before


def test_a_new_version_naming_its_doc_id_replaces_an_upload_but_no_other_document(writable):
    """Re-uploading an edited document under its doc_id (sidecar or form field) updates it;
    the same claim on a document ingested from another source stays refused."""
    client, auth = writable.client, writable.auth
    before = kb_state(writable.kb, generation=False)
    others = [d for d in writable.kb.documents() if "/sources/" not in d.source]
    meta = json.dumps({"doc_id": "yanglao-cuoshi"}).encode()
    first = client.post(
        "/documents",
        files=[("files", ("养老.txt", GOOD_TEXT.encode())), ("files", ("养老.meta.json", meta))],
        headers=auth,
    )
    assert wait_for(client, first.json()["job"], auth)["report"]["added"] == ["yanglao-cuoshi"]
    edited = GOOD_TEXT + "四、发展家庭养老床位，为失能老年人提供上门照护服务。\n"
    for upload in ({"files": [("files", ("养老.txt", edited.encode())),
                              ("files", ("养老.meta.json", meta))]},
                   {"files": [("files", ("养老v3.txt", (edited + "五、附则。\n").encode()))],
                    "data": {"doc_id": "yanglao-cuoshi"}}):  # fmt: skip
        job = wait_for(client, client.post("/documents", headers=auth, **upload).json()["job"],
                       auth)  # fmt: skip
        assert job["state"] == "done" and job["report"]["updated"] == ["yanglao-cuoshi"], job
    found = client.get("/search", params={"q": "家庭养老床位上门照护", "top_k": 1}).json()
    assert found["results"][0]["doc_id"] == "yanglao-cuoshi"
    assert len(list((writable.kb.folder / "sources").iterdir())) == 1  # old copies pruned

    claim = json.dumps({"doc_id": others[0].doc_id}).encode()
    refused = client.post(
        "/documents",
        files=[("files", ("冒名.txt", edited.encode())), ("files", ("冒名.meta.json", claim))],
        headers=auth,
    )
    job = wait_for(client, refused.json()["job"], auth)
    assert job["state"] == "failed" and "already belongs to" in job["report"]["failed"][0]["reason"]
    assert client.delete("/documents/yanglao-cuoshi", headers=auth).status_code == 200
    assert kb_state(writable.kb, generation=False) == before
