"""`celery -A worker worker -Q sfn` from a checkout (the Procfile, `make worker`): the
composition root is `tasks/worker.py`, installed with the package (`celery -A tasks.worker`
works from any directory)."""

from tasks.worker import app

__all__ = ["app"]
