"""Celery tasks of the labeling app; each takes ids, calls one action and is safe to run twice."""

import logging

from celery import shared_task
from celery.worker.control import Panel

from incidents.pipeline import EMBED_TASK_SIZE
from labeling import actions, queries

logger = logging.getLogger(__name__)

# Incidents one sweep hands out; the next sweep (a minute later) takes the rest, so a
# backlog after a model change drains steadily without flooding the queue.
SWEEP_LIMIT = 5000
# How long the sweep leaves an incident it queued alone: several sweeps (a minute apart), so
# one still waiting in the embed queue is not queued again each minute, and short enough
# that one whose task was lost (a broker restart) is queued again within minutes.
SWEEP_REQUEUE_SECONDS = 5 * 60


@shared_task(name="labeling.tasks.embed_incidents")
def embed_incidents(incident_ids):
    counts = actions.embed_incidents(incident_ids)
    logger.info(
        "embedded %(embedded)d, unchanged %(unchanged)d, changed meanwhile %(changed)d, missing %(missing)d", counts
    )
    suggest_for_new_vectors(incident_ids)
    return counts


def suggest_for_new_vectors(incident_ids):
    """Queue fresh suggestions of every active taxonomy for those of these incidents whose vector is current.

    Found by state, not by what this run wrote: a redelivered task whose first delivery
    stored the vectors and died before getting here still queues their suggestions.
    """
    from labeling.models import Taxonomy

    ids = queries.current_embedding_incident_ids(incident_ids)
    if not ids:
        return
    for taxonomy_id in Taxonomy.objects.filter(active=True).values_list("pk", flat=True):
        suggest_labels.delay(taxonomy_id, ids)


@shared_task(name="labeling.tasks.sweep_stale_embeddings")
def sweep_stale_embeddings():
    """Queue every incident whose vector is missing or older than its text, unless a recent sweep did."""
    from django.core.cache import cache

    stale = queries.stale_embedding_incident_ids(limit=SWEEP_LIMIT)
    queued = cache.get_many([_sweep_key(pk) for pk in stale])
    ids = [pk for pk in stale if _sweep_key(pk) not in queued]
    for start in range(0, len(ids), EMBED_TASK_SIZE):
        embed_incidents.apply_async(args=[ids[start : start + EMBED_TASK_SIZE]], queue="embed")
    cache.set_many({_sweep_key(pk): 1 for pk in ids}, SWEEP_REQUEUE_SECONDS)
    if ids:
        logger.info("sweep queued %d incidents for embedding", len(ids))
    return len(ids)


def _sweep_key(incident_id):
    return f"labeling:embed-swept:{incident_id}"


@Panel.register(type="inspect", alias="embedding_device")
def embedding_device(state):
    """Answer `celery inspect embedding_device`: where this worker runs the model (health page)."""
    from labeling import embeddings

    return {"device": embeddings.pick_device(), "model": embeddings.model_name()}


# Suggestions. Training takes minutes of CPU, so it runs in the background when enough new
# decisions arrived (the sweep below, in the beat schedule), then refreshes the suggestions.


@shared_task(name="labeling.tasks.train_suggestion_model")
def train_suggestion_model(taxonomy_id):
    """Train the taxonomy's suggestion model if enough new decisions arrived, then refresh its suggestions.

    Safe to run twice or at once: the taxonomy's training lock (the one the suggest_labels
    command takes too) lets one training run at a time, and this one gives up at once
    when another holds it; a model of the same decisions is reused, not retrained.
    """
    from labeling.actions import suggestions
    from labeling.models import Taxonomy

    taxonomy = Taxonomy.objects.filter(pk=taxonomy_id, active=True).first()
    model = None if taxonomy is None else suggestions.train_if_needed(taxonomy, wait=False)
    if model is None:
        return None
    logger.info("trained %s in %.0f s", model.version, model.training_seconds)
    suggest_labels.delay(taxonomy_id)
    return model.version


@shared_task(name="labeling.tasks.suggest_labels")
def suggest_labels(taxonomy_id, incident_ids=None):
    """Recompute the suggestions of the taxonomy's undecided incidents (or of these) with its latest model."""
    from labeling.actions import suggestions
    from labeling.models import Taxonomy

    taxonomy = Taxonomy.objects.filter(pk=taxonomy_id, active=True).first()
    if taxonomy is None:
        return 0
    result = suggestions.suggest_labels(taxonomy, incident_ids, train=False)
    logger.info("%d suggestions for %d incidents with %s", result.suggestions, result.incidents, result.version)
    return result.suggestions


@shared_task(name="labeling.tasks.sweep_suggestion_models")
def sweep_suggestion_models():
    """Queue training of every active taxonomy with enough new decisions since its latest model."""
    from labeling.actions import suggestions
    from labeling.models import Taxonomy

    queued = [taxonomy.pk for taxonomy in Taxonomy.objects.filter(active=True) if suggestions.needs_training(taxonomy)]
    for taxonomy_id in queued:
        train_suggestion_model.delay(taxonomy_id)
    return queued
