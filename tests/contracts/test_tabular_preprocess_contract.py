"""The preprocessing contract: the paths, env vars and argument the BSM pipeline relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from contracts.base import ProcessingScriptContract
from contracts.tabular_preprocess import TABULAR_PREPROCESS_CONTRACT

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sdk_pipeline_definition.json"


def _sdk_step(name: str) -> dict:
    return next(s for s in json.loads(FIXTURE.read_text())["Steps"] if s["Name"] == name)


def test_is_a_processing_contract_for_preprocess_py() -> None:
    assert isinstance(TABULAR_PREPROCESS_CONTRACT, ProcessingScriptContract)
    assert TABULAR_PREPROCESS_CONTRACT.entry_point == "preprocess.py"


def test_paths_match_the_sdk_built_pipeline() -> None:
    args = _sdk_step("TabularPreprocessing")["Arguments"]
    sdk_inputs = {
        i["InputName"]: i["S3Input"]["LocalPath"]
        for i in args["ProcessingInputs"]
        if i["InputName"] != "code"
    }
    sdk_outputs = {
        o["OutputName"]: o["S3Output"]["LocalPath"]
        for o in args["ProcessingOutputConfig"]["Outputs"]
    }
    assert TABULAR_PREPROCESS_CONTRACT.expected_input_paths == sdk_inputs
    assert TABULAR_PREPROCESS_CONTRACT.expected_output_paths == sdk_outputs


def test_env_vars_are_optional_with_defaults() -> None:
    contract = TABULAR_PREPROCESS_CONTRACT
    assert contract.required_env_vars == []
    assert set(contract.optional_env_vars) == {"LABEL_FIELD", "TRAIN_RATIO", "TEST_VAL_RATIO"}
    assert 0 < float(contract.optional_env_vars["TRAIN_RATIO"]) < 1
    assert 0 < float(contract.optional_env_vars["TEST_VAL_RATIO"]) < 1


def test_job_type_argument_matches_the_sdk_container_arguments() -> None:
    sdk_args = _sdk_step("TabularPreprocessing")["Arguments"]["AppSpecification"]
    assert TABULAR_PREPROCESS_CONTRACT.expected_arguments == {"job_type": "training"}
    assert sdk_args["ContainerArguments"] == ["--job_type", "training"]


def test_an_output_outside_the_processing_root_is_refused() -> None:
    data = TABULAR_PREPROCESS_CONTRACT.model_dump()
    data["expected_output_paths"] = {"processed_data": "/opt/ml/model"}
    with pytest.raises(PydanticValidationError, match="outside the processing"):
        ProcessingScriptContract(**data)
