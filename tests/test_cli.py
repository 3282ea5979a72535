"""The policykb parse command: JSON shape, outline, summary and bad files in a batch."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.conftest import CORPUS, SEEDS

runner = CliRunner()


def test_json_has_the_documented_fields():
    result = runner.invoke(app, ["parse", str(SEEDS["004"]), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip())
    assert set(record["document"]) >= {
        "doc_id",
        "title",
        "doc_number",
        "issuers",
        "date",
        "level",
        "region",
        "status",
    }
    clause = record["clauses"][2]
    assert set(clause) >= {"clause_id", "label", "path", "text", "units", "targets", "citations"}
    assert clause["units"][0] == {
        "name": "市发展改革委",
        "canonical": "重庆市发展和改革委员会",
        "role": "responsible",
        "kind": "unit",
        "region": "重庆市",
    }
    assert record["document"]["level"] == "provincial"


def test_folder_is_expanded_and_summarised():
    result = runner.invoke(app, ["parse", str(CORPUS), "--summary"])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and "clauses=15" in lines[4]


def test_outline_shows_units_and_targets():
    result = runner.invoke(app, ["parse", str(SEEDS["003"])])
    assert "@ 国家税务总局绍兴市税务局 (responsible)" in result.stdout
    assert "# 90% 以上 by 2025" in result.stdout


def test_bad_files_are_reported_and_the_rest_parsed(tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = runner.invoke(
        app, ["parse", str(empty), str(SEEDS["000"]), str(tmp_path / "nope.md"), "--json"]
    )
    assert result.exit_code == 1
    assert len(result.stdout.strip().splitlines()) == 1
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"policykb: {empty}: empty file",
        f"policykb: {tmp_path / 'nope.md'}: no such file",
    ]


def test_sidecar_overrides_metadata(tmp_path: Path):
    path = tmp_path / "plan.txt"
    path.write_text(SEEDS["000"].read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "plan.meta.json").write_text(
        json.dumps({"doc_number": "发改社会〔2023〕1234号", "date": "2023-06-08"}), encoding="utf-8"
    )
    record = json.loads(runner.invoke(app, ["parse", str(path), "--json"]).stdout)
    assert record["document"]["doc_number"] == "发改社会〔2023〕1234号"
    assert record["document"]["date"] == "2023-06-08"


def test_bad_sidecar_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "plan.txt"
    path.write_text(SEEDS["000"].read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "plan.meta.json").write_text('{"levle": "national"}', encoding="utf-8")
    result = runner.invoke(app, ["parse", str(path)])
    assert result.exit_code == 1
    assert "plan.meta.json: unknown field(s) ['levle']" in result.stderr
