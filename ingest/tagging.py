"""Tag every clause with its units, targets and citations."""

from __future__ import annotations

from ingest.citations import find_citations
from ingest.models import Clause, Document
from ingest.targets import find_targets
from ingest.units import UnitResolver, defined_names, first_listed_leads, tag_units


def tag_clauses(clauses: list[Clause], document: Document) -> None:
    """Fill in units, targets and citations on each clause, in place. Rules stated once for the
    whole document (列第一位者为牵头单位, …（以下简称“基金委”）) apply to every clause."""
    text = "\n".join(c.text for c in clauses)
    resolver = UnitResolver(document.region, document.issuers, defined_names(text))
    first_leads = first_listed_leads(text)
    for clause in clauses:
        clause.units = tag_units(clause.text, resolver, first_leads)
        clause.targets = find_targets(clause.text)
        clause.citations = find_citations(clause.text, document.doc_number)
