"""The DescribeTrainingJob response of one job: what is recorded at create, what ends it.

Every member SageMaker fills for such a request: the request's own members echoed
(HyperParameters verbatim, AlgorithmSpecification with its MetricDefinitions,
InputDataConfig, OutputDataConfig with the service's defaults, ResourceConfig,
StoppingCondition, CheckpointConfig, Environment, …), the ARN, the statuses and
SecondaryStatusTransitions (``JobRecord.transition`` adds one per state), the times,
TrainingTimeInSeconds/BillableTimeInSeconds and FinalMetricDataList at the end.
``JobRecord`` validates it against botocore's output shape at every change.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from simulator.jobs.records import now
from simulator.s3 import S3Uri, parse_s3_uri
from simulator.shapes import output_shape

# Request members that are SageMaker service features with no local effect (network
# isolation, encryption, debugger/profiler configs, …) are echoed in the description as given.
_DESCRIBE_MEMBERS = set(output_shape("DescribeTrainingJob").members)


def output_prefix(request: dict[str, Any]) -> S3Uri:
    """Where the service puts a job's model.tar.gz and output.tar.gz: the one place that
    computes it (``<S3OutputPath>/<TrainingJobName>/output/``)."""
    out = parse_s3_uri(request["OutputDataConfig"]["S3OutputPath"])
    return out.join(request["TrainingJobName"], "output")


def initial_description(request: dict[str, Any], arn: str) -> dict[str, Any]:
    """The InProgress/Starting description recorded the moment the job is created."""
    t = now()
    name = request["TrainingJobName"]
    desc: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn,
        "ModelArtifacts": {"S3ModelArtifacts": str(output_prefix(request).join("model.tar.gz"))},
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "HyperParameters": dict(request.get("HyperParameters", {})),
        "AlgorithmSpecification": copy.deepcopy(request.get("AlgorithmSpecification", {})),
        "RoleArn": request["RoleArn"],
        "OutputDataConfig": {
            "CompressionType": "GZIP",
            "KmsKeyId": "",
            **request["OutputDataConfig"],
        },
        "ResourceConfig": copy.deepcopy(request.get("ResourceConfig", {})),
        "StoppingCondition": copy.deepcopy(
            request.get("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        ),
        "CreationTime": t,
        "LastModifiedTime": t,
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": t, "StatusMessage": "Starting the training job"}
        ],
        "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
        "EnableInterContainerTrafficEncryption": bool(
            request.get("EnableInterContainerTrafficEncryption", False)
        ),
        "EnableManagedSpotTraining": bool(request.get("EnableManagedSpotTraining", False)),
    }
    for key, value in request.items():
        if key in _DESCRIBE_MEMBERS and key not in desc:
            desc[key] = copy.deepcopy(value)
    if not desc["AlgorithmSpecification"].get("TrainingInputMode"):
        desc["AlgorithmSpecification"]["TrainingInputMode"] = "File"
    return desc


def end_fields(
    status: str, started: dt.datetime | None, final_metrics: list[dict[str, Any]]
) -> dict[str, Any]:
    """The members set when a job ends: status, end time, billed time, final metrics.

    TrainingTimeInSeconds runs from TrainingStartTime to TrainingEndTime; without
    spot training the service bills the same seconds (BillableTimeInSeconds), at
    least one.
    """
    end = now()
    seconds = max(1, round((end - (started or end)).total_seconds()))
    fields: dict[str, Any] = {
        "TrainingJobStatus": status,
        "TrainingEndTime": end,
        "TrainingTimeInSeconds": seconds,
        "BillableTimeInSeconds": seconds,
    }
    if final_metrics:
        fields["FinalMetricDataList"] = final_metrics
    return fields


def stopped_message(reason: str, request: dict[str, Any]) -> tuple[str, str]:
    """(SecondaryStatus, StatusMessage) of a stopped job: by StopTrainingJob or over time."""
    if reason == "MaxRuntimeExceeded":
        limit = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
        return reason, f"Training job stopped: MaxRuntimeInSeconds ({limit}) exceeded"
    if reason == "MaxWaitTimeExceeded":  # managed Spot training (spot.py)
        limit = request.get("StoppingCondition", {}).get("MaxWaitTimeInSeconds")
        return reason, f"Training job stopped: MaxWaitTimeInSeconds ({limit}) exceeded"
    return "Stopped", "Training job stopped"
