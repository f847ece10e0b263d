"""Managed Spot training with injected interruptions (#17): SIGTERM, checkpoints synced,
Interrupted, a restart from the checkpoints, MaxWaitTimeInSeconds, the billed time."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator import LocalSageMaker
from simulator.shapes import validate_response
from tests import support

SCRIPT = (Path(__file__).parent / "scripts" / "checkpointed_train.py").read_text()
BUCKET = "smsim-test-bucket"


def _spot(request: dict[str, Any], name: str, max_wait: int = 600) -> dict[str, Any]:
    request["EnableManagedSpotTraining"] = True
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": max_wait}
    request["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/{name}"}
    return request


def _weights(sm: LocalSageMaker, read_tar: Any, name: str) -> np.ndarray:
    files = read_tar(sm, BUCKET, f"output/{name}/output/model.tar.gz")
    return np.load(io.BytesIO(files["weights.npy"]))


@pytest.fixture
def code_uri(make_sourcedir_tar):
    def upload(sm: LocalSageMaker) -> str:
        sm.s3.put_object(
            Bucket=BUCKET,
            Key="code/sourcedir.tar.gz",
            Body=make_sourcedir_tar({"train.py": SCRIPT}),
        )
        return f"s3://{BUCKET}/code/sourcedir.tar.gz"

    return upload


def _statuses(desc: dict[str, Any]) -> list[str]:
    return [t["Status"] for t in desc["SecondaryStatusTransitions"]]


@pytest.fixture
def faulty_sm(tmp_path, log_lines):
    """``with faulty_sm(faults) as sm``: a started LocalSageMaker injecting ``faults``, with
    the test bucket, a short stop grace and checkpoint sync interval, logs captured."""

    def start(faults: list[dict[str, Any]]) -> contextlib.AbstractContextManager[LocalSageMaker]:
        return support.started_sagemaker(tmp_path / "ws", log_lines, BUCKET, faults=faults)

    return start


@pytest.fixture
def spot_session(faulty_sm):
    faults = [
        {"kind": "SpotInterruption", "job": "spot-resumed", "after_line": r"^epoch 1 done"},
        {"kind": "SpotInterruption", "job": "on-demand", "at_seconds": 0.5},
    ]
    with faulty_sm(faults) as sm:
        yield sm


def test_an_interrupted_spot_job_resumes_from_its_checkpoints(
    spot_session, code_uri, training_request, read_tar, log_lines
):
    sm = spot_session
    code = code_uri(sm)
    hps = {"epochs": 4, "epoch-seconds": 0.6}
    plain_request = training_request("uninterrupted", code, hyperparameters=hps)
    plain_request["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/uninterrupted"}
    sm.create_training_job(**plain_request)
    sm.create_training_job(
        **_spot(training_request("spot-resumed", code, hyperparameters=hps), "spot-resumed")
    )
    plain = sm.wait_for_training_job("uninterrupted", timeout=180)
    spot = sm.wait_for_training_job("spot-resumed", timeout=180)
    assert plain["TrainingJobStatus"] == "Completed", plain.get("FailureReason")
    assert spot["TrainingJobStatus"] == "Completed", spot.get("FailureReason")
    validate_response("DescribeTrainingJob", spot)

    # Interrupted, then Starting → Downloading → Training again on a new instance.
    assert _statuses(spot) == [
        "Starting",
        "Downloading",
        "Training",
        "Interrupted",
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert _statuses(plain) == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    # The second instance started from the checkpoint of epoch 1, not from scratch.
    job_lines = [line for line in log_lines.lines if line.startswith("[spot-resumed/")]
    assert any(line.endswith("] resumed at epoch 2") for line in job_lines), job_lines
    assert sum(line.endswith("] epoch 0 start") for line in job_lines) == 1
    # The same bits as the run that was never interrupted, and the model learned.
    assert np.array_equal(
        _weights(sm, read_tar, "spot-resumed"), _weights(sm, read_tar, "uninterrupted")
    )
    losses = [float(line.rsplit("loss=", 1)[1]) for line in job_lines if "loss=" in line]
    assert losses[-1] < losses[0] / 2
    # The wait for Spot capacity is not billed; the on-demand job bills all of its time.
    assert spot["BillableTimeInSeconds"] < spot["TrainingTimeInSeconds"]
    assert plain["BillableTimeInSeconds"] == plain["TrainingTimeInSeconds"]
    assert spot["EnableManagedSpotTraining"] is True


def test_an_on_demand_job_is_never_interrupted(spot_session, code_uri, training_request, log_lines):
    sm = spot_session
    code = code_uri(sm)
    request = training_request(
        "on-demand", code, hyperparameters={"epochs": 2, "epoch-seconds": 0.5}
    )
    request["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/on-demand"}
    sm.create_training_job(**request)
    desc = sm.wait_for_training_job("on-demand", timeout=120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert "Interrupted" not in _statuses(desc)
    assert any("SpotInterruption ignored" in line for line in log_lines.lines)


def test_max_wait_time_ends_a_job_waiting_for_spot_capacity(faulty_sm, code_uri, training_request):
    faults = [{"kind": "SpotInterruption", "job": "waits", "at_seconds": 1, "wait_seconds": 30}]
    with faulty_sm(faults) as sm:
        code = code_uri(sm)
        hps = {"epochs": 100, "epoch-seconds": 0.5}
        request = _spot(training_request("waits", code, hyperparameters=hps), "waits", max_wait=8)
        request["StoppingCondition"]["MaxRuntimeInSeconds"] = 8
        sm.create_training_job(**request)
        desc = sm.wait_for_training_job("waits", timeout=120)
    # DescribeTrainingJob's SecondaryStatus: MaxWaitTimeExceeded is a Stopped job's.
    assert desc["TrainingJobStatus"] == "Stopped"
    assert desc["SecondaryStatus"] == "MaxWaitTimeExceeded"
    assert _statuses(desc)[-3:] == ["Interrupted", "Stopping", "MaxWaitTimeExceeded"]
    assert (
        "MaxWaitTimeInSeconds (8) exceeded"
        in desc["SecondaryStatusTransitions"][-1]["StatusMessage"]
    )
    assert desc["BillableTimeInSeconds"] < desc["TrainingTimeInSeconds"]


def test_max_wait_below_max_runtime_is_refused(sm, code_uri, training_request):
    from simulator.errors import ValidationError

    code = code_uri(sm)
    request = _spot(training_request("bad-wait", code), "bad-wait", max_wait=60)
    with pytest.raises(
        ValidationError, match=r"MaxWaitTimeInSeconds: must be at least MaxRuntimeInSeconds \(300\)"
    ):
        sm.create_training_job(**request)


def test_a_pipeline_steps_spot_interruption_reaches_its_job(
    faulty_sm, code_uri, training_request, log_lines
):
    """Declared per step: the step's training job is interrupted and resumes; the step and
    the execution succeed with the model of an uninterrupted run."""
    faults = [{"kind": "SpotInterruption", "step": "SpotTrain", "after_line": r"^epoch 0 done"}]
    with faulty_sm(faults) as sm:
        code = code_uri(sm)
        hps = {"epochs": 3, "epoch-seconds": 0.6}
        args = _spot(training_request("unused", code, hyperparameters=hps), "pipeline")
        del args["TrainingJobName"]  # the pipeline names the step's job
        definition = {
            "Version": "2020-12-01",
            "Metadata": {},
            "Parameters": [],
            "Steps": [{"Name": "SpotTrain", "Type": "Training", "Arguments": args}],
        }
        sm.create_pipeline(
            PipelineName="spot-pipe",
            PipelineDefinition=json.dumps(definition),
            RoleArn="arn:aws:iam::123456789012:role/R",
        )
        arn = sm.start_pipeline_execution(PipelineName="spot-pipe")["PipelineExecutionArn"]
        execution = sm.wait_for_pipeline_execution(arn, timeout=300)
        assert execution["PipelineExecutionStatus"] == "Succeeded", execution
        (step,) = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
            "PipelineExecutionSteps"
        ]
        assert step["StepStatus"] == "Succeeded"
        job = step["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
        desc = sm.describe_training_job(TrainingJobName=job)
        assert "Interrupted" in _statuses(desc)
        assert _statuses(desc)[-4:] == ["Downloading", "Training", "Uploading", "Completed"]
        assert desc["BillableTimeInSeconds"] < desc["TrainingTimeInSeconds"]
        assert any(line.endswith("] resumed at epoch 1") for line in log_lines.lines)
