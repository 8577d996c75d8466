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


@shared_task(name="labeling.tasks.embed_incidents")
def embed_incidents(incident_ids):
    counts = actions.embed_incidents(incident_ids)
    logger.info("embedded %(embedded)d, unchanged %(unchanged)d, missing %(missing)d", counts)
    return counts


@shared_task(name="labeling.tasks.sweep_stale_embeddings")
def sweep_stale_embeddings():
    """Queue every incident whose vector is missing or older than its text."""
    ids = queries.stale_embedding_incident_ids(limit=SWEEP_LIMIT)
    for start in range(0, len(ids), EMBED_TASK_SIZE):
        embed_incidents.apply_async(args=[ids[start : start + EMBED_TASK_SIZE]], queue="embed")
    if ids:
        logger.info("sweep queued %d incidents for embedding", len(ids))
    return len(ids)


@Panel.register(type="inspect", alias="embedding_device")
def embedding_device(state):
    """Answer `celery inspect embedding_device`: where this worker runs the model (health page)."""
    from labeling import embeddings

    return {"device": embeddings.pick_device(), "model": embeddings.model_name()}


@shared_task(name="labeling.tasks.heartbeat", ignore_result=True)
def heartbeat():
    """Stamp the cache so pages know a worker is alive (config.health)."""
    from config.health import record_heartbeat

    record_heartbeat()
