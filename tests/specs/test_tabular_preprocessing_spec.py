"""TabularPreprocessing spec: registered, aligned with its contract, valid property paths."""

from __future__ import annotations

from simulator.properties import check_property_path, resolve_property_path
from specs.base import DependencyType, NodeType, SageMakerStepType
from specs.registry import default_registry
from specs.tabular_preprocessing import TABULAR_PREPROCESSING_SPEC as SPEC


def test_registered_under_its_step_type() -> None:
    assert default_registry().get("TabularPreprocessing") is SPEC
    assert SPEC.sagemaker_step_type is SageMakerStepType.PROCESSING


def test_raw_data_dependency_is_optional_so_the_step_can_start_a_dag() -> None:
    assert SPEC.node_type is NodeType.INTERNAL
    assert SPEC.required_dependencies == []
    assert SPEC.get_dependency("DATA").dependency_type is DependencyType.PROCESSING_OUTPUT


def test_processed_data_reached_by_output_name() -> None:
    out = SPEC.outputs["processed_data"]
    assert out.property_path == (
        "properties.ProcessingOutputConfig.Outputs['processed_data'].S3Output.S3Uri"
    )
    assert check_property_path("Processing", out.property_path).valid
    # Aliases let a training step's input_path find it by name.
    assert SPEC.get_output_by_name_or_alias("input_path") is out


def test_property_path_resolves_on_a_processing_description() -> None:
    description = {
        "ProcessingJobName": "p",
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "other", "S3Output": {"S3Uri": "s3://b/other"}},
                {"OutputName": "processed_data", "S3Output": {"S3Uri": "s3://b/pd"}},
            ]
        },
    }
    path = SPEC.outputs["processed_data"].property_path
    assert resolve_property_path(description, path) == "s3://b/pd"
