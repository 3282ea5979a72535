"""The link model's file (format 1 still read, an unknown format refused naming the file, what
is written read back) and the article ranking's counts and fit, by hand."""

from __future__ import annotations

import json
import re

import pytest

from index import links
from index.links import FEATURES, MODEL_FORMAT, link_model, read_model
from training import link_model as training
from training.link_model import GroupExample, Tally, fit_articles, tally_articles

OLD = {"weights": {f: 0.5 for f in FEATURES}, "bias": -2.0, "threshold": 0.66}


def test_a_format_1_file_is_the_clause_model():
    model = read_model({"_comment": "old", **OLD}, "link_model.json")
    assert model["format"] == MODEL_FORMAT and model["ranking"] == "clauses"
    assert model["clauses"] == OLD


@pytest.mark.parametrize(
    "found",
    [
        {"format": 3, "ranking": "articles"},
        {"format": MODEL_FORMAT, "ranking": "sentences", "clauses": OLD},
        {"format": MODEL_FORMAT, "ranking": "articles", "clauses": OLD},  # no articles part
        {"bias": 1.0},
    ],
)
def test_an_unknown_model_is_refused_naming_its_file(found):
    with pytest.raises(ValueError, match=re.escape("somewhere/link_model.json")):
        read_model(found, "somewhere/link_model.json")


def test_the_shipped_model_reads():
    model = link_model()
    assert model["ranking"] in links.RANKINGS and model[model["ranking"]]["threshold"] > 0


def test_a_written_model_reads_back(tmp_path, monkeypatch):
    path = tmp_path / "link_model.json"
    monkeypatch.setattr(training, "MODEL_PATH", path)
    article = {"local_unit": "article", "rank_weights": OLD["weights"], **OLD}
    training.save_model({"ranking": "articles", "clauses": OLD, "articles": article}, "a test")
    found = read_model(json.loads(path.read_text("utf-8")), str(path))
    assert found["format"] == MODEL_FORMAT and found["articles"] == article
    with pytest.raises(ValueError, match=re.escape(str(path))):  # refused, not written
        training.save_model({"ranking": "articles", "clauses": OLD}, "a test")
    assert json.loads(path.read_text("utf-8"))["articles"] == article


def _features(cosine: float, lexical: float) -> dict[str, float]:
    return {f: 0.0 for f in FEATURES} | {"cosine": cosine, "lexical": lexical}


def test_article_tally_against_hand_counts():
    # Ranked by lexical, scored by sigmoid(10·cosine − 5): 0.9 → 0.98, 0.6 → 0.73, 0.3 → 0.12.
    model = {"rank_weights": {"lexical": 1.0}, "weights": {"cosine": 10.0}, "bias": -5.0,
             "threshold": 0.5}  # fmt: skip
    examples = [
        # ranked first: lexical 1.0 (right), scores 0.73: given, right
        GroupExample("x", [[0, 1]], [_features(0.6, 1.0), _features(0.9, 0.2)], [True, False], 1),
        # the listwise first (wrong) is given although the other scores more
        GroupExample("x", [[0, 1]], [_features(0.6, 0.2), _features(0.9, 0.9)], [True, False], 1),
        # the first scores 0.12: "none", though a lower-ranked group would clear it; wrongly
        GroupExample("x", [[0, 1]], [_features(0.3, 1.0), _features(0.9, 0.1)], [False, True], 1),
        # two units (per clause): the given first groups, the one scoring most is the answer
        GroupExample("x", [[0], [1]], [_features(0.6, 1.0), _features(0.9, 1.0)], [False, True], 1),
        GroupExample("x", [[0]], [_features(0.2, 1.0)], [False], 0),  # "none", rightly
        GroupExample("x", [], [], [], 0),  # no candidate: "none", rightly
    ]
    t = tally_articles(examples, model)
    assert t == Tally(given=3, right=2, sourced=4, none_said=3, none_right=2, none_labelled=2)


def test_the_article_fit_ranks_and_thresholds():
    """Sources have the higher lexical share, wrong candidates the higher cosine; articles
    with no source have only weak candidates. The listwise weights rank by lexical, and the
    threshold tells the weak from the sourced."""
    examples = []
    for k in range(12):
        shift = k / 100
        examples.append(GroupExample(
            "x", [[0, 1, 2]],
            [_features(0.80 + shift, 0.9), _features(0.90 + shift, 0.5),
             _features(0.85, 0.3 + shift)], [True, False, False], 1))  # fmt: skip
        examples.append(GroupExample("x", [[0]], [_features(0.5 + shift, 0.1)], [False], 0))
    model = fit_articles(examples)
    assert model["rank_weights"]["lexical"] > model["rank_weights"]["cosine"]
    assert tally_articles(examples, model).metrics() == pytest.approx(
        {"top1_precision": 1.0, "top1_recall": 1.0, "none_precision": 1.0, "none_recall": 1.0}
    )
    assert set(model) == {"local_unit", "rank_weights", "weights", "bias", "threshold"}


def _gated(cosine: float, lexical: float, pair_overlaps: list[float]) -> tuple[dict, list]:
    """A group's evidence and its pairs' (each pair's overlap as given)."""
    return _features(cosine, lexical), [_features(cosine, lexical) | {"overlap": o}
                                        for o in pair_overlaps]  # fmt: skip


def test_a_gate_keeps_an_article_off_a_group_no_pair_of_its_own_clears():
    """With a clause-level gate (here: a pair's overlap over 0.5), a group is given only when
    one of its pairs clears the gate; the next given group stands in, else "none"."""
    model = {"rank_weights": {"lexical": 1.0}, "weights": {"cosine": 10.0}, "bias": -5.0,
             "threshold": 0.5,
             "gate": {"weights": {"overlap": 10.0}, "bias": -5.0, "threshold": 0.5}}  # fmt: skip

    def example(groups, positive, sourced):
        features, pairs = zip(*groups, strict=True)
        return GroupExample("x", [list(range(len(groups)))], list(features), positive,
                            sourced, list(pairs))  # fmt: skip

    examples = [
        # the first (right) has no pair over the gate: the second (wrong) is given
        example([_gated(0.6, 1.0, [0.2]), _gated(0.9, 0.2, [0.9])], [True, False], 1),
        # the only group clears the threshold, not the gate: "none", rightly
        example([_gated(0.6, 1.0, [0.1])], [False], 0),
        # one pair of two clears the gate: given, right
        example([_gated(0.6, 1.0, [0.1, 0.8])], [True], 1),
    ]
    assert tally_articles(examples, model) == Tally(
        given=2, right=1, sourced=2, none_said=1, none_right=1, none_labelled=1
    )
    ungated = {k: v for k, v in model.items() if k != "gate"}
    assert tally_articles(examples, ungated) == Tally(given=3, right=2, sourced=2,
                                                      none_labelled=1)  # fmt: skip
    fitted = fit_articles(examples * 4, gate=model["gate"])
    assert fitted["gate"] == model["gate"]
