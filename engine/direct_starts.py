"""A start's Celery message queued by the store's own write: one atomic step, one round trip.

A start used to be two steps: the store's write (`create.lua`: record, root run,
ExecutionStarted, outbox) and then Celery's `send_task`, which builds the message, declares
the queue, publishes it (LPUSH) and publishes its `task-sent` event (PUBLISH), each in a
round trip of its own, with per-message work (signals, routing, declaring, a retry wrapper)
that a single start paid in full: a start cost a Celery send plus the store's write.

When the broker is the store's own Redis (same server, same database), through the
engine's kombu transport (engine/broker.py), the message is built here exactly as Celery
and kombu build it (Celery's `create_task_message`: protocol 2 headers, properties and
body; kombu's Redis envelope: base64 body, delivery tag, delivery info) and handed to
`create.lua`, which LPUSHes it onto the queue and PUBLISHes its task-sent event in the same
atomic step as the execution it starts, and only when it creates that execution (a name
used again queues nothing). So a start is durable in the store exactly when its message is
queued, and a bulk start's batch is one round trip, messages included. What the workers
receive is what `send_task` would have queued (tests/test_direct_starts.py compares the
two and runs the executions on real workers).

Everything else keeps `send_task` (`DirectStarts.for_dispatcher` answers None, or
`eligible` False for that start): another broker (RabbitMQ, another Redis, a TLS or
sentinel URL), a store that is not one Redis server (a Redis Cluster), routing configured
in Celery (`task_routes`, `task_queues`), a dispatcher that overrides how it sends, a
Celery protocol or serializer other than 2 and JSON, a receiver of
`before_task_publish`/`after_task_publish` (tracing), publish options set on the
registered `sfn.step` task, and a start made from inside a Celery task (its message
carries the parent's ids).
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery, signals
from celery.utils.nodenames import anon_nodename
from celery.utils.time import utcoffset

from engine.broker import TRANSPORT
from engine.celery_app import STEP_TASK, CeleryDispatcher, argsrepr
from engine.runtime.messages import Message, display_name

#: kombu's JSON for the body and envelope (kombu.utils.json.dumps: json's defaults).
_dumps = json.JSONEncoder().encode
#: Celery's protocol 2 embed of a message without callbacks, chain or chord.
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'
#: The event exchange of Celery on Redis (celery.events.event.get_exchange: fanout).
_EVENT_EXCHANGE = "celeryev"
_SENT = "task-sent"


@dataclass(frozen=True)
class Wire:
    """What `create.lua` queues with an execution: the list it LPUSHes `payload` onto, and
    the PUB/SUB channels and payload of the task-sent event (none when events are off)."""

    queue_key: str
    payload: str
    event_topics: tuple[str, ...]
    event_payload: str

    def script_keys(self) -> list[str]:
        return [self.queue_key]

    def script_args(self) -> list[str]:
        args = [self.payload]
        for topic in self.event_topics:
            args += [topic, self.event_payload]
        return args


class DirectStarts:
    """Builds start messages as Celery's `send_task` would, for `create.lua` to queue."""

    def __init__(self, dispatcher: CeleryDispatcher, channel: Any) -> None:
        self.dispatcher = dispatcher
        self.app: Celery = dispatcher.app
        self._channel = channel
        # Celery's origin header and the event dispatcher's hostname: the same name.
        self._origin = anon_nodename()
        self._quoted_origin = _dumps(self._origin)
        self._pid = os.getpid()
        self._sent_event = bool(self.app.conf.task_send_sent_event)
        self._event_topics = tuple(channel._get_publish_topics(_EVENT_EXCHANGE, "task.sent"))
        self._queue_keys: dict[str, str] = {}

    @classmethod
    def for_dispatcher(cls, dispatcher: Any, store: Any) -> DirectStarts | None:
        """A DirectStarts when `dispatcher` publishes through the engine's transport to the
        Redis server and database `store` writes to, with Celery's default routing, protocol
        2 and JSON; else None (the caller keeps `send_task`)."""
        if not isinstance(dispatcher, CeleryDispatcher) or any(
            getattr(type(dispatcher), name) is not getattr(CeleryDispatcher, name)
            for name in ("send", "send_many", "_publish")
        ):
            return None  # a dispatcher that sends its own way is asked to send
        conf = dispatcher.app.conf
        if (
            conf.broker_transport != TRANSPORT
            or conf.task_protocol != 2
            or conf.task_serializer != "json"
            or conf.task_compression
            or conf.task_routes
            or conf.task_queues
            or conf.task_default_priority is not None
            or (conf.broker_transport_options or {}).get("global_keyprefix")
        ):
            return None
        where = _redis_location(getattr(store, "r", None))
        if where is None:
            return None
        connection = dispatcher.app.connection_for_write()
        if (connection.hostname, int(connection.port or 6379),
                int(connection.virtual_host or 0)) != where:
            connection.release()
            return None
        # kombu's own channel answers the queue key and the event channels (its key
        # prefixes, fanout patterns and database number): not computed here.
        return cls(dispatcher, connection.default_channel)

    def eligible(self) -> bool:
        """False when this start must go through `send_task` after all: someone listens to
        Celery's publish signals, the start is made inside a Celery task, or the registered
        `sfn.step` task carries publish options of its own."""
        return not (
            signals.before_task_publish.receivers
            or signals.after_task_publish.receivers
            or self.app.current_worker_task is not None
        ) and _default_task_options(self.app)

    def wire(self, message: Message) -> Wire:
        """The message, as the broker carries it, that starts `message`'s step.

        Field for field what `send_task` queues (Celery's `as_task_v2` with the options
        CeleryDispatcher gives, kombu's `Producer.publish` and the virtual channel's
        `basic_publish`), built here without their per-message machinery: a bulk start
        builds hundreds of these per round trip."""
        if os.getpid() != self._pid:  # forked since: the names carry the process id
            self._pid, self._origin = os.getpid(), anon_nodename()
            self._quoted_origin = _dumps(self._origin)
        queue = self.dispatcher.queue(message)
        task_id = _uuid()
        text = argsrepr(message)
        # The envelope's JSON with kombu's separators, its strings escaped by json: only
        # the task id, names, argsrepr and queue vary from one start to the next.
        shadow, quoted_text = _dumps(display_name(message)), _dumps(text)
        quoted_queue = _dumps(queue)
        body = f"[{_dumps([message])}, {{}}, {_EMBED}]"
        payload = (
            f'{{"body": "{base64.b64encode(body.encode()).decode()}", '
            f'"content-encoding": "utf-8", "content-type": "application/json", '
            f'"headers": {{"lang": "py", "task": "{STEP_TASK}", "id": "{task_id}", '
            f'"shadow": {shadow}, "eta": null, "expires": null, "group": null, '
            f'"group_index": null, "retries": 0, "timelimit": [null, null], '
            f'"root_id": "{task_id}", "parent_id": null, "argsrepr": {quoted_text}, '
            f'"kwargsrepr": "{{}}", "origin": {self._quoted_origin}, "ignore_result": null, '
            f'"replaced_task_nesting": 0, "stamped_headers": null, "stamps": {{}}}}, '
            f'"properties": {{"correlation_id": "{task_id}", '
            f'"reply_to": {_dumps(self.app.thread_oid)}, "argsrepr": {quoted_text}, '
            f'"kwargsrepr": "{{}}", "delivery_mode": 2, '
            f'"delivery_info": {{"exchange": "", "routing_key": {quoted_queue}}}, '
            f'"priority": 0, "body_encoding": "base64", "delivery_tag": "{_uuid()}"}}}}'
        )
        key = self._queue_keys.get(queue)
        if key is None:
            key = self._queue_keys[queue] = self._channel._q_for_pri(queue, 0)
        if not self._sent_event:
            return Wire(key, payload, (), "")
        # Celery's send_task_message and EventDispatcher.publish: the event names the
        # queue, the anonymous exchange and routing key, and carries the app's clock.
        event = (
            f'{{"hostname": {self._quoted_origin}, "utcoffset": {_dumps(utcoffset())}, '
            f'"pid": {self._pid}, "clock": {int(self.app.clock.forward())}, '
            f'"uuid": "{task_id}", "root_id": "{task_id}", "parent_id": null, '
            f'"name": "{STEP_TASK}", "args": {quoted_text}, "kwargs": "{{}}", "retries": 0, '
            f'"eta": null, "expires": null, "queue": {quoted_queue}, "exchange": "", '
            f'"routing_key": {quoted_queue}, "timestamp": {_dumps(time.time())}, '
            f'"type": "{_SENT}"}}'
        )
        event_payload = (
            f'{{"body": "{base64.b64encode(event.encode()).decode()}", '
            f'"content-encoding": "utf-8", "content-type": "application/json", '
            f'"headers": {{"hostname": {self._quoted_origin}}}, '
            f'"properties": {{"delivery_mode": 1, "delivery_info": {{"exchange": '
            f'"{_EVENT_EXCHANGE}", "routing_key": "task.sent"}}, "priority": 0, '
            f'"body_encoding": "base64", "delivery_tag": "{_uuid()}"}}}}'
        )
        return Wire(key, payload, self._event_topics, event_payload)


def _uuid() -> str:
    """A random (version 4) UUID's text, as `str(uuid.uuid4())` but without building the
    UUID object (a third of the time)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def _default_task_options(app: Celery) -> bool:
    """Whether `send_task` would add nothing of its own to an `sfn.step` message: the
    registered task (a worker's finalized app) sets no queue, priority, time limit or other
    publish option, JSON as serializer (send_task reads them from the registry at each
    send, so this is read at each start too)."""
    task = app._tasks.get(STEP_TASK)
    if task is None:
        return True
    options = {k: v for k, v in task._get_exec_options().items() if v is not None}
    return set(options) <= {"serializer"} and options.get("serializer", "json") == "json"


def _redis_location(client: Any) -> tuple[str, int, int] | None:
    """(host, port, db) of a redis-py client on one TCP server; None for anything else (a
    cluster, a unix socket, a TLS connection)."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict) or "host" not in kwargs or kwargs.get("ssl"):
        return None
    if getattr(pool, "connection_class", None).__name__ != "Connection":  # type: ignore[union-attr]
        return None
    return (str(kwargs["host"]), int(kwargs.get("port", 6379)), int(kwargs.get("db", 0)))
