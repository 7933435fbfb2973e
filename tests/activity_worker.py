"""An activity worker written only with boto3, as a user would write one in any language:
poll, work, answer. Run as its own process by tests/test_e2e_activities.py:

    python tests/activity_worker.py ENDPOINT ACTIVITY_ARN WORKER_NAME COUNT

It serves COUNT tasks: an input {"n": N} is answered with {"square": N*N}, {"fail": true}
with SendTaskFailure, {"beats": K} with K heartbeats a second apart before the answer.
"""

from __future__ import annotations

import json
import sys
import time

import boto3
from botocore.config import Config


def main(endpoint: str, activity_arn: str, worker: str, count: int) -> None:
    sfn = boto3.client(
        "stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(read_timeout=70, retries={"max_attempts": 1}),
    )
    served = 0
    while served < count:
        task = sfn.get_activity_task(activityArn=activity_arn, workerName=worker)
        token = task.get("taskToken")
        if not token:
            continue  # the long poll ended empty: poll again
        served += 1
        work = json.loads(task["input"])
        for _ in range(int(work.get("beats", 0))):
            sfn.send_task_heartbeat(taskToken=token)
            time.sleep(1.0)
        if work.get("fail"):
            sfn.send_task_failure(taskToken=token, error="WorkFailed", cause=f"by {worker}")
        else:
            result = {"square": work.get("n", 0) ** 2, "worker": worker}
            sfn.send_task_success(taskToken=token, output=json.dumps(result))
        print(f"{worker} served {work}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
