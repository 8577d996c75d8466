"""The Celery app: queues `default` and `embed`, late acks, and the periodic sweeps."""

import logging
import os

from celery import Celery, bootsteps
from django.conf import settings
from kombu import Queue

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("triage")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_queues=[Queue("default"), Queue("embed")],
    task_default_queue="default",
    # Embedding runs on its own queue so GPU workers can take it: `celery worker -Q embed`.
    task_routes={"labeling.tasks.embed_*": {"queue": "embed"}},
    # A task is acknowledged only after it ran, so a worker killed mid-task loses nothing:
    # the broker hands the message to another worker. Every task is safe to run twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Redis redelivers a message not acknowledged within this many seconds (a worker that
    # died mid-task); it must be longer than any task runs.
    broker_transport_options={"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT},
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    # Saving an incident while the broker is down must fail fast (the sweep catches up), not
    # hang the request on connection retries.
    broker_connection_timeout=2,
    task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5},
    beat_schedule={
        # Requeues import batches whose worker died, so none stays "running" forever.
        "sweep-abandoned-imports": {"task": "incidents.tasks.sweep_abandoned_import_batches", "schedule": 300.0},
        # Folds new and changed incidents, labels and suggestions into the dashboard facts;
        # its slow full pass catches anything a quick pass missed.
        "refresh-dashboard-facts": {"task": "analytics.tasks.refresh_dashboard_facts", "schedule": 60.0},
        # Trains a taxonomy's suggestion model again once enough new decisions arrived.
        "sweep-suggestion-models": {"task": "labeling.tasks.sweep_suggestion_models", "schedule": 600.0},
        # Finds incidents whose embedding is missing or stale, so none waits forever.
        "sweep-stale-embeddings": {
            "task": "labeling.tasks.sweep_stale_embeddings",
            "schedule": 60.0,
        },
    },
)
app.autodiscover_tasks()


class Heartbeat(bootsteps.StartStopStep):
    """Stamps the worker heartbeat (config.health) from the worker's main process.

    As a task, the stamp waited behind whatever filled the pool (a training takes minutes,
    a backlog of embeddings longer), and the pages said no worker ran while every one was
    busy. The main process runs no tasks. The first stamp, at start, clears the banner at once.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.repeating = None

    def start(self, worker):
        _stamp()
        self.repeating = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, _stamp)

    def stop(self, worker):
        if self.repeating is not None:
            self.repeating.cancel()


def _stamp():
    from config.health import record_heartbeat

    try:
        record_heartbeat()
    except Exception:  # the cache client's own errors while Redis is down; the pages say so
        logger.warning("cannot write the worker heartbeat: Redis is unreachable")


app.steps["worker"].add(Heartbeat)
