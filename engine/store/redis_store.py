"""The Redis execution store. Key schema: `engine/store/keys.py`; atomic steps: `lua/*.lua`.

Every multi-key write of one execution is one Lua script over keys that share the
execution's hash tag. Global indexes (`sfn:due`, `sfn:executions`, ...) are updated in the
same round trip by pipelining, outside the atomic step: losing one of those updates costs a
delay (the recovery sweep's periodic look catches it), never a transition. How the scripts
and those updates are sent, to one Redis or a Redis Cluster: `engine/store/scripts.py`;
which client a REDIS_URL gives: `engine/store/redis_client.py`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from engine.asl.jsonvalues import storable
from engine.store import keys
from engine.store.base import (
    ChildStart,
    Claim,
    Commit,
    CommitResult,
    ExecutionRecord,
    LoadedRun,
    NewExecution,
    OutboxEntry,
    StateMachineRecord,
)
from engine.store.encoding import encode
from engine.store.listing import RedisListing
from engine.store.recovery import RedisRecovery
from engine.store.redis_client import client_from_url, is_cluster_url
from engine.store.redis_versions import RedisVersions
from engine.store.redrive import RedisRedrive
from engine.store.retention import WRITE_CHUNK, RetentionMixin
from engine.store.scripts import Lua, ScriptRunner, script_text
from engine.store.tokens import RedisHeartbeats

_dumps = encode


def _body(event: dict[str, Any]) -> str:
    """An event's JSON without its opening brace: the script prepends id and previous id."""
    return encode(event)[1:]


#: How long an execution with nothing pending stays between two looks of the sweep.
IDLE_LOOK_SECONDS = 60.0
#: A commit carrying more child inputs than this writes them ahead of its script.
ITEMS_IN_SCRIPT = 256
#: Items written ahead of a commit that never applied expire after this.
WRITE_AHEAD_TTL = 86400
#: AWS keeps a closed Standard execution 90 days.
DEFAULT_RETENTION_SECONDS = 90 * 86400.0


class RedisStore(
    RedisListing, RedisVersions, RetentionMixin, RedisHeartbeats, RedisRedrive, RedisRecovery
):
    def __init__(
        self,
        client: redis.Redis,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        oom_wait: float = 0.0,
        wait_replicas: int = 0,
        wait_ms: int = 1000,
    ) -> None:
        # Any: redis-py types replies as bytes | str; this client decodes (decode_responses).
        self.r: Any = client
        #: How long a closed execution stays readable (0: forever): its record, history
        #: and task ids get this TTL at the closing commit; the sweep drops it from the
        #: indexes afterwards (`prune_closed`).
        self.retention_seconds = retention_seconds
        #: Seconds a pipeline waits for memory while Redis answers OOM (0: fail at once).
        self.oom_wait = oom_wait
        self._commit = Lua("commit")
        self._claim = Lua("claim")
        self._extend = Lua("extend_lease")
        self._create = Lua("create")
        self._settle = Lua("outbox_settle")
        self._due_entries = client.register_script(script_text("due_entries"))
        self._due_executions = client.register_script(script_text("due_executions"))
        self._runner = ScriptRunner(
            client, [self._commit, self._claim, self._extend, self._create, self._settle],
            oom_wait=oom_wait, wait_replicas=wait_replicas, wait_ms=wait_ms,
        )

    def _pipeline(self, build: Callable[[Any], None], *, durable: bool = False) -> list[Any]:
        """Run the commands `build` queues in one round trip per node (engine/store/
        scripts.py); `durable`: a commit or a start, which WAITs for the replicas asked."""
        return self._runner.run(build, durable=durable)

    @property
    def retention_ttl(self) -> int:
        """The closing commit's EXPIRE, in whole seconds (at least 1; 0: none)."""
        if self.retention_seconds <= 0:
            return 0
        return max(1, math.ceil(self.retention_seconds))

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        outage_retries: int = 40,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        max_connections: int | None = None,
        pool_timeout: float = 5.0,
        retry_oom: bool = False,
        wait_replicas: int = 0,
        wait_ms: int = 1000,
    ) -> RedisStore:
        """A store on `url` that rides out a Redis restart: a command or pipeline that
        meets a dropped connection (or Redis still loading its AOF) is sent again with
        backoff, for about half a minute. Every script is safe to send twice: a repeated
        commit loses its compare-and-set, a repeated claim is the same owner's.

        `max_connections`: at most that many connections, a caller waiting up to
        `pool_timeout` seconds for a free one (then redis.ConnectionError "No connection
        available", which a server answers as throttling) instead of redis-py's default
        pool failing with MaxConnectionsError. `retry_oom`: an OOM answer (Redis full under
        noeviction) is retried with the same backoff, so a worker waits for memory to be
        freed instead of failing its step; a server answers it at once as throttling.
        `url` may name a Redis Cluster (engine/store/redis_client.py). `wait_replicas`:
        commits and starts WAIT for that many replicas (engine/store/scripts.py)."""
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), outage_retries)
        errors: list[type[Exception]] = [
            redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError,
        ]
        if retry_oom:
            errors.append(redis.OutOfMemoryError)
        options: dict[str, Any] = {
            "decode_responses": True,
            "retry": retry,
            "retry_on_error": errors,
            "health_check_interval": 30,
        }
        if max_connections is not None and not is_cluster_url(url):
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=pool_timeout, **options
            )
            client = redis.Redis(connection_pool=pool)
        else:
            # A cluster keeps a pool per node (redis-py's), of `max_connections` each.
            if max_connections is not None:
                options["max_connections"] = max_connections
            client = client_from_url(url, **options)
        return cls(
            client, retention_seconds=retention_seconds, oom_wait=60.0 if retry_oom else 0.0,
            wait_replicas=wait_replicas, wait_ms=wait_ms,
        )

    # --- definitions and state machines ---------------------------------------------

    def put_definition(self, text: str) -> str:
        from engine.asl.loader import definition_hash

        sha = definition_hash(text)
        self.r.set(keys.definition(sha), text)
        return sha

    def get_definition(self, sha: str) -> str | None:
        value = self.r.get(keys.definition(sha))
        return value if value is None else str(value)

    def put_state_machine(self, record: StateMachineRecord, *, create: bool) -> bool:
        fields = {
            "name": record.name,
            "arn": record.arn,
            "definition": record.definition,
            "definition_sha": record.definition_sha,
            "role_arn": record.role_arn,
            "type": record.type,
            "created": str(record.created),
            "updated": str(record.updated),
            "revision": str(record.revision),
            "tags": _dumps(record.tags),
            "status": record.status,
        }
        for member in ("logging", "tracing", "encryption"):
            if getattr(record, member) is not None:
                fields[member] = _dumps(getattr(record, member))
        key = keys.state_machine(record.name)
        if create:
            if not self.r.hsetnx(key, "name", record.name):
                return False
        self.r.hset(key, mapping=fields)
        self.r.zadd(keys.state_machines(), {record.name: record.created}, nx=True)
        return True

    def get_state_machine(self, name: str) -> StateMachineRecord | None:
        f = self.r.hgetall(keys.state_machine(name))
        if not f or "arn" not in f:
            return None
        return StateMachineRecord(
            name=f["name"],
            arn=f["arn"],
            definition=f["definition"],
            definition_sha=f["definition_sha"],
            role_arn=f.get("role_arn", ""),
            type=f.get("type", "STANDARD"),
            created=float(f["created"]),
            updated=float(f["updated"]),
            revision=int(f.get("revision", "1")),
            tags=json.loads(f.get("tags", "{}")),
            logging=json.loads(f["logging"]) if "logging" in f else None,
            tracing=json.loads(f["tracing"]) if "tracing" in f else None,
            encryption=json.loads(f["encryption"]) if "encryption" in f else None,
            status=f.get("status", "ACTIVE"),
        )

    def list_state_machines(self) -> list[StateMachineRecord]:
        names = self.r.zrange(keys.state_machines(), 0, -1)
        records = [self.get_state_machine(n) for n in names]
        return [r for r in records if r is not None]

    def delete_state_machine(self, name: str) -> bool:
        removed = self.r.delete(keys.state_machine(name))
        self.r.zrem(keys.state_machines(), name)
        self._drop_versions(name)
        return bool(removed)

    # --- executions ---------------------------------------------------------------

    def create_execution(
        self,
        record: ExecutionRecord,
        root: Any,
        events: list[dict[str, Any]],
        outbox: list[OutboxEntry],
    ) -> tuple[bool, ExecutionRecord]:
        return self.create_executions([NewExecution(record, root, events, outbox)])[0]

    def create_executions(
        self, batch: list[NewExecution], wires: list[Any] | None = None
    ) -> list[tuple[bool, ExecutionRecord]]:
        """One pipeline for the whole batch: each execution's create.lua (atomic for that
        execution) and its index updates. Those already there are read back afterwards.
        `wires`: each execution's start message for its broker queue on this Redis, queued
        by create.lua when it creates the execution (engine/direct_starts.py)."""

        def build(pipe: Any) -> None:
            for position, new in enumerate(batch):
                self._queue_create(pipe, new, wires[position] if wires else None)
            self._queue_start_indexes(pipe, batch)

        results = self._pipeline(build, durable=True)
        out: list[tuple[bool, ExecutionRecord]] = []
        for position, new in enumerate(batch):
            if int(results[position][0]) == 0:
                existing = self.get_execution(new.record.eid)
                assert existing is not None
                out.append((False, existing))
            else:
                out.append((True, new.record))
        return out

    def _queue_create(self, pipe: Any, new: NewExecution, wire: Any = None) -> None:
        record, root, events, outbox = new.record, new.root, new.events, new.outbox
        eid = record.eid
        entries = [[e.id, _dumps(e.message), e.deadline] for e in outbox]
        self._create.queue(
            pipe,
            [keys.meta(eid), keys.history(eid), keys.run(eid, root.id), keys.outbox(eid),
             keys.outbox_due(eid), *(wire.script_keys() if wire else ())],
            [_dumps({k: storable(v) for k, v in record.to_fields().items()}),
             _dumps(root.doc), _body(events[0]), _dumps(entries),
             *(wire.script_args() if wire else ())],
        )

    def _queue_start_indexes(self, pipe: Any, batch: list[NewExecution]) -> None:
        """The indexes of a batch of starts, in the same round trip: one ZADD per index for
        the whole batch. When an execution existed already these change nothing that
        matters: NX keeps the first start time, and an earlier look of the sweep at an
        execution finds nothing due."""
        if not batch:
            return
        started: dict[str, float] = {}
        by_machine: dict[str, dict[str, float]] = {}
        due: dict[str, float] = {}
        for new in batch:
            record = new.record
            started[record.eid] = record.start
            by_machine.setdefault(record.state_machine_name, {})[record.eid] = record.start
            due[record.eid] = min(
                (e.deadline for e in new.outbox), default=record.start + IDLE_LOOK_SECONDS
            )
        pipe.zadd(keys.executions(), started, nx=True)
        pipe.zadd(keys.recent(), started, nx=True)
        for machine, members in by_machine.items():
            pipe.zadd(keys.sm_executions(machine), members, nx=True)
            pipe.zadd(keys.recent(machine), members, nx=True)
        pipe.zadd(keys.due_index(), due, lt=True)

    def get_execution(self, eid: str) -> ExecutionRecord | None:
        fields = self.r.hgetall(keys.meta(eid))
        return ExecutionRecord.from_fields(fields) if fields else None

    def history(self, eid: str, start: int = 0, stop: int = -1) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.r.lrange(keys.history(eid), start, stop)]

    def history_length(self, eid: str) -> int:
        return int(self.r.llen(keys.history(eid)))

    # --- runs ---------------------------------------------------------------------

    def load_run(self, eid: str, run: str) -> LoadedRun | None:
        pipe = self.r.pipeline(transaction=False)
        pipe.hmget(keys.run(eid, run), "v", "d")
        pipe.llen(keys.history(eid))
        pipe.hmget(keys.meta(eid), "status", "stopping")
        (version, doc), length, (status, stopping) = pipe.execute()
        if version is None:
            return None
        return LoadedRun(
            int(version), json.loads(doc), int(length), status or "", stopping=bool(stopping)
        )

    def mark_stopping(self, eid: str) -> bool:
        # A flag beside the status, read by load_run in its one round trip; a stale flag
        # on an execution that ended meanwhile is never read again.
        if self.r.hget(keys.meta(eid), "status") != "RUNNING":
            return False
        self.r.hset(keys.meta(eid), "stopping", "1")
        return True

    def load_join(self, eid: str, join: str) -> tuple[int, dict[str, Any]] | None:
        version, doc = self.r.hmget(keys.join(eid, join), "v", "d")
        if version is None:
            return None
        return int(version), json.loads(doc)

    def load_item(self, eid: str, join: str, index: int) -> Any:
        value = self.r.hget(keys.items(eid, join), str(index))
        return None if value is None else json.loads(value)

    def load_child_start(self, eid: str, run: str, join: str, index: int) -> ChildStart:
        """One round trip for a Map iteration's or branch's start (it runs per item)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.exists(keys.run(eid, run))
        pipe.hget(keys.join(eid, join), "d")
        pipe.hget(keys.items(eid, join), str(index))
        pipe.llen(keys.history(eid))
        exists, join_doc, item, length = pipe.execute()
        return ChildStart(
            exists=bool(exists),
            join=None if join_doc is None else json.loads(join_doc),
            item=None if item is None else json.loads(item),
            history_length=int(length),
        )

    def load_results(self, eid: str, join: str, count: int) -> list[Any]:
        raw = self.r.hgetall(keys.results(eid, join))
        return [json.loads(raw[str(i)]) if str(i) in raw else None for i in range(count)]

    def load_unfinished_children(
        self, eid: str, join: str, launched: int
    ) -> list[tuple[int, int, dict[str, Any]]]:
        # Two round trips: which children have a result, then the others' documents.
        finished = {int(i) for i in self.r.hkeys(keys.results(eid, join))}
        indexes = [i for i in range(launched) if i not in finished]
        if not indexes:
            return []
        pipe = self.r.pipeline(transaction=False)
        for i in indexes:
            pipe.hmget(keys.run(eid, f"{join}/{i}"), "v", "d")
        found = []
        for i, (version, doc) in zip(indexes, pipe.execute(), strict=True):
            if version is not None:
                found.append((i, int(version), json.loads(doc)))
        return found

    def claim_task(
        self,
        eid: str,
        run: str,
        version: int,
        attempt: int,
        *,
        now: float,
        lease_until: float,
        owner: str,
        entry_id: str,
        started_event: dict[str, Any] | None,
        task_id: str | None = None,
        history_limit: int | None = None,
    ) -> Claim:
        def build(pipe: Any) -> None:
            self._claim.queue(
                pipe,
                [keys.run(eid, run), keys.meta(eid), keys.history(eid), keys.outbox_due(eid),
                 keys.tasks(eid)],
                [version, attempt, repr(now), repr(lease_until), owner, entry_id,
                 "" if started_event is None else _body(started_event), task_id or "",
                 "" if history_limit is None else str(history_limit)],
            )
            pipe.zadd(keys.due_index(), {eid: lease_until}, lt=True)

        result = self._pipeline(build)[0]
        if int(result[0]) == 0:
            return Claim(False, str(result[1]))
        loaded = LoadedRun(version, json.loads(result[1]), int(result[2]), str(result[3]),
                           reclaimed=len(result) > 4 and int(result[4]) == 1)
        return Claim(True, loaded=loaded)

    def task_ids(self, eid: str) -> dict[int, str]:
        return {int(k): str(v) for k, v in self.r.hgetall(keys.tasks(eid)).items()}

    def extend_lease(
        self, eid: str, run: str, version: int, *, owner: str, lease_until: float, entry_id: str
    ) -> bool:
        def build(pipe: Any) -> None:
            self._extend.queue(
                pipe,
                [keys.run(eid, run), keys.outbox_due(eid)],
                [version, owner, repr(lease_until), entry_id],
            )
            pipe.zadd(keys.due_index(), {eid: lease_until}, lt=True)

        return bool(self._pipeline(build)[0])

    def commit(self, eid: str, commit: Commit) -> CommitResult:
        key_list = [keys.meta(eid), keys.history(eid), keys.outbox(eid), keys.outbox_due(eid),
                    keys.tasks(eid), keys.child_keys(eid), keys.job_stops(eid)]
        argv: list[str] = [""]

        def key_index(key: str) -> int:
            key_list.append(key)
            return len(key_list)

        def arg(value: str) -> int:
            argv.append(value)
            return len(argv)

        new_keys: list[int] = []
        writes: list[list[Any]] = []
        for w in commit.writes:
            k = key_index(keys.doc(eid, w.kind, w.id))
            if w.expected == 0:
                new_keys.append(k)
            writes.append([k, w.expected, arg(_dumps(w.doc)), w.phase, w.attempt])
        first_event = len(argv) + 1
        for event in commit.events:
            arg(_body(event))
        claim = commit.claim if not commit.clear_outbox else None
        # The claimed Task's entry is due when its lease ends (as claim.lua pushes it).
        deadlines = [
            claim.lease_until if claim is not None and e.id == claim.entry_id else e.deadline
            for e in commit.outbox_add
        ]
        adds = [
            [arg(e.id), arg(_dumps(e.message)), repr(deadline)]
            for e, deadline in zip(commit.outbox_add, deadlines, strict=True)
        ]
        hashes: list[list[Any]] = []
        written_ahead: list[int] = []
        for join, by_index in commit.items.items():
            k = key_index(keys.items(eid, join))
            new_keys.append(k)
            if len(by_index) > ITEMS_IN_SCRIPT:
                # A big Map's items go in ahead, in chunks, so that neither this script nor
                # any one command holds Redis for long; the key expires unless the commit
                # applies (and PERSISTs it): a refused commit leaves nothing behind.
                self._write_ahead(keys.items(eid, join), by_index)
                written_ahead.append(k)
            else:
                hashes.extend([k, str(i), arg(_dumps(v))] for i, v in enumerate(by_index))
        for join, results in commit.results.items():
            k = key_index(keys.results(eid, join))
            new_keys.append(k)
            hashes.extend([k, str(i), arg(_dumps(v))] for i, v in results.items())
        header: dict[str, Any] = {
            "run": True,
            "w": writes,
            "ev": [first_event, len(commit.events)],
            "oa": adds,
            "orm": commit.outbox_remove,
            "hs": hashes,
            # Through the script's cjson, which refuses an escaped lone surrogate: such a
            # character (in an error, a cause, an output) is kept as its escape's text.
            "mt": {k: storable(str(v)) for k, v in commit.execution.items() if v is not None},
            "clr": commit.clear_outbox,
            "jr": [key_index(keys.join(eid, join)) for join in commit.joins_running],
            "nk": new_keys,
            "keep": written_ahead,
            "ttl": self.retention_ttl,
        }
        limit = commit.history_limit
        if limit is not None:
            header["cap"] = [
                limit.events,
                arg(_body(limit.failure)),
                {k: storable(str(v)) for k, v in limit.execution.items() if v is not None},
            ]
        claimed_write: tuple[int, str] | None = None  # (version, doc text)
        if claim is not None:
            for w, spec in zip(commit.writes, writes, strict=True):
                k, doc_arg = int(spec[0]), int(spec[2])
                if w.kind == "run" and w.id == claim.run:
                    claimed_write = (w.expected + 1, argv[doc_arg - 1])
                    header["cl"] = [
                        k, claim.owner, repr(claim.lease_until),
                        0 if claim.started_event is None else arg(_body(claim.started_event)),
                        claim.task_id or "", claim.history_limit or 0,
                    ]
        argv[0] = _dumps(header)
        soonest = min(deadlines) if commit.outbox_add else None

        stop = commit.execution.get("stop")

        def build(pipe: Any) -> None:
            self._commit.queue(pipe, key_list, argv)
            if soonest is not None:
                pipe.zadd(keys.due_index(), {eid: soonest}, lt=True)
            if stop is not None:
                # The execution ends: ListExecutions orders it by its stop time from now on.
                # In the commit's round trip, so that whoever sees it ended sees it listed
                # so; a refused final commit (a duplicate, an execution stopped meanwhile)
                # re-scores it by a time a few milliseconds off, which only the listing's
                # order reads.
                self._queue_closed(pipe, eid, float(stop))

        result = self._pipeline(build, durable=True)[0]
        if int(result[0]) == 0:
            return CommitResult(False, str(result[1]))
        if int(result[0]) == 2:
            # The history cap failed the execution instead: index it as ended (a second
            # round trip, once per execution at most).
            assert limit is not None
            pipe = self.r.pipeline(transaction=False)
            self._queue_closed(pipe, eid, float(limit.execution["stop"]))
            pipe.execute()
            return CommitResult(True, last_event_id=int(result[1]), capped=True)
        claimed = None
        if claimed_write is not None:
            version, text = claimed_write
            claimed = LoadedRun(version, json.loads(text), int(result[2]), "RUNNING")
        return CommitResult(True, last_event_id=int(result[1]), claimed=claimed)

    def _queue_closed(self, pipe: Any, eid: str, stop: float) -> None:
        """The indexes of an execution that ends: listed by its stop time; its child keys
        to delete; its entries to drop once the retention has passed."""
        for index in (keys.recent(), keys.recent(keys.state_machine_of(eid))):
            pipe.zadd(index, {eid: stop}, xx=True)
        pipe.zadd(keys.ended(), {eid: stop})
        pipe.zadd(keys.closed(), {eid: stop})

    def _write_ahead(self, key: str, values: list[Any]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for first in range(0, len(values), WRITE_CHUNK):
            chunk = values[first : first + WRITE_CHUNK]
            pipe.hset(key, mapping={str(first + i): _dumps(v) for i, v in enumerate(chunk)})
        pipe.expire(key, WRITE_AHEAD_TTL)
        pipe.execute()

    # --- handlers announced by workers --------------------------------------------

    def announce_handlers(self, names: dict[str, str]) -> None:
        if names:
            self.r.hset(keys.handlers(), mapping=names)

    def announced_handlers(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.r.hgetall(keys.handlers()).items()}
