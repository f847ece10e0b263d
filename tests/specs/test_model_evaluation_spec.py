"""ModelEvaluation spec: needs a model and test data, produces metrics and predictions."""

from __future__ import annotations

from simulator.properties import check_property_path, resolve_property_path
from specs.base import DependencyType, NodeType, SageMakerStepType
from specs.model_evaluation import MODEL_EVALUATION_SPEC as SPEC
from specs.registry import default_registry


def test_registered_processing_internal_node() -> None:
    assert default_registry().get("ModelEvaluation") is SPEC
    assert SPEC.sagemaker_step_type is SageMakerStepType.PROCESSING
    assert SPEC.node_type is NodeType.INTERNAL


def test_dependencies_and_their_types() -> None:
    assert {d.logical_name for d in SPEC.required_dependencies} == {"model_input", "processed_data"}
    assert SPEC.get_dependency("model_input").dependency_type is DependencyType.MODEL_ARTIFACTS
    assert "PyTorchTraining" in SPEC.get_dependency("model_input").compatible_sources
    assert "TabularPreprocessing" in SPEC.get_dependency("processed_data").compatible_sources


def test_outputs_are_processing_outputs_by_name() -> None:
    for name in ("metrics_output", "eval_output"):
        path = SPEC.outputs[name].property_path
        assert path == f"properties.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"
        assert check_property_path("Processing", path).valid
    assert SPEC.get_output_by_name_or_alias("EvaluationReport").logical_name == "metrics_output"


def test_metrics_output_resolves_on_a_description() -> None:
    description = {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "metrics_output", "S3Output": {"S3Uri": "s3://b/m"}},
                {"OutputName": "eval_output", "S3Output": {"S3Uri": "s3://b/e"}},
            ]
        }
    }
    assert resolve_property_path(description, SPEC.outputs["eval_output"].property_path) == (
        "s3://b/e"
    )
