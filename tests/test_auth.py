"""No write without a valid token: the token CLI, the API, the web page, rate and size limits,
and the security headers, on the real app over a copy of the corpus KB."""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from index.kb import KnowledgeBase
from index.tokens import TOKEN_FILE, TokenStore
from tests.test_uploads import GOOD_TEXT, copy_kb, kb_state, wait_for

ORIGIN = "http://testserver"
UPLOAD = [("files", ("养老.txt", GOOD_TEXT.encode()))]


@dataclass
class Site:
    """The app over its own KB, a client, and the id of a document that must stay put."""

    app: FastAPI
    client: TestClient
    kb: KnowledgeBase
    doc_id: str

    def token(self, name: str) -> str:
        return TokenStore(self.kb.folder).create(name)[1]


@pytest.fixture(scope="module")
def site(corpus_kb, tmp_path_factory):
    kb = copy_kb(corpus_kb, tmp_path_factory.mktemp("auth") / "kb")
    app = create_app(Settings(home=kb.folder, writes_per_minute=1000), kb=kb)
    with TestClient(app) as client:
        yield Site(app, client, kb, kb.documents()[0].doc_id)
    kb.close()


@pytest.fixture
def browser(site):
    """The site's client as a fresh browser: no cookies before or after."""
    site.client.cookies.clear()
    yield site.client
    site.client.cookies.clear()


def _write(client: TestClient, method: str, doc_id: str, headers: dict):
    if method == "post":
        return client.post("/documents", files=UPLOAD, headers=headers)
    return client.delete(f"/documents/{doc_id}", headers=headers)


# --- tokens ---------------------------------------------------------------------------------


def test_token_cli_makes_hashed_tokens_lists_and_revokes_them(tmp_path):
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "--kb", str(tmp_path), "--name", "alice"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert re.fullmatch(r"pkb_[\w-]{43}", token)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token.encode() not in path.read_bytes()
    assert TokenStore(tmp_path).verify(token) == "alice"
    listed = runner.invoke(cli, ["token", "list", "--kb", str(tmp_path)])
    assert "alice" in listed.output and token not in listed.output
    again = runner.invoke(cli, ["token", "create", "--kb", str(tmp_path), "--name", "alice"])
    assert again.exit_code == 1 and "exists" in again.output
    unnamed = runner.invoke(cli, ["token", "create", "--kb", str(tmp_path)])
    assert unnamed.exit_code == 0 and "token-1" in unnamed.output
    assert runner.invoke(cli, ["token", "revoke", "alice", "--kb", str(tmp_path)]).exit_code == 0
    assert TokenStore(tmp_path).verify(token) is None
    assert runner.invoke(cli, ["token", "revoke", "alice", "--kb", str(tmp_path)]).exit_code == 1
    missing = runner.invoke(cli, ["token", "create", "--kb", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no such KB folder" in missing.output


def test_a_kb_without_tokens_refuses_every_write(corpus_kb, tmp_path):
    kb = copy_kb(corpus_kb, tmp_path / "kb")
    doc_id, before = kb.documents()[0].doc_id, kb_state(kb)
    guesses = [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer pkb_admin"},
               {"Authorization": "Basic YWRtaW46YWRtaW4="}]  # fmt: skip
    with TestClient(create_app(Settings(home=kb.folder), kb=kb)) as client:
        for headers in guesses:
            for method in ("post", "delete"):
                assert _write(client, method, doc_id, headers).status_code in (401, 403)
    assert kb_state(kb) == before and not (kb.folder / TOKEN_FILE).exists()
    kb.close()


# --- the JSON API ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "delete"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "Bearer pkb_wrong"}, 403),
    ],
    ids=["none", "basic", "empty bearer", "wrong token"],
)
def test_api_writes_need_a_valid_bearer_token(site, method, headers, status):
    before = kb_state(site.kb)
    response = _write(site.client, method, site.doc_id, headers)
    assert response.status_code == status, response.json()
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["message"]
    assert kb_state(site.kb) == before


def test_a_revoked_token_is_refused_from_the_next_request(site):
    token = site.token("bob")
    auth = {"Authorization": f"Bearer {token}"}
    assert site.client.delete("/documents/no-such-doc", headers=auth).status_code == 404
    assert site.client.get("/jobs/no-such-job", headers=auth).status_code == 404
    TokenStore(site.kb.folder).revoke("bob")
    before = kb_state(site.kb)
    for method in ("post", "delete"):
        assert _write(site.client, method, site.doc_id, auth).status_code == 403
    assert site.client.get("/jobs/no-such-job", headers=auth).status_code == 403
    assert site.client.get("/jobs/no-such-job").status_code == 401
    assert kb_state(site.kb) == before


def test_writes_are_rate_limited_per_token(site):
    app = create_app(Settings(home=site.kb.folder, writes_per_minute=2), kb=site.kb)
    hasty, calm = site.token("hasty"), site.token("calm")
    with TestClient(app) as client:
        statuses = [client.delete("/documents/none", headers={"Authorization": f"Bearer {hasty}"})
                    for _ in range(3)]  # fmt: skip
        other = client.delete("/documents/none", headers={"Authorization": f"Bearer {calm}"})
    assert [r.status_code for r in statuses] == [404, 404, 429]
    assert 1 <= int(statuses[2].headers["retry-after"]) <= 60
    assert "writes a minute" in statuses[2].json()["message"]
    assert other.status_code == 404


# --- the web page ---------------------------------------------------------------------------


def _sign_in(client: TestClient, token: str, origin: str = ORIGIN):
    headers = {"Origin": origin} if origin else {}
    return client.post("/ui/signin", data={"token": token, "next": "/ui/upload"},
                       headers=headers, follow_redirects=False)  # fmt: skip


def test_a_visitor_sees_no_write_controls_and_cannot_post(site, browser):
    before = kb_state(site.kb)
    page = browser.get(f"/ui/documents/{site.doc_id}").text
    assert "删除本文件" not in page and 'href="/ui/signin"' in page
    upload = browser.get("/ui/upload")
    assert upload.status_code == 401 and 'name="token"' in upload.text
    posted = browser.post("/ui/upload", files=UPLOAD, headers={"Origin": ORIGIN})
    removed = browser.post(f"/ui/documents/{site.doc_id}/remove", headers={"Origin": ORIGIN})
    assert posted.status_code == 401 and removed.status_code == 401
    assert kb_state(site.kb) == before


def test_sign_in_refuses_wrong_tokens_and_other_sites(site, browser):
    token = site.token("dora")
    wrong = _sign_in(browser, "pkb_guess")
    assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
    for origin in ("https://evil.example", ""):
        response = _sign_in(browser, token, origin)
        assert response.status_code == 403 and "set-cookie" not in response.headers
    response = _sign_in(browser, token)
    assert response.status_code == 303 and response.headers["location"] == "/ui/upload"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie and token in cookie
    with TestClient(site.app, base_url="https://testserver") as secure:
        over_https = _sign_in(secure, token, "https://testserver")
    assert "Secure" in over_https.headers["set-cookie"]
    gone = browser.post("/ui/signout", headers={"Origin": ORIGIN}, follow_redirects=False)
    assert gone.status_code == 303 and 'policykb_token=""' in gone.headers["set-cookie"]


def test_a_signed_in_user_uploads_follows_the_job_and_removes(site, browser):
    before = kb_state(site.kb, generation=False)
    token = site.token("erin")
    assert _sign_in(browser, token).status_code == 303
    form = browser.get("/ui/upload").text
    assert 'enctype="multipart/form-data"' in form and 'href="/ui/upload"' in form
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}, {}):
        refused = browser.post("/ui/upload", files=UPLOAD, headers=headers)
        assert refused.status_code == 403
    assert kb_state(site.kb, generation=False) == before

    posted = browser.post("/ui/upload", files=UPLOAD, headers={"Referer": f"{ORIGIN}/ui/upload"},
                          follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303 and posted.headers["location"].startswith("/ui/jobs/")
    job_id = posted.headers["location"].rsplit("/", 1)[1]
    job = wait_for(browser, job_id, {})  # polled with the cookie, as the page's script does
    doc_id = job["report"]["added"][0]
    job_page = browser.get(posted.headers["location"]).text
    assert 'data-state="done"' in job_page and f'href="/ui/documents/{doc_id}"' in job_page

    document = browser.get(f"/ui/documents/{doc_id}").text
    assert f'action="/ui/documents/{doc_id}/remove"' in document and "data-confirm" in document
    cross = browser.post(f"/ui/documents/{doc_id}/remove", headers={"Origin": "https://x.example"})
    assert cross.status_code == 403 and browser.get(f"/documents/{doc_id}").status_code == 200
    removed = browser.post(f"/ui/documents/{doc_id}/remove", headers={"Origin": ORIGIN})
    assert removed.status_code == 200 and "已删除" in removed.text
    assert browser.get(f"/documents/{doc_id}").status_code == 404
    assert kb_state(site.kb, generation=False) == before

    TokenStore(site.kb.folder).revoke("erin")
    assert 'href="/ui/signin"' in browser.get("/ui/documents").text
    assert browser.post("/ui/upload", files=UPLOAD, headers={"Origin": ORIGIN}).status_code == 403


# --- hardening ------------------------------------------------------------------------------

PAGES_AND_API = ["/health", "/search?q=产教融合", "/documents/nope", "/", "/ui/documents",
                 "/ui/signin", "/ui/documents/nope", "/static/app.js", "/jobs/nope"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES_AND_API)
def test_security_headers_and_no_cors_by_default(site, path):
    response = site.client.get(path, headers={"Origin": "https://evil.example"})
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "cdn" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "access-control-allow-origin" not in response.headers


def test_docs_csp_cors_when_configured_and_body_limit_without_length(site):
    docs = site.client.get("/docs")
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    preflight = site.client.options(
        "/documents",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    settings = Settings(home=site.kb.folder, cors_origins=["https://intranet.example"],
                        max_request_mb=1)  # fmt: skip
    headers = {"Content-Type": "multipart/form-data; boundary=b",
               "Authorization": f"Bearer {site.token('frank')}"}  # fmt: skip
    with TestClient(create_app(settings, kb=site.kb)) as client:
        allowed = client.get("/health", headers={"Origin": "https://intranet.example"})
        other = client.get("/health", headers={"Origin": "https://evil.example"})
        chunked = client.post("/documents", content=iter([b"x" * 600_000] * 2), headers=headers)
    assert allowed.headers["access-control-allow-origin"] == "https://intranet.example"
    assert "access-control-allow-origin" not in other.headers
    assert chunked.status_code == 413 and "larger than 1 MB" in chunked.json()["message"]
    assert chunked.headers["x-frame-options"] == "DENY"
