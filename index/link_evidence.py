"""The wording evidence of clause links, from documents prepared once and kept by content.

Linking compares each local clause with about twenty source clauses: Smith-Waterman over the
normalised characters, the share of its bigrams found, BM25 of its words (index.links). What
each document contributes to that does not depend on the run: its normalised texts as codes,
each clause's distinct bigrams, each clause's word ids and counts. ``prepared`` makes it once
and keeps the last PREPARED_KEPT documents keyed by a hash of their clause texts and words:
the ten local documents a national law's arrival relinks share their sources, and a later
change reuses them; a document whose text changes hashes elsewhere, so nothing stale is read.
``SourceRun`` lays the sources of one run end to end, with that run's IDF and lengths.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np
from numba import njit

from index.alignment import codes_of, pair_wording, reversed_spans
from ingest.text import normalize_brackets

PREPARED_KEPT = 128  # documents kept prepared (by content) in a process: about 30 bytes a character
BM25_K1, BM25_B = 1.2, 0.75  # the usual BM25 constants, for the ``lexical`` feature
_WORD_IDS: dict[str, int] = {}  # every word prepared in this process → its id
_LOCK = threading.RLock()  # the kept documents and word ids are the process's, KBs share them


@lru_cache(maxsize=50_000)
def wording_key(text: str) -> str:
    """The normalised form texts are compared on: brackets made alike, no white space."""
    return re.sub(r"\s+", "", normalize_brackets(text))


@dataclass(frozen=True, eq=False)
class Prepared:
    """A document's clauses as linking reads them, each array the clauses' laid end to end:
    normalised texts (``keys``) as codes (clause k: ``codes[code_starts[k]:code_starts[k +
    1]]``), and each reversed in place (``rcodes``: index.alignment reads a source so); the
    distinct bigrams; word ids (sorted, distinct) with their counts; words per clause; each
    clause's query (its distinct word ids, in the order ``set(words)`` iterates); and how
    many clauses hold each word of the document (``vocabulary``, ``frequency``)."""

    keys: tuple[str, ...]
    codes: np.ndarray
    rcodes: np.ndarray
    code_starts: np.ndarray
    grams: np.ndarray
    gram_starts: np.ndarray
    terms: np.ndarray
    counts: np.ndarray
    term_starts: np.ndarray
    lengths: np.ndarray
    queries: np.ndarray
    query_starts: np.ndarray
    vocabulary: np.ndarray
    frequency: np.ndarray


_kept: OrderedDict[bytes, Prepared] = OrderedDict()


def prepared(texts: list[str], words: list[tuple[str, ...]]) -> Prepared:
    """``prepare(texts, words)``, kept for the last PREPARED_KEPT contents asked for."""
    key = content_key(texts, words)
    with _LOCK:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
        found = _kept[key] = prepare(texts, words)
        if len(_kept) > PREPARED_KEPT:
            _kept.popitem(last=False)
        return found


def forget() -> None:
    """Drop every prepared document (tests compare against a cold start)."""
    with _LOCK:
        _kept.clear()


def content_key(texts: list[str], words: list[tuple[str, ...]]) -> bytes:
    """A hash of the clause texts and their words, in order: what ``prepare`` reads."""
    digest = hashlib.blake2b(digest_size=20)
    for text, found in zip(texts, words, strict=True):  # words hold no white space
        for part in (text.encode("utf-8"), " ".join(found).encode("utf-8")):
            digest.update(len(part).to_bytes(8, "little") + part)  # lengths: no ambiguity
    return digest.digest()


def prepare(texts: list[str], words: list[tuple[str, ...]]) -> Prepared:
    """The clauses ``texts`` (with their jieba ``words``) prepared for linking."""
    keys = tuple(wording_key(t) for t in texts)
    code_starts = _starts([len(k) for k in keys])
    codes = codes_of("".join(keys))
    grams, gram_starts = _clause_bigrams(codes, code_starts)
    ids = _word_ids(list(chain.from_iterable(words)))
    lengths = np.array([len(w) for w in words], np.int64)
    terms, counts, term_starts = _clause_terms(ids, lengths)
    vocabulary, frequency = np.unique(terms, return_counts=True)
    queries = [set(found) for found in words]  # each clause's words in the order a set holds
    return Prepared(
        keys, codes, reversed_spans(codes, code_starts), code_starts, grams, gram_starts,
        terms, counts, term_starts, lengths, _word_ids(list(chain.from_iterable(queries))),
        _starts([len(q) for q in queries]), vocabulary.astype(np.int64),
        frequency.astype(np.int64),
    )  # fmt: skip


def _word_ids(found: list[str]) -> np.ndarray:
    """The process's id of each word, new words numbered as first seen."""
    with _LOCK:  # one id per word, whichever thread sees it first
        for word in [w for w in dict.fromkeys(found) if w not in _WORD_IDS]:
            _WORD_IDS[word] = len(_WORD_IDS)
        return np.array(list(map(_WORD_IDS.__getitem__, found)), np.int64)


def _clause_bigrams(codes: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each clause's ``bigram_codes`` laid end to end, with where each clause's begin: one
    sort of (clause, bigram) over the document."""
    owner = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
    wide = codes.astype(np.int64)
    within = owner[:-1] == owner[1:]
    keyed = np.unique((owner[:-1][within] << 42) | (wide[:-1] << 21 | wide[1:])[within])
    found = np.bincount(keyed >> 42, minlength=len(starts) - 1)
    return keyed & ((1 << 42) - 1), _starts(found.tolist())


def _clause_terms(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each clause's distinct word ids (sorted) and their counts, laid end to end, with
    where each clause's begin, from the ids of every clause's words in order."""
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    keyed, counts = np.unique((owner << 32) | ids, return_counts=True)
    found = np.bincount(keyed >> 32, minlength=len(lengths))
    return keyed & ((1 << 32) - 1), counts.astype(np.int64), _starts(found.tolist())


def _starts(lengths: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(0, np.int64)


class SourceRun:
    """The source clauses of one linking run: their documents' prepared data end to end,
    with BM25's IDF over these clauses and each one's length norm (index.links.Lexicon's
    arithmetic, operation for operation, so the scores are the same floats)."""

    def __init__(self, sources: list[Prepared]):
        self.rcodes, self.code_starts = _laid(sources, "rcodes", "code_starts")
        self.key_lengths = np.diff(self.code_starts)
        self.grams, self.gram_starts = _laid(sources, "grams", "gram_starts")
        self.terms, self.term_starts = _laid(sources, "terms", "term_starts")
        self.counts = _joined([p.counts for p in sources])
        lengths = _joined([p.lengths for p in sources])
        n = len(lengths)
        mean = (int(lengths.sum()) / n if n else 0) or 1.0
        self.norms = BM25_K1 * (1 - BM25_B + BM25_B * lengths / mean)
        frequency = np.zeros(len(_WORD_IDS), np.int64)
        for p in sources:
            frequency[p.vocabulary] += p.frequency
        present = np.flatnonzero(frequency)
        ratios = (n - frequency[present] + 0.5) / (frequency[present] + 0.5)
        self.idf = np.zeros(len(_WORD_IDS), np.float64)
        distinct, back = np.unique(ratios, return_inverse=True)  # few: words share frequencies
        self.idf[present] = np.array([math.log(1 + r) for r in distinct.tolist()])[back]

    def wording(self, local: Prepared, left: np.ndarray, right: np.ndarray) -> tuple:
        """For each pair p, local clause left[p] and source clause right[p]: the
        Smith-Waterman score and how many of the local clause's bigrams the source holds."""
        return pair_wording(
            (local.codes, local.code_starts, local.grams, local.gram_starts),
            (self.rcodes, self.code_starts, self.grams, self.gram_starts), left, right,
        )  # fmt: skip

    def lexical(self, local: Prepared, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """For each pair p: BM25 of local clause left[p]'s words against source clause
        right[p]."""
        return _bm25_kernel(local.queries, local.query_starts, self.terms, self.counts,
                            self.term_starts, self.norms, self.idf, left, right)  # fmt: skip


def _laid(sources: list[Prepared], values: str, starts: str) -> tuple[np.ndarray, np.ndarray]:
    """The sources' arrays ``values`` end to end, with their ``starts`` shifted to match."""
    laid, offsets, shift = [], [np.zeros(1, np.int64)], 0
    for p in sources:
        laid.append(getattr(p, values))
        offsets.append(getattr(p, starts)[1:] + shift)
        shift += len(laid[-1])
    found = np.concatenate(laid) if laid else np.zeros(0, np.int64)
    return found, np.concatenate(offsets).astype(np.int64)


@njit(cache=True)
def _bm25_kernel(queries, query_starts, terms, counts, term_starts, norms, idf, left, right):
    """For each pair p: the sum, over the words of local clause left[p]'s query in order, of
    idf * tf * (k1 + 1) / (tf + norm) where source clause j = right[p] holds the word tf times
    (index.links.Lexicon.score, operation for operation)."""
    out = np.zeros(left.shape[0], np.float64)
    for p in range(left.shape[0]):
        i, j = left[p], right[p]
        lo, hi = term_starts[j], term_starts[j + 1]
        total = 0.0
        for q in queries[query_starts[i] : query_starts[i + 1]]:
            at = lo + np.searchsorted(terms[lo:hi], q)
            if at < hi and terms[at] == q:
                tf = counts[at]
                total += idf[q] * tf * (BM25_K1 + 1) / (tf + norms[j])
        out[p] = total
    return out


def warm_kernels() -> None:
    """Score one tiny pair both ways: numba loads the wording and BM25 kernels from its cache
    (about 0.7 s in a new process), which a server then pays at start, not in its first change."""
    local = prepare(["规定责任"], [("规定", "责任")])
    run = SourceRun([prepare(["规定"], [("规定",)])])
    pair = np.zeros(1, np.int64)
    run.wording(local, pair, pair)
    run.lexical(local, pair, pair)
