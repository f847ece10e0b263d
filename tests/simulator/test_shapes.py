"""botocore's SageMaker model: root shapes per step type, request/response validation."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.model import StructureShape

from simulator.errors import ValidationError
from simulator.shapes import (
    canonical_step_type,
    check,
    enum_values,
    input_shape,
    root_shape_for_step_type,
    validate_request,
    validate_response,
)


@pytest.mark.parametrize(
    ("step_type", "root"),
    [
        ("Training", "DescribeTrainingJobResponse"),
        ("Processing", "DescribeProcessingJobResponse"),
        ("Transform", "DescribeTransformJobResponse"),
        ("Model", "DescribeModelOutput"),
        ("CreateModel", "DescribeModelOutput"),
        ("RegisterModel", "DescribeModelPackageOutput"),
    ],
)
def test_root_shape_per_step_type(step_type: str, root: str) -> None:
    shape = root_shape_for_step_type(step_type)
    assert isinstance(shape, StructureShape)
    assert shape.name == root


def test_unknown_step_type_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="Training"):
        canonical_step_type("Lambda")


def test_enum_values_come_from_botocore() -> None:
    assert {"InProgress", "Completed", "Failed", "Stopping", "Stopped"} <= set(
        enum_values("TrainingJobStatus")
    )


def _training_request() -> dict:
    return {
        "TrainingJobName": "bsm-train-1",
        "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def test_valid_request_passes() -> None:
    validate_request("CreateTrainingJob", _training_request())


def test_request_problems_name_the_field() -> None:
    request = _training_request()
    del request["RoleArn"]
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Streaming"
    request["TrainingJobName"] = "bad name!"
    with pytest.raises(ValidationError) as exc:
        validate_request("CreateTrainingJob", request)
    text = str(exc.value)
    assert "RoleArn" in text
    assert "AlgorithmSpecification.TrainingInputMode" in text and "Pipe" in text
    assert "TrainingJobName" in text and "pattern" in text


def test_response_missing_required_member_is_refused() -> None:
    with pytest.raises(ValidationError, match="TrainingJobStatus"):
        validate_response("DescribeTrainingJob", {"TrainingJobName": "x"})


def test_check_returns_problems_instead_of_raising() -> None:
    problems = check({"TrainingJobName": "x" * 100}, input_shape("DescribeTrainingJob"))
    assert problems and "longer than 63" in problems[0].message


def test_import_simulator_and_specs_never_imports_torch() -> None:
    # Every package module, and every CLI command (they load lazily: load them all).
    code = (
        "import sys, pkgutil, importlib, click, simulator, specs.registry\n"
        "for m in pkgutil.walk_packages(simulator.__path__, 'simulator.'):\n"
        "    importlib.import_module(m.name)\n"
        "specs.registry.default_registry(); specs.registry.default_contracts()\n"
        "from simulator.cli import main\n"
        "ctx = click.Context(main)\n"
        "assert all(main.get_command(ctx, n) for n in main.list_commands(ctx))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
