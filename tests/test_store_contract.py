"""One contract, every store: the in-memory store passes the same suite as Redis.

The properties the durability contract rests on: compare-and-set on versions, atomic
commits (all or nothing), numbered history, outbox entries added/consumed/cleared with the
commit, idempotent creation, leases that one worker holds at a time, and a sweep that finds
due entries once per re-delivery interval.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.store.base import (
    Claim,
    ClaimNext,
    Commit,
    DocWrite,
    ExecutionRecord,
    OutboxEntry,
    Store,
)
from engine.store.memory import MemoryStore


@pytest.fixture(params=["memory", "redis", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    from engine.store.redis_store import RedisStore

    if request.param == "cluster":
        # The same contract on a Redis Cluster (redis-py's cluster client): every script
        # on one slot, the indexes across executions on whichever primary holds them.
        cluster = request.getfixturevalue("redis_cluster")
        c = RedisStore.from_url(cluster.url)
        c.r.flushdb(target_nodes="primaries")
        yield c
        c.r.flushdb(target_nodes="primaries")
        return
    server = request.getfixturevalue("redis_server")
    # A database of its own: flushing it must not wipe what the workers announced in db 0.
    s = RedisStore.from_url(server.url.rsplit("/", 1)[0] + "/15")
    s.r.flushdb()
    yield s
    s.r.flushdb()


def record(eid: str = "M:e1", status: str = "RUNNING") -> ExecutionRecord:
    return ExecutionRecord(
        eid=eid,
        arn=f"arn:aws:states:us-east-1:0:execution:{eid}",
        name=eid.split(":")[1],
        state_machine_arn="arn:aws:states:us-east-1:0:stateMachine:M",
        state_machine_name="M",
        definition_sha="abc",
        status=status,
        input='{"a":1}',
        start=1000.0,
    )


def entry(entry_id: str, deadline: float, kind: str = "task") -> OutboxEntry:
    return OutboxEntry(
        entry_id, {"k": kind, "x": "M:e1", "r": "0", "v": 1}, deadline, deadline, True
    )


def create(store: Store, eid: str = "M:e1", outbox: list[OutboxEntry] | None = None) -> None:
    created, _ = store.create_execution(
        record(eid),
        DocWrite("run", "0", 0, {"phase": "new"}, "new", 0),
        [{"timestamp": "t", "type": "ExecutionStarted"}],
        outbox or [],
    )
    assert created


def write(version: int, doc: dict[str, Any], phase: str = "ready", attempt: int = 0) -> DocWrite:
    return DocWrite("run", "0", version, doc, phase, attempt)


STARTED = {"timestamp": "t", "type": "TaskStarted"}


def claim(
    store: Store,
    version: int,
    *,
    now: float,
    until: float,
    owner: str,
    attempt: int = 0,
    started: dict[str, Any] | None = STARTED,
    task_id: str | None = None,
    entry: str = "t",
) -> Claim:
    """Claim run "0" of M:e1 for `owner` (outbox entry `entry`), as a worker would."""
    return store.claim_task(
        "M:e1",
        "0",
        version,
        attempt,
        now=now,
        lease_until=until,
        owner=owner,
        entry_id=entry,
        started_event=started,
        task_id=task_id,
    )


def test_create_is_idempotent_and_keeps_the_first(store: Store) -> None:
    create(store)
    created, existing = store.create_execution(
        record(), DocWrite("run", "0", 0, {"phase": "other"}, "new", 0), [{"type": "X"}], []
    )
    assert not created and existing.input == '{"a":1}'
    loaded = store.load_run("M:e1", "0")
    assert loaded is not None and loaded.version == 1 and loaded.doc == {"phase": "new"}
    assert [e["type"] for e in store.history("M:e1")] == ["ExecutionStarted"]


def test_commit_compares_versions_and_is_all_or_nothing(store: Store) -> None:
    create(store)
    ok = store.commit("M:e1", Commit(writes=[write(1, {"n": 1})], events=[{"type": "A"}]))
    assert ok.ok and ok.last_event_id == 2
    stale = store.commit(
        "M:e1",
        Commit(writes=[write(1, {"n": 99})], events=[{"type": "B"}], outbox_add=[entry("e", 5.0)]),
    )
    assert not stale.ok and stale.reason == "conflict"
    loaded = store.load_run("M:e1", "0")
    assert loaded is not None and loaded.version == 2 and loaded.doc == {"n": 1}
    assert [e["type"] for e in store.history("M:e1")] == ["ExecutionStarted", "A"]
    assert store.due_entries("M:e1", 10.0, 30.0)[0] == []


def test_history_is_numbered_with_previous_ids(store: Store) -> None:
    create(store)
    store.commit("M:e1", Commit(writes=[write(1, {})], events=[{"type": "A"}, {"type": "B"}]))
    history = store.history("M:e1")
    assert [(e["id"], e["previousEventId"], e["type"]) for e in history] == [
        (1, 0, "ExecutionStarted"),
        (2, 1, "A"),
        (3, 2, "B"),
    ]
    assert store.history_length("M:e1") == 3


def test_outbox_entries_are_added_consumed_and_cleared_with_commits(store: Store) -> None:
    create(store, outbox=[entry("first", 100.0)])
    store.commit(
        "M:e1",
        Commit(writes=[write(1, {})], outbox_add=[entry("second", 50.0)], outbox_remove=["first"]),
    )
    due, nxt, status = store.due_entries("M:e1", 60.0, 30.0)
    assert [e.id for e in due] == ["second"] and status == "RUNNING"
    assert nxt == 90.0  # its deadline moved on by the re-delivery interval
    assert store.due_entries("M:e1", 60.0, 30.0)[0] == []  # not sent twice in one interval
    store.commit(
        "M:e1", Commit(execution={"status": "SUCCEEDED", "output": "1"}, clear_outbox=True)
    )
    assert store.due_entries("M:e1", 10_000.0, 30.0)[0] == []


def test_a_closing_commit_clears_the_outbox_but_keeps_its_own_entries(store: Store) -> None:
    """The stop requests of the jobs an execution's end abandons (engine/runtime/
    job_stops.py) are committed with the end, and the sweep sends them afterwards."""
    create(store, outbox=[entry("task", 100.0)])
    # A branch's commit abandoned a job earlier: its stop request survives the end too.
    assert store.commit("M:e1", Commit(writes=[write(1, {})], outbox_add=[
        entry("job_stop|1|0|0|a", 150.0, kind="job_stop")])).ok
    done = store.commit("M:e1", Commit(
        execution={"status": "ABORTED", "stop": 1.0}, clear_outbox=True,
        outbox_add=[entry("job_stop|0|0|0|b", 200.0, kind="job_stop")]))
    assert done.ok
    due, nxt, status = store.due_entries("M:e1", 10_000.0, 30.0)
    assert sorted(e.id for e in due) == ["job_stop|0|0|0|b", "job_stop|1|0|0|a"]
    assert status == "ABORTED"
    assert store.due_executions(20_000.0, 10, 30.0) == ["M:e1"]
    # Settled, a request is no longer kept by a clear.
    store.settle_outbox("M:e1", add=[], remove=["job_stop|1|0|0|a"])
    assert [e.id for e in store.due_entries("M:e1", 20_000.0, 30.0)[0]] == ["job_stop|0|0|0|b"]


def test_outbox_entries_of_an_ended_execution_are_settled(store: Store) -> None:
    create(store)
    assert store.commit("M:e1", Commit(execution={"status": "ABORTED"}, clear_outbox=True)).ok
    store.settle_outbox("M:e1", add=[entry("job_stop|0", 100.0, kind="job_stop")], remove=[])
    assert [e.id for e in store.due_entries("M:e1", 150.0, 30.0)[0]] == ["job_stop|0"]
    store.settle_outbox("M:e1", add=[entry("job_stop|1", 300.0, kind="job_stop")],
                        remove=["job_stop|0"])
    assert store.due_entries("M:e1", 250.0, 30.0)[0] == []
    assert [e.id for e in store.due_entries("M:e1", 350.0, 30.0)[0]] == ["job_stop|1"]
    store.settle_outbox("M:e1", add=[], remove=["job_stop|1"])
    assert store.due_entries("M:e1", 10_000.0, 30.0) == ([], None, "ABORTED")


def test_nothing_commits_once_the_execution_has_ended(store: Store) -> None:
    create(store)
    assert store.commit("M:e1", Commit(execution={"status": "ABORTED"}, clear_outbox=True)).ok
    refused = store.commit("M:e1", Commit(writes=[write(1, {"late": True})]))
    assert not refused.ok
    assert store.get_execution("M:e1").status == "ABORTED"  # type: ignore[union-attr]


def test_a_lease_is_held_by_one_worker_until_it_expires(store: Store) -> None:
    create(store)
    store.commit(
        "M:e1",
        Commit(
            writes=[write(1, {"task": {}}, phase="task", attempt=0)],
            outbox_add=[entry("t", 1030.0)],
        ),
    )
    a = claim(store, 2, now=1000.0, until=1020.0, owner="a")
    assert a.ok
    b = claim(store, 2, now=1005.0, until=1025.0, owner="b")
    assert not b.ok and b.reason == "leased"
    assert store.extend_lease("M:e1", "0", 2, owner="a", lease_until=1040.0, entry_id="t")
    assert not claim(store, 2, now=1030.0, until=1050.0, owner="b").ok
    assert a.loaded is not None and not a.loaded.reclaimed
    taken = claim(store, 2, now=1041.0, until=1061.0, owner="b")
    assert taken.ok
    # The same version claimed again: a re-run (its first run may have made its call).
    assert taken.loaded is not None and taken.loaded.reclaimed
    assert [e["type"] for e in store.history("M:e1")].count("TaskStarted") == 1
    stale = claim(store, 1, now=1041.0, until=1061.0, owner="c")
    assert not stale.ok and stale.reason == "stale"


def test_a_commit_can_claim_the_task_it_schedules_in_the_same_step(store: Store) -> None:
    create(store)
    store.commit("M:e1", Commit(writes=[write(1, {"n": 1}, phase="ready")]))
    result = store.commit(
        "M:e1",
        Commit(
            writes=[write(2, {"task": {"input": 1}}, phase="task", attempt=0)],
            events=[{"type": "TaskStateEntered"}, {"type": "TaskScheduled"}],
            outbox_add=[entry("t", 1030.0)],
            claim=ClaimNext(
                run="0", entry_id="t", owner="a", lease_until=1020.0,
                started_event=STARTED, task_id="celery-1",
            ),
        ),
    )
    assert result.ok and result.last_event_id == 3
    claimed = result.claimed
    assert claimed is not None and claimed.version == 3
    assert claimed.doc == {"task": {"input": 1}} and claimed.history_length == 4
    assert [e["type"] for e in store.history("M:e1")] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
    ]
    assert store.history("M:e1")[3]["previousEventId"] == 3
    assert store.task_ids("M:e1") == {4: "celery-1"}
    # Leased to "a" until 1020 (another worker is refused), the entry due at the lease's end.
    assert claim(store, 3, now=1010.0, until=1040.0, owner="b").reason == "leased"
    entries, _, _ = store.due_entries("M:e1", 1025.0, 30.0)
    assert [e.id for e in entries] == ["t"]
    # After the lease, another worker takes it over without a second TaskStarted: a re-run.
    assert not claimed.reclaimed
    again = claim(store, 3, now=1021.0, until=1041.0, owner="b")
    assert again.ok and again.loaded is not None and again.loaded.reclaimed
    assert [e["type"] for e in store.history("M:e1")].count("TaskStarted") == 1


def test_a_refused_commit_claims_nothing(store: Store) -> None:
    create(store)
    result = store.commit(
        "M:e1",
        Commit(
            writes=[write(5, {}, phase="task")],
            outbox_add=[entry("t", 1030.0)],
            claim=ClaimNext(run="0", entry_id="t", owner="a", lease_until=1020.0,
                            started_event=STARTED),
        ),
    )
    assert not result.ok and result.claimed is None
    assert [e["type"] for e in store.history("M:e1")] == ["ExecutionStarted"]


def test_a_claim_with_the_commit_keeps_under_the_history_cap(store: Store) -> None:
    create(store)
    result = store.commit(
        "M:e1",
        Commit(
            writes=[write(1, {}, phase="task")],
            events=[{"type": "TaskScheduled"}],
            outbox_add=[entry("t", 1030.0)],
            claim=ClaimNext(run="0", entry_id="t", owner="a", lease_until=1020.0,
                            started_event=STARTED, history_limit=3),
        ),
    )
    # TaskStarted would be event 3, the cap: it is not logged (the completion meets the cap).
    assert result.ok and result.claimed is not None and result.claimed.history_length == 2
    assert [e["type"] for e in store.history("M:e1")] == ["ExecutionStarted", "TaskScheduled"]


def test_a_new_version_releases_the_lease(store: Store) -> None:
    create(store)
    store.commit("M:e1", Commit(writes=[write(1, {}, phase="task")]))
    assert claim(store, 2, now=0.0, until=100.0, owner="a").ok
    store.commit("M:e1", Commit(writes=[write(2, {}, phase="task", attempt=0)]))
    assert claim(store, 3, now=1.0, until=100.0, owner="b").ok


def test_the_claim_that_logs_task_started_records_the_celery_task_id(store: Store) -> None:
    create(store)
    create(store, "M:e2")
    assert store.task_ids("M:e1") == {} and store.task_ids("M:nope") == {}
    store.commit("M:e1", Commit(writes=[write(1, {"task": {}}, phase="task")]))
    # Refused claims record nothing.
    assert not claim(store, 1, now=0.0, until=20.0, owner="a", task_id="stale").ok
    assert claim(store, 2, now=0.0, until=20.0, owner="a", task_id="celery-1").ok
    # TaskStarted is event 2 (after ExecutionStarted): its id maps to the Celery task.
    assert [e["type"] for e in store.history("M:e1")] == ["ExecutionStarted", "TaskStarted"]
    assert store.task_ids("M:e1") == {2: "celery-1"}
    # The same version claimed again (a re-delivery after the lease ran out) logs no second
    # TaskStarted, so it records no second id either.
    assert claim(store, 2, now=30.0, until=50.0, owner="b", task_id="celery-2").ok
    assert store.task_ids("M:e1") == {2: "celery-1"}
    # The next attempt's TaskStarted gets its own entry; a claim without a task id (the
    # inline runner) or without a TaskStarted (a DISTRIBUTED Map iteration) records none.
    store.commit(
        "M:e1",
        Commit(
            writes=[write(2, {"task": {}}, phase="task", attempt=1)],
            events=[{"type": "TaskFailed"}],
        ),
    )
    assert claim(
        store, 3, attempt=1, now=60.0, until=80.0, owner="a", entry="t2", task_id="celery-3"
    ).ok
    store.commit("M:e1", Commit(writes=[write(3, {"task": {}}, phase="task", attempt=2)]))
    assert claim(store, 4, attempt=2, now=90.0, until=99.0, owner="a", entry="t3").ok
    store.commit("M:e1", Commit(writes=[write(4, {"task": {}}, phase="task", attempt=3)]))
    assert claim(
        store,
        5,
        attempt=3,
        now=90.0,
        until=99.0,
        owner="a",
        entry="t4",
        started=None,
        task_id="quiet",
    ).ok
    assert [e["type"] for e in store.history("M:e1")].count("TaskStarted") == 3
    assert store.task_ids("M:e1") == {2: "celery-1", 4: "celery-3"}
    assert store.task_ids("M:e2") == {}


def test_joins_results_and_items(store: Store) -> None:
    create(store)
    store.commit(
        "M:e1",
        Commit(
            writes=[write(1, {}), DocWrite("join", "j", 0, {"status": "running"})],
            items={"j": [{"i": 0}, {"i": 1}]},
        ),
    )
    assert store.load_item("M:e1", "j", 1) == {"i": 1}
    assert store.load_join("M:e1", "j") == (1, {"status": "running"})
    store.commit(
        "M:e1",
        Commit(
            writes=[DocWrite("join", "j", 1, {"status": "done"})], results={"j": {1: "b", 0: "a"}}
        ),
    )
    assert store.load_results("M:e1", "j", 2) == ["a", "b"]
    assert not store.commit("M:e1", Commit(writes=[DocWrite("join", "j", 1, {})])).ok


def test_due_executions_are_claimed_once_and_rescheduled(store: Store) -> None:
    create(store, outbox=[entry("first", 100.0)])
    assert store.due_executions(50.0, 10, 30.0) == []
    assert store.due_executions(100.0, 10, 30.0) == ["M:e1"]
    assert store.due_executions(100.0, 10, 30.0) == []  # claimed by the first sweeper
    store.reschedule_execution("M:e1", 110.0)
    assert store.due_executions(115.0, 10, 30.0) == ["M:e1"]
    store.reschedule_execution("M:e1", None)
    assert store.due_executions(10_000.0, 10, 30.0) == []


def test_listing_executions_newest_first(store: Store) -> None:
    for i, start in enumerate([3.0, 1.0, 2.0]):
        r = record(f"M:e{i}")
        r.start = start
        store.create_execution(r, DocWrite("run", "0", 0, {}, "new", 0), [{"type": "S"}], [])
    assert [r.name for r in store.list_executions("M", 0, 10)] == ["e0", "e2", "e1"]
    assert [r.name for r in store.list_executions(None, 1, 1)] == ["e2"]
    assert store.count_executions("M") == 3


def test_a_child_commits_only_while_its_join_is_running(store: Store) -> None:
    create(store)
    store.commit("M:e1", Commit(writes=[write(1, {}), DocWrite("join", "j", 0, {}, "running")]))
    child = DocWrite("run", "0/j/0", 0, {"step": 1}, "ready", 0)
    assert store.commit("M:e1", Commit(writes=[child], joins_running=["j"])).ok
    store.commit("M:e1", Commit(writes=[DocWrite("join", "j", 1, {}, "failed")]))
    late = DocWrite("run", "0/j/0", 1, {"step": 2}, "ready", 0)
    refused = store.commit(
        "M:e1", Commit(writes=[late], events=[{"type": "X"}], joins_running=["j"])
    )
    assert not refused.ok and refused.reason == "aborted"
    loaded = store.load_run("M:e1", "0/j/0")
    assert loaded is not None and loaded.doc == {"step": 1}
    assert "X" not in [e["type"] for e in store.history("M:e1")]


def test_a_commit_may_start_thousands_of_children(store: Store) -> None:
    create(store)
    many = [entry(f"start-{i}", 500.0 + i) for i in range(5000)]
    assert store.commit(
        "M:e1", Commit(writes=[write(1, {})], outbox_add=many, events=[{"type": "E"}] * 3000)
    ).ok
    due, _, _ = store.due_entries("M:e1", 10_000.0, 30.0, 10_000)  # type: ignore[call-arg]
    assert len(due) == 5000
    assert store.history_length("M:e1") == 3001
    assert store.commit(
        "M:e1", Commit(writes=[write(2, {})], outbox_remove=[e.id for e in many])
    ).ok
    assert store.due_entries("M:e1", 10_000.0, 30.0)[0] == []


def test_a_child_start_is_read_in_one_go(store: Store) -> None:
    create(store)
    store.commit(
        "M:e1",
        Commit(
            writes=[write(1, {}), DocWrite("join", "j", 0, {"status": "running"}, "running")],
            items={"j": [{"i": 0}, {"i": 1}]},
        ),
    )
    start = store.load_child_start("M:e1", "0/j/1", "j", 1)
    assert not start.exists and start.join == {"status": "running"}
    assert start.item == {"i": 1} and start.history_length == 1
    store.commit("M:e1", Commit(writes=[DocWrite("run", "0/j/1", 0, {}, "ready", 0)]))
    assert store.load_child_start("M:e1", "0/j/1", "j", 1).exists
    assert store.load_child_start("M:e1", "0/j/2", "nope", 2).join is None


def test_unfinished_children_are_the_started_ones_without_a_result(store: Store) -> None:
    create(store)
    store.commit(
        "M:e1",
        Commit(
            writes=[
                DocWrite("join", "j", 0, {"status": "running"}, "running"),
                *(DocWrite("run", f"j/{i}", 0, {"run": f"j/{i}"}, "task", 0) for i in range(3)),
            ]
        ),
    )
    # j/3 was launched but has not started (no document); j/1 finished (a result).
    store.commit("M:e1", Commit(writes=[DocWrite("run", "j/0", 1, {"run": "j/0", "n": 2})],
                                results={"j": {1: "done"}}))
    found = store.load_unfinished_children("M:e1", "j", 4)
    assert found == [(0, 2, {"run": "j/0", "n": 2}), (2, 1, {"run": "j/2"})]
    assert store.load_unfinished_children("M:e1", "j", 0) == []


def _three_executions(store: Store) -> None:
    """e0 started at 1, e1 at 2, e2 at 3; e0 then stops at 10."""
    for i in range(3):
        r = record(f"M:e{i}")
        r.start = float(i + 1)
        store.create_execution(r, DocWrite("run", "0", 0, {}, "new", 0), [{"type": "S"}], [])
    stop = {"status": "SUCCEEDED", "stop": 10.0}
    assert store.commit("M:e0", Commit(execution=stop, clear_outbox=True)).ok


def test_listing_orders_a_finished_execution_by_its_stop(store: Store) -> None:
    # AWS's ListExecutions: running ones by startDate, the others by stopDate, newest first.
    _three_executions(store)
    assert [r.name for r in store.list_executions("M", 0, 10)] == ["e0", "e2", "e1"]
    first = store.list_executions_after("M", None, 2, by_recency=True)
    assert [r.name for r in first] == ["e0", "e2"]
    after = (first[-1].recency, first[-1].eid)
    assert [r.name for r in store.list_executions_after(None, after, 2, by_recency=True)] == [
        "e1"
    ]
    # By start (what the metrics tally reads to find new executions): unchanged.
    assert [r.name for r in store.list_executions_after("M", None, 9)] == ["e2", "e1", "e0"]


@pytest.mark.redis
def test_a_store_without_the_recency_index_fills_it_in(redis_url: str) -> None:
    from engine.store import keys
    from engine.store.redis_store import RedisStore

    store = RedisStore.from_url(redis_url.rsplit("/", 1)[0] + "/14")
    store.r.flushdb()
    try:
        _three_executions(store)
        store.r.delete(keys.recent(), keys.recent("M"))  # as an earlier version left it
        assert [r.name for r in store.list_executions("M", 0, 10)] == ["e0", "e2", "e1"]
        assert [r.name for r in store.list_executions(None, 0, 10)] == ["e0", "e2", "e1"]
    finally:
        store.r.flushdb()


# --- versions and aliases ----------------------------------------------------------------


def version_doc(revision: int) -> dict[str, Any]:
    return {"definition_sha": f"sha{revision}", "role_arn": "r", "revision": revision,
            "description": None, "created": 1000.0 + revision}


def alias_doc(*routes: tuple[int, int]) -> dict[str, Any]:
    return {"description": None, "routing": [list(r) for r in routes], "created": 1.0,
            "updated": 1.0}


def test_a_revision_is_published_once_and_numbers_are_never_reused(store: Store) -> None:
    assert store.publish_version("M", 1, version_doc(1), 10) == (1, True)
    assert store.publish_version("M", 1, version_doc(1), 10) == (1, False)
    assert store.publish_version("M", 2, version_doc(2), 10) == (2, True)
    assert [n for n, _ in store.list_versions("M")] == [2, 1]
    assert store.get_version("M", 1) == version_doc(1)
    assert store.delete_version("M", 2)
    assert store.get_version("M", 2) is None
    # Revision 2 published again after its version was deleted: a new number.
    assert store.publish_version("M", 2, version_doc(2), 10) == (3, True)
    assert store.list_versions("Other") == []


def test_version_quota(store: Store) -> None:
    assert store.publish_version("M", 1, version_doc(1), 1) == (1, True)
    assert store.publish_version("M", 2, version_doc(2), 1) == (0, False)


def test_an_alias_routes_only_to_existing_versions_and_pins_them(store: Store) -> None:
    store.publish_version("M", 1, version_doc(1), 10)
    store.publish_version("M", 2, version_doc(2), 10)
    assert store.put_alias("M", "live", alias_doc((1, 100)), create=False, limit=5) == "not_found"
    assert store.put_alias("M", "live", alias_doc((3, 100)), create=True, limit=5) == (
        "missing_version:3")
    assert store.get_alias("M", "live") is None
    assert store.put_alias("M", "live", alias_doc((1, 90), (2, 10)), create=True, limit=5) == "ok"
    assert store.put_alias("M", "live", alias_doc((1, 100)), create=True, limit=5) == "exists"
    assert store.put_alias("M", "beta", alias_doc((2, 100)), create=True, limit=1) == "quota"
    assert store.get_alias("M", "live") == alias_doc((1, 90), (2, 10))
    assert not store.delete_version("M", 2)  # routed to: kept
    assert store.get_version("M", 2) is not None
    assert store.put_alias("M", "live", alias_doc((1, 100)), create=False, limit=5) == "ok"
    assert store.delete_version("M", 2)
    assert [a for a, _ in store.list_aliases("M")] == ["live"]
    assert store.delete_alias("M", "live") and not store.delete_alias("M", "live")
    assert store.delete_version("M", 1)


def test_deleting_a_state_machine_drops_its_versions_and_aliases(store: Store) -> None:
    from engine.store.base import StateMachineRecord

    store.put_state_machine(
        StateMachineRecord("M", "arn", "{}", "sha", "r", "STANDARD", 1.0, 1.0), create=True)
    store.publish_version("M", 1, version_doc(1), 10)
    store.put_alias("M", "live", alias_doc((1, 100)), create=True, limit=5)
    store.delete_state_machine("M")
    assert store.list_versions("M") == [] and store.list_aliases("M") == []
    assert store.publish_version("M", 1, version_doc(1), 10) == (1, True)
