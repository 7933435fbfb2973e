"""The redrive's atomic step, the same in both stores (engine/store/redrive.py): all of the
plan or none of it, refused when the record or a document moved since the plan was made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.store import keys
from engine.store.base import Commit, DocWrite, OutboxEntry, Store
from engine.store.redrive import RedrivePlan
from tests.test_store_contract import create, store, write  # noqa: F401


def failed(store: Store) -> None:  # noqa: F811
    create(store)
    assert store.commit("M:e1", Commit(
        writes=[write(1, {"phase": "done", "failed": "T"}, "done")],
        events=[{"timestamp": "t", "type": "ExecutionFailed"}],
        results={"0/P#2.0": {0: "kept", 1: {"Error": "E"}}},
        execution={"status": "FAILED", "error": "E", "cause": "c", "stop": 2000.0},
        clear_outbox=True,
    )).ok


def plan(version: int = 2, count: int = 0) -> RedrivePlan:
    message = {"k": "resume", "x": "M:e1", "r": "0", "v": version + 1}
    return RedrivePlan(
        status="FAILED", redrive_count=count, stopped_after=1500.0,
        event={"timestamp": "t2", "type": "ExecutionRedriven",
               "executionRedrivenEventDetails": {"redriveCount": count + 1}},
        writes=[DocWrite("run", "0", version, {"phase": "ready", "state": "T"}, "ready", 0)],
        forget={"0/P#2.0": [1]},
        outbox=[OutboxEntry("resume|0|3||", message, 2100.0, 2130.0, True)],
        execution={"status": "RUNNING", "redrive_count": count + 1, "redrive_date": 2100.0},
    )


@pytest.fixture
def ended(store: Store) -> Iterator[Store]:  # noqa: F811
    failed(store)
    yield store


def test_a_redrive_reopens_the_execution_in_one_step(ended: Store) -> None:
    done = ended.redrive("M:e1", plan())
    assert done.ok and done.event_id == 3
    record = ended.get_execution("M:e1")
    assert record is not None
    assert (record.status, record.redrive_count, record.redrive_date) == ("RUNNING", 1, 2100.0)
    assert record.stop is None and record.error is None and record.cause is None
    events = ended.history("M:e1")
    assert [e["type"] for e in events] == ["ExecutionStarted", "ExecutionFailed",
                                           "ExecutionRedriven"]
    assert events[-1]["id"] == 3 and events[-1]["previousEventId"] == 2
    loaded = ended.load_run("M:e1", "0")
    assert loaded is not None and loaded.version == 3 and loaded.doc["phase"] == "ready"
    assert ended.load_results("M:e1", "0/P#2.0", 2) == ["kept", None]
    entries, _, _ = ended.due_entries("M:e1", 2200.0, 30.0)
    assert [e.id for e in entries] == ["resume|0|3||"]
    r = getattr(ended, "r", None)
    if r is not None:  # Redis: the closing commit's TTL (the retention) is gone
        for key in (keys.meta("M:e1"), keys.history("M:e1")):
            assert r.ttl(key) == -1


def test_a_second_redrive_from_the_same_record_is_refused(ended: Store) -> None:
    assert ended.redrive("M:e1", plan()).ok
    again = ended.redrive("M:e1", plan())
    assert not again.ok
    assert len(ended.history("M:e1")) == 3


def test_a_moved_document_or_an_expired_window_refuses_it_all(ended: Store) -> None:
    stale = ended.redrive("M:e1", plan(version=1))
    assert not stale.ok and stale.reason == "conflict"
    late = plan()
    late.stopped_after = 2500.0  # the execution stopped at 2000: past the window
    assert not ended.redrive("M:e1", late).ok
    record = ended.get_execution("M:e1")
    assert record is not None and (record.status, record.redrive_count) == ("FAILED", 0)
    assert len(ended.history("M:e1")) == 2
    assert ended.load_results("M:e1", "0/P#2.0", 2) == ["kept", {"Error": "E"}]


@pytest.mark.parametrize("store", ["redis", "cluster"], indirect=True)  # where Map Runs live
def test_a_map_run_is_reopened_in_the_same_step(ended: Store) -> None:
    """Redis (where Map Runs live): the Map Run's failed children become pending redrive,
    its failure counters and failed results go, MapRunRedriven follows ExecutionRedriven;
    all of it or none."""
    from engine.store.map_runs import RedisMapRuns
    from engine.store.redrive import MapRunReopen

    r = ended.r  # type: ignore[attr-defined]  # a RedisStore
    mr = RedisMapRuns(r, 60.0)
    mr.create("M:e1", "mr1", {"status": "RUNNING", "admitted": "0", "bytes": "0",
                              "succeeded": "0", "failed": "0", "aborted": "0"}, 1.0)
    assert mr.admit("M:e1", "mr1", 0, {"i": 4}, 4, 4, [1, 1, 1, 1]) == 1
    assert mr.count("M:e1", "mr1", 0, "succeeded", '"ok"', None)
    assert mr.count("M:e1", "mr1", 1, "failed", '{"Error":"E"}', None, redrives=0)
    assert mr.count("M:e1", "mr1", 2, "aborted", '{"Error":null}', None, redrives=0)
    assert mr.finish("M:e1", "mr1", "FAILED", 5.0, "States.ExceedToleratedFailureThreshold", "")
    made = plan()
    made.more_events.append({"timestamp": "t2", "type": "MapRunRedriven",
                             "mapRunRedrivenEventDetails": {"mapRunArn": "a", "redriveCount": 1}})
    made.map_runs.append(MapRunReopen("mr1", {"status": "RUNNING", "redrive_count": "1"}))
    # A Map Run still running refuses the plan: nothing written.
    r.hset(keys.map_run("M:e1", "mr1"), "status", "RUNNING")
    assert not ended.redrive("M:e1", made).ok
    assert len(ended.history("M:e1")) == 2
    r.hset(keys.map_run("M:e1", "mr1"), "status", "FAILED")

    done = ended.redrive("M:e1", made)
    assert done.ok and done.event_id == 4
    assert [e["type"] for e in ended.history("M:e1")][-2:] == ["ExecutionRedriven",
                                                               "MapRunRedriven"]
    c = mr.counters("M:e1", "mr1")
    assert c is not None
    assert (c["status"], c["redrive_count"], c["succeeded"], c["failed"], c["aborted"]) == (
        "RUNNING", "1", "1", "0", "0")
    assert "stop" not in c and "error" not in c
    assert mr.pending_redrive("M:e1", "mr1", 10) == [(1, 0), (2, 0)]
    assert mr.pending_redrive_totals("M:e1", "mr1") == (2, 2)
    assert mr.results("M:e1", "mr1", 4) == ["ok", None, None, None]
    assert c["bytes"] == str(len('"ok"') + 1)
    assert r.ttl(keys.map_run("M:e1", "mr1")) == -1  # the finish's expiry is gone
    # Marked running (redriven), or refused (it counts as that failure again), once each.
    assert mr.redriven("M:e1", "mr1", 1) and not mr.redriven("M:e1", "mr1", 1)
    assert mr.running("M:e1", "mr1") == [1, 3]
    assert mr.redriven("M:e1", "mr1", 2, refused="aborted")
    c = mr.counters("M:e1", "mr1")
    assert c is not None and (c["aborted"], c["not_redrivable"]) == ("1", "1")
    assert mr.pending_redrive_count("M:e1", "mr1") == 0
