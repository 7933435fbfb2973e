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
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery, signals
from celery.events.event import Event
from celery.utils.nodenames import anon_nodename
from celery.utils.time import utcoffset

from engine.broker import TRANSPORT
from engine.celery_app import STEP_TASK, CeleryDispatcher, argsrepr
from engine.runtime.messages import Message, display_name

#: kombu's JSON for the body and envelope (kombu.utils.json.dumps: json's defaults).
_dumps = json.JSONEncoder(ensure_ascii=False).encode
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
        self._origin = anon_nodename()
        self._hostname = anon_nodename()
        self._pid = os.getpid()
        self._sent_event = bool(self.app.conf.task_send_sent_event)
        self._event_topics = tuple(channel._get_publish_topics(_EVENT_EXCHANGE, "task.sent"))

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
        """The message, as the broker carries it, that starts `message`'s step."""
        queue = self.dispatcher.queue(message)
        task_id = str(uuid.uuid4())
        text = argsrepr(message)
        headers, properties, body, sent = self.app.amqp.create_task_message(
            task_id, STEP_TASK, [message], {}, None, None, None, None, None, 0, None,
            None, None, self.app.thread_oid, None, None, self._sent_event, None, None,
            display_name(message), None, ignore_result=None,
            argsrepr=text, kwargsrepr="{}", origin=self._origin,
        )
        # kombu's Producer.publish and the virtual channel's basic_publish: JSON body in
        # base64, the options Celery passes through as properties, persistent delivery,
        # priority 0, then the delivery tag and, the anonymous exchange, the queue's name.
        properties.update(
            argsrepr=text, kwargsrepr="{}", delivery_mode=2,
            delivery_info={"exchange": "", "routing_key": queue}, priority=0,
            body_encoding="base64", delivery_tag=str(uuid.uuid4()),
        )
        envelope = {
            "body": base64.b64encode(_dumps(body).encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": properties,
        }
        channel = self._channel
        key = channel._q_for_pri(queue, channel._get_message_priority(envelope, reverse=False))
        if sent is None:
            return Wire(key, _dumps(envelope), (), "")
        # Celery's send_task_message and EventDispatcher.publish: the event names the
        # queue, the anonymous exchange and routing key, and carries the app's clock.
        sent.update(queue=queue, exchange="", routing_key=queue)
        event = Event(_SENT, hostname=self._hostname, utcoffset=utcoffset(), pid=self._pid,
                      clock=self.app.clock.forward(), **sent)
        event_envelope = {
            "body": base64.b64encode(_dumps(event).encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"hostname": self._hostname},
            "properties": {
                "delivery_mode": 1,
                "delivery_info": {"exchange": _EVENT_EXCHANGE, "routing_key": "task.sent"},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        return Wire(key, _dumps(envelope), self._event_topics, _dumps(event_envelope))


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
