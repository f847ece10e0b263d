"""PyTorchModel spec: a CreateModel step fed by the training job's model artifacts."""

from __future__ import annotations

from simulator.properties import check_property_path, resolve_property_path
from specs.base import DependencyType, SageMakerStepType
from specs.create_model import CREATE_MODEL_SPEC as SPEC
from specs.registry import default_registry


def test_registered_model_step_without_script() -> None:
    assert default_registry().get("PyTorchModel") is SPEC
    assert SPEC.sagemaker_step_type is SageMakerStepType.MODEL
    assert SPEC.script_contract is None
    assert SPEC.validate_contract_alignment().is_valid


def test_needs_model_artifacts() -> None:
    dep = SPEC.get_dependency("model_data")
    assert dep.required and dep.dependency_type is DependencyType.MODEL_ARTIFACTS


def test_outputs_resolve_on_a_describe_model_response() -> None:
    description = {
        "ModelName": "pipelines-abc-CreateBSMModel",
        "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/pipelines-abc-createbsmmodel",
        "PrimaryContainer": {"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"},
    }
    for out in SPEC.outputs.values():
        assert check_property_path("Model", out.property_path).valid
    assert resolve_property_path(description, SPEC.outputs["model_name"].property_path) == (
        "pipelines-abc-CreateBSMModel"
    )
    assert resolve_property_path(description, SPEC.outputs["model_data_url"].property_path) == (
        "s3://b/model.tar.gz"
    )
