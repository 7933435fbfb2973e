"""A tiny Kubernetes API server for the EKS integration tests: real HTTPS on 127.0.0.1 with
a certificate from a CA made for the test (the `cryptography` package), serving the batch/v1
Job paths, a Job's pods and their logs, and recording every request it receives.

A Job's outcome is chosen by its annotation `test/outcome` (`Complete`, `Failed`, or
anything else: it keeps running): the first read of a Job shows it active, later reads
show its outcome. Each pod's container logs `{"pi": 3.14159}` when the container is named
`json`, else two lines of text."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def make_certificates(directory: Path) -> tuple[str, Path, Path]:
    """(the CA as DescribeCluster gives it: base64 of its PEM, server cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
              .issuer_name(ca_name).public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([
                  x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                  x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                  ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(ca_pem).decode(), cert_file, key_file


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """Kubernetes' Status object, as the API server answers a failed request."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


@dataclass
class FakeKubernetes:
    directory: Path
    seen: list[Seen] = field(default_factory=list)
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reads: dict[tuple[str, str], int] = field(default_factory=dict)
    deleted: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ca, cert, key = make_certificates(self.directory)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's names
                fake.handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake.handle(self, "POST")

            def do_DELETE(self) -> None:  # noqa: N802
                fake.handle(self, "DELETE")

            def do_PATCH(self) -> None:  # noqa: N802
                fake.handle(self, "PATCH")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.endpoint = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def cluster(self, name: str = "prod") -> dict[str, str]:
        """The parameters that name this cluster in a state."""
        return {"ClusterName": name, "CertificateAuthority": self.ca, "Endpoint": self.endpoint}

    def requests(self, method: str, prefix: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == method and s.path.startswith(prefix)]

    # --- the API ---------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(request.path)
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        seen = Seen(method, url.path, urllib.parse.parse_qs(url.query),
                    {k.lower(): v for k, v in request.headers.items()}, body)
        with self.lock:
            self.seen.append(seen)
            code, payload, content_type = self.answer(seen)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        request.send_response(code)
        request.send_header("Content-Type", content_type)
        request.send_header("Audit-Id", "7e2b")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def answer(self, seen: Seen) -> tuple[int, Any, str]:
        parts = seen.path.strip("/").split("/")
        if not seen.headers.get("authorization", "").startswith("Bearer k8s-aws-v1."):
            return 401, status(401, "Unauthorized", "Unauthorized"), "application/json"
        if parts[:4] == ["apis", "batch", "v1", "namespaces"] and len(parts) >= 6:
            namespace = parts[4]
            if len(parts) == 6 and seen.method == "POST":
                return self.create(namespace, json.loads(seen.body))
            if len(parts) == 6 and seen.method == "GET":
                return 200, self.listed(namespace, seen.query), "application/json"
            if len(parts) == 7:
                return self.job(namespace, parts[6], seen.method)
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) >= 5 and parts[4] == "pods":
            if len(parts) == 5 and seen.method == "GET":
                return 200, self.pods(parts[3], seen.query), "application/json"
            if len(parts) == 7 and parts[6] == "log":
                container = seen.query.get("container", [""])[0]
                text = b'{"pi": 3.14159}\n' if container == "json" else b"hello\nworld\n"
                return 200, text, "text/plain"
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 5 and (
            parts[4] == "configmaps" and seen.method == "POST"
        ):
            made = json.loads(seen.body)
            made.setdefault("metadata", {})["uid"] = "cm-1"
            return 201, made, "application/json"
        return 404, status(404, "NotFound", f"the server could not find the requested "
                                            f"resource ({seen.path})"), "application/json"

    def create(self, namespace: str, job: dict[str, Any]) -> tuple[int, Any, str]:
        name = job["metadata"].get("name")
        if name is None:  # generateName: a new name each time, as the API server does
            name = job["metadata"]["generateName"] + f"{len(self.jobs):05d}"
            job["metadata"]["name"] = name
        if (namespace, name) in self.jobs:
            return 409, status(409, "AlreadyExists", f'jobs.batch "{name}" already exists'), \
                "application/json"
        made = copy.deepcopy(job)
        made["metadata"].update({"namespace": namespace, "uid": f"uid-{name}",
                                 "labels": {**made["metadata"].get("labels", {}),
                                            "job-name": name}})
        made["status"] = {}
        self.jobs[(namespace, name)] = made
        return 201, made, "application/json"

    def job(self, namespace: str, name: str, method: str) -> tuple[int, Any, str]:
        found = self.jobs.get((namespace, name))
        if found is None:
            return 404, status(404, "NotFound", f'jobs.batch "{name}" not found'), \
                "application/json"
        if method == "DELETE":
            del self.jobs[(namespace, name)]
            self.deleted.append((namespace, name))
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}, \
                "application/json"
        reads = self.reads[(namespace, name)] = self.reads.get((namespace, name), 0) + 1
        outcome = (found["metadata"].get("annotations") or {}).get("test/outcome")
        described = copy.deepcopy(found)
        if reads == 1 or outcome not in ("Complete", "Failed"):
            described["status"] = {"active": 1}
        else:
            described["status"] = {
                "succeeded" if outcome == "Complete" else "failed": 1,
                "conditions": [{"type": outcome, "status": "True"}]}
        return 200, described, "application/json"

    def listed(self, namespace: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """The Jobs of a namespace, filtered by one `key=value` label selector."""
        key, _, value = query.get("labelSelector", ["="])[0].partition("=")
        items = [j for (ns, _), j in self.jobs.items() if ns == namespace and (
            not key or j["metadata"].get("labels", {}).get(key) == value)]
        return {"kind": "JobList", "apiVersion": "batch/v1", "items": items}

    def pods(self, namespace: str, query: dict[str, list[str]]) -> dict[str, Any]:
        selector = query.get("labelSelector", [""])[0]
        items = []
        for (ns, name), job in self.jobs.items():
            if ns == namespace and selector == f"job-name={name}":
                spec = job["spec"]["template"]["spec"]
                items.append({"metadata": {"name": f"{name}-x7k2p", "namespace": ns},
                              "spec": {"containers": [{"name": c["name"]}
                                                      for c in spec["containers"]]}})
        return {"kind": "PodList", "apiVersion": "v1", "items": items}


def job(name: str, outcome: str, containers: tuple[str, ...] = ("json",)) -> dict[str, Any]:
    """A batch/v1 Job as a state's `Job` parameter."""
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "annotations": {"test/outcome": outcome}},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "containers": [{"name": c, "image": "perl"} for c in containers],
                "restartPolicy": "Never"}}}}
