"""The DescribeProcessingJob a CreateProcessingJob request starts as (InProgress)."""

from __future__ import annotations

import copy
from typing import Any

from simulator.jobs.records import now


def initial_description(request: dict[str, Any], arn: str) -> dict[str, Any]:
    t = now()
    desc: dict[str, Any] = {
        "ProcessingJobName": request["ProcessingJobName"],
        "ProcessingResources": copy.deepcopy(request["ProcessingResources"]),
        "AppSpecification": copy.deepcopy(request["AppSpecification"]),
        "RoleArn": request["RoleArn"],
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "InProgress",
        "CreationTime": t,
        "LastModifiedTime": t,
        "StoppingCondition": copy.deepcopy(
            request.get("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        ),
    }
    inputs = copy.deepcopy(request.get("ProcessingInputs", []))
    for item in inputs:
        # The service echoes the defaults it applied.
        s3 = item.get("S3Input", {})
        s3.setdefault("S3InputMode", "File")
        s3.setdefault("S3DataDistributionType", "FullyReplicated")
        s3.setdefault("S3CompressionType", "None")
        item.setdefault("AppManaged", False)
    if inputs:
        desc["ProcessingInputs"] = inputs
    if "ProcessingOutputConfig" in request:
        out = copy.deepcopy(request["ProcessingOutputConfig"])
        for item in out.get("Outputs", []):
            item.get("S3Output", {}).setdefault("S3UploadMode", "EndOfJob")
            item.setdefault("AppManaged", False)
        desc["ProcessingOutputConfig"] = out
    for key in ("Environment", "NetworkConfig", "ExperimentConfig"):
        if key in request:
            desc[key] = copy.deepcopy(request[key])
    return desc
