"""The joins of Parallel and Map states, on the driver's side.

A join is opened by the parent's commit (its children's first start messages in the same
outbox); each finishing child updates it in its own commit (its result, the next child to
launch under MaxConcurrency, and, once the join closes, the message that wakes the parent);
a child that fails the join stops its running siblings in that same commit. The decisions
are the interpreter's (`engine/interpreter/join.py`, `abort_child`); this module reads the
store and puts the writes, events and messages into the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from engine.asl.model import StateMachine
from engine.interpreter import abort_child, child_template
from engine.interpreter.join import child_finished, open_join, result_of
from engine.interpreter.types import (
    ChildrenFailed,
    ChildrenSucceeded,
    Occurrence,
    StartChildren,
    Transition,
    iso_timestamp,
)
from engine.runtime import job_stops, messages
from engine.runtime.messages import Message
from engine.store.base import Commit, DocWrite, ExecutionRecord, OutboxEntry, Store


class Joins:
    def __init__(
        self,
        store: Store,
        machine: Callable[[str], StateMachine],
        entry: Callable[[Message, float], OutboxEntry],
    ) -> None:
        self.store = store
        self.machine = machine  # definition hash -> StateMachine (the driver's cache)
        self.entry = entry  # a message -> its outbox entry, sent now
        #: The `.sync` jobs of the siblings the commit being built aborts (per thread).
        self._local = threading.local()

    def take_abandoned(self) -> list[tuple[str, str, Any]]:
        """(run, resource, job) of the jobs the last built commit abandons; forgets them."""
        found: list[tuple[str, str, Any]] = getattr(self._local, "abandoned", [])
        self._local.abandoned = []
        return found

    def open(
        self,
        eid: str,
        version: int,
        doc: dict[str, Any],
        command: StartChildren,
        commit: Commit,
        now: float,
        sm: str,
    ) -> list[OutboxEntry]:
        """The parent's commit opens the join, keeps the children's inputs beside it and
        starts the first children (MaxConcurrency of them, or all)."""
        template = child_template(doc, command)
        join_doc, first = open_join(command, template)
        join_doc["parent_version"] = version
        commit.writes.append(DocWrite("join", command.join, 0, join_doc, join_doc["status"]))
        commit.items[command.join] = command.inputs
        return [self.child_start(eid, command.join, i, now, sm) for i in first]

    def child_start(self, eid: str, join: str, index: int, now: float, sm: str) -> OutboxEntry:
        msg = messages.make("start", eid, f"{join}/{index}", 0, j=join, i=index, m=sm)
        return self.entry(msg, now)

    def finish_child(
        self,
        eid: str,
        parent: dict[str, Any],
        tr: Transition,
        commit: Commit,
        now: float,
        record: ExecutionRecord,
    ) -> list[OutboxEntry]:
        """A child's last commit: its result into the join, and the messages that follow
        (the next child to start; the parent's wake-up once the join has closed)."""
        assert tr.outcome is not None
        join = parent["join"]
        loaded_join = self.store.load_join(eid, join)
        if loaded_join is None:
            return []
        join_version, join_doc = loaded_join
        new_join, launch, parent_occurrence = child_finished(join_doc, tr.outcome)
        if new_join is join_doc:  # the join had already closed: nothing to record
            return []
        if isinstance(parent_occurrence, ChildrenFailed):
            new_join["error"] = parent_occurrence.error
            new_join["cause"] = parent_occurrence.cause
        commit.writes.append(DocWrite("join", join, join_version, new_join, new_join["status"]))
        commit.results[join] = {parent["index"]: result_of(tr.outcome)}
        if isinstance(parent_occurrence, ChildrenFailed):
            self.abort_siblings(eid, join, join_doc, parent["index"], commit, now, record)
        sm = record.state_machine_name
        entries = [self.child_start(eid, join, i, now, sm) for i in launch]
        if parent_occurrence is not None:
            msg = messages.make(
                "join", eid, join_doc["parent_run"], join_doc["parent_version"], j=join,
                s=join_doc["state"], m=sm,
            )
            entries.append(self.entry(msg, now))
        return entries

    def abort_siblings(
        self,
        eid: str,
        join: str,
        join_doc: dict[str, Any],
        failed_index: int,
        commit: Commit,
        now: float,
        record: ExecutionRecord,
    ) -> None:
        """This child failed its Parallel or Map: stop the siblings still running in the
        same commit, with their *Aborted events, their snapshots done and their pending
        messages consumed. Each is written under compare-and-set: a sibling that moved
        meanwhile makes the commit conflict, and the step builds it again from fresh
        reads."""
        machine = self.machine(record.definition_sha)
        timestamp = iso_timestamp(now)
        for index, version, doc in self.store.load_unfinished_children(
            eid, join, join_doc["launched"]
        ):
            stopped = None if index == failed_index else abort_child(machine, doc, timestamp)
            if stopped is None:
                continue
            sibling, events = stopped
            waited = job_stops.waited_job(doc)
            abandoned = self._local.__dict__.setdefault("abandoned", [])
            if waited is not None:
                abandoned.append((doc["run"], waited[0], waited[1]))
            abandoned.extend(job_stops.children_jobs(self.store, eid, doc))
            commit.writes.append(DocWrite("run", doc["run"], version, sibling, "done"))
            commit.events.extend(events)
            commit.outbox_remove.extend(doc.get("outbox", []))
            nested = doc.get("join") if doc.get("phase") == "children" else None
            loaded = self.store.load_join(eid, nested) if nested else None
            if nested and loaded is not None and loaded[1]["status"] == "running":
                # The sibling's own Parallel/Map: its children stop at their next commit
                # (they commit only while their join runs) and start no more.
                aborted = {**loaded[1], "status": "aborted"}
                commit.writes.append(DocWrite("join", nested, loaded[0], aborted, "aborted"))

    def occurrence(self, eid: str, join: str) -> Occurrence | None:
        """What the parent's wake-up delivers: the results, or the failure; None while
        the join still runs (a duplicate or early message)."""
        loaded = self.store.load_join(eid, join)
        if loaded is None:
            return None
        _, doc = loaded
        if doc["status"] == "failed":
            return ChildrenFailed(doc.get("error"), doc.get("cause"))
        if doc["status"] == "succeeded":
            return ChildrenSucceeded(self.store.load_results(eid, join, doc["total"]))
        return None
