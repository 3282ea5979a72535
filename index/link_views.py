"""Reading the stored links: a document's links, a clause's sources and derived clauses, and
a local document's coverage of the national documents it implements. Nothing is computed here
but the grouping: links are made at ingest (index.links)."""

from __future__ import annotations

import json
from collections import defaultdict

from index import versions
from index.store import Store


def _clause(store: Store, clause_id: str) -> dict:
    row = store.clause_by_id(clause_id)
    doc = store.document(row["doc_id"])
    return {
        "clause_id": clause_id, "doc_id": row["doc_id"], "doc_title": doc["title"],
        "doc_number": doc["doc_number"], "level": doc["level"], "region": doc["region"],
        "label": row["label"], "path": json.loads(row["path"]), "text": row["text"],
    }  # fmt: skip


def _linked(store: Store, link, clause_id: str) -> dict:
    return {**_clause(store, clause_id), "score": link["score"], "kind": link["kind"],
            "diff": json.loads(link["diff"])}  # fmt: skip


def sources(store: Store, clause_id: str) -> list[dict]:
    """The clause's source clauses, best first; empty when none is close enough."""
    return [
        _linked(store, lk, lk["source_id"]) for lk in store.clause_links("clause_id", clause_id)
    ]


def derived(store: Store, clause_id: str) -> dict[str, list[dict]]:
    """Local clauses derived from this clause, grouped by region."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for link in store.clause_links("source_id", clause_id):
        local = _linked(store, link, link["clause_id"])
        groups[local["region"] or "全国"].append(local)
    return dict(sorted(groups.items()))


def _version(store: Store, doc_id: str | None) -> dict | None:
    """Which version of a cited document a link goes to: its date, status, and whether it is
    the current one (links resolve to the version in force when the citing text was issued)."""
    state = store.statuses([doc_id]).get(doc_id) if doc_id else None
    if state is None:
        return None
    doc = store.document(doc_id)
    return {"label": versions.version_label({**dict(state), "date": doc["date"]}),
            "date": doc["date"], "version": state["version"],
            "current": state["superseded_by"] is None, **versions.state_dict(state)}  # fmt: skip


def document_links(store: Store, doc_id: str) -> dict:
    """What the document implements and cites, what implements or cites it, and each of its
    clauses with its sources."""
    doc = store.document(doc_id)
    cited = {"implements": [], "cites": []}
    for row in store.doc_links(doc_id):
        cited[row["relation"]].append(
            {"title": row["title"], "doc_number": row["doc_number"], "doc_id": row["target"],
             "doc_title": row["target_title"], "resolved": row["target"] is not None,
             "version": _version(store, row["target"])}
        )  # fmt: skip
    by_clause: dict[str, list] = defaultdict(list)
    for link in store.clause_links_of_doc(doc_id):
        by_clause[link["clause_id"]].append(_linked(store, link, link["source_id"]))
    clauses = [
        {"clause_id": c["clause_id"], "label": c["label"], "text": c["text"],
         "sources": by_clause.get(c["clause_id"], [])}
        for c in store.clauses_of(doc_id)
    ]  # fmt: skip
    return {"doc_id": doc_id, "doc_title": doc["title"], **cited, **_citing(store, doc_id),
            "links": clauses}  # fmt: skip


def _citing(store: Store, doc_id: str) -> dict[str, list[dict]]:
    """The other way round: the documents that implement or cite this one."""
    citing = {"implemented_by": [], "cited_by": []}
    key = {"implements": "implemented_by", "cites": "cited_by"}
    for row in store.doc_links_to(doc_id):
        citing[key[row["relation"]]].append(
            {"doc_id": row["doc_id"], "doc_title": row["title"], "doc_number": row["doc_number"],
             "level": row["level"], "region": row["region"]}
        )  # fmt: skip
    return citing


def coverage(store: Store, doc_id: str) -> dict:
    """For each document this one implements: its clauses (headings aside) that a local clause
    links to, and those left out."""
    doc = store.document(doc_id)
    linked_sources = {lk["source_id"] for lk in store.clause_links_of_doc(doc_id)}
    implemented = []
    for row in store.doc_links(doc_id):
        if row["relation"] != "implements" or row["target"] is None:
            continue
        clauses = [c for c in store.clauses_of(row["target"]) if c["kind"] != "heading"]
        covered = [c for c in clauses if c["clause_id"] in linked_sources]
        left_out = [c for c in clauses if c["clause_id"] not in linked_sources]
        implemented.append({
            "doc_id": row["target"], "doc_title": row["target_title"], "clauses": len(clauses),
            "covered": [_brief(c) for c in covered], "left_out": [_brief(c) for c in left_out],
            "coverage": round(len(covered) / len(clauses), 3) if clauses else 0.0,
        })  # fmt: skip
    return {"doc_id": doc_id, "doc_title": doc["title"], "implements": implemented}


def _brief(row) -> dict:
    return {"clause_id": row["clause_id"], "label": row["label"], "kind": row["kind"],
            "text": row["text"]}  # fmt: skip


class LinkViews:
    """The stored links as one reader sees them: what ``KnowledgeBase.links`` hands out, so
    routes and pages read links without reaching into the store."""

    def __init__(self, store: Store):
        self._store = store

    def sources(self, clause_id: str) -> list[dict]:
        return sources(self._store, clause_id)

    def derived(self, clause_id: str) -> dict[str, list[dict]]:
        return derived(self._store, clause_id)

    def document(self, doc_id: str) -> dict:
        return document_links(self._store, doc_id)

    def coverage(self, doc_id: str) -> dict:
        return coverage(self._store, doc_id)

    def derived_counts(self, doc_id: str) -> dict[str, int]:
        """How many local clauses link to each clause of the document."""
        return self._store.derived_counts(doc_id)
