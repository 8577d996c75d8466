"""Gunicorn hooks (`gunicorn --config python:config.gunicorn`): what each web worker does at start."""


def post_worker_init(worker):
    """Load the embedding model before serving, so the first typed search does not wait ~5 s for it."""
    from labeling.embeddings import warm_up

    warm_up()
