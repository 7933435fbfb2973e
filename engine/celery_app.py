"""The one adapter that knows Celery: the app's configuration, queues and message sending.

Configured for the durability contract: JSON only (never pickle), late acknowledgement,
re-queue when a worker process is lost, a prefetch of one, task events on for Flower. A
Celery message is only a wake-up; the truth is in the store.

Queues: engine/routing.py names them. `sfn` carries the engine's own steps (start, timers,
joins); a Task goes to its handler's own queue `sfn.h.<Handler>`, which only workers serving
that handler consume, or to its group's queue when registered with `queue="emails"`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from engine.broker import transport_for, transport_options_for
from engine.handlers import DEFAULT_QUEUE
from engine.routing import CONTROL_QUEUE, task_queue
from engine.runtime.messages import Message, display_name

STEP_TASK = "sfn.step"

log = logging.getLogger(__name__)

#: What a publish raises while the broker is down or restarting (kombu wraps socket errors
#: as OperationalError after its publish retries; some paths raise the socket error itself).
BROKER_DOWN = (OperationalError, ConnectionError, OSError)


def build_app(broker_url: str, *, name: str = "sfn") -> Celery:
    app = Celery(name, broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        event_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_default_queue=DEFAULT_QUEUE,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        # Redis: a dead worker's unacknowledged messages come back after an hour; RabbitMQ:
        # publisher confirms (engine/broker.py, docs/fleets.md).
        broker_transport_options=transport_options_for(broker_url),
        # One Redis client per kombu channel instead of one per command (engine/broker.py).
        broker_transport=transport_for(broker_url),
    )
    return app


class CeleryDispatcher:
    """Sends engine messages as `sfn.step` tasks, to the queue of the handler they run,
    under a name Flower shows as `StateMachine.State`."""

    def __init__(self, app: Celery, queue_of: Callable[[str | None], str]) -> None:
        self.app = app
        self.queue_of = queue_of

    def queue(self, message: Message) -> str:
        return self.queue_of(message.get("h")) if message.get("k") == "task" else DEFAULT_QUEUE

    def send(self, message: Message, *, countdown: float = 0.0) -> None:
        """Publish `message`; while the broker is down, log and return. Every message the
        engine sends is either in a committed outbox (the recovery sweep sends it again after
        SFN_REDELIVER_SECONDS) or a wake-up that a poll also covers, so a failed publish
        delays it and loses nothing, whereas raising would tell the caller (SendTaskSuccess,
        StartExecution, StopExecution...) that an action failed that has been committed
        (a chaos run with RabbitMQ restarts: its callback answerer died of it)."""
        try:
            self._publish(message, countdown, None)
        except BROKER_DOWN as exc:
            _left_to_sweep(message, exc)

    def _publish(self, message: Message, countdown: float, producer: Any) -> None:
        options: dict[str, Any] = {
            "queue": self.queue(message),
            "shadow": display_name(message),
            # What Flower shows as the task's arguments: the message as JSON. Given here,
            # Celery skips its saferepr of the arguments (~0.07 ms of every publish).
            "argsrepr": argsrepr(message),
            "kwargsrepr": "{}",
        }
        if countdown > 0:
            options["countdown"] = countdown
        if producer is not None:
            options["producer"] = producer
        self.app.send_task(STEP_TASK, args=[message], **options)

    def send_many(self, batch: list[Message]) -> None:
        """Send each of `batch` now, over one producer, its broker writes (each message's
        LPUSH and task-sent event) pipelined where kombu's transport batches publishes
        (`Producer.batch`, kombu >= 5.6 on Redis). A batch that fails part-way leaves the
        unsent starts to the recovery sweep (they are in the committed outbox)."""
        if not batch:
            return
        try:
            with self.app.producer_or_acquire() as producer:
                batching = getattr(producer, "batch", None)
                with batching() if batching is not None else nullcontext():
                    for message in batch:
                        self._publish(message, 0.0, producer)
        except BROKER_DOWN as exc:  # as `send`: the starts are in their committed outboxes
            _left_to_sweep(batch[0], exc, more=len(batch) - 1)


def _left_to_sweep(message: Message, exc: BaseException, more: int = 0) -> None:
    log.warning(
        "broker unavailable (%s): %s step of %s%s not sent now; it stays in the outbox and "
        "the recovery sweep sends it", exc, message.get("k"), message.get("x"),
        f" and {more} more" if more else "",
    )


_encode = json.JSONEncoder(separators=(", ", ": "), ensure_ascii=False).encode


def argsrepr(message: Message) -> str:
    """The message as Flower lists a task's arguments (Celery cuts its own at 1,024)."""
    text = _encode([message])
    return text if len(text) <= 1024 else text[:1020] + "...]"


class HandlerQueues:
    """Which queue carries a handler's Tasks (engine/routing.py): by the group the local
    registry gives it first, else what workers announced in Redis (refreshed at most every
    few seconds), else the control queue (a handler nobody announced: see routing)."""

    def __init__(
        self,
        local: dict[str, str],
        announced: Callable[[], dict[str, str]] | None = None,
        refresh_seconds: float = 5.0,
    ) -> None:
        self.local = local
        self.announced = announced
        self.refresh_seconds = refresh_seconds
        self._cache: dict[str, str] = {}
        self._fetched = 0.0

    def __call__(self, handler: str | None) -> str:
        if handler is None:
            return CONTROL_QUEUE
        if handler in self.local:
            return task_queue(handler, self.local[handler])
        if self.announced is not None and time.monotonic() - self._fetched > self.refresh_seconds:
            self._cache = self.announced()
            self._fetched = time.monotonic()
        return task_queue(handler, self._cache.get(handler))
