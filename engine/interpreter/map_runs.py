"""A Distributed Map, run as a Map Run (when the shell offers it: `Ctx.map_runs`): the
parent's run plans the Map Run and waits for its end; the shell (engine/runtime/
map_runs.py) reads the items by position (an ItemReader's source, or the items of
ItemsPath / Items that the plan carries), starts one child execution per item (or batch)
and tells the run the outcome.

History, as AWS writes it in the parent: MapStateEntered, MapStateStarted, MapRunStarted
{mapRunArn}, then MapRunSucceeded (MapStateSucceeded) or MapRunFailed {error, cause}
(MapStateFailed); the children's events are in their own histories. The Map Run is a Task
of its own for the shell (no Task events) that polls on the `.sync` jobs' durable timer.

`window_inputs` builds the children's inputs of one window of items (ItemSelector with
`$$.Map.Item.Index` the item's position in the whole source, then ItemBatcher), pure like
the rest of the interpreter: the shell calls it with what the plan recorded.
"""

from __future__ import annotations

import random
import uuid
from typing import Any, Final

from engine.asl import errors
from engine.asl.jsonata import MISSING
from engine.asl.model import MapState, is_set
from engine.interpreter import dataflow as df
from engine.interpreter import history as h
from engine.interpreter import jsonata_flow as jf
from engine.interpreter import maps
from engine.interpreter.children import ChildStates, is_distributed
from engine.interpreter.step import STOP, Next
from engine.interpreter.types import JobRunning, ScheduleTask, StartTimer, TaskFailed, TaskSucceeded

#: The resource the shell recognises a Map Run's task by (not an AWS resource: no Task
#: events are logged for it).
MAP_RUN_RESOURCE: Final = "arn:aws:states:::mapRun"


def runs_as_map_run(state: Any, map_runs: bool) -> bool:
    """Every Distributed Map runs as a Map Run, as on AWS, whatever its items' source (an
    ItemReader, or ItemsPath / Items: then the items are in the state's input and the
    plan carries them) and whatever its ItemBatcher: a window that ends inside a batch
    (cut by MaxInputBytesPerBatch) leaves that batch's items for the next window, which
    starts at the position of its first item (engine/runtime/map_run_windows.py)."""
    return map_runs and is_distributed(state)


class MapRunStates(ChildStates):
    def enter_map(self, state: MapState, raw: Any) -> Next | None:
        if runs_as_map_run(state, self.ctx.map_runs):
            return self.start_map_run(state, raw)
        return super().enter_map(state, raw)

    def start_map_run(self, state: MapState, raw: Any) -> Next | None:
        reader, config = maps.reader_parts(state)
        self.doc["input"] = raw
        jsonata = self.jsonata(state)
        # Without an ItemReader the items are in the state's input (ItemsPath / Items),
        # read like an inline Map's before MapStateStarted; the Map Run spools them.
        found: list[Any] | None = None
        if jsonata:
            env = self.jenv()
            value = raw
            if state.item_reader is None:
                found = jf.map_items(state, raw, env)
            concurrency = jf.map_max_concurrency(state, raw, env)
            limit = config.get("MaxItems")
            if isinstance(limit, str):  # a JSONata expression, evaluated on the input
                limit = jf._optional_integer(env.scope(raw), limit,
                                             "ItemReader/ReaderConfig/MaxItems")
            batcher = _jsonata_batcher(state, raw, env)
        else:
            penv = self.env()
            value = df.input_path(state, raw, penv)
            if state.item_reader is None:
                found = maps.items(state, value, penv)
            concurrency = maps.max_concurrency(state, value, penv)
            limit = config.get("MaxItems")
            if isinstance(config.get("MaxItemsPath"), str):
                limit = maps._lookup_int(config["MaxItemsPath"], "MaxItemsPath", value, penv)
            batcher = _jsonpath_batcher(state, value, penv)
        if found is not None:
            maps.check_items(found, self.doc["state"])
        reader_params = (
            self._io_parameters(state, reader, "ItemReader") if found is None else None
        )
        writer = state.result_writer if isinstance(state.result_writer, dict) else None
        writer_params = (
            self._io_parameters(state, writer, "ResultWriter") if writer is not None else None
        )
        # AWS streams a reader's items: their number is not known when the Map starts.
        self.emit(h.map_state_started(self.ts, 0 if found is None else len(found)))
        # AWS reads the tolerated failure thresholds after MapStateStarted (a bad
        # ToleratedFailureCountPath fails the state after it).
        if jsonata:
            count, percentage = jf.map_tolerance(state, raw, env)
        else:
            count, percentage = maps.tolerance(state, value, penv)
        arn = self.map_run_arn(state)
        self.doc["map_run_arn"] = arn
        self.emit(h.map_run_started(self.ts, arn))
        context = self.context_object()
        selector: Any = None
        if jsonata:
            template = jf._field(state, "ItemSelector")
            selector = None if template is MISSING else {"template": template}
        elif is_set(state, "ItemSelector") or is_set(state, "Parameters"):
            selector = {"template": state.selector}
        processor = state.processor.model_dump(by_alias=True, exclude_unset=True)
        processor.pop("ProcessorConfig", None)
        processor["QueryLanguage"] = "JSONata" if jsonata else "JSONPath"
        config_ = state.processor.processor_config
        plan = {
            "arn": arn,
            "state": self.doc["state"],
            "label": state.label,
            "execution_type": getattr(config_, "execution_type", None) or "STANDARD",
            "definition": processor,
            "reader": None if found is not None else {
                "resource": reader.get("Resource", ""),
                "parameters": reader_params,
                "config": {k: v for k, v in config.items()
                           if k not in ("MaxItemsPath", "MaxItems")},
                "max_items": limit if isinstance(limit, int) and limit > 0 else None,
            },
            # The items of ItemsPath / Items (at most 256 KiB): spooled to the Map Run
            # once at its creation, then dropped from the plan.
            "items": found,
            "writer": None if writer is None else {
                "resource": writer.get("Resource", ""), "parameters": writer_params,
                "config": writer.get("WriterConfig"),
            },
            "max_concurrency": concurrency,
            "tolerated_count": count,
            "tolerated_percentage": percentage,
            "selector": selector,
            "batcher": batcher,
            "jsonata": jsonata,
            "value": value,
            "context": context,
            "variables": {**self.doc.get("outer", {}), **self.doc["vars"]},
            "now": self.ctx.now,
            "entered_id": self.entered_id(),
        }
        self.doc["task"] = {
            "resource": MAP_RUN_RESOURCE, "handler": None, "input": None, "parameters": None,
            "timeout": None, "heartbeat": None, "map_run": plan,
        }
        self.doc["phase"] = "task"
        self.tr.commands.append(ScheduleTask(self.doc["attempt"], MAP_RUN_RESOURCE))
        return STOP

    # --- the shell's answers -----------------------------------------------------------

    def task_outcome(self, occ: TaskSucceeded | TaskFailed) -> Next | None:
        if "map_run" not in (self.doc.get("task") or {}):
            return super().task_outcome(occ)
        state = self.current()
        assert isinstance(state, MapState)
        self.doc.pop("task", None)
        if isinstance(occ, TaskFailed):
            self.emit(h.event(self.ts, "MapRunFailed", "mapRunFailedEventDetails",
                              **_error_details(occ.error, occ.cause)))
            return self.handle_error(occ.error, occ.cause, failed_events=("MapStateFailed",))
        self.emit(h.plain(self.ts, "MapRunSucceeded"))
        self.emit(h.plain(self.ts, "MapStateSucceeded"))
        return self.finish_execution_state(state, occ.result)

    def job_running(self, occ: JobRunning) -> Next | None:
        task = self.doc.get("task") or {}
        if "map_run" not in task:
            return super().job_running(occ)
        task["job"] = occ.job  # the Map Run's ARN: polled on a durable timer, no event
        # The Map Run exists now, with its plan: the snapshot keeps its ARN only.
        task["map_run"] = {"arn": task["map_run"]["arn"]}
        self.tr.commands.append(StartTimer("job_poll", self.doc["attempt"], occ.delay))
        return STOP

    def poll_job(self, state: Any) -> Next | None:
        if "map_run" not in (self.doc.get("task") or {}):
            return super().poll_job(state)
        self.tr.commands.append(ScheduleTask(self.doc["attempt"], MAP_RUN_RESOURCE))
        return STOP


def _error_details(error: str | None, cause: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if error is not None:
        out["error"] = error
    if cause is not None:
        out["cause"] = cause
    return out


def _jsonpath_batcher(state: MapState, value: Any, env: df.Env) -> dict[str, Any] | None:
    batcher = state.item_batcher
    if batcher is None:
        return None
    size = batcher.max_items_per_batch
    if batcher.max_items_per_batch_path is not None:
        size = maps._lookup_int(batcher.max_items_per_batch_path, "MaxItemsPerBatchPath",
                                value, env)
    max_bytes = batcher.max_input_bytes_per_batch
    if batcher.max_input_bytes_per_batch_path is not None:
        max_bytes = maps._lookup_int(batcher.max_input_bytes_per_batch_path,
                                     "MaxInputBytesPerBatchPath", value, env)
    out: dict[str, Any] = {"size": size if isinstance(size, int) and size > 0 else None,
                           "max_bytes": max_bytes if isinstance(max_bytes, int) else None}
    if batcher.batch_input is not None:
        out["batch_input"] = df.render(batcher.batch_input, value, env, "BatchInput")
    return out


def _jsonata_batcher(state: MapState, raw: Any, env: jf.JsonataEnv) -> dict[str, Any] | None:
    batcher = state.item_batcher
    if batcher is None:
        return None
    scope = env.scope(raw)
    size = jf._optional_integer(scope, batcher.max_items_per_batch, "ItemBatcher/MaxItemsPerBatch")
    max_bytes = jf._optional_integer(
        scope, batcher.max_input_bytes_per_batch, "ItemBatcher/MaxInputBytesPerBatch"
    )
    out: dict[str, Any] = {"size": size if size and size > 0 else None, "max_bytes": max_bytes}
    if batcher.batch_input is not None:
        out["batch_input"] = scope.template(batcher.batch_input, "ItemBatcher/BatchInput")
    return out


# --- the shell's side: the children's inputs of one window ------------------------------


def window_inputs(plan: dict[str, Any], items: list[Any], base: int) -> list[Any]:
    """Each item's child input (ItemSelector; `base` is the first item's index in the
    whole source). Raises StatesFailure when the selector fails (the Map Run fails)."""
    selector = plan.get("selector")
    if selector is None:
        return list(items)
    rng = random.Random(f"{plan['arn']}/{base}")
    template = selector["template"]
    out: list[Any] = []
    if plan.get("jsonata"):
        jenv = jf.JsonataEnv(plan["context"], plan["variables"], rng, float(plan["now"]),
                             plan["state"], plan.get("entered_id"))
        scope = jenv.scope(plan["value"])
        for n, item in enumerate(items):
            context = {**plan["context"], "Map": {"Item": {"Index": base + n, "Value": item}}}
            out.append(scope.replace(context=context).template(template, "ItemSelector"))
        return out
    for n, item in enumerate(items):
        env = df.Env(
            context={**plan["context"], "Map": {"Item": {"Index": base + n, "Value": item}}},
            variables=plan["variables"], rng=rng,
        )
        out.append(df.render(template, plan["value"], env, "ItemSelector"))
    return out


def batch_size(plan: dict[str, Any]) -> int:
    """Items per child: 1 without an ItemBatcher."""
    batcher = plan.get("batcher")
    if batcher is None:
        return 1
    return int(batcher.get("size") or 0) or 1_000_000


def groups(plan: dict[str, Any], inputs: list[Any], eof: bool) -> list[list[Any]]:
    """A window's inputs cut into the children's batches, by the in-execution Map's rule
    (`maps.batch_groups`: MaxItemsPerBatch items at most, and with MaxInputBytesPerBatch
    a batch's `{"BatchInput", "Items"}` at most that many bytes). Unless the source has
    ended, a last batch short of MaxItemsPerBatch may still grow (the next item was not
    read): it is left for the next window, which reads its items again."""
    size = batch_size(plan)
    max_bytes = (plan.get("batcher") or {}).get("max_bytes")
    found = maps.batch_groups(inputs, size, max_bytes, lambda group: batch(plan, group))
    if not eof and found and len(found[-1]) < size:
        found.pop()
    return found


def batch(plan: dict[str, Any], inputs: list[Any]) -> Any:
    """A child's input: the item's, or a batch `{"BatchInput"?, "Items"}`."""
    batcher = plan.get("batcher")
    if batcher is None:
        return inputs[0]
    made: dict[str, Any] = {}
    if "batch_input" in batcher:
        made["BatchInput"] = batcher["batch_input"]
    made["Items"] = inputs
    return made


def child_name(map_run_arn: str, index: int) -> str:
    """A child's execution name: the same for the same item whoever starts it (starting
    twice finds the first). A UUID whose last group is the index (`index_of`)."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{map_run_arn}#{index}").hex
    return str(uuid.UUID(hex=digest[:20] + f"{index:012x}"))


def index_of(map_run_arn: str, name: str) -> int | None:
    """The index of the child named `name` (None: not a child of this Map Run)."""
    try:
        index = int(name[-12:], 16)
    except ValueError:
        return None
    return index if child_name(map_run_arn, index) == name else None


DATA_LIMIT_CAUSE: Final = (
    "The Map Run's results exceed the maximum number of bytes service limit "
    "(256 KiB): use a ResultWriter."
)

__all__ = ["MAP_RUN_RESOURCE", "MapRunStates", "batch", "batch_size", "child_name",
           "index_of", "runs_as_map_run", "window_inputs", "DATA_LIMIT_CAUSE", "errors"]
