"""The HTTP API over the real corpus KB, in-process and as a real uvicorn server."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app


@pytest.fixture(scope="module")
def client(corpus_kb):
    with TestClient(create_app(kb=corpus_kb)) as test_client:
        yield test_client


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["clauses"] == 195
    assert body["vectors"] >= body["clauses"] and body["model"] == "multilingual-e5-small"


def test_search_json_shape(client):
    body = client.get("/search", params={"q": "产教融合型企业能享受哪些优惠？", "top_k": 3}).json()
    assert body["query"] == "产教融合型企业能享受哪些优惠？" and len(body["results"]) == 3
    keys = {"clause_id", "doc_id", "doc_title", "doc_number", "level", "region", "path",
            "text", "units", "targets", "score", "highlight"}  # fmt: skip
    assert keys <= set(body["results"][0])


def test_search_filters(client):
    body = client.get("/search", params={"q": "产教融合", "region": "绍兴", "top_k": 20}).json()
    assert {r["region"] for r in body["results"]} == {"绍兴市"}


@pytest.mark.parametrize("query", ["", "政" * 501])
def test_bad_queries_are_422_json(client, query):
    response = client.get("/search", params={"q": query})
    assert response.status_code == 422
    assert "q" in response.json()["message"]


def test_blank_query_and_bad_filter_are_422(client):
    assert client.get("/search", params={"q": "   "}).status_code == 422
    response = client.get("/search", params={"q": "产教融合", "level": "city"})
    assert response.status_code == 422 and "level" in response.json()["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year_from": 2**70}, "year_from"),
        ({"year_to": "-99999999999999999999999"}, "year_to"),
        ({"region": "x" * 60_000}, "region"),  # once a 500: LIKE pattern too complex
        ({"doc": "x" * 60_000}, "doc"),
        ({"unit": "局" * 5000}, "unit"),
    ],
)
def test_out_of_range_filters_are_422_json(client, params, field):
    response = client.get("/search", params={"q": "产教融合", **params})
    assert response.status_code == 422 and field in response.json()["message"]


def test_out_of_range_filters_are_refused_by_the_filters_themselves():
    from index.filters import FilterError, Filters

    for fields in ({"year_from": 2**70}, {"region": "重" * 100_000}, {"year_to": 99}):
        with pytest.raises(FilterError, match=next(iter(fields))):
            Filters(**fields)


def test_health_counts_one_state(client):
    body = client.get("/health").json()
    assert body["vectors"] == body["windows"] and body["generation"] >= 1


def test_documents_and_clause_tree(client):
    documents = client.get("/documents").json()
    assert len(documents) == 5
    chongqing = next(d for d in documents if d["region"] == "重庆市")
    body = client.get(f"/documents/{chongqing['doc_id']}").json()
    assert body["doc_number"] == "渝发改社会〔2023〕1271号"
    labels = [node["label"] for node in body["tree"]]
    assert "13．" in labels or any(
        child["label"] == "13．" for node in body["tree"] for child in node["children"]
    )
    clause_id = body["tree"][-1]["clause_id"]
    clause = client.get(f"/clauses/{clause_id}").json()
    assert clause["document"]["doc_id"] == chongqing["doc_id"]


def test_not_found_is_404_json(client):
    for path in ("/documents/nope", "/clauses/nope", "/no-such-route"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["message"]


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    assert "/search" in client.get("/openapi.json").json()["paths"]


def test_policykb_serve_runs_a_real_server(corpus_server):
    response = httpx.get(f"{corpus_server}/search", params={"q": "“头雁效应”"})
    assert response.status_code == 200
    assert [r["label"] for r in response.json()["results"]] == ["（一）"]
