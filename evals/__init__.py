"""Evaluation tooling, never imported by the runtime packages: retrieval, tags, real documents,
links and versions on hand labels, and public benchmarks (STARD)."""
