"""One segment's postings in CSR form: term → (rows, term frequencies), plus each row's
clause id and length in tokens. Immutable once built; saved as one .npz file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np

from index.lexical_index.tokens import tokens

BUILD_CHUNK = 20_000  # rows tokenised at a time when building
EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16))


@dataclass(frozen=True)
class Postings:
    """Rows are the segment's clauses in clause-id order; ``starts[t]:starts[t + 1]`` are
    term t's slice of ``rows`` (ascending) and ``tfs``."""

    ids: np.ndarray  # int64 clause ids, ascending
    lengths: np.ndarray  # int32 tokens per row
    terms: dict[str, int]
    starts: np.ndarray  # int64, one more than there are terms
    rows: np.ndarray  # int32
    tfs: np.ndarray  # uint16 (uint32 if a count exceeds it)
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # scoring's, derived

    def __len__(self) -> int:
        return len(self.ids)

    def term(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, tfs) of one token; empty arrays when the segment lacks it."""
        at = self.terms.get(token)
        if at is None:
            return EMPTY
        start, end = self.starts[at], self.starts[at + 1]
        return self.rows[start:end], self.tfs[start:end]

    def nbytes(self) -> int:
        arrays = (self.ids, self.lengths, self.starts, self.rows, self.tfs)
        return sum(a.nbytes for a in arrays)

    # --- building ------------------------------------------------------------------------

    @classmethod
    def build(cls, ids: np.ndarray, texts: Sequence[str]) -> Postings:
        """Postings of rows ``texts`` (``clauses_bm25.words``) with clause ids ``ids``."""
        order = np.argsort(ids, kind="stable")
        vocab: dict[str, int] = {}
        lengths = np.zeros(len(order), dtype=np.int32)
        parts = []
        for start in range(0, len(order), BUILD_CHUNK):  # Python lists for one chunk at a time
            rows = [[vocab.setdefault(t, len(vocab)) for t in tokens(texts[i])]
                    for i in order[start : start + BUILD_CHUNK]]  # fmt: skip
            lengths[start : start + len(rows)] = [len(r) for r in rows]
            parts.append(np.fromiter(chain.from_iterable(rows), np.int64))
        term_ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        row_ids = np.repeat(np.arange(len(order), dtype=np.int64), lengths)
        return cls._from_pairs(np.asarray(ids, np.int64)[order], lengths, list(vocab),
                               term_ids, row_ids, None)  # fmt: skip

    @classmethod
    def merged(cls, parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
        """One segment of the rows each (postings, live row mask) keeps."""
        vocab: dict[str, int] = {}
        ids, lengths, term_ids, row_ids, tfs = [], [], [], [], []
        offset = 0
        for postings, live in parts:
            new_row = np.cumsum(live) - 1 + offset
            names = sorted(postings.terms, key=postings.terms.get)
            remap = np.array([vocab.setdefault(t, len(vocab)) for t in names], dtype=np.int64)
            counts = np.diff(postings.starts)
            keep = live[postings.rows]
            term_ids.append(np.repeat(remap, counts)[keep])
            row_ids.append(new_row[postings.rows[keep]])
            tfs.append(postings.tfs[keep].astype(np.uint32))
            ids.append(postings.ids[live])
            lengths.append(postings.lengths[live])
            offset += int(live.sum())
        all_ids = np.concatenate(ids)
        order = np.argsort(all_ids, kind="stable")
        place = np.empty_like(order)
        place[order] = np.arange(len(order))
        return cls._from_pairs(all_ids[order], np.concatenate(lengths)[order], list(vocab),
                               np.concatenate(term_ids), place[np.concatenate(row_ids)],
                               np.concatenate(tfs))  # fmt: skip

    @classmethod
    def _from_pairs(cls, ids, lengths, vocab, term_ids, row_ids, tfs) -> Postings:
        """CSR from (term, row) pairs: one per token occurrence (``tfs`` None) or per
        posting with its count."""
        n_rows = max(len(ids), 1)
        key = term_ids * n_rows + row_ids
        if tfs is None:
            key, counts = np.unique(key, return_counts=True)
        else:  # one pair per posting already: the counts are the given tfs
            order = np.argsort(key)
            key, counts = key[order], tfs[order]
        terms, rows = np.divmod(key, n_rows)
        starts = np.searchsorted(terms, np.arange(len(vocab) + 1)).astype(np.int64)
        wide = len(counts) and counts.max() > np.iinfo(np.uint16).max
        dtype = np.uint32 if wide else np.uint16
        return cls(ids.astype(np.int64), lengths.astype(np.int32),
                   {t: i for i, t in enumerate(vocab)}, starts, rows.astype(np.int32),
                   counts.astype(dtype))  # fmt: skip

    # --- files ---------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Written whole to a temporary name, flushed to disk, then renamed into place."""
        names = "\n".join(sorted(self.terms, key=self.terms.get)).encode()
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as out:
            np.savez(out, ids=self.ids, lengths=self.lengths, starts=self.starts,
                     rows=self.rows, tfs=self.tfs,
                     terms=np.frombuffer(names, dtype=np.uint8))  # fmt: skip
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> Postings:
        """Raises ValueError (or OSError) for a damaged file."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("ids", "lengths", "starts", "rows", "tfs", "terms")}
        names = arrays.pop("terms").tobytes().decode()
        terms = {t: i for i, t in enumerate(names.split("\n"))} if names else {}
        postings = cls(terms=terms, **arrays)
        postings.check()
        return postings

    def check(self) -> None:
        """Raises ValueError when the arrays do not fit together."""
        fits = (
            len(self.lengths) == len(self.ids) and len(self.starts) == len(self.terms) + 1
            and len(self.rows) == len(self.tfs) == int(self.starts[-1])
            and (not len(self.rows) or int(self.rows.max()) < len(self.ids))
        )  # fmt: skip
        if not fits:
            raise ValueError("postings arrays do not fit together")
