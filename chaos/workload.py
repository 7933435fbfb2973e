"""The chaos workload: five state machines, their handlers, and the inputs of a run.

Workers import this module (SFN_HANDLER_MODULES=chaos.workload), which registers the
handlers below. Every handler is a deterministic function of its input and of the attempt
number (`context.attempt`): a handler told `"fail": 2` raises `Chaos.Transient` on attempts 0
and 1 and succeeds on attempt 2, and the state's Retry allows exactly that. So the outcome of
every execution without faults is known in advance (`chaos.checks` computes it with the
in-process InlineRunner and these same pure functions).

What the workers run is the pure function wrapped by `_observed`: it records each start and
end in the ledger (a separate Redis the harness never kills, see `chaos.ledger`), so handler
re-runs and the time a killed Task takes to run again can be measured, and it sleeps `ms`
milliseconds so that worker kills land in the middle of handlers.

Machines (JSONPath, all end SUCCEEDED without faults):

    ChaosFlaky     Task (fails 0-2 times, Retry) -> Wait (0-3 s, sometimes 12 s) -> Task
    ChaosParallel  Parallel: [Task] [Wait -> Pass] [Task -> Task]
    ChaosMap       Map of 20-30 items (MaxConcurrency 8; items fail once, Retry) -> Task
    ChaosCatch     Task with Retry and Catch: ok | Chaos.Permanent -> Fallback Task
                   | retries exhausted -> States.ALL -> Pass
    ChaosPipeline  all of it: Pass -> Task -> Wait -> Parallel -> Map(20) -> Catch -> Task
    ChaosCallback  a `.waitForTaskToken` Task answered from outside (chaos/callbacks.py):
                   success, failure (caught) or never in time (timeout caught), each answer
                   sent twice or late -> Task
    ChaosNested    a `states:startExecution.sync:2` child (ChaosFlaky) -> Task
    ChaosActivity  an activity Task served by boto3-only poller processes through the HTTP
                   API (chaos/activities.py): answered, rejected (caught) or only after its
                   timeout (caught), each answer sent twice or late -> Task
    ChaosChain     five short Tasks in a row, each fed by the one before: a worker runs
                   several of them in one Celery task (chaining), so kills land mid-chain
    ChaosJobs      the engine's own AWS integrations against an emulator: dynamodb:putItem
                   -> codebuild:startBuild.sync -> Task (chaos/integrations.py; only in a
                   plan that asks for them)
"""

from __future__ import annotations

import logging
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos import activities, callbacks, integrations
from chaos.ledger import Ledger, from_env
from engine.handlers import Registry, TaskContext, TaskFailure, default_registry

log = logging.getLogger(__name__)

TRANSIENT = "Chaos.Transient"
PERMANENT = "Chaos.Permanent"
#: The handler a callback Task asks to pass its token on to the chaos answerer
#: (chaos/callbacks.py): a container task of ours standing in for ECS, as users serve
#: integrations with handlers (a service no test module registers a handler for).
ASK = "ecs:runTask"

REGION = "us-east-1"
ACCOUNT = "000000000000"

Pure = Callable[[dict[str, Any], int], Any]


# --- the handlers: pure functions of (event, attempt) -------------------------------------


def _mix(*parts: object) -> int:
    """A stable pseudo-random number (never Python's salted hash())."""
    return zlib.crc32("/".join(str(p) for p in parts).encode()) % 100_000


def _scheduled_failure(event: dict[str, Any], attempt: int) -> None:
    if attempt < int(event.get("fail", 0)):
        # TaskFailure gives an exact Error and Cause (no stack trace), so the history of a
        # faulted run can be compared event for event with the fault-free one.
        raise TaskFailure(TRANSIENT, f"{event['key']}: attempt {attempt} fails by schedule")


def work(event: dict[str, Any], attempt: int) -> dict[str, Any]:
    _scheduled_failure(event, attempt)
    if event.get("doom"):
        raise TaskFailure(PERMANENT, f"{event['key']}: doomed by the workload")
    return {"key": event["key"], "value": _mix(event["key"], event.get("n", 0)), "attempt": attempt}


def item(event: dict[str, Any], attempt: int) -> dict[str, Any]:
    _scheduled_failure(event, attempt)
    i = int(event["i"])
    return {"i": i, "square": i * i + _mix(event["key"]) % 10, "attempt": attempt}


def total(event: dict[str, Any], attempt: int) -> dict[str, Any]:
    values = [int(entry["sq"]) for entry in event["items"]]
    return {"key": event["key"], "count": len(values), "total": sum(values)}


PURE: dict[str, Pure] = {"ChaosWork": work, "ChaosItem": item, "ChaosSum": total}


def pure_registry(asked: list[dict[str, Any]] | None = None) -> Registry:
    """The handlers without side effects or sleeps (for the fault-free expected run); the
    callback's handler appends what it was asked (with its token) to `asked`."""
    registry = Registry()
    for name, func in PURE.items():
        registry.register(name, _plain(func))

    def ask(event: Any, context: TaskContext) -> Any:
        body = event["MessageBody"]
        if asked is not None:
            asked.append(body)
        return callbacks.ask(body, context.attempt)

    registry.register(ASK, ask)
    return registry


def _plain(func: Pure) -> Callable[[Any, TaskContext], Any]:
    def run(event: Any, context: TaskContext) -> Any:
        return func(event, context.attempt)

    return run


_ledger: Ledger | None = None


def _the_ledger() -> Ledger | None:
    global _ledger
    if _ledger is None:
        _ledger = from_env()
    return _ledger


def _observed(func: Pure) -> Callable[[Any, TaskContext], Any]:
    def run(event: Any, context: TaskContext) -> Any:
        ledger = _the_ledger()
        invocation = None
        if ledger is not None:
            try:
                invocation = ledger.started(context.idempotency_key)
            except Exception:  # noqa: BLE001 - a ledger glitch must not change the outcome
                log.warning("ledger: could not record a start", exc_info=True)
        time.sleep(max(0, int(event.get("ms", 0))) / 1000.0)
        try:
            return func(event, context.attempt)
        finally:
            if ledger is not None and invocation is not None:
                try:
                    ledger.finished(invocation)
                except Exception:  # noqa: BLE001
                    log.warning("ledger: could not record an end", exc_info=True)

    return run


for _name, _func in PURE.items():
    default_registry.register(_name, _observed(_func))


def _ask(event: Any, context: TaskContext) -> Any:
    """The callback's handler: hands its token to the answerer (through the ledger)."""
    body = event["MessageBody"]
    ledger = _the_ledger()
    if ledger is not None:
        eid = context.execution_arn.split(":execution:", 1)[-1]
        callbacks.record_token(ledger.r, context.idempotency_key, body, eid)
    return _observed_ask(body, context)


_observed_ask = _observed(callbacks.ask)
default_registry.register(ASK, _ask)


# --- the definitions -----------------------------------------------------------------------


def _arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def _retry(max_attempts: int) -> list[dict[str, Any]]:
    return [{"ErrorEquals": [TRANSIENT], "IntervalSeconds": 1, "MaxAttempts": max_attempts,
             "BackoffRate": 1.5}]


def _work(input_path: str, result_path: str, nxt: str | None, retries: int = 3) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task", "Resource": _arn("ChaosWork"), "InputPath": input_path,
        "ResultPath": result_path, "Retry": _retry(retries),
    }
    return _link(state, nxt)


def _link(state: dict[str, Any], nxt: str | None) -> dict[str, Any]:
    if nxt is None:
        state["End"] = True
    else:
        state["Next"] = nxt
    return state


def _parallel(nxt: str | None) -> dict[str, Any]:
    return _link({
        "Type": "Parallel",
        "ResultPath": "$.branches",
        "Branches": [
            {"StartAt": "A", "States": {"A": _work("$.a", "$.a_out", None)}},
            {"StartAt": "BWait", "States": {
                "BWait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "BPass"},
                "BPass": {"Type": "Pass", "Parameters": {"waited.$": "$.wait", "branch": "b"},
                          "End": True},
            }},
            {"StartAt": "C1", "States": {
                "C1": _work("$.c1", "$.c1_out", "C2"),
                "C2": {"Type": "Task", "Resource": _arn("ChaosWork"), "Retry": _retry(3),
                       "Parameters": {"key.$": "$.c2.key", "n.$": "$.c1_out.value",
                                      "ms.$": "$.c2.ms", "fail.$": "$.c2.fail"},
                       "ResultSelector": {"c2.$": "$.value", "attempt.$": "$.attempt"},
                       "End": True},
            }},
        ],
    }, nxt)


def _map(nxt: str) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 8,
        "ItemSelector": {
            "key.$": "$$.Map.Item.Value.key", "i.$": "$$.Map.Item.Index",
            "fail.$": "$$.Map.Item.Value.fail", "ms.$": "$$.Map.Item.Value.ms",
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Item",
            "States": {
                "Item": {"Type": "Task", "Resource": _arn("ChaosItem"), "Retry": _retry(2),
                         "Next": "Tag"},
                "Tag": {"Type": "Pass", "End": True,
                        "Parameters": {"i.$": "$.i", "sq.$": "$.square", "attempt.$": "$.attempt"}},
            },
        },
        "ResultPath": "$.mapped",
        "Next": nxt,
    }


def _sum(nxt: str | None) -> dict[str, Any]:
    return _link({
        "Type": "Task", "Resource": _arn("ChaosSum"),
        "Parameters": {"key.$": "$.sum.key", "ms.$": "$.sum.ms", "items.$": "$.mapped"},
        "ResultPath": "$.sum_out",
    }, nxt)


def _risky(nxt: str) -> dict[str, Any]:
    """A Task whose Retry allows one retry, caught two ways; every path joins at `nxt`."""
    return {
        "Type": "Task", "Resource": _arn("ChaosWork"), "InputPath": "$.risky",
        "ResultPath": "$.risky_out", "Retry": _retry(1),
        "Catch": [
            {"ErrorEquals": [PERMANENT], "ResultPath": "$.caught", "Next": "Fallback"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Exhausted"},
        ],
        "Next": nxt,
    }


def _catch_states(nxt: str) -> dict[str, Any]:
    return {
        "Risky": _risky(nxt),
        "Fallback": {"Type": "Task", "Resource": _arn("ChaosWork"), "Retry": _retry(3),
                     "Parameters": {"key.$": "$.fallback.key", "n.$": "$.fallback.n",
                                    "ms.$": "$.fallback.ms", "fail.$": "$.fallback.fail"},
                     "ResultPath": "$.fallback_out", "Next": nxt},
        "Exhausted": {"Type": "Pass", "Parameters": {"error.$": "$.caught.Error"},
                      "ResultPath": "$.exhausted", "Next": nxt},
    }


def _asking(resource_timeout: int | None, catch: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {
        # A handler-served callback on a resource AWS accepts (the engine refuses made-up
        # services at creation, as AWS does): the handler registered as ecs:runTask.
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
        "Parameters": {"TaskDefinition": "chaos-ask", "MessageBody": {
            "key.$": "$.ask.key", "mode.$": "$.ask.mode", "ms.$": "$.ask.ms",
            "token.$": "$$.Task.Token"}},
        "ResultPath": "$.answer", "Catch": catch, "Next": "Finish",
    }
    if resource_timeout is not None:
        state["TimeoutSeconds"] = resource_timeout
    return state


def _finish() -> dict[str, Any]:
    return {"Type": "Task", "Resource": _arn("ChaosWork"), "Retry": _retry(3),
            "Parameters": {"key.$": "$.finish.key", "n.$": "$.answer.n",
                           "ms.$": "$.finish.ms", "fail": 0},
            "ResultPath": "$.finish_out", "End": True}


#: ChaosChain's length.
CHAIN = 5


def _chain_states() -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(1, CHAIN + 1):
        n = "$.n" if i == 1 else f"$.out{i - 1}.value"
        states[f"Link{i}"] = _link({
            "Type": "Task", "Resource": _arn("ChaosWork"), "Retry": _retry(3),
            "Parameters": {"key.$": f"$.link{i}.key", "n.$": n, "ms.$": f"$.link{i}.ms",
                           "fail.$": f"$.link{i}.fail"},
            "ResultPath": f"$.out{i}",
        }, f"Link{i + 1}" if i < CHAIN else None)
    return states


DEFINITIONS: dict[str, dict[str, Any]] = {
    "ChaosChain": {"StartAt": "Link1", "States": _chain_states()},
    integrations.MACHINE: integrations.definition(
        {"Type": "Task", "Resource": _arn("ChaosWork"), "Retry": _retry(3),
         "Parameters": {"key.$": "$.finish.key", "n.$": "$.amount", "ms.$": "$.finish.ms",
                        "fail": 0, "built.$": "$.built.status"},
         "ResultPath": "$.finish_out", "End": True}),
    "ChaosCallback": {
        "StartAt": "Mode",
        "States": {
            "Mode": {"Type": "Choice", "Default": "Ask", "Choices": [
                {"Variable": "$.ask.mode", "StringEquals": "late", "Next": "AskLate"}]},
            "Ask": _asking(None, [{"ErrorEquals": [callbacks.REJECTED], "ResultPath": "$.why",
                                   "Next": "Rejected"}]),
            "AskLate": _asking(callbacks.LATE_TIMEOUT_SECONDS, [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.why", "Next": "Rejected"}
            ]),
            "Rejected": {"Type": "Pass", "Result": {"n": 0}, "ResultPath": "$.answer",
                         "Next": "Finish"},
            "Finish": _finish(),
        },
    },
    "ChaosNested": {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {
                    "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ChaosFlaky",
                    "Input.$": "$.child",
                },
                "ResultSelector": {"n.$": "$.Output.finish_out.value",
                                   "status.$": "$.Status"},
                "ResultPath": "$.answer", "Next": "Finish",
            },
            "Finish": _finish(),
        },
    },
    "ChaosFlaky": {
        "Comment": "Retry, then a Wait, then a second Task fed by the first",
        "StartAt": "Work",
        "States": {
            "Work": _work("$.work", "$.work_out", "Pause"),
            "Pause": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Finish"},
            "Finish": {"Type": "Task", "Resource": _arn("ChaosWork"), "Retry": _retry(3),
                       "Parameters": {"key.$": "$.finish.key", "n.$": "$.work_out.value",
                                      "ms.$": "$.finish.ms", "fail": 0},
                       "ResultPath": "$.finish_out", "End": True},
        },
    },
    "ChaosActivity": activities.definition(REGION, ACCOUNT, _finish()),
    "ChaosParallel": {"StartAt": "Fan", "States": {"Fan": _parallel(None)}},
    "ChaosMap": {
        "StartAt": "Items",
        "States": {"Items": _map("Sum"), "Sum": _sum(None)},
    },
    "ChaosCatch": {
        "StartAt": "Risky",
        "States": {**_catch_states("Done"), "Done": {"Type": "Succeed"}},
    },
    "ChaosPipeline": {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": "pipeline", "ResultPath": "$.kind",
                        "Next": "Compute"},
            "Compute": _work("$.work", "$.work_out", "Pause"),
            "Pause": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Fan"},
            "Fan": _parallel("Items"),
            "Items": _map("Risky"),
            **_catch_states("Summarize"),
            "Summarize": _sum("Done"),
            "Done": {"Type": "Succeed"},
        },
    },
}


# --- the inputs of a run -------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One execution to start: its machine, its (unique) name and its input."""

    machine: str
    name: str
    input: dict[str, Any]

    @property
    def eid(self) -> str:
        return f"{self.machine}:{self.name}"


#: How often each machine is picked (the pipeline is ~30 Tasks, the others 2-25).
MIX: dict[str, float] = {
    "ChaosFlaky": 0.18,
    "ChaosParallel": 0.13,
    "ChaosMap": 0.13,
    "ChaosCatch": 0.10,
    "ChaosPipeline": 0.13,
    "ChaosCallback": 0.13,
    "ChaosNested": 0.10,
    "ChaosActivity": 0.10,
    "ChaosChain": 0.15,
}


#: The integration workload's share, when the harness runs its AWS emulator.
INTEGRATION_MIX: dict[str, float] = {integrations.MACHINE: 0.15}


def plan(count: int, seed: int, *, without: frozenset[str] = frozenset(),
         with_integrations: bool = False) -> list[Planned]:
    """`count` executions, the same for the same seed. The first ones cover every machine
    (but those `without` names: a harness that does not run their outside world; and the
    integration workload only `with_integrations`, for a harness that runs its emulator)."""
    rng = random.Random(seed)
    every = {**MIX, **INTEGRATION_MIX} if with_integrations else MIX
    mix = {m: weight for m, weight in every.items() if m not in without}
    machines = list(mix)
    out: list[Planned] = []
    for i in range(count):
        machine = machines[i] if i < len(machines) else rng.choices(machines, list(mix.values()))[0]
        name = f"c{seed}-{i:04d}"
        out.append(Planned(machine, name, _input(machine, name, random.Random(f"{seed}/{i}"))))
    return out


def _task(rng: random.Random, key: str, *, fail: int | None = None) -> dict[str, Any]:
    """A long-ish Task (0.4-1.6 s) so that worker kills hit handlers while they run."""
    if fail is None:
        fail = rng.choices([0, 1, 2], [0.5, 0.3, 0.2])[0]
    return {"key": key, "n": rng.randrange(1000), "fail": fail, "ms": rng.randrange(400, 1600)}


def _wait(rng: random.Random) -> int:
    # Mostly short waits (sent with a countdown); one in ten is past the 10 s countdown limit,
    # so it waits as a durable timer in Redis and is sent by the sweep.
    return 12 if rng.random() < 0.1 else rng.randrange(0, 4)


def _input(machine: str, name: str, rng: random.Random) -> dict[str, Any]:
    value: dict[str, Any] = {"id": name}
    if machine in ("ChaosFlaky", "ChaosPipeline"):
        value["work"] = _task(rng, f"{name}/work")
        value["wait"] = _wait(rng)
    if machine == "ChaosFlaky":
        value["finish"] = {"key": f"{name}/finish", "ms": rng.randrange(200, 1200)}
    if machine in ("ChaosParallel", "ChaosPipeline"):
        value["a"] = _task(rng, f"{name}/a")
        value["c1"] = _task(rng, f"{name}/c1")
        value["c2"] = _task(rng, f"{name}/c2", fail=rng.choice([0, 1]))
        value.setdefault("wait", rng.randrange(0, 3))
    if machine in ("ChaosMap", "ChaosPipeline"):
        size = 20 if machine == "ChaosPipeline" else rng.randrange(20, 31)
        value["items"] = [
            {"key": f"{name}/item{i}", "fail": 1 if rng.random() < 0.15 else 0,
             "ms": rng.randrange(30, 150)}
            for i in range(size)
        ]
        value["sum"] = {"key": f"{name}/sum", "ms": rng.randrange(100, 400)}
    if machine == "ChaosCallback":
        mode = rng.choices(["ok", "fail", "late"], [0.6, 0.25, 0.15])[0]
        value["ask"] = {"key": f"{name}/ask", "mode": mode, "ms": rng.randrange(100, 800)}
        value["finish"] = {"key": f"{name}/finish", "ms": rng.randrange(100, 600)}
    if machine == "ChaosActivity":
        mode = rng.choices(["ok", "fail", "late"], [0.6, 0.25, 0.15])[0]
        value["pack"] = {"key": f"{name}/pack", "mode": mode}
        value["finish"] = {"key": f"{name}/finish", "ms": rng.randrange(100, 600)}
    if machine == "ChaosNested":
        child = _input("ChaosFlaky", f"{name}-child", rng)
        value["child"] = child
        value["finish"] = {"key": f"{name}/finish", "ms": rng.randrange(100, 600)}
    if machine == "ChaosChain":
        value["n"] = rng.randrange(1000)
        for i in range(1, CHAIN + 1):
            # Short Tasks (chained several per Celery task); one in ten fails once first.
            value[f"link{i}"] = {"key": f"{name}/link{i}", "ms": rng.randrange(30, 250),
                                 "fail": 1 if rng.random() < 0.1 else 0}
    if machine == integrations.MACHINE:
        value.update(integrations.input_of(name, rng))
    if machine in ("ChaosCatch", "ChaosPipeline"):
        path = rng.choices(["ok", "doom", "exhaust"], [0.4, 0.35, 0.25])[0]
        risky = _task(rng, f"{name}/risky", fail=2 if path == "exhaust" else rng.choice([0, 1]))
        if path == "doom":
            risky["doom"] = True
        value["risky"] = risky
        value["fallback"] = _task(rng, f"{name}/fallback")
    return value
