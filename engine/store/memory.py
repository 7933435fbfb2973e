"""An in-process store with the same contract as the Redis one.

Used by the inline runner (conformance, TestState, tests of the driver): the same driver and
interpreter run over it without Redis or Celery. It passes the same contract tests as
`RedisStore` (tests/test_store_contract.py). Values are kept as JSON text, as in Redis, so
no caller can share mutable state with the store by accident.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from engine.store.base import (
    ChildStart,
    Claim,
    Commit,
    CommitResult,
    DocWrite,
    ExecutionRecord,
    LoadedRun,
    NewExecution,
    OutboxEntry,
    StateMachineRecord,
)
from engine.store.memory_versions import MemoryVersions
from engine.store.redrive import MemoryRedrive
from engine.store.tokens import MemoryHeartbeats


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Execution:
    def __init__(self, record: ExecutionRecord) -> None:
        self.record = record
        self.history: list[str] = []
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.hashes: dict[str, dict[str, str]] = {}
        self.outbox: dict[str, str] = {}
        self.due: dict[str, float] = {}
        #: TaskStarted event id -> Celery task id
        self.task_ids: dict[int, str] = {}
        #: its state machine is being deleted (mark_stopping)
        self.stopping = False


def _clear_outbox(x: _Execution) -> None:
    """The execution ended: drop its outbox but the `.sync` job stop requests."""
    for entry_id in [i for i in x.outbox if not i.startswith("job_stop|")]:
        del x.outbox[entry_id]
        x.due.pop(entry_id, None)


class MemoryStore(MemoryVersions, MemoryHeartbeats, MemoryRedrive):
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._definitions: dict[str, str] = {}
        self._machines: dict[str, StateMachineRecord] = {}
        self._executions: dict[str, _Execution] = {}
        self._due_index: dict[str, float] = {}

    # --- definitions and state machines ---------------------------------------------

    def put_definition(self, text: str) -> str:
        from engine.asl.loader import definition_hash

        sha = definition_hash(text)
        self._definitions[sha] = text
        return sha

    def get_definition(self, sha: str) -> str | None:
        return self._definitions.get(sha)

    def put_state_machine(self, record: StateMachineRecord, *, create: bool) -> bool:
        with self._lock:
            if create and record.name in self._machines:
                return False
            self._machines[record.name] = record
            return True

    def get_state_machine(self, name: str) -> StateMachineRecord | None:
        return self._machines.get(name)

    def list_state_machines(self) -> list[StateMachineRecord]:
        return sorted(self._machines.values(), key=lambda r: r.created)

    def delete_state_machine(self, name: str) -> bool:
        self._drop_versions(name)
        return self._machines.pop(name, None) is not None

    # --- executions ---------------------------------------------------------------

    def create_execution(
        self,
        record: ExecutionRecord,
        root: DocWrite,
        events: list[dict[str, Any]],
        outbox: list[OutboxEntry],
    ) -> tuple[bool, ExecutionRecord]:
        with self._lock:
            existing = self._executions.get(record.eid)
            if existing is not None:
                return False, ExecutionRecord(**existing.record.__dict__)
            x = _Execution(ExecutionRecord(**record.__dict__))
            x.docs[("run", root.id)] = {
                "v": 1, "d": _dumps(root.doc), "p": "new", "a": 0, "lo": None, "lu": 0.0,
                "st": None,
            }
            self._append(x, events)
            for e in outbox:
                x.outbox[e.id] = _dumps(e.message)
                x.due[e.id] = e.deadline
            self._executions[record.eid] = x
            self._due_index[record.eid] = min(
                (e.deadline for e in outbox), default=record.start + 60.0
            )
            return True, record

    def create_executions(
        self, batch: list[NewExecution]
    ) -> list[tuple[bool, ExecutionRecord]]:
        return [self.create_execution(n.record, n.root, n.events, n.outbox) for n in batch]

    def get_execution(self, eid: str) -> ExecutionRecord | None:
        x = self._executions.get(eid)
        return None if x is None else ExecutionRecord(**x.record.__dict__)

    def list_executions(
        self, state_machine: str | None, offset: int, limit: int
    ) -> list[ExecutionRecord]:
        records = [
            x.record
            for x in self._executions.values()
            if state_machine is None or x.record.state_machine_name == state_machine
        ]
        records.sort(key=lambda r: r.recency, reverse=True)
        return [ExecutionRecord(**r.__dict__) for r in records[offset : offset + limit]]

    def list_executions_after(
        self,
        state_machine: str | None,
        after: tuple[float, str] | None,
        limit: int,
        *,
        by_recency: bool = False,
    ) -> list[ExecutionRecord]:
        with self._lock:
            records = [
                x.record
                for x in self._executions.values()
                if state_machine is None or x.record.state_machine_name == state_machine
            ]

        def key(r: ExecutionRecord) -> tuple[float, str]:
            return (r.recency if by_recency else r.start, r.eid)

        records.sort(key=key, reverse=True)
        if after is not None:
            records = [r for r in records if key(r) < after]
        return [ExecutionRecord(**r.__dict__) for r in records[:limit]]

    def count_executions(self, state_machine: str | None) -> int:
        return len(self.list_executions(state_machine, 0, 10**9))

    def history(self, eid: str, start: int = 0, stop: int = -1) -> list[dict[str, Any]]:
        x = self._executions.get(eid)
        if x is None:
            return []
        end = None if stop == -1 else stop + 1
        return [json.loads(e) for e in x.history[start:end]]

    def history_length(self, eid: str) -> int:
        x = self._executions.get(eid)
        return 0 if x is None else len(x.history)

    @staticmethod
    def _append(x: _Execution, events: list[dict[str, Any]]) -> int:
        for event in events:
            n = len(x.history) + 1
            x.history.append(_dumps({"id": n, "previousEventId": n - 1, **event}))
        return len(x.history)

    # --- runs ---------------------------------------------------------------------

    def load_run(self, eid: str, run: str) -> LoadedRun | None:
        x = self._executions.get(eid)
        d = None if x is None else x.docs.get(("run", run))
        if x is None or d is None:
            return None
        return LoadedRun(
            d["v"], json.loads(d["d"]), len(x.history), x.record.status, stopping=x.stopping
        )

    def mark_stopping(self, eid: str) -> bool:
        with self._lock:
            x = self._executions.get(eid)
            if x is None or x.record.status != "RUNNING":
                return False
            x.stopping = True
            return True

    def load_join(self, eid: str, join: str) -> tuple[int, dict[str, Any]] | None:
        x = self._executions.get(eid)
        d = None if x is None else x.docs.get(("join", join))
        return None if d is None else (d["v"], json.loads(d["d"]))

    def load_item(self, eid: str, join: str, index: int) -> Any:
        value = self._executions[eid].hashes.get(f"items:{join}", {}).get(str(index))
        return None if value is None else json.loads(value)

    def load_child_start(self, eid: str, run: str, join: str, index: int) -> ChildStart:
        found = self.load_join(eid, join)
        return ChildStart(
            exists=self.load_run(eid, run) is not None,
            join=None if found is None else found[1],
            item=self.load_item(eid, join, index) if eid in self._executions else None,
            history_length=self.history_length(eid),
        )

    def load_results(self, eid: str, join: str, count: int) -> list[Any]:
        raw = self._executions[eid].hashes.get(f"res:{join}", {})
        return [json.loads(raw[str(i)]) if str(i) in raw else None for i in range(count)]

    def load_unfinished_children(
        self, eid: str, join: str, launched: int
    ) -> list[tuple[int, int, dict[str, Any]]]:
        x = self._executions[eid]
        finished = x.hashes.get(f"res:{join}", {})
        found = []
        for i in range(launched):
            d = x.docs.get(("run", f"{join}/{i}"))
            if str(i) not in finished and d is not None:
                found.append((i, d["v"], json.loads(d["d"])))
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
        with self._lock:
            x = self._executions.get(eid)
            if x is None or x.record.status != "RUNNING":
                return Claim(False, "execution is not running")
            d = x.docs.get(("run", run))
            if d is None or d["v"] != version or d["p"] != "task" or d["a"] != attempt:
                return Claim(False, "stale")
            if d["lo"] not in (None, owner) and d["lu"] > now:
                return Claim(False, "leased")
            d["lo"], d["lu"] = owner, lease_until
            reclaimed = d.get("cl") == version
            d["cl"] = version
            if entry_id in x.due:
                x.due[entry_id] = lease_until
            room = history_limit is None or len(x.history) + 1 < history_limit
            if d["st"] != version and started_event is not None and room:
                d["st"] = version
                started_id = self._append(x, [started_event])
                if task_id:
                    x.task_ids[started_id] = task_id
            self._due_index[eid] = min(self._due_index.get(eid, lease_until), lease_until)
            loaded = LoadedRun(version, json.loads(d["d"]), len(x.history), x.record.status,
                               reclaimed=reclaimed)
            return Claim(True, loaded=loaded)

    def task_ids(self, eid: str) -> dict[int, str]:
        with self._lock:
            x = self._executions.get(eid)
            return {} if x is None else dict(x.task_ids)

    def extend_lease(
        self, eid: str, run: str, version: int, *, owner: str, lease_until: float, entry_id: str
    ) -> bool:
        with self._lock:
            x = self._executions.get(eid)
            d = None if x is None else x.docs.get(("run", run))
            if x is None or d is None or d["v"] != version or d["lo"] != owner:
                return False
            d["lu"] = lease_until
            if entry_id in x.due:
                x.due[entry_id] = lease_until
            return True

    def commit(self, eid: str, commit: Commit) -> CommitResult:
        with self._lock:
            x = self._executions.get(eid)
            if x is None or x.record.status != "RUNNING":
                status = None if x is None else x.record.status
                return CommitResult(False, f"execution is {status}")
            for w in commit.writes:
                current = x.docs.get((w.kind, w.id))
                if (current["v"] if current else 0) != w.expected:
                    return CommitResult(False, "conflict")
            for join in commit.joins_running:
                current = x.docs.get(("join", join))
                if current is None or current["p"] != "running":
                    return CommitResult(False, "aborted")
            limit = commit.history_limit
            if limit is not None and len(x.history) + len(commit.events) >= limit.events:
                keep = max(0, min(len(commit.events), limit.events - 1 - len(x.history)))
                self._append(x, commit.events[:keep])
                last = self._append(x, [limit.failure])
                _clear_outbox(x)
                for field, value in limit.execution.items():
                    setattr(x.record, field, value)
                return CommitResult(True, last_event_id=last, capped=True)
            for w in commit.writes:
                current = x.docs.get((w.kind, w.id)) or {"lo": None, "lu": 0.0, "st": None}
                current.update(v=w.expected + 1, d=_dumps(w.doc), p=w.phase, a=w.attempt)
                current.update(lo=None, lu=0.0)  # a lease is held on one version only
                x.docs[(w.kind, w.id)] = current
            last = self._append(x, commit.events)
            if commit.clear_outbox:
                _clear_outbox(x)
            else:
                for entry_id in commit.outbox_remove:
                    x.outbox.pop(entry_id, None)
                    x.due.pop(entry_id, None)
            self._add_entries(eid, x, commit.outbox_add)
            for join, inputs in commit.items.items():
                h = x.hashes.setdefault(f"items:{join}", {})
                h.update({str(i): _dumps(v) for i, v in enumerate(inputs)})
            for join, results in commit.results.items():
                h = x.hashes.setdefault(f"res:{join}", {})
                h.update({str(i): _dumps(v) for i, v in results.items()})
            for field, value in commit.execution.items():
                if value is not None:
                    setattr(x.record, field, value)
            claimed = None
            if commit.claim is not None:
                claimed = self._claim_written(eid, commit)
            return CommitResult(True, last_event_id=last, claimed=claimed)

    def _claim_written(self, eid: str, commit: Commit) -> LoadedRun | None:
        """The commit's `ClaimNext`, inside the commit's lock (the run it just wrote)."""
        c = commit.claim
        assert c is not None
        write = next((w for w in commit.writes if w.kind == "run" and w.id == c.run), None)
        if write is None:
            return None
        claim = self.claim_task(
            eid, c.run, write.expected + 1, write.attempt, now=c.lease_until,
            lease_until=c.lease_until, owner=c.owner, entry_id=c.entry_id,
            started_event=c.started_event, task_id=c.task_id, history_limit=c.history_limit,
        )
        return claim.loaded

    # --- recovery -----------------------------------------------------------------

    def due_executions(self, now: float, limit: int, claim_for: float) -> list[str]:
        with self._lock:
            ids = sorted((t, e) for e, t in self._due_index.items() if t <= now)[:limit]
            for _, eid in ids:
                self._due_index[eid] = now + claim_for
            return [eid for _, eid in ids]

    def due_entries(
        self, eid: str, now: float, redeliver_after: float, limit: int = 100
    ) -> tuple[list[OutboxEntry], float | None, str]:
        with self._lock:
            x = self._executions.get(eid)
            if x is None:
                return [], None, ""
            due_ids = sorted((t, i) for i, t in x.due.items() if t <= now)[:limit]
            entries = []
            for _, entry_id in due_ids:
                x.due[entry_id] = now + redeliver_after
                message = json.loads(x.outbox[entry_id])
                entries.append(OutboxEntry(entry_id, message, now, now + redeliver_after, True))
            nxt = min(x.due.values(), default=None)
            return entries, nxt, x.record.status

    def _add_entries(self, eid: str, x: _Execution, entries: list[OutboxEntry]) -> None:
        for e in entries:
            x.outbox[e.id] = _dumps(e.message)
            x.due[e.id] = e.deadline
        if entries:
            soonest = min(e.deadline for e in entries)
            self._due_index[eid] = min(self._due_index.get(eid, soonest), soonest)

    def settle_outbox(
        self, eid: str, *, add: list[OutboxEntry], remove: list[str]
    ) -> None:
        with self._lock:
            x = self._executions.get(eid)
            if x is None:
                return
            for entry_id in remove:
                x.outbox.pop(entry_id, None)
                x.due.pop(entry_id, None)
            self._add_entries(eid, x, add)

    def reschedule_execution(self, eid: str, when: float | None) -> None:
        with self._lock:
            if when is None:
                self._due_index.pop(eid, None)
            else:
                self._due_index[eid] = min(self._due_index.get(eid, when), when)

    def next_due(self) -> float | None:
        """The earliest pending deadline of any execution (for the inline runner's clock)."""
        return min(self._due_index.values(), default=None)

    def running_execution_ids(self) -> list[str]:
        return list(self._executions)
