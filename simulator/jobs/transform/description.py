"""The DescribeTransformJob response of one job: the request echoed with the service's
defaults, the ARN, the status and times; ``FailureReason`` when it fails.

DescribeTransformJob has no LastModifiedTime (ListTransformJobs summaries do): the
record keeps it for the list, ``public_view`` drops it from what a client sees.
"""

from __future__ import annotations

import copy
from typing import Any

from simulator.jobs.records import now

DEFAULT_MAX_PAYLOAD_MB = 6  # the service's default MaxPayloadInMB
DEFAULT_CONCURRENCY = 1  # MaxConcurrentTransforms when neither given nor suggested


def initial_description(request: dict[str, Any], arn: str) -> dict[str, Any]:
    t = now()
    transform_input = copy.deepcopy(request["TransformInput"])
    transform_input.setdefault("CompressionType", "None")
    transform_input.setdefault("SplitType", "None")
    output = copy.deepcopy(request["TransformOutput"])
    output.setdefault("AssembleWith", "None")
    desc: dict[str, Any] = {
        "TransformJobName": request["TransformJobName"],
        "TransformJobArn": arn,
        "TransformJobStatus": "InProgress",
        "ModelName": request["ModelName"],
        "MaxConcurrentTransforms": request.get("MaxConcurrentTransforms") or DEFAULT_CONCURRENCY,
        "MaxPayloadInMB": request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
        "BatchStrategy": request.get("BatchStrategy", "SingleRecord"),
        "TransformInput": transform_input,
        "TransformOutput": output,
        "TransformResources": copy.deepcopy(request["TransformResources"]),
        "CreationTime": t,
        "LastModifiedTime": t,
    }
    for key in ("ModelClientConfig", "Environment", "DataProcessing", "ExperimentConfig"):
        if key in request:
            desc[key] = copy.deepcopy(request[key])
    if "DataProcessing" in desc:
        desc["DataProcessing"].setdefault("InputFilter", "$")
        desc["DataProcessing"].setdefault("OutputFilter", "$")
        desc["DataProcessing"].setdefault("JoinSource", "None")
    return desc


def public_view(describe: dict[str, Any]) -> dict[str, Any]:
    """The DescribeTransformJob response: the record without LastModifiedTime."""
    return {k: v for k, v in describe.items() if k != "LastModifiedTime"}
