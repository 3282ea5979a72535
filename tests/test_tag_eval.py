"""Tag precision and recall, checked against counts worked out by hand."""

from __future__ import annotations

from evals.tags import Score, same_metric, score_targets, score_units
from ingest.models import Clause, Document, Level, ParsedDocument, Role, Target, UnitTag


def _doc(clauses: list[Clause]) -> ParsedDocument:
    document = Document("d", "t", None, [], None, Level.NATIONAL, None, "issued", "s", "h")
    return ParsedDocument(document, clauses)


def _clause(cid: str, text: str, units=(), targets=()) -> Clause:
    return Clause(cid, "", [], text, 0, 0, "item", units=list(units), targets=list(targets))


def test_unit_scores_by_hand():
    seeds = {
        "000": _doc([
            _clause("a", "甲任务", [UnitTag("x", "X", Role.LEAD), UnitTag("y", "Y", Role.LEAD)]),
            _clause("b", "乙任务", [UnitTag("z", "Z", Role.RESPONSIBLE)]),
        ])
    }  # fmt: skip
    labels = [
        {"seed": "000", "clause": "甲任务", "units": {"X": "lead", "W": "responsible"}},
        {"seed": "000", "clause": "乙任务", "units": {"Z": "lead"}},
    ]
    units, roles = score_units(seeds, labels)
    # found X, Y, Z; labelled X, W, Z; right X, Z; roles right on X only
    assert (units.found, units.labelled, units.correct) == (3, 3, 2)
    assert (roles.found, roles.correct) == (2, 1)
    assert round(units.precision, 3) == round(units.recall, 3) == 0.667


def test_target_scores_by_hand():
    found = [Target(50, "个", "左右", 2025, "", "试点城市"), Target(3, "所", None, None, "", None)]
    seeds = {"000": _doc([_clause("a", "t", targets=found)])}
    labels = [
        {"seed": "000", "metric": "国家试点城市", "value": 50, "unit": "个", "qualifier": "左右",
         "year": 2025},
        {"seed": "000", "metric": "企业", "value": 1, "unit": "万家", "qualifier": None,
         "year": None},
    ]  # fmt: skip
    scores = score_targets(seeds, labels)
    assert scores["targets"] == Score(found=2, labelled=2, correct=1)
    assert scores["metric"] == Score(1, 1, 1)  # level word 国家 dropped before comparing


def test_same_metric_is_containment_without_level_words():
    assert same_metric("高水平产教融合实训基地", "产教融合实训基地")
    assert not same_metric(None, "产教融合实训基地")
    assert not same_metric("投资额比例", "投资额抵免比例")
