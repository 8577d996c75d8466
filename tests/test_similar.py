"""Similar-incident search with the real model: pages, API, filters, explanations, feedback."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from labeling import embeddings, similarity
from labeling.actions import embed_incidents
from labeling.models import Decision, Embedding, Option, SimilarityFeedback
from labeling.similarity import (
    best_by_text,
    find_similar,
    find_similar_to_incident,
    fuse,
    nearest_by_vector,
    terms_of,
)


@pytest.fixture
def corpus(make_incident, taxonomy):
    """Three pairs of paraphrased incidents and an unrelated one, embedded and partly labeled."""
    incidents = {
        "kv": make_incident(
            title="KV cache exhausted on llama-70b, requests rejected",
            postmortem="GPU memory for the attention cache filled up under a traffic burst; new requests got 503.",
            service="chat-api",
        ),
        "kv_paraphrase": make_incident(
            title="Inference servers ran out of accelerator memory",
            postmortem="The key-value cache used all HBM on the serving GPUs, so the engine refused new requests.",
            service="chat-api",
            model_name="llama-70b",
        ),
        "dns": make_incident(
            title="DNS resolution failures broke the load balancer",
            postmortem="A bad record in internal DNS made the load balancer drop traffic to healthy backends.",
            service="gateway",
            model_name="",
        ),
        "dns_paraphrase": make_incident(
            title="Name lookups failing, traffic not reaching backends",
            postmortem="Resolver errors after a DNS zone change meant the balancer could not find upstream hosts.",
            service="gateway",
            model_name="",
        ),
        "tokenizer": make_incident(
            title="Garbled output after tokenizer upgrade",
            postmortem="A new tokenizer version decoded tokens into mojibake for non-English prompts.",
            service="completions-api",
            model_name="mistral-7b",
        ),
        "tokenizer_paraphrase": make_incident(
            title="Responses full of broken characters",
            postmortem="Decoding used the wrong vocabulary file, so generated text contained corrupted unicode.",
            service="completions-api",
            model_name="mistral-7b",
        ),
    }
    embed_incidents([incident.pk for incident in incidents.values()])
    category = Option.objects.get(dimension__taxonomy=taxonomy, key="resource_exhaustion")
    rollback = Option.objects.get(dimension__taxonomy=taxonomy, key="traffic_routing")
    for option in (category, rollback):
        Decision.objects.create(
            incident=incidents["kv_paraphrase"], dimension=option.dimension, option=option, decided_at=timezone.now()
        )
    return incidents


@pytest.mark.parametrize(
    ("name", "twin"), [("kv", "kv_paraphrase"), ("dns", "dns_paraphrase"), ("tokenizer", "tokenizer_paraphrase")]
)
def test_paraphrased_incidents_find_each_other(olga, corpus, name, twin):
    results = find_similar_to_incident(olga, corpus[name], k=3)
    assert results[0].incident == corpus[twin]
    assert corpus[name] not in [result.incident for result in results]


def test_a_typed_symptom_finds_the_incident_and_says_why(olga, corpus):
    results = find_similar(olga, text="503 errors because GPU cache memory is full", k=2)
    assert {result.incident.pk for result in results} == {corpus["kv"].pk, corpus["kv_paraphrase"].pk}
    top = next(result for result in results if result.incident == corpus["kv"])
    assert "gpu" in top.shared_terms
    assert "503" in top.shared_terms
    assert 0 < top.similarity <= 1


def test_results_from_an_incident_name_the_matching_fields_and_the_mitigation(olga, corpus):
    result = find_similar_to_incident(olga, corpus["kv"], k=1)[0]
    assert result.matching_fields == ["same service", "same model", "same region"]
    assert [option.key for option in result.labels["mitigation"]] == ["traffic_routing"]
    assert [option.key for option in result.labels["category"]] == ["resource_exhaustion"]


def test_filters_still_return_k_results(olga, corpus):
    results = find_similar(olga, text="outage", filters={"service": "gateway"}, k=2)
    assert {result.incident.pk for result in results} == {corpus["dns"].pk, corpus["dns_paraphrase"].pk}
    decided = find_similar(olga, text="outage", filters={"decided_only": True}, k=5)
    assert [result.incident for result in decided] == [corpus["kv_paraphrase"]]
    by_category = find_similar(olga, text="outage", filters={"category": "inference_engine"}, k=5)
    assert [result.incident for result in by_category] == [corpus["kv_paraphrase"]]


def test_outsider_finds_nothing(charlie, corpus):
    assert find_similar(charlie, text="GPU memory", k=5) == []


def test_terms_and_fusion():
    assert terms_of("The GPU's KV-cache was full; the GPU restarted") == ["gpu", "cache", "full", "restarted"]
    scores = fuse([1, 2, 3], [3, 1])
    assert sorted(scores, key=lambda key: -scores[key]) == [1, 3, 2]


def test_similar_page_and_its_live_partial(login, olga, corpus):
    client = login(olga)
    page = client.get(reverse("labeling:similar"), {"q": "GPU cache memory full"})
    assert page.status_code == 200
    assert "KV cache exhausted on llama-70b" in page.content.decode()
    partial = client.get(reverse("labeling:similar"), {"q": "DNS"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()
    assert "DNS resolution failures" in partial.content.decode()


def test_incident_panel_lists_similar_incidents(login, olga, corpus):
    response = login(olga).get(reverse("labeling:incident-similar", args=[corpus["dns"].pk]))
    assert response.status_code == 200
    assert "Name lookups failing" in response.content.decode()


def test_feedback_is_stored_once_per_user_search_and_result(login, olga, corpus):
    client = login(olga)
    url = reverse("labeling:similarity-feedback")
    data = {"result": corpus["kv"].pk, "query_text": "gpu memory", "useful": "1"}
    assert client.post(url, data).status_code == 200
    assert client.post(url, {**data, "useful": "0"}).status_code == 200
    feedback = SimilarityFeedback.objects.get()
    assert feedback.useful is False
    assert feedback.user == olga


def test_feedback_needs_a_search(login, olga, corpus):
    response = login(olga).post(reverse("labeling:similarity-feedback"), {"result": corpus["kv"].pk, "useful": "1"})
    assert response.status_code == 400
    assert not SimilarityFeedback.objects.exists()


def test_api_similar_by_text(login, olga, corpus):
    response = login(olga).get(
        reverse("api:labeling-api:similar"), {"q": "broken unicode characters in responses", "k": 2}
    )
    assert response.status_code == 200
    titles = [row["title"] for row in response.json()]
    assert set(titles) == {"Garbled output after tokenizer upgrade", "Responses full of broken characters"}
    assert set(response.json()[0]) >= {"similarity", "score", "shared_terms", "labels", "time_to_mitigate_seconds"}


def test_api_similar_to_incident(login, olga, corpus):
    response = login(olga).get(reverse("api:labeling-api:incident-similar", args=[corpus["kv"].pk]), {"k": 1})
    assert response.status_code == 200
    [row] = response.json()
    assert row["id"] == corpus["kv_paraphrase"].pk
    assert row["labels"]["mitigation"] == [{"key": "traffic_routing", "name": "Traffic routing", "parent": None}]
    assert row["time_to_mitigate_seconds"] == 40 * 60


@pytest.mark.parametrize(("params", "field"), [({"q": "x", "k": 0}, "k"), ({"q": "x", "k": 500}, "k"), ({}, "q")])
def test_api_rejects_bad_parameters_by_name(login, olga, corpus, params, field):
    response = login(olga).get(reverse("api:labeling-api:similar"), params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("actor", "status"), [(None, 403), ("charlie", 403), ("olga", 200), ("alice", 200), ("maria", 200), ("adam", 200)]
)
def test_api_similar_permissions(request, client, corpus, actor, status):
    if actor:
        client.force_login(request.getfixturevalue(actor))
    assert client.get(reverse("api:labeling-api:similar"), {"q": "dns"}).status_code == status
    assert client.get(reverse("api:labeling-api:incident-similar", args=[corpus["dns"].pk])).status_code in {
        status,
        404,
    }


def test_api_feedback(login, olga, corpus):
    response = login(olga).post(
        reverse("api:labeling-api:similarity-feedback"),
        {"result": corpus["dns"].pk, "source_incident": corpus["dns_paraphrase"].pk, "useful": True},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert SimilarityFeedback.objects.get().source_incident == corpus["dns_paraphrase"]


@pytest.fixture
def reported_thrice(make_incident):
    """One failure reported three times, told apart only by fields the incident list filters on."""
    text = {
        "title": "KV cache exhausted on llama-70b, requests rejected",
        "postmortem": "GPU memory for the attention cache filled up; new requests got 503.",
        "service": "chat-api",
        "model_name": "llama-70b",
    }
    incidents = {
        "TXT": make_incident(external_id="TXT", source="team-a", modality="text", status="resolved", **text),
        "EMB": make_incident(external_id="EMB", source="team-b", modality="embedding", status="monitoring", **text),
        "SRC": make_incident(external_id="SRC", source="team-a", modality="text", status="identified", **text),
    }
    embed_incidents([incident.pk for incident in incidents.values()])
    return incidents


# The incident list's filters and what they keep of reported_thrice; service and model
# ignore case on the list, so on the similar search too.
LIST_FILTER_CASES = [
    ({"modality": "embedding"}, {"EMB"}),
    ({"status": "monitoring"}, {"EMB"}),
    ({"source": "team-a"}, {"TXT", "SRC"}),
    ({"service": "CHAT-API"}, {"TXT", "EMB", "SRC"}),
    ({"model_name": "Llama-70B"}, {"TXT", "EMB", "SRC"}),
]


def _external_ids(rows):
    return {row["external_id"] for row in rows}


@pytest.mark.parametrize(("params", "expected"), LIST_FILTER_CASES)
def test_api_similar_by_text_takes_the_list_filters(login, olga, reported_thrice, params, expected):
    client = login(olga)
    listed = client.get(reverse("api:incidents-api:incident-list"), params).json()["results"]
    response = client.get(reverse("api:labeling-api:similar"), {"q": "KV cache exhausted requests rejected", **params})
    assert response.status_code == 200
    assert _external_ids(response.json()) == _external_ids(listed) == expected


@pytest.mark.parametrize(("params", "expected"), LIST_FILTER_CASES)
def test_api_similar_to_incident_takes_the_list_filters(login, olga, reported_thrice, params, expected):
    url = reverse("api:labeling-api:incident-similar", args=[reported_thrice["SRC"].pk])
    response = login(olga).get(url, params)
    assert response.status_code == 200
    assert _external_ids(response.json()) == expected - {"SRC"}


def test_similar_page_and_panel_take_the_list_filters(login, olga, reported_thrice):
    client = login(olga)
    page = client.get(reverse("labeling:similar"), {"q": "KV cache exhausted", "modality": "embedding"})
    panel = client.get(reverse("labeling:incident-similar", args=[reported_thrice["SRC"].pk]), {"status": "resolved"})
    assert [result.incident for result in page.context["results"]] == [reported_thrice["EMB"]]
    assert [result.incident for result in panel.context["results"]] == [reported_thrice["TXT"]]


@pytest.mark.parametrize(("params", "field"), [({"status": "closed"}, "status"), ({"modality": "video"}, "modality")])
def test_api_similar_refuses_a_value_the_list_refuses(login, olga, params, field):
    client = login(olga)
    assert client.get(reverse("api:incidents-api:incident-list"), params).status_code == 400
    response = client.get(reverse("api:labeling-api:similar"), {"q": "x", **params})
    assert response.status_code == 400
    assert field in response.json()


def test_similar_endpoints_document_the_list_filters(login, olga):
    schema = login(olga).get(reverse("api:schema"), {"format": "json"}).json()
    for path in ("/api/similar/", "/api/incidents/{id}/similar/"):
        parameters = {item["name"]: item["schema"] for item in schema["paths"][path]["get"]["parameters"]}
        assert {"service", "model_name", "severity", "status", "modality", "source"} <= set(parameters)
        assert parameters["status"]["enum"] == ["identified", "investigating", "monitoring", "postmortem", "resolved"]
        assert parameters["modality"]["enum"] == ["audio", "embedding", "image", "multimodal", "text"]


def test_unrelated_results_that_share_no_word_are_dropped(olga, corpus):
    results = find_similar(olga, text="invoice currency rounding", k=10)
    assert results == []


def test_vector_search_returns_the_exact_nearest_and_all_of_a_few_filtered(make_incident):
    # given 50 incidents with known vectors, three of them on a rare service
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    incidents = [make_incident(service="rare-api" if index < 3 else "chat-api") for index in range(50)]
    Embedding.objects.bulk_create(
        Embedding(incident=incident, model_name=embeddings.model_name(), text_hash="test", vector=vector)
        for incident, vector in zip(incidents, vectors, strict=True)
    )
    query = vectors[10] + 0.5 * vectors[20]
    by_cosine = np.argsort(-(vectors @ query))
    # when
    nearest = nearest_by_vector(Incident.objects.all(), query, 40)
    rare = nearest_by_vector(Incident.objects.filter(service="rare-api"), query, 40)
    # then
    assert [pk for pk, _ in nearest] == [incidents[index].pk for index in by_cosine[:40]]
    assert [pk for pk, _ in rare] == [incidents[index].pk for index in by_cosine if index < 3]


def test_full_text_ranks_only_the_most_recent_matches_when_common_words_match_many(monkeypatch, make_incident):
    # given three incidents with the words; the oldest says them most often (the best rank)
    now = timezone.now()
    oldest = make_incident(title="GPU memory full " * 5, started_at=now - timedelta(days=30))
    older = make_incident(title="GPU memory full", started_at=now - timedelta(days=20))
    newest = make_incident(title="GPU memory full", started_at=now - timedelta(days=10))
    candidates = Incident.objects.all()
    assert best_by_text(candidates, ["gpu", "memory", "full"], 10)[0] == oldest.pk
    # when only two matches may be ranked
    monkeypatch.setattr(similarity, "MAX_RANKED_MATCHES", 2)
    # then the two most recent are, and the oldest is left out
    assert sorted(best_by_text(candidates, ["gpu", "memory", "full"], 10)) == sorted([older.pk, newest.pk])


def test_incident_panel_queries_do_not_grow_with_results_labelled_three_levels_deep(
    login, olga, make_incident, taxonomy
):
    # given results decided with a third-level option under Timeout (in Inference engine)
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    leaf = Option.objects.create(dimension=timeout.dimension, key="prefill", name="Prefill", parent=timeout)
    rng = np.random.default_rng(1)
    base = rng.normal(size=384)

    def embedded(title):
        incident = make_incident(title=title)
        Embedding.objects.create(
            incident=incident,
            model_name=embeddings.model_name(),
            text_hash="test",
            vector=base + rng.normal(size=384) * 0.1,
        )
        return incident

    source = embedded("KV cache full timeout")

    def add_result(index):
        result = embedded(f"KV cache full timeout {index}")
        Decision.objects.create(incident=result, dimension=leaf.dimension, option=leaf, decided_at=timezone.now())

    client = login(olga)
    panel = reverse("labeling:incident-similar", args=[source.pk])
    add_result(0)
    with CaptureQueriesContext(connection) as one:
        client.get(panel)
    for index in range(1, 10):
        add_result(index)
    # when
    with CaptureQueriesContext(connection) as ten:
        response = client.get(panel)
    # then
    html = response.content.decode()
    assert html.count('class="label label-inference_engine"') == 10
    assert "Timeout › Prefill" in html
    assert len(ten) == len(one)
