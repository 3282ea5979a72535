"""Route dependencies as Annotated aliases: the app's KB, a snapshot of it, its searcher and
settings.

``KB`` is the KnowledgeBase itself, for writes. Reads go through ``Reader``: one snapshot
per request (its own SQLite read transaction and the matching vectors), opened when the
request starts and closed when it ends, so a page or a search never mixes two states.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from index.kb import KnowledgeBase, Snapshot
from index.owners import UnitDirectory
from index.search import Searcher


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def get_snapshot(request: Request) -> AsyncIterator[Snapshot]:
    """The KB as committed when the request began; sees any later ingest on the next request.

    ``async``: taking a pooled connection and beginning (later ending) a read transaction
    takes microseconds, so it runs on the event loop rather than costing two thread hops."""
    with request.app.state.kb.reading() as snapshot:
        yield snapshot


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


KB = Annotated[KnowledgeBase, Depends(get_kb)]
Reader = Annotated[Snapshot, Depends(get_snapshot)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_searcher(snapshot: Reader) -> Searcher:
    return Searcher(snapshot)


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def get_directory(snapshot: Reader) -> UnitDirectory:
    """Built per request: it reads the unit tags as they are now, a few ms on the corpus."""
    return snapshot.owners


Directory = Annotated[UnitDirectory, Depends(get_directory)]
