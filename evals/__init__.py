"""Evaluation tooling on public benchmarks (STARD): not imported by the runtime packages."""
