"""The Map Run store's scripts on a real Redis (engine/store/map_runs.py): a record is
created once; admitting is a compare-and-set on the number admitted; a child is counted
once; a batch of results is trimmed only by the writer that read it."""

from __future__ import annotations

from typing import Any

import pytest

from engine.store.map_runs import RedisMapRuns

pytestmark = [pytest.mark.redis]


def test_created_once_admitted_by_compare_and_set_counted_once(redis_client: Any,
                                                               unique: str) -> None:
    mr = RedisMapRuns(redis_client)
    eid = f"M:{unique}"
    fields = {"arn": "a", "status": "RUNNING", "admitted": "0", "items": "0", "total": "-1",
              "succeeded": "0", "failed": "0", "results_written": "0"}
    assert mr.create(eid, "r1", fields, 1.0)
    assert not mr.create(eid, "r1", {**fields, "arn": "b"}, 2.0)
    assert mr.field(eid, "r1", "arn") == "a" and mr.parent_of("r1") == eid
    assert mr.admit(eid, "r1", 0, {"i": 3, "b": 30}, 3, None, [1, 1, 1]) == 1
    assert mr.admit(eid, "r1", 0, {"i": 3, "b": 30}, 3, None, [1, 1, 1]) == 0  # moved on
    assert mr.running(eid, "r1") == [0, 1, 2]
    assert mr.count(eid, "r1", 1, "succeeded", "1", None)
    assert not mr.count(eid, "r1", 1, "succeeded", "1", None)  # the same child again
    assert not mr.count(eid, "r1", 7, "succeeded", "7", None)  # never admitted
    counters = mr.counters(eid, "r1")
    assert counters is not None and counters["succeeded"] == "1"
    assert mr.results(eid, "r1", 3) == [None, 1, None]
    assert mr.finish(eid, "r1", "SUCCEEDED", 5.0, None, None)
    assert not mr.finish(eid, "r1", "FAILED", 6.0, "E", None)
    assert mr.admit(eid, "r1", 3, {"i": 4}, 4, None, [1]) == -1  # ended: admits nothing


def test_a_batch_of_results_is_trimmed_by_the_writer_that_read_it(redis_client: Any,
                                                                   unique: str) -> None:
    mr = RedisMapRuns(redis_client)
    eid = f"M:{unique}"
    mr.create(eid, "r2", {"status": "RUNNING", "admitted": "0", "results_written": "0"}, 1.0)
    mr.admit(eid, "r2", 0, {"i": 4}, 4, 4, [1, 1, 1, 1])
    for index in range(4):
        mr.count(eid, "r2", index, "succeeded", None, f'{{"n":{index}}}')
    assert mr.buffered(eid, "r2", 2) == ['{"n":0}', '{"n":1}']
    assert mr.flushed(eid, "r2", 2, [{"status": "SUCCEEDED", "Key": "k0", "Size": 1}], 0)
    # A second writer that read the same head before the trim: refused, nothing lost.
    assert not mr.flushed(eid, "r2", 2, [{"status": "SUCCEEDED", "Key": "k0", "Size": 1}], 0)
    assert mr.buffered(eid, "r2", 10) == ['{"n":2}', '{"n":3}']
    assert [f["Key"] for f in mr.files(eid, "r2")] == ["k0"]


def test_the_concurrency_default_and_the_deployments_cap() -> None:
    from engine.runtime.map_runs import _limit
    from engine.settings import Settings

    assert _limit({"max_concurrency": "0"}, 10_000) == 1000  # AWS's default
    assert _limit({"max_concurrency": "5000"}, 10_000) == 5000
    assert _limit({"max_concurrency": "5000"}, 2000) == 2000
    assert _limit({"max_concurrency": "0"}, 300) == 300
    settings = Settings.from_env({"SFN_MAP_RUN_MAX_CONCURRENCY": "7"})
    assert settings.driver_settings().map_run_max_concurrency == 7
