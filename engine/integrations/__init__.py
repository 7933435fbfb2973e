"""Who serves a Task's resource: the one interface the driver calls.

In this order:

1. a handler the user registered (engine/handlers.py) under the Lambda function's name,
   under `SERVICE:ACTION` (`sns:publish`, `aws-sdk:s3:getObject` or `s3:getObject`), or
   under the whole resource string: so any integration can be served by local code;
2. else a built-in integration: boto3 for the AWS SDK and optimized AWS integrations and
   Lambda (engine/integrations/aws.py), only when the deployment allows AWS calls
   (SFN_AWS_INTEGRATIONS=1); a real HTTP request for `http:invoke`
   (engine/integrations/http.py), with credentials from a connection configured here;
   `eks:call` and `eks:runJob` on the cluster's Kubernetes API (eks_kubernetes.py, also
   only with AWS calls allowed: its token is signed with the worker's AWS credentials);
   `.sync` jobs polled on durable timers (engine/integrations/jobs.py); a Distributed
   Map's ItemReader and ResultWriter, a local directory or S3 (readers.py, writers.py);
3. else nothing (`None`): the driver reports the resource as unknown.

With AWS calls off (the default), an AWS integration fails with `States.TaskFailed` and a
cause that says how to enable them or which handler name to register.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.asl import resources
from engine.handlers import Handler, Invocation, Registry, TaskContext
from engine.integrations.aws import AwsCaller
from engine.integrations.eks_kubernetes import KubernetesCaller
from engine.integrations.http import HttpCaller
from engine.integrations.jobs import (
    KUBERNETES,
    StopOutcome,
    call_once,
    run_job,
    stop_job,
    token_seed,
)
from engine.integrations.readers import read_items
from engine.integrations.writers import write_results

#: The environment variable that allows built-in AWS calls (read by engine/settings.py).
AWS_SWITCH = "SFN_AWS_INTEGRATIONS"


@dataclass(frozen=True)
class IntegrationSettings:
    #: Built-in AWS calls through boto3 (off: only registered handlers serve AWS resources).
    aws: bool = False
    #: A JSON file naming each HTTP Task connection's authorization (engine/integrations/
    #: http.py); None: `http:invoke` only with connections that need no authorization.
    http_connections: str | None = None
    #: The region boto3 uses when its own configuration names none.
    region: str = "us-east-1"
    #: How long a `.sync` job waits between two polls (a durable timer).
    job_poll_seconds: float = 5.0
    #: A directory a Map's ItemReader reads instead of S3 (BUCKET/KEY under it).
    item_reader_root: str | None = None


class Integrations:
    def __init__(self, registry: Registry, settings: IntegrationSettings | None = None) -> None:
        self.registry = registry
        self.settings = settings or IntegrationSettings()
        self.aws = AwsCaller(self.settings.region)
        self.http = HttpCaller(self.settings.http_connections)
        self.kubernetes = KubernetesCaller(self.settings.region)

    def handler(self, task: dict[str, Any]) -> Handler | None:
        """The handler a user registered for this Task, looked up by each of its names."""
        ref = resources.parse_resource(task["resource"])
        if ref is None:
            return self.registry.get(task.get("handler"))
        for name in resources.handler_names(ref, task.get("parameters"), task["resource"]):
            found = self.registry.get(name)
            if found is not None:
                return found
        return None

    def call(self, task: dict[str, Any], context: TaskContext) -> Invocation | None:
        """Run the built-in integration for this Task; None when there is none."""
        ref = resources.parse_resource(task["resource"])
        if ref is None or ref.kind == "activity":
            return None
        parameters = task.get("parameters")
        if task.get("reader") is not None:  # a Distributed Map's ItemReader
            return read_items(
                ref.action, parameters, task["reader"], root=self.settings.item_reader_root,
                aws=self.aws if self.settings.aws else None,
            )
        if task.get("writer") is not None:  # a Distributed Map's ResultWriter
            return write_results(
                parameters, task["writer"], root=self.settings.item_reader_root,
                aws=self.aws if self.settings.aws else None,
            )
        if ref.kind == "http":
            return self.http.invoke(parameters, timeout=task.get("timeout"))
        if (ref.service, ref.action) == ("states", "startExecution"):
            return None  # nested executions are served by the engine itself
        if not self.settings.aws:
            if ref.kind == "lambda-function" or (ref.service, ref.action) == ("lambda", "invoke"):
                return None  # reported as AWS Lambda reports a missing function
            return _aws_off(task["resource"], ref, parameters)
        if (ref.service, ref.action) in KUBERNETES:
            return self._kubernetes(ref, task, token_seed(task, context))
        if ref.pattern == "sync":
            return run_job(self.aws, ref, task, context, self.settings.job_poll_seconds)
        if ref.kind == "lambda-function":
            return self.aws.lambda_function(task["resource"], task.get("input"))
        seed = token_seed(task, context)
        if ref.kind == "aws-sdk":
            return self.aws.sdk(ref, parameters, seed)
        return call_once(self.aws, ref, parameters) or self.aws.optimized(
            ref, parameters, seed
        )

    def stop_job(self, resource: str, job: Any, reason: str) -> StopOutcome:
        """Stop a `.sync` job the engine no longer waits for: what came of it."""
        if self.handler({"resource": resource}) is not None:
            # A registered handler serves the resource: it ran no job this engine started.
            return StopOutcome(True, "served by a registered handler: nothing to stop")
        if not self.settings.aws:
            # Not settled: a worker with AWS calls on may take the request.
            return StopOutcome(False, f"not stopped: built-in AWS calls are off ({AWS_SWITCH})")
        ref = resources.parse_resource(resource)
        if ref is not None and (ref.service, ref.action) == ("eks", "runJob"):
            settled, text = self.kubernetes.stop(job)
            return StopOutcome(settled, text)
        return stop_job(self.aws, resource, job, reason)

    def _kubernetes(self, ref: resources.ResourceRef, task: dict[str, Any],
                    seed: str) -> Invocation:
        """`eks:call`, `eks:runJob[.sync]` (engine/integrations/eks_kubernetes.py)."""
        timeout = task.get("timeout")
        if ref.action == "call":
            return self.kubernetes.call(task.get("parameters"), timeout)
        poll = self.settings.job_poll_seconds
        job = task.get("job")
        if isinstance(job, dict):
            return self.kubernetes.poll(job, poll, timeout)
        return self.kubernetes.run_job(task.get("parameters"), ref.pattern == "sync", poll,
                                       timeout, seed, rerun=bool(task.get("rerun")))


def _aws_off(resource: str, ref: resources.ResourceRef, parameters: Any) -> Invocation:
    names = resources.handler_names(ref, parameters, resource)
    return Invocation(
        False,
        error="States.TaskFailed",
        cause=(
            f"The resource '{resource}' calls AWS, and built-in AWS calls are off in this "
            f"deployment: set {AWS_SWITCH}=1 on the workers to call AWS through boto3 (with "
            "their AWS configuration), or register a handler under "
            + " or ".join(f"'{n}'" for n in names)
            + "."
        ),
    )


def builtin_warning(resource: str) -> str | None:
    """What `sfn validate` says about a resource only a built-in AWS integration serves
    (None: nothing to say)."""
    ref = resources.parse_resource(resource)
    if ref is None or ref.kind in ("activity", "http", "lambda-function"):
        return None
    if (ref.service, ref.action) in (("states", "startExecution"), ("lambda", "invoke")):
        return None
    return (
        f"{resource} calls AWS: workers need {AWS_SWITCH}=1 (and AWS credentials) or a "
        "handler registered for it"
    )


def resource_warnings(document: Any) -> list[tuple[str, str]]:
    """(location, warning) of every Task of a parsed definition that only a built-in AWS
    integration would serve."""
    found: list[tuple[str, str]] = []

    def walk(states: Any, pointer: str) -> None:
        if not isinstance(states, dict):
            return
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            here = f"{pointer}/{name}"
            resource = state.get("Resource")
            if state.get("Type") == "Task" and isinstance(resource, str):
                warning = builtin_warning(resource)
                if warning is not None:
                    found.append((f"{here}/Resource", warning))
            for i, branch in enumerate(state.get("Branches") or ()):
                if isinstance(branch, dict):
                    walk(branch.get("States"), f"{here}/Branches/{i}/States")
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), dict):
                    walk(state[key].get("States"), f"{here}/{key}/States")

    if isinstance(document, dict):
        walk(document.get("States"), "/States")
    return found


__all__ = [
    "AWS_SWITCH",
    "IntegrationSettings",
    "Integrations",
    "builtin_warning",
    "resource_warnings",
]
