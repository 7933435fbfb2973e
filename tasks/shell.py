"""The `sfn.step` task and the bootstep that runs the recovery sweep in every worker.

The task is thin on purpose: a JSON message in, `Driver.handle` (load -> advance -> commit
-> dispatch), nothing out. A retry that the interpreter scheduled a few seconds out goes
back through Celery's own `Task.retry` with the computed countdown; its message is also in
the committed outbox, so the sweep re-issues it if Celery loses it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery, bootsteps
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from engine.celery_app import STEP_TASK
from engine.routing import hand_back_queue, needs_hand_back
from engine.runtime.driver import Dispatcher, Driver
from engine.runtime.messages import Message, display_name
from engine.runtime.poison import PoisonGuard
from engine.runtime.recovery import Sweeper

log = logging.getLogger(__name__)


class _RetryCapture:
    """Sends follow-ups as usual, except a retry timer: that one is handed to Task.retry."""

    def __init__(self, base: Dispatcher) -> None:
        self.base = base
        self.retry: tuple[Message, float] | None = None

    def send(self, message: Message, *, countdown: float = 0.0) -> None:
        if message.get("k") == "timer" and message.get("t") == "retry" and self.retry is None:
            self.retry = (message, countdown)
            return
        self.base.send(message, countdown=countdown)


#: How often a worker re-announces its handlers (a Redis that lost its data forgets them;
#: engine/fleet.py lets an announcement expire after three times this).
ANNOUNCE_EVERY_SECONDS = 10.0


def _hand_back(task: Any, message: Message, handler: str, served: list[str]) -> str:
    """Send a Task this worker cannot serve to its handler's own queue, which only workers
    serving it consume (engine/routing.py), and acknowledge this delivery: nothing is
    claimed, nothing fails. Its outbox entry stays, so the sweep re-sends it if this send is
    lost. Should it come from that very queue (a worker started on it by hand), it goes back
    with a delay rather than in a tight loop."""
    queue = hand_back_queue(handler)
    came_from = (task.request.delivery_info or {}).get("routing_key")
    countdown = 5.0 if came_from == queue else 0.0
    log.warning(
        "handing back %s: this worker does not serve handler %r (it serves %s); sent to "
        "queue %r", display_name(message), handler, ", ".join(served) or "none", queue,
    )
    task.app.send_task(
        STEP_TASK, args=[message], queue=queue, shadow=display_name(message),
        countdown=countdown or None,
    )
    return "handed back"


def _announce_forever(announce: Callable[[], None], stop: threading.Event) -> None:
    """Tell Redis which handlers this worker serves, and keep telling it. The first time is
    retried until Redis answers: a worker (re)started while Redis restarts must come up
    anyway, not exit at import."""
    retrying = Retrying(
        retry=retry_if_exception_type(redis.RedisError),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        reraise=True,
    )
    while not stop.is_set():
        try:
            for attempt in retrying:
                with attempt:
                    if stop.is_set():
                        return
                    announce()
        except Exception:  # noqa: BLE001 - not a Redis error: log it, try again later
            log.warning("could not announce handlers", exc_info=True)
        stop.wait(ANNOUNCE_EVERY_SECONDS)


def install(
    app: Celery,
    driver: Driver,
    sweeper: Sweeper | None,
    announce: Callable[[], None] | None = None,
    poison: PoisonGuard | None = None,
    known: Callable[[str], bool] = lambda handler: False,
) -> None:
    """Register the step task and, when given, the bootstep that runs the recovery sweep
    and announces this worker's handlers, on `app`. With `poison`, a message redelivered
    again and again because its step keeps failing the engine ends its execution
    (engine/runtime/poison.py). `known` tells whether some worker has ever announced a
    handler (engine/routing.py's `needs_hand_back`)."""

    @app.task(name=STEP_TASK, bind=True, acks_late=True, max_retries=None)  # type: ignore[untyped-decorator]
    def step(self: Any, message: Message) -> str:
        came_from = (self.request.delivery_info or {}).get("routing_key")
        lacking = needs_hand_back(message, driver.registry.handlers, came_from, known)
        if lacking is not None:
            return _hand_back(self, message, lacking, sorted(driver.registry.handlers))
        capture = _RetryCapture(driver.dispatcher)
        # A Task scheduled by an engine step (start, timer, join) runs in this same Celery
        # task rather than costing another trip through the broker (see Driver.handle).
        # The task id goes with the claim of a Task run here (the execution view links
        # each attempt to this Celery task in Flower).
        def run() -> str:
            return driver.handle(
                message, dispatcher=capture, run_task_inline=True, task_id=self.request.id
            )

        if poison is None:
            outcome = run()
        else:
            # A copy the sweep re-sent, or one the broker redelivered (its worker died).
            redelivered = bool(message.get("n")) or bool(
                (self.request.delivery_info or {}).get("redelivered")
            )
            outcome = poison.deliver(message, redelivered=redelivered, step=run)
        if capture.retry is not None:
            retry_message, countdown = capture.retry
            raise self.retry(args=[retry_message], countdown=countdown, max_retries=None)
        return outcome

    if sweeper is None and announce is None:
        return

    class RecoverySweep(bootsteps.StartStopStep):  # type: ignore[misc]
        """Runs the sweep and the handler announcements in threads of the worker's main
        process."""

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.stop_event = threading.Event()
            self.thread: threading.Thread | None = None

        def start(self, worker: Any) -> None:
            if announce is not None:
                threading.Thread(
                    target=_announce_forever, args=(announce, self.stop_event), daemon=True,
                    name="sfn-announce",
                ).start()
            if sweeper is not None:
                self.thread = threading.Thread(
                    target=sweeper.run_forever, args=(self.stop_event,), daemon=True,
                    name="sfn-recovery",
                )
                self.thread.start()

        def stop(self, worker: Any) -> None:
            self.stop_event.set()

    app.steps["worker"].add(RecoverySweep)
