"""Route dependencies as Annotated aliases: the app's one KB, its searcher and settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from index.kb import KnowledgeBase
from index.owners import UnitDirectory
from index.search import Searcher


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


KB = Annotated[KnowledgeBase, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def get_directory(request: Request) -> UnitDirectory:
    """Built per request: it reads the unit tags as they are now, a few ms on the corpus."""
    return UnitDirectory(request.app.state.kb.store)


Directory = Annotated[UnitDirectory, Depends(get_directory)]
