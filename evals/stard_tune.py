"""STARD ranking experiments on the BM25 side, tuned on train and reported on validation.

``python -m evals.stard_tune KB VARIANT [--parts train,validation]`` runs the BM25 mode of the
project's search with one experimental change and prints the metrics per part of our split:

- ``baseline``: the search as it is;
- ``title``: each clause indexed with its document's title in front (run ``--retokenize`` on
  a copy of the KB first: it rewrites that copy's BM25 table);
- ``lay``: question words and lay filler (他, 应该, 怎么办 …) left out of the query;
- ``lay+syn``: that, plus colloquial words expanded to the statute's (老公 → 配偶 夫妻);
- ``precise``: the query cut by jieba's precise mode (whole words only), not search mode.

``--parts train200,validation``: a part may be cut to its first N queries in the split's
shuffled order (train200), for quick decisions on train when the machine is busy.

The change under test is patched in for the run only; what wins moves into index/lexical.py.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

import index.search as search
from evals.metrics import score
from evals.stard import (
    STARD,
    article_keys,
    latency,
    load,
    qrels_of,
    run_mode,
    split,
    split_order,
)
from index import lexical
from index.kb import KnowledgeBase
from index.search import Searcher

_FILLER = (
    "他 她 它 他们 她们 对方 别人 自己 应该 应 该 怎么办 办 可不可以 能不能 会不会 是不是"
    " 什么样 哪 呀 么 还 就 都 也 但 但是 如果 若 那 这 这种 这样 情况下 时候 时 后 之后 以后"
    " 现在 已经 想 知道 一个 一些 没有 不"
)
LAY_FILLER = frozenset(_FILLER.split())
LAY_WORDS = {
    "老公": "配偶 夫妻", "老婆": "配偶 夫妻", "丈夫": "配偶 夫妻", "妻子": "配偶 夫妻",
    "欠钱": "债务 借款", "借钱": "借款", "工资": "劳动报酬", "辞退": "解除 劳动合同",
    "开除": "解除 劳动合同", "公司": "用人单位", "老板": "用人单位", "员工": "劳动者",
    "打伤": "伤害 人身损害", "打人": "伤害", "赔钱": "赔偿", "房东": "出租人", "租客": "承租人",
    "房客": "承租人", "孩子": "子女 未成年人", "小孩": "子女 未成年人", "偷": "盗窃",
    "骗": "诈骗 欺诈", "告": "起诉 诉讼", "打官司": "诉讼", "买房": "房屋 买卖",
    "网购": "网络 购物", "老人": "老年人", "爸妈": "父母",
}  # fmt: skip


def lay_match(query: str, synonyms: bool = False) -> str | None:
    """bm25_match without lay filler words, optionally with colloquial words expanded."""
    dropped = lexical.QUERY_STOPWORDS | LAY_FILLER
    terms = [w for w in lexical.words(query) if w not in dropped] or lexical.words(query)
    if synonyms:
        terms += [t for word, legal in LAY_WORDS.items() if word in query for t in legal.split()]
    terms = list(dict.fromkeys(terms))
    return " OR ".join(lexical._fts_string(t) for t in terms) if terms else None


def precise_match(query: str) -> str | None:
    """bm25_match with the query in jieba's precise mode: 个体工商户, not also 个体/工商/工商户."""
    cut = lexical._jieba().cut(lexical.normalize(query))
    terms = [w.lower() for w in cut if lexical._WORD.search(w)]
    terms = list(dict.fromkeys(w for w in terms if w not in lexical.QUERY_STOPWORDS)) or terms
    return " OR ".join(lexical._fts_string(t) for t in terms) if terms else None


def retokenize(kb_dir: Path, with_title: bool = True) -> None:
    """Rewrite a KB copy's BM25 table, each clause's words preceded by its title's."""
    db = sqlite3.connect(kb_dir / "kb.sqlite")
    rows = db.execute(
        "SELECT c.id, c.text, d.title FROM clauses c JOIN documents d USING (doc_id)"
    ).fetchall()
    db.execute("DELETE FROM clauses_bm25")
    db.executemany(
        "INSERT INTO clauses_bm25 (rowid, words) VALUES (?, ?)",
        [(i, lexical.index_text(f"{title}\n{text}" if with_title else text))
         for i, text, title in rows],
    )  # fmt: skip
    db.commit()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kb", type=Path)
    parser.add_argument("variant", choices=("baseline", "title", "lay", "lay+syn", "precise"))
    parser.add_argument("--parts", default="train,validation")
    parser.add_argument("--retokenize", action="store_true")
    args = parser.parse_args()
    if args.retokenize:
        retokenize(args.kb)
    if args.variant.startswith("lay"):
        search.bm25_match = lambda q: lay_match(q, synonyms=args.variant == "lay+syn")
    if args.variant == "precise":
        search.bm25_match = precise_match
    queries = load(STARD / "dev.json")
    parts, qrels = split(queries), qrels_of(queries)
    sample_order = {q: n for n, q in enumerate(split_order(queries))}
    kb = KnowledgeBase(args.kb)
    searcher, keys = Searcher(kb), article_keys(kb)
    for part in args.parts.split(","):
        chosen = [q for q in queries if parts[q.query_id] == part.rstrip("0123456789")]
        if part != part.rstrip("0123456789"):  # train200: a fixed sample of 200 train queries
            chosen = sorted(chosen, key=lambda q: sample_order[q.query_id])[: int(part[5:])]
        started = time.perf_counter()
        run, times = run_mode(searcher, keys, chosen, "bm25")
        found = score(run, {q.query_id: qrels[q.query_id] for q in chosen})
        seconds = time.perf_counter() - started
        print(f"{args.variant} {part} ({len(chosen)}): {found} {latency(times)} {seconds:.0f}s")


if __name__ == "__main__":
    main()
