"""Regenerate engine/asl/aws_sdk_actions.json from botocore's bundled service models.

    .venv/bin/python scripts/gen_aws_sdk_actions.py

Step Functions names an AWS SDK integration `arn:aws:states:::aws-sdk:SERVICE:ACTION`,
SERVICE being the SDK's service id in lower case without spaces (botocore `serviceId`
"CloudWatch Logs" -> `cloudwatchlogs`, "EventBridge" -> `eventbridge`), a trailing word
"Service" dropped as the AWS SDK for Java names its clients ("Config Service" -> `config`,
"Database Migration Service" -> `databasemigration`), and ACTION the operation in
camelCase (`ListObjectsV2` -> `listObjectsV2`). Names and error prefixes are checked
against the table of "Supported AWS SDK service integrations" in the Step Functions
Developer Guide; the few prefixes that follow no rule are listed in `DOCUMENTED_PREFIXES`.

Services Step Functions no longer offers (NOT_OFFERED) and the operations its table marks
unsupported (UNSUPPORTED_OPERATIONS) are left out, as CreateStateMachine refuses them.
Services Step Functions still lists but the current botocore no longer ships (RETIRED)
are read from an older botocore's data directory given with `--legacy-data`:

    pip download --no-deps botocore==1.34.162 -d DIR && unzip DIR/botocore-*.whl -d DIR
    pip download --no-deps botocore==1.31.85 -d DIR2 && unzip DIR2/botocore-*.whl -d DIR2
    .venv/bin/python scripts/gen_aws_sdk_actions.py \
        --legacy-data DIR/botocore/data --legacy-data DIR2/botocore/data

The file is shipped with the package so that validation (a pure layer) never imports boto3
and gives the same answer wherever it runs; this script is the only place that reads
botocore's data directory.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session

OUT = Path(__file__).resolve().parent.parent / "engine" / "asl" / "aws_sdk_actions.json"


#: Error prefixes of the Developer Guide's table that the naming rule below does not give.
DOCUMENTED_PREFIXES = {
    "iot": "Iot",
    "iotevents": "IotEvents",
    "ioteventsdata": "IotEventsData",
    "iotjobsdataplane": "IotJobsDataPlane",
    "iotwireless": "IotWireless",
    "sesv2": "SesV2",
}
#: Services the Developer Guide still lists (so CreateStateMachine accepts them) that
#: botocore has since removed, by botocore name.
RETIRED = (
    "elastic-inference", "finspace", "finspace-data", "honeycode", "iotanalytics",
    "iotevents", "iotevents-data", "iotfleethub", "lookoutvision", "opsworkscm", "panorama",
    "privatenetworks", "simspaceweaver", "sms", "tnb",
)
#: Step Functions names, not offered although botocore has them: the services its
#: "Service integrations release history" lists as removed (Lex V1), and services its
#: table leaves out that AWS refuses ("The resource provided
#: arn:aws:states:::aws-sdk:apigatewaymanagementapi:postToConnection is not recognized").
NOT_OFFERED = frozenset({"lexmodelbuilding", "lexruntime", "apigatewaymanagementapi"})
#: The table's "Unsupported operations", by Step Functions service name.
UNSUPPORTED_OPERATIONS = {
    "applicationdiscovery": ("describeExportConfigurations", "exportConfigurations"),
    "bedrockagentruntime": ("invokeAgent", "invokeFlow", "invokeInlineAgent", "optimizePrompt",
                            "retrieveAndGenerateStream"),
    "bedrockruntime": ("converseStream", "invokeModelWithResponseStream"),
    "cloudwatchlogs": ("startLiveTail",),
    "codedeploy": ("batchGetDeploymentInstances", "getDeploymentInstance",
                   "listDeploymentInstances", "skipWaitTimeForInstanceTermination"),
    "comprehendmedical": ("detectEntities",),
    "dataexchange": ("sendApiAsset",),
    "directconnect": ("allocateConnectionOnInterconnect", "describeConnectionLoa",
                      "describeConnectionsOnInterconnect", "describeInterconnectLoa"),
    "efs": ("createTags",),
    "emr": ("describeJobFlows",),
    "iot": ("attachPrincipalPolicy", "detachPrincipalPolicy", "listPolicyPrincipals",
            "listPrincipalPolicies"),
    "iotdeviceadvisor": ("listTestCases",),
    "iotsitewise": ("invokeAssistant",),
    "kinesis": ("subscribeToShard",),
    "lambda": ("invokeAsync", "invokeWithResponseStream"),
    "lexruntimev2": ("startConversation",),
    "mediapackage": ("rotateChannelCredentials",),
    "qbusiness": ("chat",),
    "rdsdata": ("executeSql",),
    "s3": ("selectObjectContent",),
    "s3control": ("selectObjectContent",),
    "sagemakerruntime": ("invokeEndpointWithResponseStream",),
    "shield": ("deleteSubscription",),
    "sts": ("assumeRole", "assumeRoleWithSAML", "assumeRoleWithWebIdentity"),
}


def _drop_service_word(service_id: str) -> str:
    # The AWS SDK for Java 2.x drops a trailing "Service" from its client names.
    return re.sub(r"\s+Service$", "", service_id.strip())


def sfn_service_name(service_id: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _drop_service_word(service_id).lower())


def error_prefix(service_id: str) -> str:
    """The PascalCase service name Step Functions puts before an aws-sdk error
    (`S3.NoSuchKeyException`, `DynamoDb...`, `AcmPca...`): the AWS SDK for Java 2.x
    client name, split on word boundaries and each word capitalised."""
    text = re.sub(r"[^A-Za-z0-9]+", " ", _drop_service_word(service_id))
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", text)
    words = [w for w in text.split() if w]
    name = "".join(w[0].upper() + w[1:].lower() for w in words)
    for prefix in ("Amazon", "Aws"):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    return name


def entry(botocore_name: str, model: dict[str, Any]) -> tuple[str, dict[str, str]]:
    service_id = model["metadata"].get("serviceId") or botocore_name
    name = sfn_service_name(service_id)
    unsupported = set(UNSUPPORTED_OPERATIONS.get(name, ()))
    actions = sorted(
        action
        for action in (op[0].lower() + op[1:] for op in model["operations"])
        if action not in unsupported
    )
    prefix = DOCUMENTED_PREFIXES.get(name, error_prefix(service_id))
    return name, {"botocore": botocore_name, "error": prefix, "actions": ",".join(actions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legacy-data", action="append", default=[], type=Path,
                        help="an older botocore's data directory, for the RETIRED services")
    args = parser.parse_args()
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    services: dict[str, dict[str, str]] = {}
    for botocore_name in sorted(session.get_available_services()):
        name, found = entry(botocore_name, loader.load_service_model(botocore_name, "service-2"))
        if name not in NOT_OFFERED:
            services[name] = found
    retired = set(RETIRED) - set(session.get_available_services())
    for data in args.legacy_data:
        legacy = botocore.loaders.Loader(extra_search_paths=[str(data)],
                                         include_default_search_paths=False)
        for botocore_name in sorted(retired & set(legacy.list_available_services("service-2"))):
            model = legacy.load_service_model(botocore_name, "service-2")
            name, found = entry(botocore_name, model)
            services.setdefault(name, found)
            retired.discard(botocore_name)
    if retired:
        raise SystemExit(f"retired services not found (give --legacy-data): {sorted(retired)}")
    OUT.write_text(json.dumps(services, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(services)} services, {OUT.stat().st_size} bytes -> {OUT}")


if __name__ == "__main__":
    main()
