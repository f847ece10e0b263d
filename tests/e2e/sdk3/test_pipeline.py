"""SDK v3 pipeline, unmodified, run through ``sm.create_pipeline`` + ``start_pipeline_execution``.

The pipeline is built as a v3 user builds it (``common.build_pipeline``: a processing step
on the real preprocess.py, a training step on the real train.py, joined by the processing
step's output property and ``Execution.PipelineExecutionId``); its ``definition()`` goes to
smsim as it is. ``test_pipeline_upsert.py`` runs the same pipeline through the SDK's own
``Pipeline.upsert`` / ``start``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("sagemaker")

from tests.e2e.sdk3.common import BUCKET, ROLE, build_pipeline, upload_raw_data  # noqa: E402
from tests.support import assert_steps_succeeded, run_pipeline  # noqa: E402

pytestmark = pytest.mark.sdk(3)
NAME = "SdkV3Pipeline"


@pytest.fixture(scope="module")
def definition(sm: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    upload_raw_data(sm, tmp_path_factory.mktemp("raw"))
    text = build_pipeline(PipelineSession(), NAME).definition()
    sm.create_pipeline(PipelineName=NAME, PipelineDefinition=text, RoleArn=ROLE)
    return json.loads(text)


@pytest.fixture(scope="module")
def execution(sm: Any, definition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict]]:
    return run_pipeline(sm, NAME, {}, timeout=900)


def test_the_definition_is_the_v3_sdks(definition: dict[str, Any]) -> None:
    assert [s["Type"] for s in definition["Steps"]] == ["Processing", "Training"]
    train_args = definition["Steps"][1]["Arguments"]
    # ModelTrainer's own channels: the uploaded source dir and its drivers (sm_train.sh).
    channels = {c["ChannelName"] for c in train_args["InputDataConfig"]}
    assert {"train", "val", "test", "code", "sm_drivers"} <= channels


def test_both_steps_succeed(execution: tuple) -> None:
    desc, steps = execution
    assert_steps_succeeded(desc, steps, ["TabularPreprocessing", "Training"])


def test_training_read_this_executions_preprocessing_output(sm: Any, execution: tuple) -> None:
    desc, steps = execution
    execution_id = desc["PipelineExecutionArn"].rsplit("/", 1)[1]
    job_name = steps["Training"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_training_job(TrainingJobName=job_name)
    uris = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]
    }
    assert uris["train"] == f"s3://{BUCKET}/bsm/{execution_id}/train"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://{BUCKET}/models/{execution_id}/{job['TrainingJobName']}/output/model.tar.gz"
    )
    key = job["ModelArtifacts"]["S3ModelArtifacts"].split("/", 3)[3]
    assert sm.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


def test_the_model_is_better_than_chance_on_held_out_data(sm: Any, execution: tuple) -> None:
    _, steps = execution
    job_name = steps["Training"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_training_job(TrainingJobName=job_name)
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 0.5 < metrics["test:auroc"] <= 1.0, metrics
