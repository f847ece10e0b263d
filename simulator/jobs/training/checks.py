"""CreateTrainingJob request checks: everything is refused before anything runs.

botocore's CreateTrainingJob input shape first (with what botocore skips: enums,
patterns such as the job name's ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$``, max
lengths), then what the service checks beyond the model (S3 URI form, unique
channel names, compilable MetricDefinitions, at most 40 metrics), then every
feature smsim does not simulate, refused by name rather than silently ignored.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from simulator.errors import Problem, UnsupportedFeature, ValidationError
from simulator.hosts import distribution
from simulator.hosts.cluster import Cluster, host_count_problems, instance_group_problems
from simulator.hosts.launcher import MAX_METRICS
from simulator.hosts.toolkit import Hyperparameters
from simulator.images import builtin_algorithm
from simulator.s3 import S3Error, list_keys, parse_s3_uri, s3_uri_problems
from simulator.shapes import validate_request


def check_create(request: dict[str, Any], s3: Any) -> None:
    """Every CreateTrainingJob check, once, in the service's order: the request itself
    (:func:`check_request`), then its S3Prefix channels listed in ``s3``."""
    check_request(request)  # the shape first: the channel check reads it
    problems = channel_problems(s3, request)
    if problems:
        raise ValidationError("CreateTrainingJob request", problems)


def check_request(request: dict[str, Any]) -> None:
    """Validate a CreateTrainingJob request; raise ValidationError / UnsupportedFeature."""
    validate_request("CreateTrainingJob", validation_view(request))
    problems: list[Problem] = service_refusals(request)
    out = request["OutputDataConfig"]
    problems += s3_uri_problems(out.get("S3OutputPath"), "OutputDataConfig.S3OutputPath")
    if "TensorBoardOutputConfig" in request:
        problems += s3_uri_problems(
            request["TensorBoardOutputConfig"].get("S3OutputPath"),
            "TensorBoardOutputConfig.S3OutputPath",
        )
    if "CheckpointConfig" in request:
        problems += s3_uri_problems(
            request["CheckpointConfig"].get("S3Uri"), "CheckpointConfig.S3Uri"
        )
    algo = request.get("AlgorithmSpecification", {})
    names = [c["ChannelName"] for c in request.get("InputDataConfig", [])]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem("InputDataConfig", "duplicate ChannelName", dup, "name each channel once")
        )
    for i, channel in enumerate(request.get("InputDataConfig", [])):
        where = f"InputDataConfig[{i}]"
        source = channel.get("DataSource", {})
        if "S3DataSource" in source:
            problems += s3_uri_problems(
                source["S3DataSource"].get("S3Uri"), f"{where}.DataSource.S3DataSource.S3Uri"
            )
        elif "FileDataSource" in source:
            uri = source["FileDataSource"].get("FileUri", "")
            local = file_uri_path(uri)
            if local is None or not local.exists():
                problems.append(
                    Problem(
                        f"{where}.DataSource.FileDataSource.FileUri",
                        "not an existing local path",
                        uri,
                        "use file:///absolute/path/to/dir",
                    )
                )
    for i, metric in enumerate(algo.get("MetricDefinitions", [])):
        try:
            re.compile(metric.get("Regex", ""))
        except re.error as exc:
            problems.append(
                Problem(
                    f"AlgorithmSpecification.MetricDefinitions[{i}].Regex",
                    f"not a valid regular expression ({exc})",
                    metric.get("Regex"),
                    "capture the value in the first group, e.g. 'loss=([0-9\\.]+)'",
                )
            )
    if len(algo.get("MetricDefinitions", [])) > MAX_METRICS:
        problems.append(
            Problem(
                "AlgorithmSpecification.MetricDefinitions",
                f"{len(algo['MetricDefinitions'])} metrics; SageMaker allows at most {MAX_METRICS}",
                None,
                f"keep the {MAX_METRICS} metrics you need",
            )
        )
    hps = Hyperparameters.from_request(request)  # decoded once for every check below
    submit_dir = hps.submit_directory
    if isinstance(submit_dir, str) and submit_dir.startswith("s3://"):
        problems += s3_uri_problems(submit_dir, "HyperParameters.sagemaker_submit_directory")
    problems += instance_group_problems(request)
    if not problems:
        where = (
            "ResourceConfig.InstanceGroups[*].InstanceCount"
            if request.get("ResourceConfig", {}).get("InstanceGroups")
            else "ResourceConfig.InstanceCount"
        )
        problems += host_count_problems(len(Cluster.for_training(request).hosts), where)
    if problems:
        raise ValidationError("CreateTrainingJob request", problems)
    _check_supported(request, algo, hps)


def service_refusals(request: dict[str, Any]) -> list[Problem]:
    """What the service refuses although botocore's model lets it pass (#17): the model
    makes AlgorithmSpecification optional and lets InstanceCount be 0 (for InstanceGroups),
    but CreateTrainingJob needs an image or algorithm ("You must specify either the
    algorithm name … or the image URI", AlgorithmSpecification.AlgorithmName's doc) and at
    least one instance."""
    problems: list[Problem] = []
    algo = request.get("AlgorithmSpecification")
    if not isinstance(algo, dict):
        problems.append(
            Problem(
                "AlgorithmSpecification",
                "missing: CreateTrainingJob needs the training image to run",
                None,
                "give AlgorithmSpecification={'TrainingImage': '<framework image URI>', "
                "'TrainingInputMode': 'File'}",
            )
        )
    elif not algo.get("TrainingImage") and not algo.get("AlgorithmName"):
        problems.append(
            Problem(
                "AlgorithmSpecification.TrainingImage",
                "missing: you must specify either AlgorithmName or TrainingImage",
                algo.get("TrainingImage"),
                "give the framework image URI, e.g. the SDK's image_uris.retrieve('pytorch', …)",
            )
        )
    stopping = request.get("StoppingCondition") or {}
    wait, runtime = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds")
    if wait is not None and runtime is not None and wait < runtime:
        # StoppingCondition.MaxWaitTimeInSeconds: "It must be equal to or greater than
        # MaxRuntimeInSeconds" (botocore's documentation of the member).
        problems.append(
            Problem(
                "StoppingCondition.MaxWaitTimeInSeconds",
                f"must be at least MaxRuntimeInSeconds ({runtime}): it bounds the job's "
                "training time and its wait for Spot capacity together",
                wait,
                f"set MaxWaitTimeInSeconds to {runtime} or more",
            )
        )
    resources = request.get("ResourceConfig") or {}
    if not resources.get("InstanceGroups") and resources.get("InstanceCount", 1) < 1:
        problems.append(
            Problem(
                "ResourceConfig.InstanceCount",
                "must be at least 1 (0 is only for InstanceGroups, which carry their own counts)",
                resources.get("InstanceCount"),
                "set InstanceCount to 1",
            )
        )
    return problems


def channel_problems(s3: Any, request: dict[str, Any]) -> list[Problem]:
    """CreateTrainingJob refuses an S3Prefix channel with no object under it (the service
    lists each prefix at create; FileDataSource channels are local and checked above)."""
    problems: list[Problem] = []
    for i, channel in enumerate(request.get("InputDataConfig", [])):
        source = channel.get("DataSource", {}).get("S3DataSource")
        if not source or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            continue
        uri = parse_s3_uri(source["S3Uri"])
        try:
            found = [k for k, _ in list_keys(s3, uri) if not k.endswith("/")]
        except S3Error:
            found = []
        if not found:
            problems.append(
                Problem(
                    f"InputDataConfig[{i}].DataSource.S3DataSource.S3Uri",
                    # The service's words (its ValidationException at create).
                    f'No S3 objects found under S3 URL "{uri}" given in input data source. '
                    "Please ensure that the bucket exists in the selected region, that "
                    "objects exist under that S3 prefix, and that the role "
                    f'"{request.get("RoleArn")}" has "s3:ListBucket" permissions on bucket '
                    f'"{uri.bucket}".',
                    None,
                    f"upload the {channel.get('ChannelName')!r} channel's data first, or fix "
                    "the prefix",
                )
            )
    return problems


def _check_supported(request: dict[str, Any], algo: dict[str, Any], hps: Hyperparameters) -> None:
    """Refuse, by name, every feature smsim would otherwise silently get wrong."""
    if algo.get("AlgorithmName"):
        raise UnsupportedFeature(
            "AlgorithmSpecification.AlgorithmName: marketplace/built-in algorithms need their "
            "container; give TrainingImage with a script (sagemaker_program) instead"
        )
    refusal = distribution.mpi_refusal(hps.framework, len(Cluster.for_training(request).hosts))
    if refusal:
        raise UnsupportedFeature(refusal)
    if request["OutputDataConfig"].get("CompressionType") == "NONE":
        raise UnsupportedFeature(
            "OutputDataConfig.CompressionType 'NONE' is not supported; omit it (GZIP)"
        )
    _check_channels(request, algo.get("TrainingInputMode", "File"))
    entrypoint = algo.get("ContainerEntrypoint")
    if not entrypoint and not hps.program:
        if builtin_algorithm(algo.get("TrainingImage")) is not None:
            return  # the image's built-in algorithm (simulator.algorithms) runs
        raise UnsupportedFeature(
            "no entry point: set the 'sagemaker_program' hyperparameter (with "
            "'sagemaker_submit_directory') or AlgorithmSpecification.ContainerEntrypoint; "
            "smsim runs no image's own entry point except its built-in algorithms' "
            "(sagemaker-xgboost)"
        )
    if not entrypoint and not hps.submit_directory:
        raise UnsupportedFeature(
            "'sagemaker_submit_directory' is missing: without a container image smsim has no "
            "code baked into /opt/ml/code; give the source dir (local path or S3 sourcedir.tar.gz)"
        )


def _check_channels(request: dict[str, Any], default_mode: str) -> None:
    """Channel refusals: the service's own rules for input modes and data types (the
    doc of S3DataSource.S3DataType and the developer guide's FastFile mode), and the
    data types smsim does not simulate. Everything else runs (jobs/channels.py)."""
    problems: list[Problem] = []
    for i, channel in enumerate(request.get("InputDataConfig", [])):
        where = f"InputDataConfig[{i}] ({channel.get('ChannelName')})"
        mode = channel.get("InputMode", default_mode)
        source = channel.get("DataSource", {})
        if "S3DataSource" in source:
            data_type = source["S3DataSource"].get("S3DataType")
            field = f"{where}.DataSource.S3DataSource.S3DataType"
            if data_type == "AugmentedManifestFile" and mode != "Pipe":
                problems.append(
                    Problem(
                        field,
                        "AugmentedManifestFile can only be used if the channel's input mode is "
                        f"Pipe (it is {mode})",
                        data_type,
                        "set InputMode 'Pipe', or use 'S3Prefix' / 'ManifestFile'",
                    )
                )
            elif mode == "FastFile" and data_type != "S3Prefix":
                problems.append(
                    Problem(
                        field,
                        "channels that use FastFile mode must use the S3DataType S3Prefix",
                        data_type,
                        "use 'S3Prefix', or InputMode 'File'",
                    )
                )
            elif data_type == "AugmentedManifestFile" and not source["S3DataSource"].get(
                "AttributeNames"
            ):
                problems.append(
                    Problem(
                        f"{where}.DataSource.S3DataSource.AttributeNames",
                        "an augmented manifest channel streams the attributes it names; none given",
                        None,
                        'list them in order, e.g. ["source-ref", "class"]',
                    )
                )
            elif data_type not in ("S3Prefix", "ManifestFile", "AugmentedManifestFile"):
                raise UnsupportedFeature(
                    f"{field} {data_type!r} is not supported: smsim stages S3Prefix, "
                    "ManifestFile and AugmentedManifestFile channels"
                )
        elif "FileDataSource" not in source:
            raise UnsupportedFeature(
                f"{where}.DataSource: only S3DataSource and FileDataSource (file://) are supported"
            )
    if problems:
        raise ValidationError("CreateTrainingJob request", problems)


def validation_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as botocore sees it: FileDataSource (the SDK's local-mode channel
    source, absent from the service model) taken out of each channel's DataSource."""
    if not any("FileDataSource" in c.get("DataSource", {}) for c in doc.get("InputDataConfig", [])):
        return doc
    view = copy.deepcopy(doc)
    for channel in view.get("InputDataConfig", []):
        channel.get("DataSource", {}).pop("FileDataSource", None)
    return view


def file_uri_path(uri: str) -> Path | None:
    if not isinstance(uri, str):
        return None
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    return None
