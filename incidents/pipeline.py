"""Hand an incident whose text changed to the next step: the labeling app's workers.

The labeling app depends on incidents, not the other way round, so this sends the task by
its name through Celery's task registry instead of importing it. Write paths (import, forms, API) call
`request_embeddings` explicitly after they store text; the beat sweep catches anything
missed (a broker that was down, a crash between commit and send).
"""

import logging

from django.db import transaction

from config.celery import app

EMBED_TASK = "labeling.tasks.embed_incidents"
# Incidents per embedding task: one encode batch or two, so a task takes seconds.
EMBED_TASK_SIZE = 128

logger = logging.getLogger(__name__)


def request_embeddings(incident_ids):
    """Queue embedding of these incidents once the current transaction commits."""
    ids = sorted(set(incident_ids))
    if ids:
        transaction.on_commit(lambda: _send(ids))


def _registered(task_name):
    """The task object by name (so eager mode applies in tests), autodiscovering once if needed."""
    if task_name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[task_name]


def _send(ids):
    for start in range(0, len(ids), EMBED_TASK_SIZE):
        chunk = ids[start : start + EMBED_TASK_SIZE]
        send_or_leave_to_sweep(
            _registered(EMBED_TASK), [chunk], f"{len(chunk)} incidents wait for the embedding sweep", queue="embed"
        )


def send_or_leave_to_sweep(task, args, waiting, **options):
    """Send a task; a broker that cannot be reached is logged (`waiting` says what waits), not raised.

    The write that asked for the task has committed, and a periodic sweep finds what it left
    undone, so an outage must not fail the save or the upload that came first.
    """
    try:
        task.apply_async(args=args, **options)
    except Exception:  # whatever the broker client raises; the sweep retries
        logger.warning("broker unreachable; %s", waiting)
