"""`eks:call` and `eks:runJob[.sync]` against a Kubernetes API server the test starts (real
HTTPS, a CA made for the test: tests/integrations/fake_kubernetes.py), in-process (the
inline runner: virtual time, the same integration code) and through real Celery workers
(SFN_AWS_INTEGRATIONS=1, a real redis-server). The bearer token is signed locally with
the fake AWS credentials (STS's presigning calls no service), so no emulator is needed."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from engine.connect import connect
from engine.handlers import Registry
from engine.integrations import Integrations, IntegrationSettings, builtin_warning
from engine.integrations.eks_kubernetes import REQUEST_LABEL
from engine.runtime.inline import InlineRunner
from engine.settings import Settings
from tests.conftest import Worker
from tests.integrations.conftest import FAKE_AWS
from tests.integrations.fake_kubernetes import FakeKubernetes, Seen, job

pytest.importorskip("cryptography")

CALL = "arn:aws:states:::eks:call"
RUN = "arn:aws:states:::eks:runJob"
RUN_SYNC = "arn:aws:states:::eks:runJob.sync"


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes(tmp_path_factory.mktemp("kube"))
    yield fake
    fake.close()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FAKE_AWS.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)


def inline(aws: bool = True, registry: Registry | None = None) -> InlineRunner:
    registry = registry or Registry()
    return InlineRunner(registry, integrations=Integrations(
        registry, IntegrationSettings(aws=aws, job_poll_seconds=7)))


def one_task(runner: InlineRunner, resource: str, parameters: dict[str, Any],
             name: str = "M") -> Any:
    runner.create_state_machine(name, {"StartAt": "K", "States": {"K": {
        "Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}}})
    return runner.run(name, input={})


def presigned(seen: Seen) -> dict[str, list[str]]:
    """The query of the STS URL the request's bearer token carries."""
    token = seen.headers["authorization"].removeprefix("Bearer ")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    encoded = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "https" and parts.hostname is not None
    assert parts.hostname.startswith("sts") and parts.hostname.endswith(".amazonaws.com")
    return urllib.parse.parse_qs(parts.query)


def assert_signed_for(seen: Seen, cluster: str) -> None:
    query = presigned(seen)
    assert query["Action"] == ["GetCallerIdentity"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Credential"][0].startswith("testing/")
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/sts/aws4_request")
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert len(query["X-Amz-Signature"][0]) == 64
    # The cluster's name is the signed header's value: the signature, computed again for
    # the same time with that header, is the token's.
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    token = seen.headers["authorization"].removeprefix("Bearer k8s-aws-v1.")
    base = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("?")[0]
    request = AWSRequest(method="GET", headers={"x-k8s-aws-id": cluster},
                         url=base + "?Action=GetCallerIdentity&Version=2011-06-15")
    request.context["timestamp"] = query["X-Amz-Date"][0]
    signer = SigV4QueryAuth(Credentials("testing", "testing", "testing"), "sts", "us-east-1",
                            expires=60)
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    assert [signature] == query["X-Amz-Signature"]
    wrong = AWSRequest(method="GET", headers={"x-k8s-aws-id": cluster + "x"},
                       url=base + "?Action=GetCallerIdentity&Version=2011-06-15")
    wrong.context["timestamp"] = query["X-Amz-Date"][0]
    signer._modify_request_before_signing(wrong)
    other = signer.signature(signer.string_to_sign(wrong, signer.canonical_request(wrong)),
                             wrong)
    assert [other] != query["X-Amz-Signature"]


# --- in-process ------------------------------------------------------------------------------


def test_eks_call_get_with_query_parameters(kube: FakeKubernetes, aws_credentials: None) -> None:
    before = len(kube.seen)
    record = one_task(inline(), CALL, {**kube.cluster("prod"), "Method": "GET",
                                       "Path": "/api/v1/namespaces/default/pods",
                                       "QueryParameters": {"labelSelector": ["job-name=none"],
                                                           "limit": ["5"]}})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["StatusCode"] == 200 and out["StatusText"] == "OK"
    assert out["ResponseBody"] == {"kind": "PodList", "apiVersion": "v1", "items": []}
    assert out["Headers"]["Audit-Id"] == ["7e2b"]
    [seen] = kube.seen[before:]
    assert (seen.method, seen.path) == ("GET", "/api/v1/namespaces/default/pods")
    assert seen.query == {"labelSelector": ["job-name=none"], "limit": ["5"]}
    assert_signed_for(seen, "prod")


def test_eks_call_post_sends_the_request_body(kube: FakeKubernetes, aws_credentials: None,
                                              ) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
            "data": {"k": "v"}}
    record = one_task(inline(), CALL, {**kube.cluster(), "Method": "POST",
                                       "Path": "/api/v1/namespaces/default/configmaps",
                                       "QueryParameters": {"fieldManager": ["sfn"]},
                                       "RequestBody": body})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["StatusCode"] == 201
    assert out["ResponseBody"]["metadata"] == {"name": "cfg", "uid": "cm-1"}
    seen = kube.requests("POST", "/api/v1/namespaces/default/configmaps")[-1]
    assert json.loads(seen.body) == body and seen.query == {"fieldManager": ["sfn"]}
    assert seen.headers["content-type"] == "application/json"


def test_a_kubernetes_error_is_named_eks_status(kube: FakeKubernetes, aws_credentials: None,
                                                ) -> None:
    record = one_task(inline(), CALL, {**kube.cluster(), "Method": "GET",
                                       "Path": "/apis/batch/v1/namespaces/default/jobs/nope"})
    assert (record.status, record.error) == ("FAILED", "EKS.404")
    assert json.loads(record.cause)["reason"] == "NotFound"
    # A Job that exists already: EKS.409, as AWS names it.
    runner = inline()
    first = one_task(runner, RUN, {**kube.cluster(), "Job": job("twice", "Complete")}, "A")
    second = one_task(runner, RUN, {**kube.cluster(), "Job": job("twice", "Complete")}, "B")
    assert first.status == "SUCCEEDED", first.cause
    assert (second.status, second.error) == ("FAILED", "EKS.409")


def test_a_server_the_certificate_authority_did_not_sign_is_refused(
    kube: FakeKubernetes, aws_credentials: None, tmp_path: Any,
) -> None:
    other = FakeKubernetes(tmp_path)  # its own CA
    try:
        before = len(kube.seen)
        params = {**kube.cluster(), "CertificateAuthority": other.ca, "Method": "GET",
                  "Path": "/api/v1/namespaces/default/pods"}
        record = one_task(inline(), CALL, params)
        assert (record.status, record.error) == ("FAILED", "States.TaskFailed")
        assert "CERTIFICATE_VERIFY_FAILED" in record.cause
        assert kube.seen[before:] == []  # no request reached it
    finally:
        other.close()


def test_run_job_without_sync_returns_the_created_job(kube: FakeKubernetes,
                                                      aws_credentials: None) -> None:
    record = one_task(inline(), RUN, {**kube.cluster(), "Namespace": "batch",
                                      "Job": job("created", "Running")})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["metadata"]["namespace"] == "batch" and out["metadata"]["uid"] == "uid-created"
    assert ("batch", "created") in kube.jobs
    assert kube.reads.get(("batch", "created")) is None  # not polled


def test_run_job_sync_polls_until_complete_and_retrieves_the_logs(
    kube: FakeKubernetes, aws_credentials: None,
) -> None:
    runner = inline()
    record = one_task(runner, RUN_SYNC, {
        **kube.cluster(), "Job": job("pi", "Complete", ("json", "text")),
        "LogOptions": {"RetrieveLogs": True, "LogParameters": {"tailLines": ["6"]}}})
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["status"]["succeeded"] == 1 and out["metadata"]["name"] == "pi"
    # Logs parsed as JSON where they are JSON ("logs..pi", as AWS's sample reads them).
    assert out["logs"] == {"pods": {"pi-x7k2p": {"containers": {
        "json": {"log": {"pi": 3.14159}}, "text": {"log": "hello\nworld\n"}}}}}
    assert kube.reads[("default", "pi")] == 2  # running, then complete: polled on timers
    logs = kube.requests("GET", "/api/v1/namespaces/default/pods/pi-x7k2p/log")
    assert sorted(s.query["container"][0] for s in logs) == ["json", "text"]
    assert all(s.query["tailLines"] == ["6"] for s in logs)
    history = runner.client.get_history(record.eid)
    submitted = [e for e in history if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 1
    # RawLogs: the text as it is.
    raw = one_task(inline(), RUN_SYNC, {**kube.cluster(), "Job": job("raw", "Complete"),
                                        "LogOptions": {"RetrieveLogs": True,
                                                       "RawLogs": True}})
    raw_logs = json.loads(raw.output)["logs"]["pods"]["raw-x7k2p"]["containers"]
    assert raw_logs == {"json": {"log": '{"pi": 3.14159}\n'}}
    # No LogOptions: no logs.
    plain = one_task(inline(), RUN_SYNC, {**kube.cluster(), "Job": job("plain", "Complete")})
    assert "logs" not in json.loads(plain.output)


def test_a_rerun_of_the_same_attempt_goes_on_with_the_job_its_first_run_created(
    kube: FakeKubernetes, aws_credentials: None,
) -> None:
    """A worker killed after the Job's creation and before its commit: the re-run's POST
    meets 409 (a named Job) or would make a second Job (`generateName`); the Job carries the
    attempt's mark, so the re-run finds it and polls it."""
    from engine.handlers import TaskContext

    integrations = Integrations(Registry(), IntegrationSettings(aws=True))
    context = TaskContext(function_name="", state_name="Run",
                          execution_arn="arn:aws:states:us-east-1:1:execution:M:e",
                          attempt=0, idempotency_key="e/0/Run/0")
    for visit, metadata in enumerate(({"name": "rerun-named"}, {"generateName": "rerun-gen-"})):
        task = {"resource": RUN_SYNC, "visit": visit, "parameters": {
            **kube.cluster(), "Job": {**job("x", "Complete"), "metadata": metadata}}}
        first = integrations.call(task, context)
        again = integrations.call({**task, "rerun": True}, context)
        assert first is not None and again is not None and first.ok and again.ok, again
        assert again.job == first.job and again.result["metadata"]["uid"] == (
            first.result["metadata"]["uid"])
        made = [j for j in kube.jobs.values()
                if j["metadata"]["labels"].get(REQUEST_LABEL)
                == first.result["metadata"]["labels"][REQUEST_LABEL]]
        assert len(made) == 1
    # Another attempt (a Retry): its own mark, so a named Job of the first is a conflict.
    other = TaskContext(function_name="", execution_arn=context.execution_arn,
                        state_name="Run", attempt=1,
                        idempotency_key="e/0/Run/1")
    task = {"resource": RUN_SYNC, "visit": 0, "parameters": {
        **kube.cluster(), "Job": job("rerun-named", "Complete")}}
    refused = integrations.call(task, other)
    assert refused is not None and (refused.ok, refused.error) == (False, "EKS.409")


def test_a_failed_job_fails_the_state_with_its_status(kube: FakeKubernetes,
                                                      aws_credentials: None) -> None:
    record = one_task(inline(), RUN_SYNC, {**kube.cluster(), "Job": job("broken", "Failed")})
    assert (record.status, record.error) == ("FAILED", "States.TaskFailed")
    cause = json.loads(record.cause)
    assert cause["status"]["conditions"] == [{"type": "Failed", "status": "True"}]
    assert cause["metadata"]["name"] == "broken"


def test_aws_calls_off_give_the_clear_error_and_a_handler_still_wins(
    kube: FakeKubernetes, aws_credentials: None,
) -> None:
    before = len(kube.seen)
    off = one_task(inline(aws=False), RUN_SYNC, {**kube.cluster(), "Job": job("off", "Complete")})
    assert (off.status, off.error) == ("FAILED", "States.TaskFailed")
    assert "SFN_AWS_INTEGRATIONS=1" in off.cause and "'eks:runJob'" in off.cause
    assert kube.seen[before:] == []
    registry = Registry()
    registry.register("eks:call", lambda event, ctx: {"served": event["Path"]})
    served = one_task(inline(aws=True, registry=registry), CALL,
                      {**kube.cluster(), "Method": "GET", "Path": "/version"})
    assert served.status == "SUCCEEDED" and json.loads(served.output) == {"served": "/version"}
    assert kube.seen[before:] == []
    warning = builtin_warning(RUN_SYNC)
    assert warning is not None and "SFN_AWS_INTEGRATIONS=1" in warning


def test_missing_or_bad_parameters_fail_with_a_clear_cause(kube: FakeKubernetes,
                                                           aws_credentials: None) -> None:
    record = one_task(inline(), CALL, {**kube.cluster(), "Method": "FETCH", "Path": "/x"})
    assert (record.status, record.error) == ("FAILED", "States.Runtime")
    assert "Method must be one of" in record.cause
    plain = {**kube.cluster(), "Endpoint": "http://127.0.0.1:1", "Method": "GET", "Path": "/"}
    record = one_task(inline(), CALL, plain)
    assert record.error == "States.Runtime" and "not an https URL" in record.cause
    record = one_task(inline(), RUN_SYNC, {"ClusterName": "c", "Job": job("j", "Complete")})
    assert record.error == "States.Runtime" and "'CertificateAuthority'" in record.cause


# --- real workers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eks_worker(redis_server: Any, kube: FakeKubernetes,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("eks-worker") / "worker.log"
    env = {**FAKE_AWS, "SFN_AWS_INTEGRATIONS": "1", "SFN_REDELIVER_SECONDS": "2",
           "SFN_HANDLER_MODULES": ("workflows.order_processing,tests.e2e_handlers,"
                                   "tests.integrations.eks_handlers")}
    w = Worker(redis_server.url, env=env, log_path=log).start()
    yield w
    w.stop()


def wait_for(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def finished(client: Any, arn: str) -> Any:
    wait_for(lambda: client.describe_execution(arn).status != "RUNNING", "still running")
    return client.describe_execution(arn)


@pytest.mark.redis
@pytest.mark.worker
def test_workers_call_the_cluster_and_run_a_job_to_its_end(
    eks_worker: Worker, kube: FakeKubernetes, redis_url: str, unique: str,
) -> None:
    client = connect(Settings(redis_url=redis_url))
    name = f"w-{unique}"
    client.create_state_machine(f"Eks{unique}", {"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": RUN_SYNC,
                "Parameters": {**kube.cluster("prod"), "Job": job(name, "Complete"),
                               "LogOptions": {"RetrieveLogs": True}},
                "ResultSelector": {"status.$": "$.status", "pi.$": "$.logs..pi"},
                "ResultPath": "$.run", "Next": "Pods"},
        "Pods": {"Type": "Task", "Resource": CALL,
                 "Parameters": {**kube.cluster("prod"), "Method": "GET",
                                "Path": "/api/v1/namespaces/default/pods",
                                "QueryParameters": {"labelSelector": [f"job-name={name}"]}},
                 "ResultSelector": {"pods.$": "$.ResponseBody.items[*].metadata.name",
                                    "code.$": "$.StatusCode"},
                 "ResultPath": "$.pods", "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": CALL,
                   "Parameters": {**kube.cluster("prod"), "Method": "DELETE",
                                  "Path": f"/apis/batch/v1/namespaces/default/jobs/{name}"},
                   "ResultSelector": {"status.$": "$.ResponseBody.status"},
                   "ResultPath": "$.deleted", "Next": "Again"},
        "Again": {"Type": "Task", "Resource": CALL,
                  "Parameters": {**kube.cluster("prod"), "Method": "DELETE",
                                 "Path": f"/apis/batch/v1/namespaces/default/jobs/{name}"},
                  "Catch": [{"ErrorEquals": ["EKS.404"], "ResultPath": "$.gone",
                             "Next": "Done"}], "End": True},
        "Done": {"Type": "Succeed"}}})
    arn = client.start_execution(f"Eks{unique}", {}).arn
    record = finished(client, arn)
    assert record.status == "SUCCEEDED", record.cause
    out = json.loads(record.output)
    assert out["run"] == {"status": {"succeeded": 1, "conditions": [
        {"type": "Complete", "status": "True"}]}, "pi": [3.14159]}
    assert out["pods"] == {"pods": [f"{name}-x7k2p"], "code": 200}
    assert out["deleted"] == {"status": "Success"}
    assert out["gone"]["Error"] == "EKS.404"
    assert ("default", name) in kube.deleted
    posted = [s for s in kube.requests("POST", "/apis/batch/v1/namespaces/default/jobs")
              if json.loads(s.body)["metadata"].get("name") == name]
    assert len(posted) == 1
    assert_signed_for(posted[0], "prod")


@pytest.mark.redis
@pytest.mark.worker
def test_stopping_the_execution_deletes_the_running_job(
    eks_worker: Worker, kube: FakeKubernetes, redis_url: str, unique: str,
) -> None:
    client = connect(Settings(redis_url=redis_url))
    name = f"long-{unique}"
    client.create_state_machine(f"Long{unique}", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": RUN_SYNC, "End": True,
        "Parameters": {**kube.cluster(), "Namespace": "jobs", "Job": job(name, "Running")}}}})
    arn = client.start_execution(f"Long{unique}", {}).arn
    wait_for(lambda: any(e["type"] == "TaskSubmitted" for e in client.get_history(arn)),
             "the job was never submitted")
    assert ("jobs", name) in kube.jobs
    client.stop_execution(arn)
    wait_for(lambda: ("jobs", name) in kube.deleted, "the job was never deleted")
    assert ("jobs", name) not in kube.jobs
    [delete] = [s for s in kube.requests("DELETE", f"/apis/batch/v1/namespaces/jobs/jobs/{name}")]
    assert json.loads(delete.body)["propagationPolicy"] == "Foreground"
    assert client.describe_execution(arn).status == "ABORTED"


@pytest.mark.redis
@pytest.mark.worker
def test_a_registered_handler_wins_on_the_worker(
    eks_worker: Worker, kube: FakeKubernetes, redis_url: str, unique: str,
) -> None:
    client = connect(Settings(redis_url=redis_url))
    name = f"local-{unique}"
    client.create_state_machine(f"Local{unique}", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": RUN, "End": True,
        "Parameters": {**kube.cluster(), "Job": job(name, "Complete")}}}})
    arn = client.start_execution(f"Local{unique}", {}).arn
    record = finished(client, arn)
    assert record.status == "SUCCEEDED", record.cause
    assert json.loads(record.output) == {"servedBy": "handler", "job": name}
    assert ("default", name) not in kube.jobs
