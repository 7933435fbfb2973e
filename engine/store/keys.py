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
                                          for version), cl (the version last claimed: a
                                          second claim of it re-runs the Task)
    sfn:x:{<eid>}:join:<join>     hash    v, d: a Parallel/Map join document
    sfn:x:{<eid>}:items:<join>    hash    index -> child input (JSON)
    sfn:x:{<eid>}:res:<join>      hash    index -> child result (JSON)
    sfn:x:{<eid>}:outbox          hash    entry id -> message (JSON)
    sfn:x:{<eid>}:due             zset    entry id -> deadline (epoch s) for re-delivery
    sfn:x:{<eid>}:stops           set     ids of the outbox entries that are `.sync` job stop
                                          requests (engine/runtime/job_stops.py): the
                                          closing commit, which clears the outbox, keeps them
    sfn:x:{<eid>}:tasks           hash    TaskStarted event id -> Celery task id (written by
                                          the claim that appends the TaskStarted event)
    sfn:x:{<eid>}:deliveries      hash    outbox entry id -> redeliveries counted (a message
                                          the sweep re-sent or the broker redelivered);
                                          "fault|<entry id>" -> the last engine exception
                                          its step raised (engine/runtime/poison.py); expires
                                          a week after its last write
    sfn:x:{<eid>}:keys            set     the execution's child keys (runs other than "0",
                                          joins, items, results), added by the commit that
                                          creates each; deleted by the sweep once the
                                          execution has ended
    sfn:x:{<eid>}:beats           hash    run -> JSON [task token, epoch s] of the last
                                          SendTaskHeartbeat for the callback that run waits
                                          on (engine/store/tokens.py). The token itself is no
                                          key: it carries (execution, run) and a secret that
                                          the run's snapshot holds (engine/runtime/
                                          callbacks.py), so answering needs no index.
    sfn:x:{<eid>}:parent          string  JSON {x, r, a, s}: the parent execution, run,
                                          attempt and `.sync` flag of a child execution a
                                          Task started (engine/runtime/nested.py)
    sfn:x:{<eid>}:children        set     ids of the child executions its Tasks started
    sfn:x:{<eid>}:mruns           zset    Map Run id -> start (epoch s): the Map Runs its
                                          Distributed Maps started (ListMapRuns)
    sfn:x:{<eid>}:mr:<id>         hash    a Map Run (engine/store/map_runs.py): its record
                                          (arn, status, counts, settings, the reader's
                                          position, never its items)
    sfn:x:{<eid>}:mr:<id>:run     set     indexes of its children admitted and not counted
    sfn:x:{<eid>}:mr:<id>:res     hash    index -> a child's result (no ResultWriter: the
                                          Map's output, at most 256 KiB in all)
    sfn:x:{<eid>}:mr:<id>:buf     list    result entries not yet written (ResultWriter)
    sfn:x:{<eid>}:mr:<id>:files   list    the result files written, as JSON
    sfn:x:{<eid>}:mr:<id>:items   list    the items a registered reader handler returned
                                          (JSON), read back by position
    sfn:x:{<eid>}:mr:<id>:lock    string  who admits children now (expires)
                                          A Map Run's keys carry its parent's hash tag: each
                                          of its scripts touches one slot.
    sfn:mr:<id>                   string  the parent execution id of Map Run <id> (from its ARN)
    sfn:act:{<name>}:rec          hash    an activity: name, arn, created (CreateActivity)
    sfn:act:{<name>}:q            list    the activity's tasks no poller has taken yet, as
                                          JSON {x, r, v, a, e} (execution, run, version,
                                          attempt, outbox entry id); pushed left, popped
                                          right by GetActivityTask (engine/store/activities.py)
    sfn:act:{<name>}:in           set     "<eid>|<entry id>" of each task in that list (a task
                                          is queued once)
    sfn:activities                zset    activity name -> creation time
    sfn:waiting                   zset    "<eid>|<run>|<kind>" -> since when: the Tasks
                                          waiting for a token, an activity worker or a child
                                          execution (kind callback|activity|child); an index
                                          for the metrics, updated after the commits, pruned
                                          of ended executions when read
    sfn:due                       zset    eid -> when the sweep should look at it next
    sfn:executions                zset    eid -> start time
    sfn:sm:<name>:executions      zset    eid -> start time
    sfn:recent                    zset    eid -> start time while running, stop time once
                                          finished: ListExecutions's order
    sfn:sm:<name>:recent          zset    the same for one state machine
    sfn:smv:{<name>}:versions     hash    version number -> JSON (definition sha, role,
                                          revision, description, creation date)
    sfn:smv:{<name>}:seq          string  the last version number given (never reused)
    sfn:smv:{<name>}:revisions    hash    revision -> the version published from it
    sfn:smv:{<name>}:aliases      hash    alias name -> JSON (description, routing as
                                          [[version, weight], ...], creation/update dates)
                                          The four keys of one machine share its hash tag:
                                          publishing, routing and deleting are each one
                                          Lua script over them (engine/store/redis_versions.py).
    sfn:ended                     zset    eid -> stop time: ended executions whose child keys
                                          the sweep has still to delete
    sfn:closed                    zset    eid -> stop time: ended executions, to drop from the
                                          indexes once their retention has passed (their
                                          record, history and task ids carry a Redis TTL
                                          set by the closing commit)
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


def _smv(name: str) -> str:
    return f"{PREFIX}:smv:{{{name}}}"


def versions(name: str) -> str:
    return f"{_smv(name)}:versions"


def version_seq(name: str) -> str:
    return f"{_smv(name)}:seq"


def version_revisions(name: str) -> str:
    return f"{_smv(name)}:revisions"


def aliases(name: str) -> str:
    return f"{_smv(name)}:aliases"


def due_index() -> str:
    return f"{PREFIX}:due"


def ended() -> str:
    return f"{PREFIX}:ended"


def closed() -> str:
    return f"{PREFIX}:closed"


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


def job_stops(eid: str) -> str:
    return f"{_x(eid)}:stops"


def tasks(eid: str) -> str:
    return f"{_x(eid)}:tasks"


def deliveries(eid: str) -> str:
    return f"{_x(eid)}:deliveries"


def child_keys(eid: str) -> str:
    return f"{_x(eid)}:keys"


def activity(name: str) -> str:
    return f"{PREFIX}:act:{{{name}}}:rec"


def activity_queue(name: str) -> str:
    return f"{PREFIX}:act:{{{name}}}:q"


def activity_queued(name: str) -> str:
    return f"{PREFIX}:act:{{{name}}}:in"


def activities() -> str:
    return f"{PREFIX}:activities"


def parent(eid: str) -> str:
    return f"{_x(eid)}:parent"


def children(eid: str) -> str:
    return f"{_x(eid)}:children"


def waiting() -> str:
    return f"{PREFIX}:waiting"


def heartbeats(eid: str) -> str:
    return f"{_x(eid)}:beats"


def map_runs(eid: str) -> str:
    return f"{_x(eid)}:mruns"


def map_run(eid: str, run_id: str, part: str = "") -> str:
    """A Map Run's record (`part` ""), or one of its parts: run, res, buf, files,
    items, lock."""
    base = f"{_x(eid)}:mr:{run_id}"
    return f"{base}:{part}" if part else base


def map_run_parent(run_id: str) -> str:
    return f"{PREFIX}:mr:{run_id}"


def doc(eid: str, kind: str, doc_id: str) -> str:
    return run(eid, doc_id) if kind == "run" else join(eid, doc_id)


def execution_pattern() -> str:
    """SCAN pattern of every execution record (to rebuild the indexes)."""
    return f"{PREFIX}:x:*:meta"
