"""simulator.requests: the requests the SageMaker Python SDK sends, from our contracts.

The oracle is the SDK itself: tests/fixtures/sdk_pipeline_definition.json was written by
its ``Pipeline.definition()``. Given the inputs that definition used, our builders must
write the same step Arguments, and a concrete request must pass botocore's model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT
from contracts.tabular_preprocess import TABULAR_PREPROCESS_CONTRACT
from simulator.errors import ValidationError
from simulator.requests import (
    TRAINING_IMAGE,
    JobSettings,
    image_uri,
    processing_request,
    role_arn,
    sdk_hyperparameters,
    training_request,
)
from simulator.shapes import validate_request

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sdk_pipeline_definition.json"


@pytest.fixture(scope="module")
def sdk_steps() -> dict[str, dict[str, Any]]:
    definition = json.loads(FIXTURE.read_text())
    return {step["Name"]: step["Arguments"] for step in definition["Steps"]}


def test_training_step_arguments_are_the_sdks(sdk_steps: dict[str, dict[str, Any]]) -> None:
    sdk = sdk_steps["PyTorchTraining"]
    hps = sdk["HyperParameters"]
    ours = training_request(
        PYTORCH_TRAIN_CONTRACT,
        channels={
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in sdk["InputDataConfig"]
        },
        hyperparameters={
            "max_epochs": hps["max_epochs"],  # a parameter: the SDK's one-value Join
            "model_class": "multimodal_cnn",
            "lr": 0.01,
        },
        code_uri=json.loads(hps["sagemaker_submit_directory"]),
        output_path=sdk["OutputDataConfig"]["S3OutputPath"],
        settings=JobSettings(
            image=sdk["AlgorithmSpecification"]["TrainingImage"],
            role_arn=sdk["RoleArn"],
            max_runtime_seconds=sdk["StoppingCondition"]["MaxRuntimeInSeconds"],
        ),
        checkpoint_uri=sdk["CheckpointConfig"]["S3Uri"],
        metric_definitions=sdk["AlgorithmSpecification"]["MetricDefinitions"],
    )
    # The SDK adds its debugger's defaults; smsim runs no debugger and sends none.
    expected = {k: v for k, v in sdk.items() if k not in ("DebugHookConfig", "ProfilerConfig")}
    assert ours == expected


def test_processing_step_arguments_are_the_sdks(sdk_steps: dict[str, dict[str, Any]]) -> None:
    sdk = sdk_steps["TabularPreprocessing"]
    by_name = {i["InputName"]: i["S3Input"]["S3Uri"] for i in sdk["ProcessingInputs"]}
    ours = processing_request(
        TABULAR_PREPROCESS_CONTRACT,
        inputs={"DATA": by_name["DATA"]},
        outputs={
            o["OutputName"]: o["S3Output"]["S3Uri"]
            for o in sdk["ProcessingOutputConfig"]["Outputs"]
        },
        code_uri=by_name["code"],
        settings=JobSettings(
            image=sdk["AppSpecification"]["ImageUri"],
            role_arn=sdk["RoleArn"],
            max_runtime_seconds=86400,
        ),
    )
    # The SDK omits StoppingCondition when no max_runtime_in_seconds is given.
    assert ours.pop("StoppingCondition") == {"MaxRuntimeInSeconds": 86400}
    assert ours == sdk


def test_a_concrete_training_request_passes_botocore_and_uses_the_contract() -> None:
    request = training_request(
        PYTORCH_TRAIN_CONTRACT,
        job_name="req-test",
        channels={"train": "s3://b/d/train", "val": "s3://b/d/val"},
        hyperparameters={"max_epochs": 2, "optimizer": "adam", "shuffle": True},
        code_uri="s3://b/req-test/source/sourcedir.tar.gz",
        output_path="s3://b/out/",
        settings=JobSettings(image=image_uri(TRAINING_IMAGE, "eu-west-1"), role_arn=role_arn()),
    )
    validate_request("CreateTrainingJob", request)
    assert request["TrainingJobName"] == "req-test"
    assert "CheckpointConfig" not in request
    assert request["AlgorithmSpecification"]["TrainingImage"].startswith(
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/"
    )
    metrics = request["AlgorithmSpecification"]["MetricDefinitions"]
    assert metrics == PYTORCH_TRAIN_CONTRACT.metric_definitions
    hps = request["HyperParameters"]
    assert (hps["max_epochs"], hps["optimizer"], hps["shuffle"]) == ("2", '"adam"', "true")
    assert hps["sagemaker_program"] == '"train.py"'


def test_a_request_botocore_refuses_says_where() -> None:
    request = training_request(
        PYTORCH_TRAIN_CONTRACT,
        job_name="bad_name",
        channels={"train": "s3://b/train"},
        hyperparameters={},
        code_uri="s3://b/c.tar.gz",
        output_path="s3://b/out/",
        settings=JobSettings(image="img", role_arn=role_arn(), instance_type="ml.nope"),
    )
    with pytest.raises(ValidationError) as info:
        validate_request("CreateTrainingJob", request)
    paths = {p.path for p in info.value.problems}
    assert {"TrainingJobName", "ResourceConfig.InstanceType"} <= paths


def test_hyperparameters_keep_pipeline_expressions() -> None:
    join = {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxEpochs"}]}}
    hps = sdk_hyperparameters(
        {"max_epochs": join, "note": {"Get": "not alone", "x": 1}},
        entry_point="train.py",
        code_uri={"Get": "Parameters.Code"},
        region="us-east-1",
    )
    assert hps["max_epochs"] is join
    # A dict that is not one expression is a value: JSON-encoded like any other.
    assert hps["note"] == json.dumps({"Get": "not alone", "x": 1})
    assert hps["sagemaker_submit_directory"] == {"Get": "Parameters.Code"}
