"""AWS's service quotas that bound one execution, as AWS reports them.

History: a Standard execution's history holds at most 25,000 events. AWS's history of an
execution that reaches it (observed): events 1..24,999 are the execution's own, event
25,000 is `ExecutionFailed` with error `States.Runtime` and cause "The execution reached the
maximum number of history events (25000)." The store applies the cap inside the commit that
would reach it (see engine/store/base.py, HistoryLimit), so it holds under any concurrency
(branches and iterations commit in parallel) and costs no extra round trip.

AWS has no such cap for EXPRESS executions (their history goes to CloudWatch Logs only);
this engine keeps every execution's history in Redis, so it caps them the same way.
"""

from __future__ import annotations

from engine.asl import errors
from engine.interpreter import history as h
from engine.interpreter.types import epoch_millis, iso_timestamp
from engine.store.base import HistoryLimit


def history_cause(limit: int) -> str:
    return f"The execution reached the maximum number of history events ({limit})."


def history_limit(limit: int, now: float) -> HistoryLimit | None:
    """The cap a commit made at `now` carries (None when `limit` is 0: no cap)."""
    if limit <= 0:
        return None
    cause = history_cause(limit)
    return HistoryLimit(
        events=limit,
        failure=h.execution_failed(iso_timestamp(now), errors.RUNTIME, cause),
        execution={
            "status": "FAILED", "error": errors.RUNTIME, "cause": cause,
            "stop": epoch_millis(now),
        },
    )
