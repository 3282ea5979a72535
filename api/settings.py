"""Every setting of the CLI and the server, in one place, read from POLICYKB_* variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

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
    backend: Literal["torch", "openvino"] | None = Field(
        default=None,
        description="embedding backend of a new KB: torch (fp32) or openvino (int8, built by"
        " `make model`); default: the KB's own, else torch",
    )
    passage: Literal["text", "context"] | None = Field(
        default=None,
        description="what the model reads of each window of a new KB: its text alone, or"
        " (context) its document's title, clause path and label before it; default: the KB's"
        " own, else text",
    )
    query_adapter: Path | None = Field(
        default=None,
        description="a query adapter file (training/query_adapter.py, `make stard-adapter`)"
        " applied to every search's query vector; default: none",
    )
    reranker: Path | None = Field(
        default=None,
        description="a learned second stage (index/rerank.py, `make stard-reranker`) reordering"
        " hybrid search's fused candidates; needs the query adapter it was fitted with;"
        " default: none",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    top_k: int = Field(default=10, ge=1, le=100)
    vector_index: Literal["auto", "flat", "hnsw", "ivf"] | None = Field(
        default=None,
        description="vector index of a new KB: auto (exact, then HNSW for segments past"
        " 50,000 vectors), flat (always exact), hnsw or ivf; default: the KB's own, else auto",
    )
    background_merges: bool = Field(
        default=True,
        description="`serve`: large merges of index segments run in a thread after a write,"
        " not in the write that triggers them (index/merging.py)",
    )
    serve_threads: int = Field(
        default=1, ge=1, le=64,
        description="torch/FAISS threads one request uses in `serve`: requests run in parallel",
    )  # fmt: skip
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=64,
        description="worker processes of `serve`, each with its own interpreter, KB and model;"
        " default: one per core (1: a single process)",
    )  # fmt: skip
    ray_address: str | None = Field(
        default=None, description="Ray cluster of `ingest --ray`; default: a local Ray instance"
    )
    # writes over HTTP (api/routes_documents.py, api/uploads.py, api/auth.py, api/security.py)
    max_upload_mb: float = Field(default=20, gt=0, description="largest file of an upload")
    max_request_mb: float = Field(default=50, gt=0, description="largest request body (413)")
    max_upload_files: int = Field(default=20, ge=1, description="files in one upload")
    max_pdf_pages: int = Field(default=500, ge=1, description="pages of an uploaded PDF")
    max_unzipped_mb: float = Field(default=100, gt=0, description="a DOCX's unpacked size")
    max_zip_entries: int = Field(default=1000, ge=1, description="files inside a DOCX")
    writes_per_minute: int = Field(default=30, ge=1, description="per token: uploads, removals")
    cors_origins: list[str] = Field(default_factory=list, description="origins CORS allows")
