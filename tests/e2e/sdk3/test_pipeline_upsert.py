"""SDK v3 pipeline through the SDK's own calls: ``Pipeline.upsert`` → ``start`` → ``wait``.

The same pipeline as ``test_pipeline.py`` (``common.build_pipeline``); here nothing goes
through ``LocalSageMaker``'s methods: the SDK's SageMaker client reaches smsim by
``AWS_ENDPOINT_URL`` (upsert validates the role through IAM first, then CreatePipeline).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("sagemaker")

from tests.e2e.sdk3.common import ROLE, build_pipeline, upload_raw_data  # noqa: E402

pytestmark = pytest.mark.sdk(3)
NAME = "SdkV3UpsertPipeline"


@pytest.fixture(scope="module")
def pipeline(sm: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    upload_raw_data(sm, tmp_path_factory.mktemp("raw"))
    built = build_pipeline(PipelineSession(), NAME)
    built.upsert(role_arn=ROLE)
    return built


@pytest.fixture(scope="module")
def execution(pipeline: Any) -> Any:
    started = pipeline.start()
    started.wait(delay=2, max_attempts=450)  # raises if the execution failed
    return started


def test_upsert_creates_the_pipeline_with_the_sdks_definition(sm: Any, pipeline: Any) -> None:
    desc = sm.describe_pipeline(PipelineName=NAME)
    assert desc["RoleArn"] == ROLE
    stored = json.loads(desc["PipelineDefinition"])
    # definition() re-stages the code under fresh S3 keys at each call: compare the shape.
    assert [(s["Name"], s["Type"]) for s in stored["Steps"]] == [
        ("TabularPreprocessing", "Processing"),
        ("Training", "Training"),
    ]
    assert [p["Name"] for p in stored["Parameters"]] == ["InputData", "Epochs"]
    # A second upsert of an existing pipeline updates it (the SDK catches the
    # ResourceInUse / already-exists error of CreatePipeline and calls UpdatePipeline).
    again = pipeline.upsert(role_arn=ROLE, description="second upsert")
    assert again["PipelineArn"] == desc["PipelineArn"]
    assert sm.describe_pipeline(PipelineName=NAME)["PipelineDescription"] == "second upsert"


def test_start_and_wait_run_both_steps(execution: Any) -> None:
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = {s["StepName"]: s["StepStatus"] for s in execution.list_steps()}
    assert steps == {"TabularPreprocessing": "Succeeded", "Training": "Succeeded"}


def test_the_trained_model_is_better_than_chance(sm: Any, execution: Any) -> None:
    training = next(s for s in execution.list_steps() if s["StepName"] == "Training")
    job_arn = training["Metadata"]["TrainingJob"]["Arn"]
    job = sm.describe_training_job(TrainingJobName=job_arn.rsplit("/", 1)[1])
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 0.5 < metrics["test:auroc"] <= 1.0, metrics
