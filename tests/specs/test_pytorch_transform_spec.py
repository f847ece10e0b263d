"""The batch transform step's spec and the serving contract of inference.py."""

from __future__ import annotations

import ast
from pathlib import Path

from simulator.jobs.transform.description import initial_description, public_view
from simulator.properties import check_property_path, resolve_property_path
from simulator.shapes import validate_response
from specs.base import SageMakerStepType
from specs.pytorch_transform import PYTORCH_TRANSFORM_SPEC as SPEC
from specs.registry import default_registry

INFERENCE = Path(__file__).resolve().parents[2] / "dockers" / "pytorch_bsm" / "inference.py"


def test_a_registered_transform_step_serving_inference_py() -> None:
    assert default_registry().get("PyTorchBatchTransform") is SPEC
    assert SPEC.sagemaker_step_type is SageMakerStepType.TRANSFORM
    # The model server imports inference.py (SAGEMAKER_PROGRAM): its serving contract.
    assert SPEC.script_contract is not None
    assert SPEC.script_contract.entry_point == INFERENCE.name
    assert SPEC.validate_contract_alignment().is_valid


def test_outputs_resolve_on_a_describe_transform_job_response() -> None:
    request = {
        "TransformJobName": "pipelines-abc-ScoreTestSplit",
        "ModelName": "pipelines-abc-CreateBSMModel",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/test/"}}
        },
        "TransformOutput": {"S3OutputPath": "s3://b/scored"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    arn = "arn:aws:sagemaker:us-east-1:123456789012:transform-job/pipelines-abc-scoretestsplit"
    desc = public_view(initial_description(request, arn))
    validate_response("DescribeTransformJob", desc)
    for out in SPEC.outputs.values():
        assert check_property_path("Transform", out.property_path).valid
    path = SPEC.outputs["transform_output"].property_path
    assert resolve_property_path(desc, path) == "s3://b/scored"
    name = SPEC.outputs["transform_job_name"].property_path
    assert resolve_property_path(desc, name) == "pipelines-abc-ScoreTestSplit"


def test_inference_py_defines_the_handlers_the_toolkit_calls() -> None:
    tree = ast.parse(INFERENCE.read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"model_fn", "input_fn", "predict_fn", "output_fn"} <= functions
