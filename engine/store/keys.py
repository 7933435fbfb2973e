"""The Redis key schema, written once.

Every key of one execution carries the hash tag `{<eid>}` so that each atomic script touches
one Redis Cluster slot. Indexes across executions (`sfn:due`, `sfn:executions`, ...) are
kept outside those atomic steps and can be rebuilt from the executions.

    sfn:def:<sha>                 string  a definition's text (immutable, content-addressed)
    sfn:sm:<name>                 hash    a state machine: arn, definition, sha, type, ...
    sfn:sms                       zset    state machine names, by creation time
    sfn:x:{<eid>}:meta            hash    the execution record (status, input, output, ...)
    sfn:x:{<eid>}:hist            list    history events as JSON; event id = index + 1
    sfn:x:{<eid>}:run:<run>       hash    v (version), d (doc), p (phase), a (attempt),
                                          lo/lu (lease owner/until), st (TaskStarted logged
                                          for version)
    sfn:x:{<eid>}:join:<join>     hash    v, d: a Parallel/Map join document
    sfn:x:{<eid>}:items:<join>    hash    index -> child input (JSON)
    sfn:x:{<eid>}:res:<join>      hash    index -> child result (JSON)
    sfn:x:{<eid>}:outbox          hash    entry id -> message (JSON)
    sfn:x:{<eid>}:due             zset    entry id -> deadline (epoch s) for re-delivery
    sfn:x:{<eid>}:tasks           hash    TaskStarted event id -> Celery task id (written by
                                          the claim that appends the TaskStarted event)
    sfn:due                       zset    eid -> when the sweep should look at it next
    sfn:executions                zset    eid -> start time
    sfn:sm:<name>:executions      zset    eid -> start time
    sfn:recent                    zset    eid -> start time while running, stop time once
                                          finished: ListExecutions's order
    sfn:sm:<name>:recent          zset    the same for one state machine
    sfn:handlers                  hash    handler name -> queue, announced by workers
    sfn:workers                   zset    worker node name -> when its announcement expires
                                          (engine/fleet.py: the live workers)
    sfn:worker:<node>             string  JSON {handlers, queues, host, pid} of a live worker,
                                          with the same expiry
    sfn:metrics:<family>          hash    samples the workers recorded (engine/metrics.py),
                                          summed over every worker process: field = JSON
                                          array of the label values (a counter), or of the
                                          label values then a bucket's `le` or "sum" (a
                                          histogram); value = count or sum. Each worker
                                          process adds its increments every few seconds
                                          (HINCRBY/HINCRBYFLOAT); global, outside the
                                          executions' atomic steps.
"""

from __future__ import annotations

PREFIX = "sfn"


def definition(sha: str) -> str:
    return f"{PREFIX}:def:{sha}"


def state_machine(name: str) -> str:
    return f"{PREFIX}:sm:{name}"


def state_machines() -> str:
    return f"{PREFIX}:sms"


def sm_executions(name: str) -> str:
    return f"{PREFIX}:sm:{name}:executions"


def executions() -> str:
    return f"{PREFIX}:executions"


def recent(state_machine: str | None = None) -> str:
    """The executions by recency (of one state machine, or all): a running one scored by
    its start, a finished one by its stop, as AWS's ListExecutions orders them."""
    if state_machine is None:
        return f"{PREFIX}:recent"
    return f"{PREFIX}:sm:{state_machine}:recent"


def state_machine_of(eid: str) -> str:
    """The state machine an execution id belongs to (ids are `<machine>:<name>`, an EXPRESS
    execution's `<machine>:<name>:<id>`; names hold no colon)."""
    return eid.split(":", 1)[0]


def due_index() -> str:
    return f"{PREFIX}:due"


def handlers() -> str:
    return f"{PREFIX}:handlers"


def workers() -> str:
    return f"{PREFIX}:workers"


def worker(node: str) -> str:
    return f"{PREFIX}:worker:{node}"


def metrics(family: str) -> str:
    return f"{PREFIX}:metrics:{family}"


def _x(eid: str) -> str:
    return f"{PREFIX}:x:{{{eid}}}"


def meta(eid: str) -> str:
    return f"{_x(eid)}:meta"


def history(eid: str) -> str:
    return f"{_x(eid)}:hist"


def run(eid: str, run_id: str) -> str:
    return f"{_x(eid)}:run:{run_id}"


def join(eid: str, join_id: str) -> str:
    return f"{_x(eid)}:join:{join_id}"


def items(eid: str, join_id: str) -> str:
    return f"{_x(eid)}:items:{join_id}"


def results(eid: str, join_id: str) -> str:
    return f"{_x(eid)}:res:{join_id}"


def outbox(eid: str) -> str:
    return f"{_x(eid)}:outbox"


def outbox_due(eid: str) -> str:
    return f"{_x(eid)}:due"


def tasks(eid: str) -> str:
    return f"{_x(eid)}:tasks"


def doc(eid: str, kind: str, doc_id: str) -> str:
    return run(eid, doc_id) if kind == "run" else join(eid, doc_id)


def execution_pattern() -> str:
    """SCAN pattern of every execution record (to rebuild the indexes)."""
    return f"{PREFIX}:x:*:meta"
