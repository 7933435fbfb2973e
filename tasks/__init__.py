"""The Celery shell: thin tasks that hand a message to the driver, and the worker's
recovery sweep, and the worker's composition root (`tasks/worker.py`). Only the composition
root holds state."""

from tasks.shell import install

__all__ = ["install"]
