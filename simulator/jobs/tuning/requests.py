"""The CreateTrainingJob request a tuning job sends for one set of hyperparameters.

SageMaker builds each training job from the definition: its members map onto
CreateTrainingJob's (AlgorithmSpecification with the MetricDefinitions, RoleArn,
channels, output, resources, stopping condition, VPC, checkpoints, environment, …),
HyperParameters are the StaticHyperParameters with the tuned values laid over them,
and the job is named ``<tuning job>-<NNN>-<8 hex>`` (NNN counting from 001).
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

# Definition members passed to the training job as they are.
_COPIED = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


def training_job_name(tuning_name: str, index: int) -> str:
    """The service's name of the tuning job's ``index``-th training job (1-based)."""
    return f"{tuning_name}-{index:03d}-{secrets.token_hex(4)}"


def training_request(
    definition: dict[str, Any], name: str, tuned: dict[str, str]
) -> dict[str, Any]:
    """CreateTrainingJob request of one training job of a tuning job."""
    request: dict[str, Any] = {"TrainingJobName": name}
    algo = copy.deepcopy(definition["AlgorithmSpecification"])
    request["AlgorithmSpecification"] = algo
    request["HyperParameters"] = {**definition.get("StaticHyperParameters", {}), **tuned}
    for key in _COPIED:
        if key in definition:
            request[key] = copy.deepcopy(definition[key])
    resources = definition.get("ResourceConfig")
    if resources is None:
        tuning_resources = definition.get("HyperParameterTuningResourceConfig", {})
        resources = {
            k: tuning_resources[k]
            for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
            if k in tuning_resources
        }
    request["ResourceConfig"] = copy.deepcopy(resources)
    return request
