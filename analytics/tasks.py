"""Celery tasks of the analytics app; each is safe to run twice or at once (see analytics.actions)."""

import logging

from celery import shared_task

from analytics import actions

logger = logging.getLogger(__name__)


@shared_task(name="analytics.tasks.refresh_dashboard_facts")
def refresh_dashboard_facts():
    """Fold recent label and incident changes into the dashboard facts, plus one batch of the full pass.

    Beat runs it every minute; while a backlog or a first build remains it enqueues itself
    again at once, so a million incidents are covered in minutes rather than hours.
    """
    run = actions.refresh_dashboard_facts()
    if not run.claimed:
        logger.info("dashboard facts: another worker holds the refresh")
        return None
    logger.info("dashboard facts: %d changed incidents, swept to %s", run.changed, run.swept_to)
    if run.more:
        refresh_dashboard_facts.delay()
    return {"changed": run.changed, "swept_to": run.swept_to, "more": run.more}
