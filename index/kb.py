"""A knowledge base: one folder holding manifest.json, kb.sqlite and the FAISS vectors.

Ingest and remove are atomic. Every write, vectors included, happens in one SQLite
transaction; the FAISS file of each state is named by a generation number that is
committed with it, so a crash leaves the old generation's file in charge. BM25's postings
(index/lexical_index) are segment files with a catalog in the same transaction, likewise.

Readers take a ``Snapshot``: a read transaction on a connection of their own and the
vector index of the generation that transaction sees. Whoever changed the KB (this
process or another), the next snapshot holds the new state, and a snapshot never mixes two.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index import versions
from index.doc_map import DocMap, DocMaps
from index.embedding import Embedder, KbModel, LocalEmbedder
from index.encoders import default_backend, load_encoder, precision_of
from index.encoders.adapter import QueryAdapter
from index.encoders.base import Encoder, default_model, model_id
from index.filters import Filters
from index.lexical import words
from index.lexical_index.segments import LexicalIndex, NoCatalog, warm_kernels
from index.lexical_index.segments import sweep as sweep_bm25
from index.lexical_index.segments import write_limit as lexical_write_limit
from index.link_evidence import warm_kernels as warm_link_kernels
from index.link_views import LinkViews
from index.links import Linker
from index.manifest import Manifest, ManifestMismatch
from index.merging import (
    BackgroundMerger,
    MergeCancelled,
    MergeReport,
    clear_staged,
    merge_lock,
    stage_all,
)
from index.owners import UnitDirectory
from index.passages import DEFAULT_FORM, Passage, check_form, document_passages
from index.records import DocumentNotFound, StoredClause, StoredDocument
from index.rerank import LearnedRanker, RerankerError, SecondStage
from index.segment_update import Merge
from index.store import ReadPool, Store
from index.targets import TargetRow, list_targets
from index.vector_index.factory import Policy, UnknownIndex, policy, policy_of
from index.vector_index.segments import SegmentedIndex, sweep, write_limit
from index.vectors import INDEX_TYPE, QueryBatcher, VectorCache
from index.versions import VersionViews
from ingest.metadata import declared_doc_id
from ingest.models import Document, ParsedDocument
from ingest.pipeline import parse_file
from ingest.readers.base import IngestError
from ingest.text import normalize_brackets

DB_FILE = "kb.sqlite"
EMBED_CHUNK = 512  # texts embedded, then cached, at a time: an interrupted run keeps them
MAX_CLAUSE_CHARS = 50_000  # one clause longer than this is a text without paragraph breaks
MERGE_WAIT_MS = 600_000  # how long a finished merge waits for the write lock before giving up
UPLOADS = "sources"  # the KB's folder of files uploaded over HTTP (content-addressed copies)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def default_home() -> Path:
    """POLICYKB_HOME, else ~/.local/share/policykb."""
    home = os.environ.get("POLICYKB_HOME")
    return Path(home) if home else Path.home() / ".local" / "share" / "policykb"


@dataclass
class IngestReport:
    """What an ingest did, per document, with the time each stage took."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    clauses: int = 0
    windows_embedded: int = 0
    windows_cached: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@functools.cache
def _current_manifest(model: str, dim: int, index_type: str) -> Manifest:
    """The manifest this process writes, computed once: it parses five packages' metadata
    (about 5 ms of CPU, all under the GIL), which every query's encoder check used to pay."""
    return Manifest.current(model, dim, index_type)


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def same_file(stored: str, given: str) -> bool:
    """Whether a stored source and a path given now name the same file."""
    return Path(stored).resolve() == Path(given).resolve()


class _Reading:
    """Reading a KB: shared by the KB itself (its writer's connection) and its snapshots."""

    store: Store
    manifest: Manifest | None

    @property
    def vectors(self) -> SegmentedIndex:
        raise NotImplementedError

    @property
    def bm25(self) -> LexicalIndex:
        raise NotImplementedError

    @property
    def doc_map(self) -> DocMap:
        raise NotImplementedError

    def allowed_windows(self, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """Window ids that pass the filters, sorted (index.doc_map: a few ms at any size)."""
        return self.doc_map.allowed_windows(self.store, filters, unit_names)

    def allowed_clauses(self, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """clauses.id that pass the filters, sorted (index.doc_map)."""
        return self.doc_map.allowed_clauses(self.store, filters, unit_names)

    @property
    def generation(self) -> int:
        """The number of the committed state this reader sees."""
        return int(self.store.get_meta("generation", "0"))

    def documents(self) -> list[StoredDocument]:
        return [StoredDocument.from_row(r, r["clauses"]) for r in self.store.documents()]

    def document(self, doc_id: str) -> StoredDocument | None:
        row = self.store.document(doc_id)
        return StoredDocument.from_row(row, len(self.store.clauses_of(doc_id))) if row else None

    def find_document(self, ref: str) -> StoredDocument:
        """The one document a doc_id, a 文号 or a unique part of its title names."""
        rows = self.store.find_documents(ref)
        if len(rows) == 1:
            return self.document(rows[0]["doc_id"])
        if not rows:
            raise DocumentNotFound(f"document: nothing in the KB is called {ref!r}")
        listed = "; ".join(f"{r['doc_id']} {r['title']}" for r in rows[:10])
        raise DocumentNotFound(f"document: {ref!r} names {len(rows)} documents: {listed}")

    def clauses(self, doc_id: str) -> list[StoredClause]:
        """The document's clauses in document order, with their units."""
        rows = self.store.clauses_of(doc_id)
        units = self.store.units_of([r["id"] for r in rows])
        return [StoredClause.from_row(r, units[r["id"]]) for r in rows]

    def clause(self, clause_id: str) -> StoredClause | None:
        row = self.store.clause_by_id(clause_id)
        if row is None:
            return None
        return StoredClause.from_row(row, self.store.units_of([row["id"]])[row["id"]])

    def stats(self) -> dict[str, int]:
        vectors = len(self.vectors) if self.manifest else 0
        return {**self.store.counts(), "vectors": vectors, "generation": self.generation}

    # --- named reads for api/: the KB is its only door into index/ ---------------------------

    def regions(self) -> list[str]:
        """The regions the KB's documents serve, sorted: what a region filter offers."""
        return sorted(self.store.regions())

    def targets(self, filters: Filters, year: int | None = None) -> list[TargetRow]:
        """Targets that pass the filters (``year``: the target's deadline), lined up by metric."""
        return list_targets(self.store, filters, year)

    @property
    def owners(self) -> UnitDirectory:
        """Units and their tasks; built when asked (it reads every unit tag), so hold it."""
        return UnitDirectory(self.store)

    @property
    def links(self) -> LinkViews:
        """A clause's sources and derived clauses, a document's links and coverage."""
        return LinkViews(self.store)

    @property
    def versions(self) -> VersionViews:
        """Statuses on a day, a document's versions, a clause's history."""
        return VersionViews(self.store)


class KnowledgeBase(_Reading):
    """Open (or create) the KB in ``folder``; ``model`` defaults to the one it was built with.
    ``background_merges``: a change merges only small segments and a thread of this process
    does the large merges after it (index/merging.py), as a server wants; else a change
    does every merge it triggers."""

    def __init__(
        self, folder: Path | str, model: str | None = None, encoder: Encoder | None = None,
        vector_index: str | None = None, backend: str | None = None,
        query_adapter: Path | str | None = None, reranker: Path | str | None = None,
        passage: str | None = None, background_merges: bool = False,
    ):  # fmt: skip
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest.load(self.folder)
        requested = encoder.name if encoder else model_id(model) if model else None
        backend = encoder.backend if encoder else backend  # None: the KB's own, else the default
        precision = encoder.precision if encoder else precision_of(backend) if backend else None
        passage = check_form(passage) if passage else None  # None: the KB's own, else default
        if self.manifest:
            asked = self.manifest.requiring(requested, backend, precision, passage)
            self.manifest.check(asked, self.folder)
        self._model = model or self._recorded_model()
        self._backend = backend or (self.manifest.backend if self.manifest else default_backend())
        self.passage = passage or (self.manifest.passage if self.manifest else DEFAULT_FORM)
        self._encoder = encoder
        self._vector_index = vector_index  # a policy name (factory.POLICIES); None: the KB's
        if self.manifest and vector_index:
            self.manifest.check(replace(self.manifest, index_type=self._index_type()), self.folder)
        self.store = Store(self.folder / DB_FILE)
        self._readers = ReadPool(self.folder / DB_FILE)
        self._cache = VectorCache()
        self._bm25_cache = VectorCache()  # the same sharing, of LexicalIndex states
        self._doc_maps = DocMaps()  # and of each generation's clause and window documents
        self._adapter_path = query_adapter
        self._adapter = QueryAdapter.load(query_adapter) if query_adapter else None
        if self._adapter and self.manifest:
            self._adapter.check(self.manifest.model, self.manifest.dim, query_adapter)
        self._reranker_path = reranker
        self.reranker: SecondStage | None = self._second_stage(reranker)
        self._queries = QueryBatcher(self._encode_queries)
        self.merger = BackgroundMerger(self.merge) if background_merges else None
        self._closed = False

    def _second_stage(self, path: Path | str | None) -> LearnedRanker | None:
        """The ranker of ``path``: only with the query adapter it was fitted with."""
        if not path:
            return None
        if self._adapter is None:
            raise RerankerError(f"{path}: a ranker needs its query adapter; none is set")
        ranker = LearnedRanker.load(path)
        if self.manifest:
            ranker.check(self.manifest.model, self._adapter, path)
        return ranker

    def _recorded_model(self) -> str:
        """The model to load for this KB: its recorded one (a folder name stands for ours)."""
        default = default_model()
        if self.manifest is None or self.manifest.model == model_id(default):
            return default
        return self.manifest.model

    # --- parts, loaded when first needed ---------------------------------------------------

    def warm(self) -> None:
        """Load now what the first search would: the model, both indexes and the document map
        of a KB with a manifest, jieba's dictionary (1.5 s of CPU, the bulk of a cold start),
        BM25's and linking's compiled kernels, so a server's first user (and first change)
        waits no longer than the next."""
        if self.manifest:
            self.encoder  # noqa: B018
            with self.reading() as snapshot:  # one committed state for all three
                snapshot.vectors, snapshot.bm25, snapshot.doc_map  # noqa: B018
        words("预热")
        warm_kernels()
        warm_link_kernels()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self._model, self._backend)
        current = replace(
            _current_manifest(self._encoder.name, self._encoder.dim, self._index_type()),
            backend=self._encoder.backend,
            precision=self._encoder.precision,
            passage=self.passage,
        )
        if self.manifest is None:
            current.save(self.folder)
            self.manifest = current
            if self._adapter:  # a new KB: its model is known only now
                self._adapter.check(current.model, current.dim, self._adapter_path)
            if isinstance(self.reranker, LearnedRanker):
                self.reranker.check(current.model, self._adapter, self._reranker_path)
        self.manifest.check(current, self.folder)
        return self._encoder

    def encode_query(self, text: str) -> np.ndarray:
        """A search query's vector; queries of concurrent searches share one model call."""
        return self._queries.encode(text)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors, moved by the query adapter when the KB was opened with one."""
        vectors = self.encoder.encode_queries(texts)
        return vectors if self._adapter is None else self._adapter.apply(vectors)

    def _index_type(self) -> str:
        """The vector index asked for, else the KB's own, else a new KB's default."""
        if self._vector_index:
            return policy(self._vector_index).index_type
        return self.manifest.index_type if self.manifest else INDEX_TYPE

    @property
    def _policy(self) -> Policy:
        try:
            return policy_of(self._index_type())
        except UnknownIndex as error:
            raise ManifestMismatch(f"{self.folder}: {error}; build a new KB") from error

    @property
    def vectors(self) -> SegmentedIndex:
        """The vectors of the state committed now (as the writer's connection sees it)."""
        return self.vectors_at(self.generation, self.store)

    def vectors_at(self, generation: int, store: Store) -> SegmentedIndex:
        """The vector index of ``generation``; ``store`` must see that generation."""
        return self._cache.get(generation, lambda: self._load_vectors(generation, store))

    def _load_vectors(self, generation: int, store: Store) -> SegmentedIndex:
        """The segments SQLite's catalog lists, sharing those loaded already; rebuilt from
        SQLite's vectors when a file is lost or damaged (or a crash left no catalog)."""
        dim = self.manifest.dim if self.manifest else self.encoder.dim
        rule = self._policy  # the manifest's index type: one this version cannot read is refused
        try:
            state = SegmentedIndex.load(self.folder, dim, store.db, self._cache.segments())
            if len(state) == store.window_count():
                return state
        except LookupError:
            pass
        ids, vectors = store.window_vectors()
        return SegmentedIndex.rebuilt(dim, ids, vectors, rule)

    @property
    def bm25(self) -> LexicalIndex:
        """The BM25 index of the state committed now (as the writer's connection sees it)."""
        return self.bm25_at(self.generation, self.store)

    def bm25_at(self, generation: int, store: Store) -> LexicalIndex:
        """The BM25 index of ``generation``; ``store`` must see that generation."""
        return self._bm25_cache.get(generation, lambda: self._load_bm25(store))

    def _load_bm25(self, store: Store) -> LexicalIndex:
        """The segments SQLite's catalog lists, sharing those loaded already; rebuilt from
        ``clauses_bm25`` when a file is lost or damaged, or the KB predates the catalog (then
        written out, unless a change is at work: LexicalIndex.persisted)."""
        try:
            state = LexicalIndex.load(self.folder, store.db, self._bm25_cache.segments())
            if len(state) != store.clause_count():
                raise LookupError("the catalog does not hold every clause")
        except LookupError as error:
            state = LexicalIndex.rebuilt(*store.bm25_rows())
            if isinstance(error, NoCatalog) and not self.store.db.in_transaction:
                generation = int(store.get_meta("generation", "0"))
                state = state.persisted(self.folder, self.folder / DB_FILE, generation) or state
        state.hidden = store.superseded_clauses()
        return state

    @property
    def doc_map(self) -> DocMap:
        """Each clause's and window's document, as the committed state holds them: read in one
        snapshot, so another process's commit cannot mix into the map kept for a generation."""
        with self.reading() as snapshot:
            return snapshot.doc_map

    def doc_map_at(self, generation: int, store: Store) -> DocMap:
        """The DocMap of ``generation``; ``store`` must see that generation."""
        return self._doc_maps.get(generation, store)

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """One consistent state of the KB to read from, for one request or one search."""
        with self._readers.snapshot() as store:
            yield Snapshot(self, store)

    def stats(self) -> dict[str, int]:
        """Counts of one committed state: documents, clauses, windows, vectors, generation."""
        with self.reading() as snapshot:
            return snapshot.stats()

    def close(self) -> None:
        """Close the connections; a background merge at work commits nothing after this."""
        self._closed = True
        if self.merger is not None:
            self.merger.close()
        self._readers.close()
        self.store.close()

    # --- ingest and remove ------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[Path],
        progress: Progress | None = None,
        embedder: Embedder | None = None,
    ) -> IngestReport:
        """Parse, embed (here, or with ``embedder``) and add or update documents; all or nothing
        for the KB."""
        report = IngestReport()
        progress = progress or (lambda stage, done, total: None)
        started = time.perf_counter()
        parsed = self._parse(list(paths), report, progress)
        report.seconds["parse"] = time.perf_counter() - started
        plan = self._plan(parsed, report)
        started = time.perf_counter()
        passages = [document_passages(p, self.passage) for p in plan]
        vectors = self._embed(passages, report, progress, embedder)
        report.seconds["embed"] = time.perf_counter() - started
        started = time.perf_counter()
        self.link_seconds = 0.0
        self._write(plan, passages, vectors, report)
        report.seconds["index"] = time.perf_counter() - started - self.link_seconds
        report.seconds["links"] = self.link_seconds
        report.clauses = sum(len(p.clauses) for p in plan)
        return report

    def _parse(self, paths: list[Path], report: IngestReport, progress: Progress):
        parsed: list[ParsedDocument] = []
        for done, path in enumerate(paths, 1):
            try:
                parsed.append(parse_file(path))
            except IngestError as error:
                report.failed.append((str(path), error.reason))
            progress("parse", done, len(paths))
        return parsed

    def _plan(self, parsed: list[ParsedDocument], report: IngestReport) -> list[ParsedDocument]:
        """Documents to write: new or changed ones. A document is replaced only by its own file
        ingested again; another file that claims its doc_id or 文号 is refused."""
        plan: dict[str, ParsedDocument] = {}
        for doc in parsed:
            meta = doc.document
            given, meta.source = meta.source, str(Path(meta.source).resolve())
            problem = _too_long(doc) or _in_batch(doc, plan) or self._collision(meta)
            if problem:
                report.failed.append((given, problem))
                continue
            old_hash = self.store.content_hash(meta.doc_id)
            if old_hash == meta.content_hash:
                report.unchanged.append(meta.doc_id)
                continue
            replaces = old_hash or self.store.doc_ids_from_source(meta.source)
            (report.updated if replaces else report.added).append(meta.doc_id)
            plan[meta.doc_id] = doc
        return list(plan.values())

    def _collision(self, meta: Document) -> str | None:
        """Why ``meta`` would replace another file's document, if it would: only a re-ingest
        of that same file may replace it (the same content again is merely unchanged), or a
        new upload of a document uploaded before whose sidecar names its doc_id."""
        owners = [self.store.document(meta.doc_id)]
        if meta.doc_number:
            owners += self.store.documents_by_number(meta.doc_number)
        for row in owners:
            if row is None or same_file(row["source"], meta.source):
                continue
            if row["doc_id"] == meta.doc_id and row["content_hash"] == meta.content_hash:
                continue
            if row["doc_id"] == meta.doc_id and self._new_upload_of(row["source"], meta):
                continue
            claim = f"doc_id {meta.doc_id}" if row["doc_id"] == meta.doc_id else (
                f"文号 {meta.doc_number}")  # fmt: skip
            return (f"refused: {claim} already belongs to 《{row['title']}》 ({row['doc_id']})"
                    f" from {row['source']}; only re-ingesting that file updates it"
                    f" (remove {row['doc_id']} first if this file replaces it)")  # fmt: skip
        return None

    def _new_upload_of(self, stored: str, meta: Document) -> bool:
        """Whether ``meta`` is a new version of an uploaded document: both files are uploads
        (their copies differ as their contents do) and the new one's sidecar names the doc_id."""
        uploads = (self.folder / UPLOADS).resolve()
        return (
            Path(stored).resolve().is_relative_to(uploads)
            and Path(meta.source).resolve().is_relative_to(uploads)
            and declared_doc_id(Path(meta.source)) == meta.doc_id
        )

    def _embed(
        self, passages: list[list[list[Passage]]], report: IngestReport, progress: Progress,
        embedder: Embedder | None,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """Vectors for every passage, from the cache or the embedder (cached as they come)."""
        texts = {text_hash(p.text): p.text for doc in passages for clause in doc for p in clause}
        vectors = self.store.cached_vectors(texts)
        missing = [h for h in texts if h not in vectors]
        report.windows_cached = len(texts) - len(missing)
        report.windows_embedded = len(missing)
        if missing:
            model = KbModel(self._model, self.encoder)
            embedder = embedder or LocalEmbedder(EMBED_CHUNK)
            for fresh in embedder.embed({h: texts[h] for h in missing}, model):
                with self.store.transaction():
                    self.store.save_vectors(fresh)
                vectors.update(fresh)
                progress("embed", len(vectors) - report.windows_cached, len(missing))
        return vectors

    def _write(self, plan, passages, vectors: dict[str, np.ndarray], report: IngestReport) -> None:
        if not plan:
            return
        if self.manifest is None:  # a new KB: its manifest goes in before its first document
            self.encoder  # noqa: B018 - loads the model, which writes the manifest
        with self._change() as change:
            for doc, doc_passages in zip(plan, passages, strict=True):
                if self._refused_late(doc.document, report):
                    continue
                change.changed.add(doc.document.doc_id)
                sources = {
                    doc.document.doc_id,
                    *self.store.doc_ids_from_source(doc.document.source),
                }
                for doc_id in sources:
                    replaced = self.store.document(doc_id)
                    if replaced and doc_id != doc.document.doc_id:
                        change.removed_docs[doc_id] = replaced["level"]
                    change.removed += self.store.window_ids(doc_id)
                    change.removed_clauses += self.store.clause_ids_of(doc_id)
                    self.store.delete_document(doc_id)
                clause_windows = [
                    [(p.span, text_hash(p.text)) for p in clause] for clause in doc_passages
                ]
                self.store.insert_document(doc, clause_windows)
                change.added += self.store.window_ids(doc.document.doc_id)
                change.added_clauses += self.store.clause_ids_of(doc.document.doc_id)

    def _refused_late(self, meta: Document, report: IngestReport) -> bool:
        """A collision that another writer created after planning: refused all the same."""
        problem = self._collision(meta)
        if problem:
            for listed in (report.added, report.updated):
                if meta.doc_id in listed:
                    listed.remove(meta.doc_id)
            report.failed.append((meta.source, problem))
        return bool(problem)

    def remove(self, doc_id: str) -> bool:
        """Remove a document; False when the KB does not hold it."""
        if self.store.document(doc_id) is None:
            return False
        with self._change() as change:
            change.removed += self.store.window_ids(doc_id)
            change.removed_clauses += self.store.clause_ids_of(doc_id)
            change.removed_docs[doc_id] = self.store.document(doc_id)["level"]
            self.store.delete_document(doc_id)
        return True

    @contextmanager
    def _change(self) -> Iterator[_Change]:
        """One atomic change: SQLite writes plus the vectors', committed together. The
        vectors' part is a new segment file and tombstones (index/vector_index/segments.py):
        the SQLite commit makes them visible; a failure leaves files nothing refers to."""
        change = _Change()
        written: list[Path] = []
        try:
            with self.store.transaction():  # holds the write lock: the generation is ours
                generation = self.generation
                base = self.vectors_at(generation, self.store)
                lexical = self.bm25_at(generation, self.store)
                doc_map = self._doc_maps.held(generation)  # the next is derived if loaded
                yield change
                started = time.perf_counter()
                versions.refresh(self.store)  # groups and statuses first: links read them
                Linker(self.store).refresh(change.changed, change.removed_docs)
                self.link_seconds = time.perf_counter() - started
                added = np.array(change.added, dtype=np.int64)
                vectors = self.store.vectors_of(change.added) if change.added else None
                removed = np.unique(np.array(change.removed, dtype=np.int64))
                generation += 1
                limit = write_limit(self._policy) if self.merger else None
                update = base.changed(removed, added, vectors, generation, self._policy, limit)
                update.commit(self.folder, self.store.db, written)
                added_rows = self.store.bm25_rows(change.added_clauses)
                limit = lexical_write_limit() if self.merger else None
                bm25 = lexical.changed(change.removed_clauses, *added_rows, generation, limit)
                bm25.commit(self.folder, self.store.db, written)
                bm25.state.hidden = self.store.superseded_clauses()
                if doc_map is not None:
                    clauses = (change.removed_clauses, change.added_clauses)
                    doc_map = doc_map.changed(self.store, clauses, (change.removed, change.added))
                self.store.set_meta("generation", str(generation))
                self._sweep((base, update.state), (lexical, bm25.state))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        self._cache.put(generation, update.state)
        self._bm25_cache.put(generation, bm25.state)
        if doc_map is not None:
            self._doc_maps.put(generation, doc_map)
        if self.merger is not None:
            self.merger.request()

    def _sweep(self, vectors: tuple, lexical: tuple) -> None:
        """Delete segment files neither the (before, after) vector nor BM25 states list."""
        sweep(self.folder, {s.name for state in vectors for s in state.segments})
        sweep_bm25(self.folder, {s.name for state in lexical for s in state.segments})

    # --- merging ---------------------------------------------------------------------------

    def merge(self) -> MergeReport:
        """Do the merges due now: built from one committed state outside the write lock, then
        put in place of their groups in the state committed by then (index/merging.py)."""
        report = MergeReport()
        if self._closed:
            return report
        with merge_lock(self.folder) as ours:
            if not ours:
                return replace(report, busy=True)
            clear_staged(self.folder)
            started = time.perf_counter()
            with self.reading() as snapshot:  # immutable states: built from after it ends
                after, state, bm25 = snapshot.generation + 1, snapshot.vectors, snapshot.bm25
            vectors, lexical = state.merges_due(after, self._policy), bm25.merges_due(after)
            if not vectors and not lexical:
                return report
            staged = stage_all(self.folder, vectors + lexical)
            report.build_seconds = time.perf_counter() - started
            try:
                self._adopt(vectors, lexical, report)
            finally:
                for path in staged:  # the committed ones were renamed already
                    path.unlink(missing_ok=True)
        return report

    def _adopt(self, vectors: list[Merge], lexical: list[Merge], report: MergeReport) -> None:
        """Commit built merges into the state committed now, on a connection of the merge's
        own (a server's requests share ``self.store``), waiting up to ten minutes for a
        writer (a CLI ingest of a large batch holds the lock that long)."""
        started = time.perf_counter()
        store = Store(self.folder / DB_FILE)
        store.db.execute(f"PRAGMA busy_timeout = {MERGE_WAIT_MS}")
        written: list[Path] = []
        try:
            with store.transaction():
                generation = int(store.get_meta("generation", "0")) + 1
                update, bm25, doc_map = self._adopted(store, vectors, lexical, generation)
                if self._closed:
                    raise MergeCancelled(f"{self.folder}: the KB was closed during a merge")
                if update.written or bm25.written:
                    update.commit(self.folder, store.db, written)
                    bm25.commit(self.folder, store.db, written)
                    store.set_meta("generation", str(generation))
                    self._sweep_merged(store, generation, update, bm25)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        finally:
            store.close()
        if not update.written and not bm25.written:
            return
        self._cache.put(generation, update.state)
        self._bm25_cache.put(generation, bm25.state)
        if doc_map is not None:
            self._doc_maps.put(generation, doc_map)
        report.vector_merges, report.lexical_merges = len(update.written), len(bm25.written)
        report.rows = sum(len(s.index) for s in update.written + bm25.written)
        report.commit_seconds = time.perf_counter() - started

    def _sweep_merged(self, store: Store, generation: int, update, bm25) -> None:
        """Delete the files the merges took the place of: only on a side that merged (a side
        rebuilt in memory lists no files, and its catalog is rewritten by the next change)."""
        if update.written:
            before = self.vectors_at(generation - 1, store)
            sweep(self.folder, {s.name for s in before.segments + update.state.segments})
        if bm25.written:
            before = self.bm25_at(generation - 1, store)
            sweep_bm25(self.folder, {s.name for s in before.segments + bm25.state.segments})

    def _adopted(self, store: Store, vectors: list[Merge], lexical: list[Merge], generation: int):
        """The vector and BM25 updates that put the merges in the state before ``generation``,
        and that state's document map if loaded (a merge leaves it as it is)."""
        before = generation - 1
        update = self.vectors_at(before, store).adopted(vectors, generation)
        bm25 = self.bm25_at(before, store).adopted(lexical, generation)
        return update, bm25, self._doc_maps.held(before)


@dataclass
class _Change:
    """Window ids a change removes from and adds to the vector index."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # documents added or replaced
    removed_docs: dict[str, str] = field(default_factory=dict)  # doc_id → level, removed
    removed_clauses: list[int] = field(default_factory=list)  # clauses.id, for BM25
    added_clauses: list[int] = field(default_factory=list)


def _too_long(doc: ParsedDocument) -> str | None:
    """A clause too long to index: the text has no breaks to split it at."""
    longest = max((len(c.text) for c in doc.clauses), default=0)
    if longest <= MAX_CLAUSE_CHARS:
        return None
    return (f"a clause of {longest:,} characters, over the limit of {MAX_CLAUSE_CHARS:,}:"
            " the text has no paragraph or line breaks to split it at")  # fmt: skip


def _in_batch(doc: ParsedDocument, plan: dict[str, ParsedDocument]) -> str | None:
    """A second file of this batch with the doc_id or 文号 of one planned already."""
    meta = doc.document
    if meta.doc_id in plan:
        return f"same document (文号/title) as {plan[meta.doc_id].document.source}"
    key = normalize_brackets(meta.doc_number) if meta.doc_number else None
    for other in plan.values():
        number = other.document.doc_number
        if key and number and normalize_brackets(number) == key:
            return f"文号 {meta.doc_number} is also that of {other.document.source}"
    return None


class Snapshot(_Reading):
    """One committed state of a KB for one reader: a read transaction, and the vector
    index of the generation it sees (loaded when first needed, then shared)."""

    def __init__(self, kb: KnowledgeBase, store: Store):
        self.kb = kb
        self.store = store
        self.manifest = kb.manifest
        self._generation: int | None = None

    @property
    def generation(self) -> int:
        if self._generation is None:
            self._generation = super().generation
        return self._generation

    @property
    def encoder(self) -> Encoder:
        return self.kb.encoder

    @property
    def reranker(self) -> SecondStage | None:
        return self.kb.reranker

    def encode_query(self, text: str) -> np.ndarray:
        return self.kb.encode_query(text)

    @property
    def vectors(self) -> SegmentedIndex:
        return self.kb.vectors_at(self.generation, self.store)

    @property
    def bm25(self) -> LexicalIndex:
        return self.kb.bm25_at(self.generation, self.store)

    @property
    def doc_map(self) -> DocMap:
        return self.kb.doc_map_at(self.generation, self.store)

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """Already one state: reading from a snapshot is reading the snapshot."""
        yield self
