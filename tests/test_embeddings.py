"""The embedding pipeline with the real model: text, vectors, idempotence, the sweep."""

import numpy as np
import pytest

from labeling import embeddings
from labeling.actions import embed_incidents
from labeling.models import Embedding
from labeling.queries import stale_embedding_incident_ids
from labeling.tasks import embed_incidents as embed_task
from labeling.tasks import sweep_stale_embeddings


def test_embedding_text_puts_the_title_first_and_drops_markdown():
    text = embeddings.build_embedding_text(
        "Chat API timeouts",
        "Requests hung.",
        "## Root cause\n**KV cache** full",
        "chat-api",
        "llama-70b",
        ["Investigating.", "Resolved."],
    )
    assert (
        text
        == "Chat API timeouts. Requests hung. chat-api llama-70b. Root cause KV cache full. Investigating. Resolved"
    )


def test_embedding_text_is_cut_to_what_the_model_can_read():
    text = embeddings.build_embedding_text("Title", postmortem="word " * 5000)
    assert len(text) == embeddings.EMBEDDING_TEXT_MAX_CHARS
    assert text.startswith("Title. word")


def test_fast_encode_gives_the_same_vectors_as_sentence_transformers():
    texts = [
        "Chat completions time out in us-east after a deploy",
        "KV cache exhaustion on the 70B model rejected requests " * 30,
        "DNS",
    ]
    fast = embeddings.encode(texts)
    plain = embeddings.get_model().encode(texts, normalize_embeddings=True)
    assert fast.shape == (3, 384)
    assert fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(fast * plain, axis=1) >= 0.999)


def test_a_text_gets_the_same_vector_alone_and_in_a_batch_of_longer_texts():
    texts = ["GPU OOM", "DNS resolution failures broke the load balancer", "Tokenizer change garbled outputs " * 40]
    together = embeddings.encode(texts)
    alone = np.stack([embeddings.encode_one(text) for text in texts])
    assert np.all(np.sum(together * alone, axis=1) >= 0.999)


def test_embedding_twice_embeds_once(make_incident):
    incident = make_incident()
    assert embed_incidents([incident.pk]) == {"embedded": 1, "unchanged": 0, "changed": 0, "missing": 0}
    assert embed_incidents([incident.pk]) == {"embedded": 0, "unchanged": 1, "changed": 0, "missing": 0}
    row = Embedding.objects.get(incident=incident)
    assert row.model_name == "all-MiniLM-L6-v2"
    assert len(row.vector) == 384


def test_changed_text_is_embedded_again_exactly_once(make_incident):
    incident = make_incident()
    embed_incidents([incident.pk])
    first = Embedding.objects.get(incident=incident)
    # when
    incident.title = "Tokenizer change garbled outputs of the 8B model"
    incident.save()
    # then
    assert embed_incidents([incident.pk])["embedded"] == 1
    assert embed_incidents([incident.pk])["embedded"] == 0
    second = Embedding.objects.get(incident=incident)
    assert second.text_hash != first.text_hash
    assert Embedding.objects.filter(incident=incident).count() == 1


def test_deleted_incidents_are_reported_missing(db):
    assert embed_incidents([999_999]) == {"embedded": 0, "unchanged": 0, "changed": 0, "missing": 1}


def test_sweep_finds_missing_and_changed_vectors(make_incident):
    fresh, changed, missing = make_incident(), make_incident(), make_incident()
    embed_incidents([fresh.pk, changed.pk])
    changed.postmortem = "A new root cause was found."
    changed.save()
    assert sorted(stale_embedding_incident_ids(limit=100)) == sorted([changed.pk, missing.pk])


@pytest.mark.django_db
def test_sweep_task_embeds_everything_stale_and_running_it_twice_is_harmless(eager_tasks, make_incident):
    incidents = [make_incident() for _ in range(3)]
    assert sweep_stale_embeddings() == 3
    assert sweep_stale_embeddings() == 0
    assert Embedding.objects.filter(incident__in=incidents).count() == 3


def test_embed_task_ran_twice_keeps_one_vector(make_incident):
    incident = make_incident()
    embed_task.apply(args=[[incident.pk]])
    embed_task.apply(args=[[incident.pk]])
    assert Embedding.objects.filter(incident=incident).count() == 1


def test_embed_command_embeds_stale_incidents_with_a_summary(make_incident):
    from io import StringIO

    from django.core.management import call_command

    incidents = [make_incident(), make_incident()]
    out = StringIO()
    call_command("embed_incidents", stdout=out)
    assert "Embedded 2, unchanged 0, changed meanwhile 0, gone 0." in out.getvalue()
    call_command("embed_incidents", "--all", stdout=out)
    assert "Embedded 0, unchanged 2, changed meanwhile 0, gone 0." in out.getvalue()
    assert Embedding.objects.filter(incident__in=incidents).count() == 2


def test_health_page_shows_pending_embeddings_to_admins_only(login, adam, olga, make_incident):
    from django.urls import reverse

    make_incident()
    assert login(olga).get(reverse("labeling:health")).status_code == 403
    response = login(adam).get(reverse("labeling:health"))
    assert response.status_code == 200
    assert response.context["pending_embeddings"] == 1


def test_a_typed_query_is_embedded_once_then_read_from_the_cache():
    text = "KV cache full on the 70B model"
    first = embeddings.encode_query(text)
    assert float(first @ embeddings.encode_one(text)) >= 0.9999
    # when the cached vector is replaced, later calls return it: they read the cache, not the model
    from django.core.cache import cache

    cache.set(embeddings.query_cache_key(text), np.ones(384, dtype=np.float32).tobytes())
    assert np.array_equal(embeddings.encode_query(text), np.ones(384, dtype=np.float32))


def test_a_typed_query_is_embedded_when_redis_is_down(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    vector = embeddings.encode_query("GPU OOM")
    assert float(vector @ embeddings.encode_one("GPU OOM")) >= 0.9999
