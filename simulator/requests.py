"""Job requests shaped as the SageMaker Python SDK shapes them, from a script contract.

One function per job kind: :func:`training_request` (CreateTrainingJob, what the SDK's
framework estimators send on ``fit()``), :func:`tuning_request`
(CreateHyperParameterTuningJob, what its ``HyperparameterTuner`` sends on ``fit()``, from
the training request) and :func:`processing_request` (CreateProcessingJob, what its
``ScriptProcessor`` sends on ``run()``). `smsim train`
calls them with concrete S3 URIs; pipeline assembly with ``Get``/``Std:Join``
expressions in place of URIs (a step's ``Arguments`` is the request without the name
the service generates). The SDK's defaults smsim uses live here once: images, role,
the ``train``/``val``/``test`` channels, the source dir, the resources.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from contracts.base import ProcessingScriptContract, TrainingScriptContract

# The container source dir: train.py, preprocess.py, evaluate.py and the bsm/ package.
DEFAULT_SOURCE_DIR = Path(__file__).resolve().parents[1] / "dockers" / "pytorch_bsm"
# The account moto (and so the embedded SageMaker) answers with.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
_ECR = "763104351884.dkr.ecr.{region}.amazonaws.com"  # the SDK's framework images account
TRAINING_IMAGE = _ECR + "/pytorch-training:2.1-cpu-py310"
INFERENCE_IMAGE = _ECR + "/pytorch-inference:2.1-cpu-py310"
# preprocess.py and evaluate.py need pandas, scikit-learn and onnxruntime, not torch:
# a small image of the user's own (the one the SDK-built fixture pipeline names).
PROCESSING_IMAGE = "{account}.dkr.ecr.{region}.amazonaws.com/bsm-processing:latest"
ROLE = "arn:aws:iam::{account}:role/SageMakerRole"
# A training-data prefix holds one folder per split; each becomes a channel, as the
# SDK's example pipelines pass one TrainingInput per split. train and val are needed.
TRAINING_CHANNELS: tuple[str, ...] = ("train", "val", "test")
REQUIRED_CHANNELS: tuple[str, ...] = ("train", "val")
# Where the SDK's ScriptProcessor puts the code (a ProcessingInput named "code").
PROCESSING_CODE_DIR = "/opt/ml/processing/input/code"
# The SDK's default log level entry (logging.INFO), sent with every framework job.
_LOG_LEVEL = "20"


class JobSettings(NamedTuple):
    """What a job runs on and as: image, role, region, instances, volume, time limit."""

    image: str
    role_arn: str
    region: str = DEFAULT_REGION
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = 86400


def image_uri(template: str, region: str, account: str = DEFAULT_ACCOUNT) -> str:
    """One of the image templates above for a region (and account)."""
    return template.format(region=region, account=account)


def role_arn(account: str = DEFAULT_ACCOUNT) -> str:
    """The execution role smsim names in requests by default."""
    return ROLE.format(account=account)


def is_expression(value: Any) -> bool:
    """A pipeline expression (``{"Get": …}``, ``{"Std:Join": …}``) rather than a value."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _EXPRESSIONS


_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")


def join(on: str, *values: Any) -> dict[str, Any]:
    """A definition's ``Std:Join`` of ``values`` (strings and expressions) on ``on``."""
    return {"Std:Join": {"On": on, "Values": list(values)}}


def sdk_hyperparameters(
    hyperparameters: Mapping[str, Any], *, entry_point: str, code_uri: Any, region: str
) -> dict[str, Any]:
    """The HyperParameters of a framework estimator's request.

    The SDK JSON-encodes every value (``"\\"adam\\""``, ``"0.01"``, ``"true"``) and adds
    the ``sagemaker_*`` entries the training toolkit reads: program, code, log level,
    region. A pipeline expression is kept as it is (the SDK renders a parameter so).
    """
    out = {
        str(key): value if is_expression(value) else json.dumps(value)
        for key, value in hyperparameters.items()
    }
    out.update(
        {
            "sagemaker_submit_directory": _json_or_expression(code_uri),
            "sagemaker_program": json.dumps(entry_point),
            "sagemaker_container_log_level": _LOG_LEVEL,
            "sagemaker_region": json.dumps(region),
        }
    )
    return out


def s3_channel(name: str, uri: Any) -> dict[str, Any]:
    """One InputDataConfig channel: an S3 prefix, fully replicated, File mode."""
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def training_request(
    contract: TrainingScriptContract,
    settings: JobSettings,
    *,
    channels: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    code_uri: Any,
    output_path: Any,
    checkpoint_uri: Any | None = None,
    job_name: str | None = None,
    metric_definitions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request the SDK sends for ``contract``'s script.

    ``channels`` maps channel name → S3 URI; the metric definitions are the contract's
    unless given. Without ``job_name`` it is a pipeline step's Arguments.
    """
    metrics = contract.metric_definitions if metric_definitions is None else metric_definitions
    algorithm: dict[str, Any] = {
        "TrainingInputMode": "File",
        "TrainingImage": settings.image,
    }
    if metrics:
        algorithm["MetricDefinitions"] = [dict(m) for m in metrics]
    algorithm["EnableSageMakerMetricsTimeSeries"] = True
    request: dict[str, Any] = {"TrainingJobName": job_name} if job_name else {}
    request.update(
        {
            "AlgorithmSpecification": algorithm,
            "OutputDataConfig": {"S3OutputPath": output_path},
            "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
            "ResourceConfig": {
                "VolumeSizeInGB": settings.volume_size_gb,
                "InstanceCount": settings.instance_count,
                "InstanceType": settings.instance_type,
            },
            "RoleArn": settings.role_arn,
            "InputDataConfig": [s3_channel(name, uri) for name, uri in channels.items()],
            "HyperParameters": sdk_hyperparameters(
                hyperparameters,
                entry_point=contract.entry_point,
                code_uri=code_uri,
                region=settings.region,
            ),
        }
    )
    if checkpoint_uri is not None:
        request["CheckpointConfig"] = {"S3Uri": checkpoint_uri}
    return request


class TuningSettings(NamedTuple):
    """What a HyperparameterTuner adds to its estimator's request."""

    objective_metric: str
    objective_type: str  # Maximize | Minimize
    strategy: str  # Bayesian | Random | Hyperband | Grid
    max_jobs: int
    max_parallel_jobs: int
    # name → {"min", "max", "scaling", "type": "continuous"|"integer"} or {"values": [...]}
    ranges: Mapping[str, Mapping[str, Any]]


def tuning_request(training: Mapping[str, Any], tuning: TuningSettings) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request (without its name) the SDK's
    HyperparameterTuner sends for an estimator whose CreateTrainingJob request is
    ``training``: the tuned hyperparameters leave StaticHyperParameters, the job's
    resources become HyperParameterTuningResourceConfig, and training jobs' other
    settings move into TrainingJobDefinition as they are."""
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
        "IntegerParameterRanges": [],
    }
    for name, spec in tuning.ranges.items():
        if "values" in spec:  # the SDK JSON-encodes categorical values for framework jobs
            values = [json.dumps(v) for v in spec["values"]]
            ranges["CategoricalParameterRanges"].append({"Name": name, "Values": values})
            continue
        kind = "Integer" if spec.get("type") == "integer" else "Continuous"
        ranges[f"{kind}ParameterRanges"].append(
            {
                "Name": name,
                "MinValue": str(spec["min"]),
                "MaxValue": str(spec["max"]),
                "ScalingType": spec.get("scaling", "Auto"),
            }
        )
    static = {k: v for k, v in training["HyperParameters"].items() if k not in tuning.ranges}
    definition: dict[str, Any] = {
        "StaticHyperParameters": static,
        "RoleArn": training["RoleArn"],
        "OutputDataConfig": dict(training["OutputDataConfig"]),
        "StoppingCondition": dict(training["StoppingCondition"]),
        "HyperParameterTuningResourceConfig": dict(training["ResourceConfig"]),
        "AlgorithmSpecification": {
            k: v
            for k, v in training["AlgorithmSpecification"].items()
            if k in ("TrainingInputMode", "TrainingImage", "MetricDefinitions")
        },
        "InputDataConfig": list(training["InputDataConfig"]),
    }
    if "CheckpointConfig" in training:
        definition["CheckpointConfig"] = dict(training["CheckpointConfig"])
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": tuning.strategy,
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": tuning.max_jobs,
                "MaxParallelTrainingJobs": tuning.max_parallel_jobs,
            },
            "TrainingJobEarlyStoppingType": "Off",
            "HyperParameterTuningJobObjective": {
                "Type": tuning.objective_type,
                "MetricName": tuning.objective_metric,
            },
            "ParameterRanges": ranges,
        },
        "TrainingJobDefinition": definition,
    }


def processing_input(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    """One ProcessingInput: an S3 prefix copied to ``local_path`` before the script runs."""
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def processing_output(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    """One ProcessingOutput: ``local_path`` uploaded to ``uri`` when the job ends."""
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def processing_request(
    contract: ProcessingScriptContract,
    settings: JobSettings,
    *,
    code_uri: Any,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    environment: Mapping[str, str] | None = None,
    job_name: str | None = None,
) -> dict[str, Any]:
    """The CreateProcessingJob request the SDK's ScriptProcessor sends for ``contract``.

    ``inputs`` maps a contract input's logical name → S3 URI and ``outputs`` a contract
    output's name → S3 URI; each lands at the contract's container path. The code is
    one more input, ``code``, and the entry point runs from there with the contract's
    arguments as ``--name value`` pairs.
    """
    processing_inputs = [
        processing_input(name, uri, contract.expected_input_paths[name])
        for name, uri in inputs.items()
    ]
    processing_inputs.append(processing_input("code", code_uri, PROCESSING_CODE_DIR))
    app: dict[str, Any] = {
        "ImageUri": settings.image,
        "ContainerEntrypoint": ["python3", f"{PROCESSING_CODE_DIR}/{contract.entry_point}"],
    }
    arguments = [
        item for arg, value in contract.expected_arguments.items() for item in (f"--{arg}", value)
    ]
    if arguments:
        app["ContainerArguments"] = arguments
    request: dict[str, Any] = {"ProcessingJobName": job_name} if job_name else {}
    request.update(
        {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": settings.instance_type,
                    "InstanceCount": settings.instance_count,
                    "VolumeSizeInGB": settings.volume_size_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": settings.role_arn,
            "ProcessingInputs": processing_inputs,
            "ProcessingOutputConfig": {
                "Outputs": [
                    processing_output(name, uri, contract.expected_output_paths[name])
                    for name, uri in outputs.items()
                ]
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        }
    )
    if environment:
        request["Environment"] = dict(environment)
    return request


def _json_or_expression(value: Any) -> Any:
    return value if is_expression(value) else json.dumps(value)
