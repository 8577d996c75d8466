"""Celery tasks of the incidents app; each takes ids, calls one action and is safe to run twice."""

import logging

from celery import shared_task

from incidents import imports

logger = logging.getLogger(__name__)


@shared_task
def run_import_batch(batch_id):
    """Import the file of one batch; a batch already claimed or finished is left alone."""
    batch = imports.run_import_batch(batch_id)
    if batch is None:
        logger.info("Import batch %s is claimed or finished already; nothing to do", batch_id)
        return
    logger.info(
        "Import batch %s %s: %s created, %s updated, %s unchanged, %s rejected",
        batch.pk, batch.status, batch.created, batch.updated, batch.unchanged, batch.rejected,
    )  # fmt: skip
