"""Filtered search on a kept scale KB: broad masks applied after the search (index/masks.py)
against the mask handed to each index, in one process, every 4th of the 343 real queries.

    python bench/broad_masks.py [--kb .kb/scale/kb-clauses-1000000]

The KB comes from `bench/scale_kb.py --sizes N --keep`; query vectors come from its cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import faiss

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scale_kb, beside this file

import scale_kb

from index import masks
from index.kb import KnowledgeBase

SETTINGS = {"applied after": masks.BROAD_SHARE, "handed to the index": 1.1}  # 1.1: never broad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=scale_kb.CACHE / "kb-clauses-1000000")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    texts = scale_kb.query_texts()
    kb = KnowledgeBase(args.kb, encoder=scale_kb.QueryTable(texts, scale_kb.query_vectors()))
    kb.warm()
    for label, share in SETTINGS.items():
        masks.BROAD_SHARE = share
        for name, given in scale_kb.FILTERS.items():
            found = scale_kb.searches(kb, texts[::4], filters=given)
            shown = {m: [round(v[f], 1) for f in ("p50_ms", "p95_ms", "cpu_p50_ms", "cpu_p95_ms")]
                     for m, v in found.items()}  # fmt: skip
            print(json.dumps({"masks": label, "filter": name} | shown, ensure_ascii=False))
    kb.close()


if __name__ == "__main__":
    main()
