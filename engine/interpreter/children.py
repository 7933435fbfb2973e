"""Parallel and Map states: start the branches or iterations (child runs), and finish the
state when the join says they are done.

History, as AWS writes it: ParallelStateStarted / MapStateStarted{length} when the children
start (again on every retry, never a second *StateEntered); MapIteration* events come from
the iterations themselves. A DISTRIBUTED Map runs its iterations as child executions on
AWS, so the parent's history shows MapRunStarted/MapRunSucceeded|Failed instead and none
of the iterations' events. A failed Map/Parallel emits *StateFailed only when it is not
retried.
"""

from __future__ import annotations

import uuid
from typing import Any

from engine.asl import errors
from engine.asl.model import MapState, ParallelState, is_set
from engine.interpreter import dataflow as df
from engine.interpreter import history as h
from engine.interpreter import jsonata_flow as jf
from engine.interpreter import maps
from engine.interpreter.step import STOP, Next
from engine.interpreter.tasks import TaskStates
from engine.interpreter.types import (
    ChildrenFailed,
    ChildrenSucceeded,
    ScheduleTask,
    StartChildren,
    TaskFailed,
    TaskSucceeded,
)


def is_distributed(state: Any) -> bool:
    if not isinstance(state, MapState):
        return False
    config = state.processor.processor_config
    return config is not None and config.mode == "DISTRIBUTED"


class ChildStates(TaskStates):
    """Parallel and Map (they finish like a Task: ResultSelector, ResultPath, OutputPath)."""

    # --- Parallel --------------------------------------------------------------------

    def enter_parallel(self, state: ParallelState, raw: Any) -> Next | None:
        return self.start_parallel(state, raw)

    def start_parallel(self, state: ParallelState, raw: Any) -> Next | None:
        if self.jsonata(state):
            value = jf.arguments(state, raw, self.jenv())
        else:
            env = self.env()
            value = df.input_path(state, raw, env)
            if is_set(state, "Parameters"):
                value = df.render(state.parameters, value, env, "Parameters")
        self.emit(h.plain(self.ts, "ParallelStateStarted"))
        self.start_children("parallel", [value] * len(state.branches))
        return STOP

    # --- Map -------------------------------------------------------------------------

    def enter_map(self, state: MapState, raw: Any) -> Next | None:
        if state.item_reader is not None and self.ctx.read_items and self.ctx.reader_items is None:
            return self.read_items(state, raw)
        return self.start_map(state, raw)

    def read_items(self, state: MapState, raw: Any) -> Next | None:
        """Have the shell read the ItemReader's source (a task of its own, without Task
        events: AWS logs none); `reader_outcome` then starts the Map with the items."""
        reader, config = maps.reader_parts(state)
        self.doc["input"] = raw
        params = self._io_parameters(state, reader, "ItemReader")
        self.doc.pop("reader_items", None)
        self.doc["task"] = {
            "resource": reader.get("Resource", ""), "handler": None, "input": params,
            "parameters": params, "timeout": None, "heartbeat": None,
            # What to parse (InputType, CSV headers); MaxItems is applied by the Map.
            "reader": {k: v for k, v in config.items() if k != "MaxItemsPath"},
        }
        self.doc["phase"] = "task"
        self.tr.commands.append(ScheduleTask(self.doc["attempt"], reader.get("Resource", "")))
        return STOP

    def reader_outcome(self, occ: TaskSucceeded | TaskFailed) -> Next | None:
        state = self.current()
        assert isinstance(state, MapState)
        self.doc.pop("task", None)
        if isinstance(occ, TaskFailed):
            return self.handle_error(errors.ITEM_READER_FAILED, occ.cause or occ.error)
        if not isinstance(occ.result, list):
            return self.handle_error(
                errors.ITEM_READER_FAILED, "The ItemReader did not yield a JSON array."
            )
        # Kept in the snapshot only while the Map plans its iterations.
        self.doc["reader_items"] = occ.result
        try:
            return self.start_map(state, self.doc["input"])
        finally:
            self.doc.pop("reader_items", None)

    def start_map(self, state: MapState, raw: Any) -> Next | None:
        distributed = is_distributed(state)
        if self.jsonata(state):
            plan = jf.map_plan(state, raw, self.jenv())
            inputs, concurrency = plan.inputs, plan.max_concurrency
            count, percentage = plan.tolerated_failure_count, plan.tolerated_failure_percentage
            self.inspect("maxConcurrency", concurrency)
            self.emit(h.map_state_started(self.ts, len(inputs)))
        else:
            env = self.env()
            value = df.input_path(state, raw, env)
            self.inspect("afterInputPath", value)
            found = maps.items(state, value, env)
            maps.check_items(found, self.doc["state"])
            self.inspect("afterItemsPath", found)
            concurrency = maps.max_concurrency(state, value, env)
            self.inspect("maxConcurrency", concurrency)
            self.emit(h.map_state_started(self.ts, len(found)))
            count, percentage = maps.tolerance(state, value, env)
            inputs = maps.iteration_inputs(state, value, found, env)
            if state.item_batcher is not None:
                inputs = maps.batches(state, value, inputs, env)
            maps.check_inputs(inputs, self.doc["state"])
        if count is not None:
            self.inspect("toleratedFailureCount", count)
        if percentage is not None:
            self.inspect("toleratedFailurePercentage", percentage)
        if distributed:
            self.doc["map_run_arn"] = self.map_run_arn(state)  # ResultWriter's manifest
            self.emit(h.map_run_started(self.ts, self.doc["map_run_arn"]))
        if not inputs:
            if distributed:
                self.emit(h.plain(self.ts, "MapRunSucceeded"))
            self.emit(h.plain(self.ts, "MapStateSucceeded"))
            return self.finish_execution_state(state, [])
        self.start_children(
            "map", inputs, concurrency, count, percentage, quiet=distributed, isolated=distributed
        )
        return STOP

    def map_run_arn(self, state: MapState) -> str:
        ex = self.ctx.execution
        label = state.label or str(uuid.UUID(int=self.ctx.random.getrandbits(128), version=4))
        run_id = uuid.UUID(int=self.ctx.random.getrandbits(128), version=4)
        return (
            f"arn:aws:states:{ex.region}:{ex.account}:mapRun:"
            f"{ex.state_machine_name}/{label}:{run_id}"
        )

    # --- children --------------------------------------------------------------------

    def start_children(
        self,
        kind: str,
        inputs: list[Any],
        max_concurrency: int = 0,
        tolerated_count: int | None = None,
        tolerated_percentage: float | None = None,
        *,
        quiet: bool = False,
        isolated: bool = False,
    ) -> None:
        join = (
            f"{self.doc['run']}/{self.doc['state']}#{self.doc['entered_id']}.{self.doc['attempt']}"
        )
        self.doc.update(phase="children", join=join)
        self.tr.commands.append(
            StartChildren(
                join=join,
                kind=kind,  # type: ignore[arg-type]
                state=self.doc["state"],
                inputs=inputs,
                max_concurrency=max_concurrency,
                tolerated_failure_count=tolerated_count,
                tolerated_failure_percentage=tolerated_percentage,
                quiet=quiet or self.quiet,
                isolated=isolated,
            )
        )

    def children_done(self, occ: ChildrenSucceeded | ChildrenFailed) -> Next | None:
        state = self.current()
        prefix = "Parallel" if isinstance(state, ParallelState) else "Map"
        distributed = is_distributed(state)
        self.doc.pop("join", None)
        if isinstance(occ, ChildrenFailed):
            if distributed:
                self.emit(h.plain(self.ts, "MapRunFailed"))
            # A Fail state without Error in a branch leaves no error: AWS's ExecutionFailed
            # then has empty details, as for a top-level Fail (recorded).
            return self.handle_error(
                occ.error, occ.cause, failed_events=(f"{prefix}StateFailed",)
            )
        found = getattr(state, "result_writer", None)  # (a Parallel has none)
        writer = found if isinstance(found, dict) else None
        results = occ.results
        if distributed and writer is not None and not writer.get("Resource"):
            # WriterConfig alone: the transformed results are the Map's output (AWS)
            from engine.interpreter.result_files import shaped_output

            results = shaped_output(writer.get("WriterConfig"), results)
        elif distributed and writer is not None and self.ctx.read_items:
            return self.write_results(state, results)
        if distributed:
            self.emit(h.plain(self.ts, "MapRunSucceeded"))
        self.emit(h.plain(self.ts, f"{prefix}StateSucceeded"))
        return self.finish_execution_state(state, results)

    def write_results(self, state: MapState, results: list[Any]) -> Next | None:
        """Have the shell write the Map Run's results where ResultWriter says (a task of
        its own, no Task events); `writer_outcome` then finishes the Map with AWS's
        `{"MapRunArn", "ResultWriterDetails"}`."""
        writer = state.result_writer if isinstance(state.result_writer, dict) else {}
        params = self._io_parameters(state, writer, "ResultWriter")
        self.doc["task"] = {
            "resource": writer.get("Resource", ""), "handler": None, "input": params,
            "parameters": params, "timeout": None, "heartbeat": None,
            "writer": {"MapRunArn": self.doc.get("map_run_arn", ""), "Results": results,
                       "Config": writer.get("WriterConfig")},
        }
        self.doc["phase"] = "task"
        self.tr.commands.append(ScheduleTask(self.doc["attempt"], writer.get("Resource", "")))
        return STOP

    def writer_outcome(self, occ: TaskSucceeded | TaskFailed) -> Next | None:
        state = self.current()
        assert isinstance(state, MapState)
        self.doc.pop("task", None)
        if isinstance(occ, TaskFailed):
            self.emit(h.plain(self.ts, "MapRunFailed"))
            return self.handle_error(
                errors.RESULT_WRITER_FAILED, occ.cause or occ.error,
                failed_events=("MapStateFailed",),
            )
        self.emit(h.plain(self.ts, "MapRunSucceeded"))
        self.emit(h.plain(self.ts, "MapStateSucceeded"))
        return self.finish_execution_state(state, occ.result)

    def _io_parameters(self, state: MapState, field: dict[str, Any], name: str) -> Any:
        """An ItemReader's or ResultWriter's Parameters (JSONPath) / Arguments (JSONata)."""
        if self.jsonata(state):
            arguments = field.get("Arguments")
            if not arguments:
                return {}
            return self.jenv().scope(self.doc["input"]).template(arguments, f"{name}/Arguments")
        env = self.env()
        template = field.get("Parameters")
        if not isinstance(template, dict):
            return {}
        return df.render(template, df.input_path(state, self.doc["input"], env), env,
                         f"{name}.Parameters")
