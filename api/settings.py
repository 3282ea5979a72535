"""Every setting of the CLI and the server, in one place, read from POLICYKB_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.encoder import default_model
from index.kb import default_home


class Settings(BaseSettings):
    """POLICYKB_HOME, POLICYKB_MODEL, POLICYKB_HOST, POLICYKB_PORT, POLICYKB_TOP_K."""

    model_config = SettingsConfigDict(env_prefix="POLICYKB_")

    home: Path = Field(default_factory=default_home, description="the KB folder")
    model: str | None = Field(
        default=None, description="embedding model; default: the KB's own, else " + default_model()
    )
    host: str = "127.0.0.1"
    port: int = 8000
    top_k: int = Field(default=10, ge=1, le=100)
