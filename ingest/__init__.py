"""Ingestion: policy files → documents → clause tree → tagged clauses.

The public entry point is :func:`ingest.pipeline.parse_file`; everything else is a stage
of it, each in the module that owns its concept.
"""
