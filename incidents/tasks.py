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


@shared_task
def sweep_abandoned_import_batches():
    """Rerun batches whose worker died (their file is kept) and fail those that cannot be rerun."""
    rerun, failed = imports.find_abandoned_import_batches()
    for batch in rerun:
        run_import_batch.delay(batch.pk)
    for batch in failed:
        imports.fail_abandoned_import_batch(batch)
    if rerun or failed:
        logger.warning("Import sweep: %d batches queued again, %d failed", len(rerun), len(failed))
    return len(rerun), len(failed)
