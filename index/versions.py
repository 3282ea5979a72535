"""Versions of one document, their validity, and how a clause changed across them.

Grouping: documents whose titles agree once the draft mark, 中华人民共和国 and a revision note
(（2019年修订）) are dropped, in one region, are versions of one document; so is a document and
the one whose text says it repeals it when their titles agree but for 试行/暂行
(《民事诉讼法（试行）》同时废止). Within a group the newer version in force supersedes the
older, and a final text supersedes its 征求意见稿.

Status, on a given day, from evidence in this order: the sidecar; the catalogue; the
document's own text (ingest.validity); then other documents of the KB (a newer version, a
repeal). Each end of validity keeps its reason: the sentence or document that says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from index.alignment import differences, smith_waterman
from index.store import Store
from ingest.layout import without_draft_mark
from ingest.text import normalize

STATUS_NAMES = {
    "in_force": "现行有效", "amended": "已修改", "repealed": "已废止", "not_yet": "尚未生效",
    "draft": "征求意见稿", "expired": "已失效",
}  # fmt: skip
ENDINGS = {"version": "amended", "repeal": "repealed", "term": "expired"}
_REVISION_NOTE = re.compile(
    r"[（(]\s*(?:(?:19|20)\d{2}\s*年?\s*)?(?:修订|修正|修订版|修正版|修正文本|第[一二三四五六七八九十]+次修正)"
    r"\s*[）)]$"
)
_TRIAL = re.compile(r"[（(]\s*(?:试行|暂行)\s*[）)]|试行|暂行")
_ISSUING = re.compile(r"^关于印发(.+)的通知$")
KEY_RULES = "2"  # bump when title_key or grouping changes: the next write then refreshes all


def today() -> str:
    return date.today().isoformat()


def title_key(title: str) -> str:
    """The title as versions share it: no draft mark, no 中华人民共和国, no revision note."""
    key = re.sub(r"[\s《》〈〉<>]", "", normalize(without_draft_mark(title)))
    key = _ISSUING.sub(r"\1", key)
    key = re.sub(r"^中华人民共和国", "", key)
    return _REVISION_NOTE.sub("", key)


def loose_key(title: str) -> str:
    """The title key without 试行/暂行: a trial text and the final one that repeals it."""
    return _TRIAL.sub("", title_key(title))


@dataclass
class VersionState:
    """One document's place among its versions and its validity, with the reasons."""

    doc_id: str
    group_id: str
    version: int  # 1 = oldest of its group
    superseded_by: str | None
    draft: bool
    valid_from: str | None
    valid_to: str | None
    ended_by: str | None  # version | repeal | term | None (still in force, as far as known)
    from_reason: str | None
    to_reason: str | None
    reason_doc: str | None  # the document whose text or existence ends this one

    def row(self) -> tuple:
        return tuple(asdict(self).values())


def status_on(state, day: str | None = None) -> str:
    """The status of a document on ``day`` (today by default): one of STATUS_NAMES. ``state`` is
    a VersionState or a doc_status row; filters.status_sql is the same rule in SQL."""
    day = day or today()
    get = state.__getattribute__ if isinstance(state, VersionState) else state.__getitem__
    if get("draft"):
        return "draft"
    if get("valid_from") and day < get("valid_from"):
        return "not_yet"
    if get("ended_by") and (get("valid_to") is None or day > get("valid_to")):
        return ENDINGS[get("ended_by")]
    return "in_force"


# --- resolving -----------------------------------------------------------------------------


def resolve(documents: list[dict], evidence: dict[str, dict]) -> list[VersionState]:
    """Group versions and resolve every document's validity; ``documents`` carry doc_id, title,
    date, region and status (issued | draft), ``evidence`` what ingest.validity found."""
    by_id = {d["doc_id"]: d for d in documents}
    groups = _Groups(by_id)
    for doc in documents:
        groups.join(doc["doc_id"], (title_key(doc["title"]), doc["region"]))
    evidence = _editions_share_start(documents, evidence)
    repealed = _repeals(documents, evidence, groups)
    states = []
    for members in groups.members().values():
        states += _resolve_group(members, by_id, evidence, repealed)
    return states


def refresh(store: Store, full: bool = False) -> list[VersionState]:
    """After a write (inside its transaction), recompute the group and status of the documents
    a change may touch, and return them: the documents tied by title keys (``version_keys``)
    to those added, replaced or removed since the last refresh. ``full``: every document's,
    and every key again (the reference; also what a KB whose keys are older than KEY_RULES
    gets)."""
    if full or store.get_meta("version_keys") != KEY_RULES:
        doc_ids = None
        store.replace_version_keys(_keys(store, None), None)
        store.set_meta("version_keys", KEY_RULES)
    else:
        doc_ids = _touched(store)
        if not doc_ids:
            return []
    states = resolve(store.version_documents(doc_ids), store.validity_evidence(doc_ids))
    store.replace_statuses([s.row() for s in states], doc_ids)
    return states


def version_keys(title: str, evidence: dict) -> set[str]:
    """The title keys that tie a document to others whose status may depend on it, or it on
    them: its own (its versions share it) and those of the titles its text repeals."""
    return {title_key(title)} | {title_key(r["title"]) for r in evidence.get("repeals", [])}


def _keys(store: Store, doc_ids: list[str] | None) -> dict[str, set[str]]:
    evidence = store.validity_evidence(doc_ids)
    return {d["doc_id"]: version_keys(d["title"], evidence.get(d["doc_id"], {}))
            for d in store.version_documents(doc_ids)}  # fmt: skip


def _touched(store: Store) -> list[str]:
    """The documents a change may touch: those connected through shared version keys to the
    ones added or replaced (no status yet; their keys old and new) or removed (the keys their
    rows left behind). A group joins documents of one key, and a repeal ties the repealing
    document to those of the key it repeals, so every group and every repeal it alters lies
    within."""
    changed = store.documents_without_status()
    gone = store.gone_version_keys()
    if not changed and not gone:
        return []
    seeds = store.version_keys_of(changed).union(*gone.values())
    fresh = _keys(store, changed)
    store.replace_version_keys(fresh, changed + list(gone))
    return sorted(_connected(store, set(changed), seeds.union(*fresh.values())))


def _connected(store: Store, documents: set[str], keys: set[str]) -> set[str]:
    """``documents`` and every document sharing a key with them or with ``keys``, transitively."""
    frontier = keys
    while frontier:
        found = store.documents_with_keys(sorted(frontier)) - documents
        documents |= found
        frontier = store.version_keys_of(sorted(found)) - keys
        keys |= frontier
    return documents


class _Groups:
    """Union-find over documents, seeded by their version key."""

    def __init__(self, by_id: dict[str, dict]):
        self.by_id = by_id
        self.parent: dict[str, str] = {}
        self.by_key: dict[tuple, str] = {}

    def find(self, doc_id: str) -> str:
        while self.parent.get(doc_id, doc_id) != doc_id:
            doc_id = self.parent[doc_id]
        return doc_id

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def join(self, doc_id: str, key: tuple) -> None:
        self.parent.setdefault(doc_id, doc_id)
        if key in self.by_key:
            self.union(self.by_key[key], doc_id)
        else:
            self.by_key[key] = doc_id

    def members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for doc_id in self.parent:
            out.setdefault(self.find(doc_id), []).append(doc_id)
        return out


def _editions_share_start(documents: list[dict], evidence: dict[str, dict]) -> dict[str, dict]:
    """Parts of one edition (final texts of one title, region and date: the 民法典's 编) take
    the effective date one of them states, so no part reads as superseded by another."""
    editions: dict[tuple, list[str]] = {}
    for doc in documents:
        if doc["status"] != "draft" and doc.get("date"):
            key = (title_key(doc["title"]), doc["region"], doc["date"])
            editions.setdefault(key, []).append(doc["doc_id"])
    shared = dict(evidence)
    for parts in editions.values():
        stated = [d for d in sorted(parts) if evidence.get(d, {}).get("valid_from")]
        for doc_id in parts if stated else ():
            if not evidence.get(doc_id, {}).get("valid_from"):
                source = evidence[stated[0]]
                shared[doc_id] = {
                    **evidence.get(doc_id, {}), "valid_from": source["valid_from"],
                    "from_reason": f"同一版本的另一部分：{source.get('from_reason') or ''}",
                }  # fmt: skip
    return shared


def _start(doc: dict, evidence: dict) -> str:
    return evidence.get("valid_from") or doc.get("date") or ""


def _repeals(documents, evidence, groups: _Groups) -> dict[str, tuple[str, str]]:
    """doc_id → (repealing doc_id, sentence) from 《X》同时废止 in other documents; X is every
    version of that title dated before the repealing document. A trial text and the final one
    that repeals it (titles equal but for 试行) become one group."""
    by_title: dict[str, list[dict]] = {}
    for doc in documents:
        by_title.setdefault(title_key(doc["title"]), []).append(doc)
    found: dict[str, tuple[str, str]] = {}
    for doc in sorted(documents, key=lambda d: _start(d, evidence.get(d["doc_id"], {}))):
        start = _start(doc, evidence.get(doc["doc_id"], {}))
        for repeal in evidence.get(doc["doc_id"], {}).get("repeals", []):
            for old in by_title.get(title_key(repeal["title"]), []):
                old_start = _start(old, evidence.get(old["doc_id"], {}))
                if old["doc_id"] == doc["doc_id"] or (old_start and start and old_start > start):
                    continue
                found[old["doc_id"]] = (doc["doc_id"], repeal["sentence"])
                if loose_key(old["title"]) == loose_key(doc["title"]):
                    groups.union(doc["doc_id"], old["doc_id"])
    return found


def _resolve_group(members, by_id, evidence, repealed) -> list[VersionState]:
    order = sorted(members, key=lambda d: (_start(by_id[d], evidence.get(d, {})), d))
    finals = [d for d in order if by_id[d]["status"] != "draft"]
    newest = by_id[order[-1]]
    key = f"{title_key(newest['title'])}|{newest['region'] or ''}"
    group_id = "g" + hashlib.sha1(key.encode()).hexdigest()[:11]
    states = []
    for version, doc_id in enumerate(order, 1):
        doc, found = by_id[doc_id], evidence.get(doc_id, {})
        successor = _successor(doc_id, order, finals, by_id, evidence)
        state = VersionState(
            doc_id, group_id, version, successor, doc["status"] == "draft",
            found.get("valid_from") or doc.get("date"), None, None,
            found.get("from_reason") or ("发布日期" if doc.get("date") else None), None, None,
        )  # fmt: skip
        _end(state, found, successor and by_id[successor], evidence, repealed.get(doc_id), by_id)
        states.append(state)
    return states


def _successor(doc_id, order, finals, by_id, evidence) -> str | None:
    """The next final version: for a final text, the first one that starts later; for a draft,
    the first final text dated on or after it (any, when the draft is undated)."""
    start = _start(by_id[doc_id], evidence.get(doc_id, {}))
    if by_id[doc_id]["status"] != "draft":  # same-day texts are parts of one edition (民法典's 编)
        later = [d for d in finals if _start(by_id[d], evidence.get(d, {})) > start]
        return later[0] if later else None
    later = [d for d in finals if not start or _start(by_id[d], evidence.get(d, {})) >= start]
    return later[0] if later else None


def _end(state: VersionState, found: dict, successor, evidence, repeal, by_id) -> None:
    """When and why a document stops being in force: its own evidence first (sidecar,
    catalogue, text), then another document's explicit repeal (《X》同时废止, even by its
    successor), then a newer version."""
    if repeal:
        by = by_id[repeal[0]]
        begins = _start(by, evidence.get(by["doc_id"], {}))
        state.valid_to = _day_before(begins) if begins else None
        state.ended_by, state.reason_doc = "repeal", by["doc_id"]
        state.to_reason = f"《{by['title']}》：{repeal[1]}"
    elif successor:
        begins = _start(successor, evidence.get(successor["doc_id"], {}))
        state.valid_to = _day_before(begins) if begins else None
        state.ended_by, state.reason_doc = "version", successor["doc_id"]
        state.to_reason = f"新版本《{successor['title']}》（{successor.get('date') or '日期不详'}）"
    if found.get("valid_to"):  # own evidence of the last day outranks other documents
        state.valid_to, state.to_reason = found["valid_to"], found.get("to_reason")
        state.ended_by = state.ended_by or "term"
    elif found.get("expired") and not state.ended_by:
        state.ended_by, state.to_reason = "repeal", found.get("expired_reason")
    elif found.get("expired"):
        state.to_reason = f"{found.get('expired_reason')}；{state.to_reason}"


def _day_before(day: str) -> str:
    try:
        return (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    except ValueError:
        return day


# --- reading -------------------------------------------------------------------------------


def state_dict(row, day: str | None = None) -> dict:
    """A doc_status row as the API shows it: status (code and name) on ``day`` with reasons."""
    status = status_on(row, day)
    return {
        "status": status, "status_name": STATUS_NAMES[status], "group_id": row["group_id"],
        "version": row["version"], "superseded_by": row["superseded_by"],
        "valid_from": row["valid_from"], "valid_to": row["valid_to"],
        "from_reason": row["from_reason"], "to_reason": row["to_reason"],
        "reason_doc": row["reason_doc"],
    }  # fmt: skip


def with_validity(store: Store, rows: list[dict], day: str | None = None) -> list[dict]:
    """Put each row's document status (``validity``, on ``day`` or today) on it: search
    results and document lists carry it for their badges."""
    states = store.statuses(list({r["doc_id"] for r in rows}))
    for row in rows:
        state = states.get(row["doc_id"])
        row["validity"] = state_dict(state, day) if state else None
    return rows


def versions_of(store: Store, doc_id: str, day: str | None = None) -> dict:
    """The document's status and every version of it, oldest first, each with its status."""
    state = store.statuses([doc_id]).get(doc_id)
    if state is None:
        return {"doc_id": doc_id, "versions": []}
    members = store.group_members(state["group_id"])
    versions = [
        {"doc_id": m["doc_id"], "title": m["title"], "doc_number": m["doc_number"],
         "date": m["date"], "level": m["level"], "region": m["region"],
         "current": m["superseded_by"] is None, **state_dict(m, day)}
        for m in members
    ]  # fmt: skip
    own = next(v for v in versions if v["doc_id"] == doc_id)
    return {"doc_id": doc_id, "title": own["title"], "as_of": day or today(), **{
        k: own[k] for k in ("status", "status_name", "group_id", "version", "valid_from",
                            "valid_to", "from_reason", "to_reason", "reason_doc")
    }, "versions": versions}  # fmt: skip


def version_label(row) -> str:
    """How a link names a version: 2022-04-20 版 (the newest of its group says 现行版)."""
    when = row["date"] or row["valid_from"] or "日期不详"
    return f"{when} 版"


# --- clause history --------------------------------------------------------------------------

MATCH_FLOOR = 0.3  # bigram Dice below this is no match for the order-keeping alignment
MOVED_FLOOR = 0.5  # an article matched out of order (moved) must share this much


@dataclass
class Unit:
    """An article with its paragraphs (or, in a document without articles, one clause)."""

    clause_id: str
    label: str
    text: str  # the article's own text and its paragraphs'
    members: tuple[str, ...]  # clause ids it covers


def units_of(store: Store, doc_id: str) -> list[Unit]:
    """A document's articles, each with its paragraphs; without articles, its clauses."""
    return units_from(store.clauses_of(doc_id))


def units_from(rows) -> list[Unit]:
    """Units of clauses in document order (rows or dicts with clause_id, label, text, kind,
    parent_id)."""
    articles = [r for r in rows if r["kind"] == "article"]
    if not articles:
        return [Unit(r["clause_id"], r["label"], r["text"], (r["clause_id"],))
                for r in rows if r["kind"] != "heading"]  # fmt: skip
    owner: dict[str, str] = {}
    texts: dict[str, list[str]] = {a["clause_id"]: [a["text"]] for a in articles}
    members: dict[str, list[str]] = {a["clause_id"]: [a["clause_id"]] for a in articles}
    for r in rows:
        parent = owner.get(r["parent_id"]) or (r["parent_id"] if r["parent_id"] in texts else None)
        if r["kind"] != "article" and parent:
            owner[r["clause_id"]] = parent
            texts[parent].append(r["text"])
            members[parent].append(r["clause_id"])
    return [Unit(a["clause_id"], a["label"], "\n".join(texts[a["clause_id"]]),
                 tuple(members[a["clause_id"]])) for a in articles]  # fmt: skip


def _key(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text))


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def similarity(a: str, b: str) -> float:
    """Dice over character bigrams of the normalised texts: 1 for the same wording."""
    x, y = _bigrams(_key(a)), _bigrams(_key(b))
    return 2 * len(x & y) / (len(x) + len(y))


def align_units(old: list[Unit], new: list[Unit]) -> list[tuple[int | None, int | None, float]]:
    """Articles of two versions paired, renumbering allowed: the best order-keeping pairing
    over bigram similarity, then articles that moved (unpaired, very similar). Unpaired old
    articles were dropped, unpaired new ones added."""
    sims = [[similarity(a.text, b.text) for b in new] for a in old]
    n, m = len(old), len(new)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            gain = sims[i - 1][j - 1] - MATCH_FLOOR
            best[i][j] = max(best[i - 1][j], best[i][j - 1],
                             best[i - 1][j - 1] + gain if gain > 0 else -1.0)  # fmt: skip
    pairs: dict[int, int] = {}
    i, j = n, m
    while i and j:
        if best[i][j] == best[i - 1][j]:
            i -= 1
        elif best[i][j] == best[i][j - 1]:
            j -= 1
        else:
            pairs[i - 1] = j - 1
            i, j = i - 1, j - 1
    taken = set(pairs.values())
    for i in sorted(set(range(n)) - pairs.keys(), key=lambda i: -max(sims[i], default=0)):
        free = [j for j in range(m) if j not in taken and sims[i][j] >= MOVED_FLOOR]
        if free:
            j = max(free, key=lambda j: sims[i][j])
            pairs[i] = j
            taken.add(j)
    out = [(i, j, round(sims[i][j], 4)) for i, j in sorted(pairs.items())]
    out += [(i, None, 0.0) for i in range(n) if i not in pairs]
    out += [(None, j, 0.0) for j in range(m) if j not in taken]
    return out


def history(store: Store, clause_id: str, day: str | None = None) -> dict:
    """The article holding the clause across every version of its document: in each version its
    label and text, and whether that version added, changed, kept or dropped it."""
    row = store.clause_by_id(clause_id)
    state = store.statuses([row["doc_id"]])[row["doc_id"]]
    members = store.group_members(state["group_id"])
    units = [units_of(store, m["doc_id"]) for m in members]
    at = next(k for k, m in enumerate(members) if m["doc_id"] == row["doc_id"])
    unit = next((u for u, x in enumerate(units[at]) if clause_id in x.members), None)
    place: dict[int, int | None] = {at: unit}
    for step in (-1, 1):  # walk back to the first version, then on to the last
        k = at
        while 0 <= k + step < len(members) and place[k] is not None:
            older, newer = (k + step, k) if step < 0 else (k, k + step)
            pairs = align_units(units[older], units[newer])
            mine = 1 if step < 0 else 0
            place[k + step] = next((p[1 - mine] for p in pairs if p[mine] == place[k]), None)
            k += step
    texts = {k: units[k][u].text for k, u in place.items() if u is not None}
    shown = [k for k in sorted(place) if place[k] is not None or place.get(k - 1) is not None]
    timeline = [_entry(members[k], units[k], place, texts, k, day) for k in shown]
    return {"clause_id": clause_id, "doc_id": row["doc_id"], "group_id": state["group_id"],
            "article": units[at][unit].clause_id if unit is not None else None,
            "timeline": timeline}  # fmt: skip


def _entry(member, units: list[Unit], place: dict, texts: dict, k: int, day) -> dict:
    """One version's line of a clause history."""
    now, before = place[k], place.get(k - 1)
    entry = {"doc_id": member["doc_id"], "title": member["title"], "date": member["date"],
             "version": member["version"], **{key: state_dict(member, day)[key]
                                              for key in ("status", "status_name")}}  # fmt: skip
    if now is None:
        return {**entry, "change": "dropped", "clause_id": None, "label": None, "text": None,
                "diff": []}  # fmt: skip
    unit = units[now]
    entry.update(clause_id=unit.clause_id, label=unit.label, text=unit.text)
    if k == 0 or before is None:
        return {**entry, "change": "added" if k else "original", "diff": []}
    return {**entry, **_change(texts[k - 1], unit.text)}


def _change(previous: str, text: str) -> dict:
    """unchanged, or changed with what the newer text added, dropped or changed."""
    if _key(previous) == _key(text):
        return {"change": "unchanged", "diff": []}
    aligned = smith_waterman(_key(text), _key(previous))
    diff = [asdict(d) for d in differences(text, previous)]
    return {"change": "changed", "diff": diff,
            "aligned": round(aligned.coverage(max(len(_key(text)), 1)), 3)}  # fmt: skip


class VersionViews:
    """Statuses and versions as one reader sees them: what ``KnowledgeBase.versions`` hands
    out, so routes and pages read them without reaching into the store."""

    def __init__(self, store: Store):
        self._store = store

    def with_validity(self, rows: list[dict], day: str | None = None) -> list[dict]:
        return with_validity(self._store, rows, day)

    def of(self, doc_id: str, day: str | None = None) -> dict:
        """The document's status and every version of it (``versions_of``)."""
        return versions_of(self._store, doc_id, day)

    def history(self, clause_id: str, day: str | None = None) -> dict:
        return history(self._store, clause_id, day)
