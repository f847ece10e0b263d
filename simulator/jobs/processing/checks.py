"""CreateProcessingJob request checks: everything is refused before anything runs.

botocore's CreateProcessingJob input shape first, then what the service checks beyond
it (S3 URI forms, input LocalPaths under ``/opt/ml/processing/``, unique input/output
names), then every feature smsim does not simulate, refused by name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from simulator.errors import Problem, UnsupportedFeature, ValidationError
from simulator.hosts.cluster import host_count_problems
from simulator.hosts.layout import map_container_path
from simulator.s3 import s3_uri_problems
from simulator.shapes import validate_request

PROCESSING_ROOT = "/opt/ml/processing"


def check_request(request: dict[str, Any]) -> None:
    """Validate a CreateProcessingJob request; raise ValidationError / UnsupportedFeature."""
    validate_request("CreateProcessingJob", request)
    problems: list[Problem] = []
    local_paths: dict[str, str] = {}
    for i, item in enumerate(request.get("ProcessingInputs", [])):
        where = f"ProcessingInputs[{i}]"
        s3 = _s3_member(
            item, where, "S3Input", "InputName", "DatasetDefinition needs Athena/Redshift"
        )
        problems += s3_uri_problems(s3.get("S3Uri"), f"{where}.S3Input.S3Uri")
        problems += _local_path_problems(
            s3.get("LocalPath"), f"{where}.S3Input.LocalPath", local_paths
        )
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    problems += _name_problems(request.get("ProcessingInputs", []), outputs)
    for i, item in enumerate(outputs):
        where = f"ProcessingOutputConfig.Outputs[{i}]"
        s3 = _s3_member(item, where, "S3Output", "OutputName", "not FeatureStoreOutput")
        problems += s3_uri_problems(s3.get("S3Uri"), f"{where}.S3Output.S3Uri")
        local = s3.get("LocalPath")
        if not isinstance(local, str) or not local.startswith("/"):
            problems.append(
                Problem(
                    f"{where}.S3Output.LocalPath",
                    "must be an absolute path",
                    local,
                    f"use e.g. {PROCESSING_ROOT}/output/{item.get('OutputName')}",
                )
            )
        elif map_container_path(local, Path("/")) is None:
            # The service takes any absolute path here; without a container smsim can
            # only give the job directories under /opt/ml (its host dir).
            raise UnsupportedFeature(
                f"{where}.S3Output.LocalPath {local!r} is outside /opt/ml: smsim maps only "
                f"/opt/ml paths to the job's host dir; use e.g. {PROCESSING_ROOT}/output/"
                f"{item.get('OutputName')}"
            )
    cluster = request["ProcessingResources"]["ClusterConfig"]
    problems += host_count_problems(
        int(cluster.get("InstanceCount", 1)), "ProcessingResources.ClusterConfig.InstanceCount"
    )
    if not request["AppSpecification"].get("ContainerEntrypoint"):
        raise UnsupportedFeature(
            "AppSpecification.ContainerEntrypoint is missing: smsim cannot run an image's built-in "
            "entry point; give e.g. ['python3', '/opt/ml/processing/input/code/script.py']"
        )
    if problems:
        raise ValidationError("CreateProcessingJob request", problems)


def _name_problems(inputs: list[Any], outputs: list[Any]) -> list[Problem]:
    """Input names are unique among the inputs, output names among the outputs (the
    service's "duplicate InputName"); smsim also refuses an input and an output of one
    name, as ``ProcessingInputs['x']`` / ``Outputs['x']`` property paths look them up."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    lists = (
        ("ProcessingInputs", "InputName", inputs),
        ("ProcessingOutputConfig.Outputs", "OutputName", outputs),
    )
    for where, member, items in lists:
        for i, item in enumerate(items):
            name = item.get(member) if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            path = f"{where}[{i}].{member}"
            if name in seen:
                first = seen[name]
                same_list = first.startswith(where + "[")
                problems.append(
                    Problem(
                        path,
                        f"duplicate {member}" if same_list else f"{member} already used by {first}",
                        name,
                        f"give every {'input' if member == 'InputName' else 'output'} a unique name"
                        if same_list
                        else "name inputs and outputs apart",
                    )
                )
            else:
                seen[name] = path
    return problems


def _local_path_problems(path: Any, where: str, seen: dict[str, str]) -> list[Problem]:
    """SageMaker's rule for an input's LocalPath: absolute, beginning with /opt/ml/processing/
    (botocore's documentation of ProcessingS3Input.LocalPath), used by one input only."""
    norm = os.path.normpath(path) if isinstance(path, str) else ""
    if not norm.startswith(PROCESSING_ROOT + "/"):
        return [
            Problem(
                where,
                f"must be an absolute path beginning with {PROCESSING_ROOT}/",
                path,
                f"use e.g. {PROCESSING_ROOT}/input/data",
            )
        ]
    if norm in seen:
        return [
            Problem(
                where,
                f"LocalPath already used by {seen[norm]}",
                path,
                "give each input its own path",
            )
        ]
    seen[norm] = where
    return []


def _s3_member(item: dict[str, Any], where: str, member: str, name: str, why: str) -> Any:
    """The S3Input/S3Output of a processing input or output; the other kinds are refused."""
    s3 = item.get(member)
    if s3 is None:
        raise UnsupportedFeature(f"{where} ({item.get(name)}): only {member} is supported ({why})")
    return s3
