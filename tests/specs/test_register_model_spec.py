"""RegisterModel spec: a model package version carrying the evaluation metrics."""

from __future__ import annotations

from simulator.properties import check_property_path, resolve_property_path
from specs.base import DependencyType, SageMakerStepType
from specs.register_model import REGISTER_MODEL_SPEC as SPEC
from specs.registry import default_registry


def test_registered_register_model_step() -> None:
    assert default_registry().get("RegisterModel") is SPEC
    assert SPEC.sagemaker_step_type is SageMakerStepType.REGISTER_MODEL
    assert SPEC.validate_contract_alignment().is_valid


def test_needs_model_and_evaluation_metrics() -> None:
    assert SPEC.get_dependency("model_data").dependency_type is DependencyType.MODEL_ARTIFACTS
    metrics = SPEC.get_dependency("metrics_output")
    assert metrics.required and "ModelEvaluation" in metrics.compatible_sources


def test_outputs_resolve_on_a_describe_model_package_response() -> None:
    description = {
        "ModelPackageName": "BsmModels",
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/bsmmodels/1",
        "ModelPackageVersion": 1,
        "ModelApprovalStatus": "PendingManualApproval",
        "ModelPackageStatus": "Completed",
    }
    for out in SPEC.outputs.values():
        assert check_property_path("RegisterModel", out.property_path).valid, out
    paths = {name: out.property_path for name, out in SPEC.outputs.items()}
    assert resolve_property_path(description, paths["model_package_arn"]).endswith("/1")
    assert resolve_property_path(description, paths["model_package_version"]) == 1
    assert resolve_property_path(description, paths["approval_status"]) == ("PendingManualApproval")
