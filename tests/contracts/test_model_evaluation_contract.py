"""The evaluation contract: model and test data in, evaluation.json and predictions out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from contracts.base import ProcessingScriptContract
from contracts.model_evaluation import MODEL_EVALUATION_CONTRACT

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sdk_pipeline_definition.json"


def _sdk_args() -> dict:
    steps = json.loads(FIXTURE.read_text())["Steps"]
    return next(s for s in steps if s["Name"] == "ModelEvaluation")["Arguments"]


def test_is_a_processing_contract_for_evaluate_py() -> None:
    assert isinstance(MODEL_EVALUATION_CONTRACT, ProcessingScriptContract)
    assert MODEL_EVALUATION_CONTRACT.entry_point == "evaluate.py"


def test_inputs_match_the_sdk_built_pipeline() -> None:
    sdk_inputs = {
        i["InputName"]: i["S3Input"]["LocalPath"]
        for i in _sdk_args()["ProcessingInputs"]
        if i["InputName"] != "code"
    }
    assert MODEL_EVALUATION_CONTRACT.expected_input_paths == sdk_inputs


def test_outputs_hold_the_property_file_and_the_predictions() -> None:
    outputs = MODEL_EVALUATION_CONTRACT.expected_output_paths
    assert outputs == {
        "metrics_output": "/opt/ml/processing/output/metrics",
        "eval_output": "/opt/ml/processing/output/eval",
    }
    sdk_metrics = {
        o["OutputName"]: o["S3Output"]["LocalPath"]
        for o in _sdk_args()["ProcessingOutputConfig"]["Outputs"]
    }
    assert sdk_metrics["metrics_output"] == outputs["metrics_output"]


def test_env_vars_are_optional() -> None:
    assert MODEL_EVALUATION_CONTRACT.required_env_vars == []
    assert set(MODEL_EVALUATION_CONTRACT.optional_env_vars) == {"ID_FIELD", "LABEL_FIELD"}


def test_job_type_argument_is_declared() -> None:
    assert "job_type" in MODEL_EVALUATION_CONTRACT.expected_arguments


def test_an_input_outside_the_processing_input_root_is_refused() -> None:
    data = MODEL_EVALUATION_CONTRACT.model_dump()
    data["expected_input_paths"] = {"model_input": "/opt/ml/input/data/model"}
    with pytest.raises(PydanticValidationError, match="model_input"):
        ProcessingScriptContract(**data)
