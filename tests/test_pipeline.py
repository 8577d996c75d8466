"""The background pipeline under races: embed and suggestion writes, trainings, sweeps.

A fake encoder (a vector from the text's hash) stands in for the model, so these run in
seconds; test_embeddings and test_suggestions cover the real model.
"""

import hashlib
import threading
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from incidents.models import Incident
from labeling import embeddings, queries, tasks
from labeling.actions import suggestions, vectors
from labeling.models import Decision, Embedding, Option, Suggestion, SuggestionModel
from labeling.suggestions import queries as suggestion_queries
from labeling.suggestions import training
from tests.servers import wait_for


def _fake_encode(texts):
    rows = []
    for text in texts:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
        rows.append(vector / np.linalg.norm(vector))
    return np.array(rows, dtype=np.float32).reshape(len(texts), 384)


@pytest.fixture
def fake_encoder(monkeypatch):
    monkeypatch.setattr(embeddings, "encode", _fake_encode)


@pytest.fixture
def queued_suggestions(monkeypatch):
    """The (taxonomy id, incident ids) of every suggest_labels task sent."""
    sent = []
    monkeypatch.setattr(tasks.suggest_labels, "delay", lambda *args: sent.append(args))
    return sent


def _current_hash(incident):
    fresh = Incident.objects.prefetch_related("updates").get(pk=incident.pk)
    return embeddings.text_hash(vectors.incident_embedding_text(fresh))


def _edit_postmortem(incident, text):
    fresh = Incident.objects.get(pk=incident.pk)
    fresh.postmortem = text
    fresh.save()


# Embeddings


@pytest.mark.django_db
def test_an_old_texts_vector_finished_last_does_not_replace_the_new_one(make_incident, monkeypatch):
    incident = make_incident(postmortem="Old postmortem: the KV cache filled up.")
    later = []

    def encode_while_edited(texts):
        if not later:
            # while this task encodes the old text, the postmortem changes and another task embeds it
            later.append("started")
            _edit_postmortem(incident, "New postmortem: a bad deploy of the tokenizer.")
            later.append(vectors.embed_incidents([incident.pk]))
        return _fake_encode(texts)

    monkeypatch.setattr(embeddings, "encode", encode_while_edited)
    # when
    counts = vectors.embed_incidents([incident.pk])
    # then
    stored = Embedding.objects.get(incident=incident)
    assert stored.text_hash == _current_hash(incident)
    assert queries.stale_embedding_incident_ids(limit=100) == []
    assert counts == {"embedded": 0, "unchanged": 0, "changed": 1, "missing": 0}
    assert later[1] == {"embedded": 1, "unchanged": 0, "changed": 0, "missing": 0}


@pytest.mark.django_db
def test_a_vector_of_text_edited_while_it_was_encoded_is_left_to_the_sweep(make_incident, monkeypatch):
    incident = make_incident(postmortem="Old postmortem: the KV cache filled up.")

    def encode_while_edited(texts):
        _edit_postmortem(incident, "New postmortem: a bad deploy of the tokenizer.")
        return _fake_encode(texts)

    monkeypatch.setattr(embeddings, "encode", encode_while_edited)
    # when: the task the edit queued is lost
    counts = vectors.embed_incidents([incident.pk])
    # then
    assert queries.stale_embedding_incident_ids(limit=100) == [incident.pk]
    assert not Embedding.objects.filter(incident=incident).exists()
    assert counts == {"embedded": 0, "unchanged": 0, "changed": 1, "missing": 0}


@pytest.mark.django_db(transaction=True)
def test_an_incident_deleted_while_its_batch_is_encoded_leaves_the_rest_embedded(make_incident, monkeypatch):
    kept, gone = make_incident(title="Kept"), make_incident(title="Gone")

    def encode_then_delete(texts):
        Incident.objects.filter(pk=gone.pk).delete()
        return _fake_encode(texts)

    monkeypatch.setattr(embeddings, "encode", encode_then_delete)
    # when
    counts = vectors.embed_incidents([kept.pk, gone.pk])
    # then
    assert list(Embedding.objects.values_list("incident_id", flat=True)) == [kept.pk]
    assert counts == {"embedded": 1, "unchanged": 0, "changed": 0, "missing": 1}


@pytest.mark.django_db
def test_a_redelivered_embed_task_still_queues_suggestions(
    make_incident, taxonomy, fake_encoder, queued_suggestions, monkeypatch
):
    incident = make_incident()
    suggest_for_new_vectors = tasks.suggest_for_new_vectors

    def killed(incident_ids):
        raise SystemExit("worker killed after the vectors were committed")

    monkeypatch.setattr(tasks, "suggest_for_new_vectors", killed)
    with pytest.raises(SystemExit):
        tasks.embed_incidents([incident.pk])
    monkeypatch.setattr(tasks, "suggest_for_new_vectors", suggest_for_new_vectors)
    # when: the unacknowledged task is delivered again
    counts = tasks.embed_incidents([incident.pk])
    # then
    assert queued_suggestions == [(taxonomy.pk, [incident.pk])]
    assert counts == {"embedded": 0, "unchanged": 1, "changed": 0, "missing": 0}


@pytest.mark.django_db
def test_the_embed_task_queues_suggestions_only_for_current_vectors(
    make_incident, taxonomy, fake_encoder, queued_suggestions
):
    current, gone = make_incident(), make_incident()
    gone_pk = gone.pk
    gone.delete()
    # when
    tasks.embed_incidents([current.pk, gone_pk])
    # then
    assert queued_suggestions == [(taxonomy.pk, [current.pk])]


@pytest.mark.django_db
def test_the_embed_command_queues_suggestions_for_what_it_brought_up_to_date(
    make_incident, taxonomy, fake_encoder, queued_suggestions
):
    fresh, stale = make_incident(), make_incident()
    vectors.embed_incidents([fresh.pk])
    out = StringIO()
    # when
    call_command("embed_incidents", stdout=out)
    call_command("embed_incidents", "--all", stdout=out)
    # then: the second run found nothing stale, so it queued nothing
    assert queued_suggestions == [(taxonomy.pk, [stale.pk])]
    assert "Embedded 1, unchanged 0, changed meanwhile 0, gone 0." in out.getvalue()
    assert "Embedded 0, unchanged 2, changed meanwhile 0, gone 0." in out.getvalue()


@pytest.mark.django_db
def test_a_sweep_does_not_queue_again_what_an_earlier_sweep_queued(make_incident, monkeypatch):
    ids = sorted(make_incident(title=f"Waiting {n}").pk for n in range(3))
    queued = []
    monkeypatch.setattr(tasks.embed_incidents, "apply_async", lambda args, **options: queued.extend(args[0]))
    # when: no worker took the first sweep's task yet
    assert tasks.sweep_stale_embeddings() == 3
    assert tasks.sweep_stale_embeddings() == 0
    # then: once the marks expire, a lost task's incidents are queued again
    assert sorted(queued) == ids
    cache.clear()
    assert tasks.sweep_stale_embeddings() == 3
    assert sorted(queued) == sorted(ids * 2)


# Suggestions


@pytest.mark.django_db(transaction=True)
def test_an_incident_deleted_while_its_batch_is_scored_leaves_the_rest_suggested(
    make_incident, taxonomy, fake_encoder, monkeypatch
):
    kept, gone = make_incident(title="Kept"), make_incident(title="Gone")
    vectors.embed_incidents([kept.pk, gone.pk])
    zero_shot_scores = training.zero_shot_scores

    def score_then_delete(*args):
        Incident.objects.filter(pk=gone.pk).delete()
        return zero_shot_scores(*args)

    monkeypatch.setattr(training, "zero_shot_scores", score_then_delete)
    # when
    result = suggestions.suggest_labels(taxonomy, [kept.pk, gone.pk], train=False)
    # then: one suggestion per single-valued dimension, one per option of the multi-valued one
    mitigation = Option.objects.filter(dimension__taxonomy=taxonomy, dimension__key="mitigation").count()
    assert result.suggestions == Suggestion.objects.count() == 2 + mitigation
    assert set(Suggestion.objects.values_list("incident_id", flat=True)) == {kept.pk}


def _decide(incidents, dimension, option, since):
    for n, incident in enumerate(incidents):
        Decision.objects.create(
            incident=incident, dimension=dimension, option=option, decided_at=since + timedelta(seconds=n)
        )


def _advisory_lock_waiters():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_command_waits_for_the_tasks_training_so_the_newest_decisions_win(
    make_incident, taxonomy, fake_encoder, queued_suggestions, monkeypatch
):
    dimension = taxonomy.dimensions.get(key="detection")
    option = Option.objects.get(dimension=dimension, key="automated")
    incidents = [make_incident(title=f"Incident {n}") for n in range(30)]
    now = timezone.now()
    _decide(incidents[:1], dimension, option, now)
    errors, started = [], []

    def run_command():
        try:
            call_command("suggest_labels", "--taxonomy", taxonomy.key, stdout=StringIO())
        except Exception as error:  # asserted below
            errors.append(error)
        finally:
            connection.close()

    command = threading.Thread(target=run_command)

    def train_while_decisions_arrive(dataset, infos, option_vectors, seed=0):
        if not started:
            # while the task trains on one decision, 29 more arrive and an admin runs the command
            started.append(command)
            _decide(incidents[1:], dimension, option, now + timedelta(minutes=1))
            command.start()
            wait_for(lambda: not command.is_alive() or _advisory_lock_waiters(), 30, "the command to train or wait")
        return training.untrained_suggester(infos, option_vectors)

    monkeypatch.setattr(training, "train_suggester", train_while_decisions_arrive)
    # when
    tasks.train_suggestion_model(taxonomy.pk)
    command.join(timeout=60)
    # then: the command trained after the task, on every decision, and nothing is left to train
    assert errors == []
    models = SuggestionModel.objects.filter(taxonomy=taxonomy)
    assert sorted(models.values_list("decision_count", flat=True)) == [1, 30]
    assert suggestion_queries.latest_suggestion_model(taxonomy).decision_count == 30
    assert suggestions.needs_training(taxonomy) is False
    assert tasks.train_suggestion_model(taxonomy.pk) is None


@pytest.mark.django_db(transaction=True)
def test_the_training_task_gives_up_at_once_while_another_training_runs(taxonomy, make_incident, fake_encoder):
    dimension = taxonomy.dimensions.get(key="detection")
    option = Option.objects.get(dimension=dimension, key="automated")
    _decide([make_incident()], dimension, option, timezone.now())
    results = []

    def run_task():
        try:
            results.append(tasks.train_suggestion_model(taxonomy.pk))
        finally:
            connection.close()

    # when: the task runs while this session holds the taxonomy's training lock
    with suggestions.training_lock(taxonomy):
        task = threading.Thread(target=run_task)
        task.start()
        task.join(timeout=30)
    # then
    assert results == [None]
    assert not SuggestionModel.objects.exists()
    assert suggestions.needs_training(taxonomy) is True
