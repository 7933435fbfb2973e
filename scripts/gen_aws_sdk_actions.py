"""Regenerate engine/asl/aws_sdk_actions.json from botocore's bundled service models.

    .venv/bin/python scripts/gen_aws_sdk_actions.py

Step Functions names an AWS SDK integration `arn:aws:states:::aws-sdk:SERVICE:ACTION`,
SERVICE being the SDK's service id in lower case without spaces (botocore `serviceId`
"CloudWatch Logs" -> `cloudwatchlogs`, "EventBridge" -> `eventbridge`) and ACTION the
operation in camelCase (`ListObjectsV2` -> `listObjectsV2`). The file is shipped with the
package so that validation (a pure layer) never imports boto3 and gives the same answer
wherever it runs; this script is the only place that reads botocore's data directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session

OUT = Path(__file__).resolve().parent.parent / "engine" / "asl" / "aws_sdk_actions.json"


def sfn_service_name(service_id: str) -> str:
    return re.sub(r"[^a-z0-9]", "", service_id.lower())


def error_prefix(service_id: str) -> str:
    """The PascalCase service name Step Functions puts before an aws-sdk error
    (`S3.NoSuchKeyException`, `DynamoDb...`, `AcmPca...`): the AWS SDK for Java 2.x
    client name, split on word boundaries and each word capitalised."""
    text = re.sub(r"[^A-Za-z0-9]+", " ", service_id)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", text)
    words = [w for w in text.split() if w]
    name = "".join(w[0].upper() + w[1:].lower() for w in words)
    for prefix in ("Amazon", "Aws"):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    return name


def main() -> None:
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    services: dict[str, dict[str, str]] = {}
    for botocore_name in sorted(session.get_available_services()):
        model = loader.load_service_model(botocore_name, "service-2")
        meta = model["metadata"]
        service_id = meta.get("serviceId") or botocore_name
        name = sfn_service_name(service_id)
        actions = sorted(op[0].lower() + op[1:] for op in model["operations"])
        services[name] = {
            "botocore": botocore_name,
            "error": error_prefix(service_id),
            "actions": ",".join(actions),
        }
    OUT.write_text(json.dumps(services, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(services)} services, {OUT.stat().st_size} bytes -> {OUT}")


if __name__ == "__main__":
    main()
