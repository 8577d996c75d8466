"""Celery tasks of the labeling app; each takes ids, calls one action and is safe to run twice."""
