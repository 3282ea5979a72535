"""The README documents every option and every sidecar field there is."""

from __future__ import annotations

import re

import typer

from api.cli import app
from api.settings import Settings
from ingest.metadata import SIDECAR_FIELDS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_parse_option_is_documented():
    command = typer.main.get_command(app)
    assert command.commands, "policykb has no subcommands"
    for name, sub in command.commands.items():
        assert f"policykb {name}" in README
        for param in sub.params:
            for option in param.opts:
                if option.startswith("--"):
                    assert option in README, f"{option} of `policykb {name}` is not in README.md"


def test_every_sidecar_field_is_documented():
    for field in sorted(SIDECAR_FIELDS | {"doc_id"}):
        assert f"`{field}`" in README, field


def test_every_setting_is_documented():
    prefix = Settings.model_config["env_prefix"]
    for name in Settings.model_fields:
        assert f"`{prefix}{name.upper()}`" in README, f"{prefix}{name.upper()} is not in README.md"


def test_every_environment_variable_the_code_reads_is_documented():
    names = set()
    for folder in ("ingest", "index", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"POLICYKB_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing, f"not in README.md: {missing}"
