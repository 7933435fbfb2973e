"""`eks:call` and `eks:runJob[.sync]`: the Kubernetes API of an EKS cluster, called as Step
Functions calls it (AWS's "Call Amazon EKS with Step Functions" page).

- Where: the state's `Endpoint` (https only), TLS verified against its
  `CertificateAuthority` (the base64 PEM that DescribeCluster returns), for that call alone.
- Who: a bearer token built as `aws eks get-token` builds it: an STS GetCallerIdentity URL
  presigned (60 s) with the worker's boto3 credentials, with the `x-k8s-aws-id` header
  (the `ClusterName`) signed into it, base64url without padding, after `k8s-aws-v1.`. A
  definition never carries a key.
- `eks:call`: `Method`, `Path`, `QueryParameters` (name -> list of values), `RequestBody`
  (JSON, or text as is); the result is `{"ResponseBody", "StatusCode", "StatusText",
  "Headers"}`; an answer of 400 or more fails the state with `EKS.<status>` (`EKS.404`,
  `EKS.409`, as AWS names them) and the answer's body (Kubernetes' Status) as the cause.
- `eks:runJob`: POSTs the `batch/v1` Job to `Namespace` (default `default`) and returns the
  created Job. With `.sync` the Job is then read back on the engine's durable poll timers
  until its `Complete` or `Failed` condition; the result is the Job as read, plus `logs`
  (`{"pods": {POD: {"containers": {NAME: {"log": ...}}}}}`) when `LogOptions.RetrieveLogs`;
  a failed Job fails the state with States.TaskFailed and that Job as the cause. Stopping
  (the execution stops, the Task times out...) deletes the Job with its pods.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from engine.asl import errors
from engine.handlers import Invocation

#: What one answer may bring back (far above the 256 KiB a state's result may be).
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: How long one request may take when the Task sets no TimeoutSeconds.
DEFAULT_TIMEOUT = 60.0
#: The log of one container is read up to this much (LogParameters may ask for less).
MAX_LOG_BYTES = 1024 * 1024
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"})
TOKEN_PREFIX = "k8s-aws-v1."
#: The label that marks a Job with the Task attempt that created it (a hash of its
#: idempotency key): a re-run after a worker died finds the Job its first run created.
REQUEST_LABEL = "step-functions-engine/request"


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: dict[str, list[str]]
    body: bytes


class Refused(Exception):
    """The request could not be made (bad parameters, TLS, network): the state's error."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(cause)
        self.error, self.cause = error, cause


class KubernetesCaller:
    """One boto3 session per process (its credential chain signs the tokens)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._lock = threading.Lock()
        self._pid = -1
        self._session: Any = None
        self._sts_url = ""

    # --- authentication ------------------------------------------------------------------

    def token(self, cluster: str) -> str:
        """The bearer token of `aws eks get-token --cluster-name CLUSTER`."""
        from botocore.model import ServiceId
        from botocore.signers import RequestSigner

        session, sts_url = self._sts()
        credentials = session.get_credentials()
        if credentials is None:
            raise Refused(errors.TASK_FAILED, "No AWS credentials found to sign the EKS token "
                          "(the worker's boto3 configuration)")
        region = session.region_name or self.region
        signer = RequestSigner(ServiceId("sts"), region, "sts", "v4", credentials,
                               session.events)
        url = signer.generate_presigned_url(
            {"method": "GET", "url": sts_url + "/?Action=GetCallerIdentity&Version=2011-06-15",
             "body": {}, "headers": {"x-k8s-aws-id": cluster}, "context": {}},
            region_name=region, expires_in=60, operation_name="")
        encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        return TOKEN_PREFIX + encoded

    def _sts(self) -> tuple[Any, str]:
        with self._lock:
            if self._pid != os.getpid():
                import boto3

                self._session = boto3.session.Session()
                region = self._session.region_name or self.region
                # STS's endpoint as boto3 resolves it (regional; AWS_ENDPOINT_URL_STS).
                client = self._session.client("sts", region_name=region)
                self._sts_url = str(client.meta.endpoint_url).rstrip("/")
                self._pid = os.getpid()
            return self._session, self._sts_url

    # --- one request ---------------------------------------------------------------------

    def request(self, cluster: dict[str, str], method: str, path: str,
                query: list[tuple[str, str]] | None = None, body: bytes | None = None,
                content_type: str = "application/json", timeout: float | None = None,
                limit: int = MAX_ANSWER_BYTES) -> Answer:
        endpoint = cluster["Endpoint"].rstrip("/")
        url = endpoint + "/" + path.lstrip("/")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": "Bearer " + self.token(cluster["ClusterName"]),
                   "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        context = _tls(cluster["CertificateAuthority"])
        seconds = min(float(timeout), DEFAULT_TIMEOUT) if timeout else DEFAULT_TIMEOUT
        try:
            with urllib.request.urlopen(request, timeout=seconds,  # noqa: S310
                                        context=context) as reply:
                return _answer(reply.status, reply.reason, reply.headers, reply, limit)
        except urllib.error.HTTPError as exc:
            with exc:
                return _answer(exc.code, str(exc.reason), exc.headers, exc, limit)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Refused(errors.TASK_FAILED,
                          f"The Kubernetes API of cluster '{cluster['ClusterName']}' at "
                          f"{endpoint} could not be called: {reason}") from None

    # --- eks:call ------------------------------------------------------------------------

    def call(self, parameters: Any, timeout: float | None) -> Invocation:
        try:
            params = _object(parameters)
            cluster = _cluster(params)
            method = str(params.get("Method", "")).upper()
            if method not in METHODS:
                raise Refused(errors.RUNTIME, f"Method must be one of {', '.join(sorted(METHODS))}"
                              f" (got {params.get('Method')!r})")
            path = params.get("Path")
            if not isinstance(path, str) or not path:
                raise Refused(errors.RUNTIME, "The field 'Path' is required (a string)")
            body, content_type = _body(params.get("RequestBody"), method)
            answer = self.request(cluster, method, path, _query(params.get("QueryParameters"),
                                                                "QueryParameters"),
                                  body, content_type, timeout)
        except Refused as refused:
            return Invocation(False, error=refused.error, cause=refused.cause)
        if answer.status >= 400:
            return _failed(answer)
        return Invocation(True, result={
            "ResponseBody": _parsed(answer.body),
            "StatusCode": answer.status,
            "StatusText": answer.reason,
            "Headers": answer.headers,
        })

    # --- eks:runJob ----------------------------------------------------------------------

    def run_job(self, parameters: Any, sync: bool, poll_seconds: float,
                timeout: float | None, seed: str = "", rerun: bool = False) -> Invocation:
        """Create the Job: request-response returns it; `.sync` keeps its handle to poll.

        The Job is labelled with a hash of the attempt's idempotency key (`seed`): a re-run
        of the same attempt (its worker died after the creation, before the commit) finds
        that Job, by its name (the creation answered 409) or by the label (`rerun`, for a
        Job named by `generateName`), and goes on with it instead of failing or creating a
        second one."""
        try:
            params = _object(parameters)
            cluster = _cluster(params)
            namespace = _namespace(params)
            job, mark = _marked(params.get("Job"), seed)
            jobs_path = f"/apis/batch/v1/namespaces/{_segment(namespace)}/jobs"
            created = self._created_before(cluster, jobs_path, mark, timeout) if rerun else None
            if created is None:
                answer = self.request(cluster, "POST", jobs_path, body=job, timeout=timeout)
                if answer.status == 409:
                    created = self._ours(cluster, jobs_path, job, mark, timeout)
                if created is None and answer.status >= 400:
                    return _failed(answer)
                if created is None:
                    created = _parsed(answer.body)
        except Refused as refused:
            return Invocation(False, error=refused.error, cause=refused.cause)
        if not sync:
            return Invocation(True, result=created)
        name = ((created if isinstance(created, dict) else {}).get("metadata") or {}).get("name")
        if not isinstance(name, str):
            return Invocation(False, error=errors.TASK_FAILED,
                              cause="The Kubernetes API answered the Job's creation without "
                                    "its metadata.name")
        handle = {**cluster, "Namespace": namespace, "Name": name,
                  "LogOptions": params.get("LogOptions") or {}}
        return Invocation(True, result=created, job=handle, poll_seconds=poll_seconds)

    def _created_before(self, cluster: dict[str, str], jobs_path: str, mark: str | None,
                        timeout: float | None) -> Any:
        """The Job this attempt's earlier run created, found by its label (None: none)."""
        if mark is None:
            return None
        answer = self.request(cluster, "GET", jobs_path,
                              [("labelSelector", f"{REQUEST_LABEL}={mark}")], timeout=timeout)
        found = _parsed(answer.body) if answer.status < 300 else None
        items = found.get("items") if isinstance(found, dict) else None
        return items[0] if isinstance(items, list) and items else None

    def _ours(self, cluster: dict[str, str], jobs_path: str, job: bytes, mark: str | None,
              timeout: float | None) -> Any:
        """The Job of that name, if this attempt created it (its label says so)."""
        name = (_json_object(job).get("metadata") or {}).get("name")
        if mark is None or not isinstance(name, str):
            return None
        answer = self.request(cluster, "GET", f"{jobs_path}/{_segment(name)}", timeout=timeout)
        found = _parsed(answer.body) if answer.status < 300 else None
        labels = ((found if isinstance(found, dict) else {}).get("metadata") or {}).get("labels")
        return found if isinstance(labels, dict) and labels.get(REQUEST_LABEL) == mark else None

    def poll(self, job: dict[str, Any], poll_seconds: float, timeout: float | None
             ) -> Invocation:
        """Read the Job back: running -> poll again; Complete -> its description (and
        logs); Failed -> States.TaskFailed."""
        try:
            answer = self.request(job, "GET", _job_path(job), timeout=timeout)
        except Refused as refused:
            return Invocation(False, error=refused.error, cause=refused.cause)
        if answer.status >= 400:
            return _failed(answer)
        described = _parsed(answer.body)
        if not isinstance(described, dict):
            return Invocation(False, error=errors.TASK_FAILED, cause="The Kubernetes API "
                              "answered the Job's description with no JSON object")
        ended = _ended(described)
        if ended is None:
            return Invocation(True, job=job, poll_seconds=poll_seconds)
        found = job.get("LogOptions")
        options: dict[str, Any] = found if isinstance(found, dict) else {}
        if options.get("RetrieveLogs") is True:
            described = {**described, "logs": self.logs(job, options, timeout)}
        if ended == "Complete":
            return Invocation(True, result=described)
        return Invocation(False, error=errors.TASK_FAILED,
                          cause=json.dumps(described, separators=(",", ":")))

    def logs(self, job: dict[str, Any], options: dict[str, Any], timeout: float | None
             ) -> dict[str, Any]:
        """Every container's log of the Job's pods, best effort: a log that cannot be read
        has `error` and `cause` in place of `log`."""
        namespace = _segment(job["Namespace"])
        pods: dict[str, Any] = {}
        try:
            listed = self.request(job, "GET", f"/api/v1/namespaces/{namespace}/pods",
                                  [("labelSelector", f"job-name={job['Name']}")],
                                  timeout=timeout)
        except Refused as refused:
            return {"pods": {}, "error": refused.error, "cause": refused.cause}
        if listed.status >= 400:
            return {"pods": {}, "error": f"EKS.{listed.status}",
                    "cause": listed.body.decode("utf-8", "replace")}
        found = _parsed(listed.body)
        items = found.get("items") if isinstance(found, dict) else None
        try:
            extra = _query(options.get("LogParameters"), "LogOptions.LogParameters")
        except Refused as refused:
            return {"pods": {}, "error": refused.error, "cause": refused.cause}
        for pod in items if isinstance(items, list) else []:
            name = str((pod.get("metadata") or {}).get("name", ""))
            containers: dict[str, Any] = {}
            for container in (pod.get("spec") or {}).get("containers") or []:
                cname = str(container.get("name", ""))
                containers[cname] = self._log(job, namespace, name, cname, extra, options,
                                              timeout)
            pods[name] = {"containers": containers}
        return {"pods": pods}

    def _log(self, job: dict[str, Any], namespace: str, pod: str, container: str,
             extra: list[tuple[str, str]], options: dict[str, Any], timeout: float | None
             ) -> dict[str, Any]:
        try:
            answer = self.request(job, "GET",
                                  f"/api/v1/namespaces/{namespace}/pods/{_segment(pod)}/log",
                                  [("container", container), *extra], timeout=timeout,
                                  limit=MAX_LOG_BYTES)
        except Refused as refused:
            return {"error": refused.error, "cause": refused.cause}
        text = answer.body.decode("utf-8", "replace")
        if answer.status >= 400:
            return {"error": f"EKS.{answer.status}", "cause": text}
        if options.get("RawLogs") is True:
            return {"log": text}
        # "By default, logs are deserialized into JSON if possible" (AWS's EKS page).
        try:
            return {"log": json.loads(text)}
        except ValueError:
            return {"log": text}

    def stop(self, job: Any) -> tuple[bool, str]:
        """Delete the Job and its pods: (settled, what came of it). A Job already gone
        counts as stopped."""
        if not isinstance(job, dict) or "Name" not in job:
            return True, "no job handle"
        options = json.dumps({"kind": "DeleteOptions", "apiVersion": "v1",
                              "propagationPolicy": "Foreground"}).encode()
        try:
            answer = self.request(job, "DELETE", _job_path(job), body=options)
        except Refused as refused:
            return False, f"failed: {refused.cause}"
        except KeyError as exc:
            return True, f"incomplete job handle ({exc})"
        if answer.status < 300:
            return True, "deleted"
        if answer.status == 404:
            return True, "unknown to the cluster (already deleted)"
        return False, f"failed: EKS.{answer.status}: {answer.body[:500]!r}"


# --- helpers -------------------------------------------------------------------------------


def _object(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        raise Refused(errors.RUNTIME, "The Kubernetes API integrations take a JSON object "
                      "of parameters")
    return parameters


def _cluster(params: dict[str, Any]) -> dict[str, str]:
    """ClusterName, CertificateAuthority and Endpoint: required, strings; https only."""
    out = {}
    for name in ("ClusterName", "CertificateAuthority", "Endpoint"):
        value = params.get(name)
        if not isinstance(value, str) or not value:
            raise Refused(errors.RUNTIME, f"The field '{name}' is required (a string)")
        out[name] = value
    if urllib.parse.urlsplit(out["Endpoint"]).scheme != "https":
        raise Refused(errors.RUNTIME, f"The Endpoint '{out['Endpoint']}' is not an https URL")
    return out


def _namespace(params: dict[str, Any]) -> str:
    namespace = params.get("Namespace", "default")
    if not isinstance(namespace, str) or not namespace:
        raise Refused(errors.RUNTIME, "The field 'Namespace' must be a non-empty string")
    return namespace


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _job_path(job: dict[str, Any]) -> str:
    return (f"/apis/batch/v1/namespaces/{_segment(job['Namespace'])}/jobs/"
            f"{_segment(job['Name'])}")


def _tls(authority: str) -> ssl.SSLContext:
    """Trust only the cluster's own CA (a PEM, base64-encoded as DescribeCluster gives it)."""
    try:
        pem = base64.b64decode(authority, validate=True).decode("ascii")
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
        raise Refused(errors.RUNTIME, "The CertificateAuthority is not a base64-encoded PEM "
                      f"certificate: {exc}") from None


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _marked(job: Any, seed: str) -> tuple[bytes, str | None]:
    """The Job to POST, labelled with the attempt's mark when it is a JSON object."""
    if isinstance(job, str):
        parsed: Any = _json_object(job.encode()) or None
        if parsed is None:
            return job.encode(), None  # not JSON: sent as it is, unmarked
        job = parsed
    if not isinstance(job, dict):
        raise Refused(errors.RUNTIME, "The field 'Job' is required (a batch/v1 Job, JSON or "
                      "its text)")
    if not seed:
        return json.dumps(job).encode(), None
    mark = hashlib.sha256(seed.encode()).hexdigest()[:40]
    metadata = dict(job.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), REQUEST_LABEL: mark}
    return json.dumps({**job, "metadata": metadata}).encode(), mark


def _query(value: Any, where: str) -> list[tuple[str, str]]:
    """A map of name -> list of strings (a lone string is taken as one value)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise Refused(errors.RUNTIME, f"{where} must be a map of names to lists of strings")
    pairs = []
    for name, values in value.items():
        for item in values if isinstance(values, list) else [values]:
            pairs.append((str(name), item if isinstance(item, str) else json.dumps(item)))
    return pairs


def _body(value: Any, method: str) -> tuple[bytes | None, str]:
    # A PATCH's JSON is a merge patch (RFC 7386), which the Kubernetes API takes for any object.
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    if value is None:
        return None, content_type
    if isinstance(value, str):
        return value.encode(), content_type
    return json.dumps(value, separators=(",", ":")).encode(), content_type


def _answer(status: int, reason: str, headers: Any, stream: Any, limit: int) -> Answer:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused(errors.TASK_FAILED, f"The Kubernetes API's answer is larger than "
                      f"{limit} bytes")
    grouped: dict[str, list[str]] = {}
    for name, value in (headers.items() if headers is not None else []):
        grouped.setdefault(str(name), []).append(str(value))
    return Answer(status, reason or "", grouped, data)


def _parsed(data: bytes) -> Any:
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text) if text else text
    except ValueError:
        return text


def _failed(answer: Answer) -> Invocation:
    return Invocation(False, error=f"EKS.{answer.status}",
                      cause=answer.body.decode("utf-8", "replace"))


def _ended(job: dict[str, Any]) -> str | None:
    """"Complete" or "Failed" once the Job has that condition (status True), else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("status") == "True" and (
            condition.get("type") in ("Complete", "Failed")
        ):
            return str(condition["type"])
    return None


__all__ = ["KubernetesCaller", "TOKEN_PREFIX"]
