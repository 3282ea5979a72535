"""policykb ingest / search / remove with the real model, as a user runs them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from tests.conftest import SEEDS

runner = CliRunner()


def test_ingest_search_remove_round_trip(tmp_path):
    kb = str(tmp_path / "kb")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    result = runner.invoke(app, ["ingest", str(SEEDS["002"]), str(bad), "--kb", kb])
    assert result.exit_code == 1
    assert "added 1, updated 0, unchanged 0, failed 1" in result.stdout
    assert "broken.pdf" in result.stderr

    again = runner.invoke(app, ["ingest", str(SEEDS["002"]), "--kb", kb])
    assert (
        again.exit_code == 0
        and "unchanged 1" in again.stdout
        and "0 windows embedded" in again.stdout
    )

    found = runner.invoke(app, ["search", "市域产教联合体的经费", "--kb", kb, "--json", "-k", "3"])
    body = json.loads(found.stdout)
    assert body["query"] == "市域产教联合体的经费" and len(body["results"]) == 3
    assert "专项经费" in body["results"][0]["text"]

    doc_id = body["results"][0]["doc_id"]
    assert runner.invoke(app, ["remove", doc_id, "--kb", kb]).exit_code == 0
    assert runner.invoke(app, ["remove", doc_id, "--kb", kb]).exit_code == 1
    empty = runner.invoke(app, ["search", "经费", "--kb", kb, "--json"])
    assert json.loads(empty.stdout)["results"] == []


def test_search_refuses_bad_input(corpus_kb):
    kb = str(corpus_kb.folder)
    result = runner.invoke(app, ["search", "  ", "--kb", kb])
    assert result.exit_code == 2 and "query: empty" in result.stderr
    result = runner.invoke(app, ["search", "产教融合", "--kb", kb, "--level", "city"])
    assert result.exit_code == 2 and "level" in result.stderr


def test_plain_search_shows_each_documents_status(corpus_kb):
    kb = str(corpus_kb.folder)
    shown = runner.invoke(app, ["search", "产教融合", "--kb", kb, "--status", "all", "-k", "10"])
    body = json.loads(
        runner.invoke(
            app, ["search", "产教融合", "--kb", kb, "--status", "all", "-k", "10", "--json"]
        ).stdout
    )
    names = {r["validity"]["status_name"] for r in body["results"]}
    assert shown.exit_code == 0 and names
    assert all(f"〔{name}〕" in shown.stdout for name in names)


def test_another_model_is_refused(corpus_kb):
    result = runner.invoke(app, ["search", "产教融合", "--kb", str(corpus_kb.folder),
                                 "--model", "BAAI/bge-small-zh-v1.5"])  # fmt: skip
    assert result.exit_code == 2
    assert "built differently" in result.stderr and "bge-small-zh" in result.stderr
