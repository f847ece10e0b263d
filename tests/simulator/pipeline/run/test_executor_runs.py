"""The executor on the real LocalSageMaker: real training subprocesses, real moto S3 and
SageMaker. Scripts are tiny, so each job takes about a second."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.session import LocalSageMaker
from tests.support import (
    at_least,
    condition_step,
    fail_step,
    joined,
    run_pipeline,
    wait_until,
)

ROLE = "arn:aws:iam::123456789012:role/R"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny:1"
# A training script: sleeps, optionally fails (writing SageMaker's output/failure), saves a
# model file and prints a metric the MetricDefinitions regex picks up.
SCRIPT = """
import json, os, sys, time
base = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
hp = json.load(open(os.path.join(base, "input/config/hyperparameters.json")))
time.sleep(float(hp.get("sleep", "0")))
if hp.get("fail") == "yes":
    open(os.path.join(base, "output/failure"), "w").write("boom: asked to fail")
    sys.exit(3)
open(os.path.join(base, "model/model.txt"), "w").write("weights")
print("acc=" + hp.get("acc", "0.8"), flush=True)
"""


@pytest.fixture(scope="module")
def sm(
    tmp_path_factory: pytest.TempPathFactory, make_sourcedir_tar: Any
) -> Iterator[LocalSageMaker]:
    lines: list[str] = []
    with LocalSageMaker(workspace=tmp_path_factory.mktemp("ws"), log_sink=lines.append) as s:
        s.s3.create_bucket(Bucket="bkt")
        s.s3.put_object(Bucket="bkt", Key="data/x.csv", Body=b"a,b\n1,2\n")
        s.s3.put_object(
            Bucket="bkt", Key="code/sourcedir.tar.gz", Body=make_sourcedir_tar({"train.py": SCRIPT})
        )
        yield s


def train_step(name: str, hp: dict[str, Any], **extra: Any) -> dict[str, Any]:
    hyper = {
        **hp,
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://bkt/code/sourcedir.tar.gz"',
    }
    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}],
            },
            "RoleArn": ROLE,
            "OutputDataConfig": {
                "S3OutputPath": {
                    "Std:Join": {
                        "On": "/",
                        "Values": ["s3://bkt/out", {"Get": "Execution.PipelineExecutionId"}],
                    }
                }
            },
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "HyperParameters": hyper,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "s3://bkt/data/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
        },
        **extra,
    }


def run(
    sm: LocalSageMaker, name: str, definition: dict[str, Any], **params: str
) -> tuple[dict, dict]:
    sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    return run_pipeline(sm, name, params, timeout=300)


def definition(steps: list[dict[str, Any]], params: list[dict[str, Any]] | None = None) -> dict:
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": params or [], "Steps": steps}


def test_independent_steps_run_at_the_same_time(sm: LocalSageMaker) -> None:
    desc, steps = run(
        sm,
        "parallel",
        definition([train_step("A", {"sleep": "1.5"}), train_step("B", {"sleep": "1.5"})]),
    )
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    a, b = steps["A"], steps["B"]
    # Overlap from the recorded times: each started before the other ended.
    assert a["StartTime"] < b["EndTime"] and b["StartTime"] < a["EndTime"]


def test_max_parallel_execution_steps_is_honoured(sm: LocalSageMaker) -> None:
    steps_def = [train_step("A", {"sleep": "0.5"}), train_step("B", {"sleep": "0.5"})]
    sm.create_pipeline(
        PipelineName="serial", PipelineDefinition=json.dumps(definition(steps_def)), RoleArn=ROLE
    )
    arn = sm.start_pipeline_execution(
        PipelineName="serial", ParallelismConfiguration={"MaxParallelExecutionSteps": 1}
    )["PipelineExecutionArn"]
    assert sm.wait_for_pipeline_execution(arn, timeout=300)["PipelineExecutionStatus"] == (
        "Succeeded"
    )
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    first, second = listed["PipelineExecutionSteps"]
    assert first["EndTime"] <= second["StartTime"]


def test_a_failed_step_fails_the_execution_and_nothing_after_it_starts(sm: LocalSageMaker) -> None:
    desc, steps = run(
        sm,
        "failing",
        definition(
            [
                train_step("Good", {"sleep": "0"}),
                train_step("Bad", {"fail": "yes"}),
                train_step("After", {}, DependsOn=["Bad"]),
            ]
        ),
    )
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert "'Bad'" in desc["FailureReason"] and "boom: asked to fail" in desc["FailureReason"]
    assert set(steps) == {"Good", "Bad"}  # "After" never started
    assert steps["Bad"]["StepStatus"] == "Failed"
    assert "boom: asked to fail" in steps["Bad"]["FailureReason"]
    # The failed job is still described (the SDK's local mode cannot do this) ...
    bad_job = steps["Bad"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_training_job(TrainingJobName=_job_name(sm, bad_job))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].endswith("boom: asked to fail")
    # ... and what the good step uploaded stays.
    good = sm.pipelines.execution_record(desc["PipelineExecutionArn"]).steps["Good"].description
    uri = good["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    assert sm.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def _job_name(sm: LocalSageMaker, lowered: str) -> str:
    # ARNs hold the job name in lower case; find the real one.
    names = [s["TrainingJobName"] for s in sm.list_training_jobs()["TrainingJobSummaries"]]
    return next(n for n in names if n.lower() == lowered)


def _branching() -> dict[str, Any]:
    return definition(
        [
            train_step("Train", {"acc": "0.75"}),
            condition_step(
                "Check",
                [
                    at_least(
                        {"Get": "Steps.Train.FinalMetricDataList['acc'].Value"},
                        {"Get": "Parameters.Threshold"},
                    )
                ],
                [
                    {
                        "Name": "MakeModel",
                        "Type": "Model",
                        "Arguments": {
                            "ExecutionRoleArn": ROLE,
                            "PrimaryContainer": {
                                "Image": IMAGE,
                                "ModelDataUrl": {
                                    "Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"
                                },
                            },
                        },
                    }
                ],
                [fail_step("TooLow", joined("acc below", {"Get": "Parameters.Threshold"}))],
            ),
        ],
        [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
    )


def test_condition_on_a_final_metric_takes_the_if_branch(sm: LocalSageMaker) -> None:
    desc, steps = run(sm, "branch-if", _branching())
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert "TooLow" not in steps
    record = sm.pipelines.execution_record(desc["PipelineExecutionArn"])
    artifacts = record.steps["Train"].description["ModelArtifacts"]["S3ModelArtifacts"]
    # Execution.PipelineExecutionId inside the output path resolved to this execution's id.
    assert f"s3://bkt/out/{record.execution_id}/" in artifacts
    model_name = steps["MakeModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    model = sm.describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == artifacts


def test_condition_takes_the_else_branch_and_the_fail_step_fails(sm: LocalSageMaker) -> None:
    desc, steps = run(sm, "branch-else", _branching(), Threshold="0.9")
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert "MakeModel" not in steps
    assert steps["TooLow"]["StepStatus"] == "Failed"
    assert steps["TooLow"]["Metadata"] == {"Fail": {"ErrorMessage": "acc below 0.9"}}
    assert "acc below 0.9" in desc["FailureReason"]


def test_stop_stops_the_running_job(sm: LocalSageMaker) -> None:
    sm.create_pipeline(
        PipelineName="stopping",
        PipelineDefinition=json.dumps(
            definition(
                [train_step("Slow", {"sleep": "60"}), train_step("Next", {}, DependsOn=["Slow"])]
            )
        ),
        RoleArn=ROLE,
    )
    arn = sm.start_pipeline_execution(PipelineName="stopping")["PipelineExecutionArn"]
    assert wait_until(
        lambda: (
            "Slow" in sm.pipelines.execution_record(arn).steps
            and sm.pipelines.execution_record(arn).steps["Slow"].metadata
        ),
        timeout=30,
    )
    sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    # Until its job ends, the running step is Stopping, like the execution.
    stopping = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
    assert [s["StepStatus"] for s in stopping["PipelineExecutionSteps"]] == ["Stopping"]
    status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
    assert status == "Stopping"
    desc = sm.wait_for_pipeline_execution(arn, timeout=120)
    assert desc["PipelineExecutionStatus"] == "Stopped"
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Slow", "Stopped")]


def test_records_are_written_to_the_workspace(sm: LocalSageMaker) -> None:
    step = train_step("Only", {})
    step["Arguments"]["Environment"] = {"MY_JOB": {"Get": "Execution.TrainingJobName"}}
    desc, _ = run(sm, "recorded", definition([step]))
    record = sm.pipelines.execution_record(desc["PipelineExecutionArn"])
    root = Path(sm.workspace) / "pipelines" / "recorded" / "executions" / record.execution_id
    assert (
        json.loads((root / "execution.json").read_text())["PipelineExecutionStatus"] == "Succeeded"
    )
    steps = json.loads((root / "steps.json").read_text())["PipelineExecutionSteps"]
    assert [s["StepName"] for s in steps] == ["Only"]
    args = json.loads((root / "steps" / "Only" / "arguments.json").read_text())
    assert args["OutputDataConfig"]["S3OutputPath"] == f"s3://bkt/out/{record.execution_id}"
    # Execution.TrainingJobName is the job this very step runs.
    assert args["Environment"]["MY_JOB"] == args["TrainingJobName"] == record.steps["Only"].job_name
    assert args["TrainingJobName"].startswith(f"pipelines-{record.execution_id}-Only-")
    # The step refers to its job (Metadata ARN) instead of copying the job's description:
    # the job's own record holds it, in the workspace's jobs/.
    assert not (root / "steps" / "Only" / "describe.json").exists()
    arn = steps[0]["Metadata"]["TrainingJob"]["Arn"]
    assert arn.rsplit("/", 1)[-1] == args["TrainingJobName"].lower()
    job_dir = Path(sm.workspace) / "jobs" / args["TrainingJobName"]
    job = json.loads((job_dir / "describe.json").read_text())
    assert job["TrainingJobStatus"] == "Completed"


def _record(steps: list[dict[str, Any]]) -> Any:
    from simulator.pipeline.run.definition import PipelineDefinition
    from simulator.pipeline.run.records import ExecutionRecord

    return ExecutionRecord(
        pipeline_name="p",
        pipeline_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
        execution_id="abcdefabcdef",
        execution_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abcdefabcdef",
        definition=PipelineDefinition.parse(definition(steps)),
        parameters={},
    )


_ALWAYS = {"Type": "Equals", "LeftValue": 1, "RightValue": 1}


def test_an_engine_error_in_a_step_thread_fails_the_execution_and_its_step() -> None:
    from simulator.pipeline.run.executor import PipelineExecutor

    record = _record([{"Name": "C", "Type": "Condition", "Arguments": {"Conditions": [_ALWAYS]}}])
    calls = []

    def persist(_: Any) -> None:
        calls.append(1)
        if len(calls) == 2:  # the step's start cannot be recorded
            raise OSError(28, "No space left on device")

    record.on_change = persist
    PipelineExecutor(None, record).run()
    assert record.done.is_set()
    assert record.status == "Failed"
    assert "No space left on device" in record.failure_reason
    # No step is left Executing in a finished execution.
    assert record.steps["C"].status == "Failed" and record.steps["C"].end_time is not None


def test_waiters_wake_when_the_final_record_cannot_be_written() -> None:
    from simulator.pipeline.run.executor import PipelineExecutor

    record = _record([{"Name": "C", "Type": "Condition", "Arguments": {"Conditions": [_ALWAYS]}}])

    def persist(r: Any) -> None:
        if r.status == "Succeeded":
            raise OSError(13, "Permission denied")

    record.on_change = persist
    with pytest.raises(OSError):
        PipelineExecutor(None, record).run()
    assert record.done.is_set() and record.status == "Succeeded"


def test_a_step_scheduled_just_before_a_stop_launches_nothing() -> None:
    from simulator.pipeline.run.executor import PipelineExecutor
    from simulator.pipeline.run.records import StepRecord

    record = _record([{"Name": "C", "Type": "Condition", "Arguments": {"Conditions": [_ALWAYS]}}])
    record.steps["C"] = StepRecord(name="C", type="Condition")  # scheduled, not yet started
    record.stop_requested.set()
    PipelineExecutor(None, record)._run_step("C")
    assert record.steps["C"].status == "Stopped" and not record.steps["C"].metadata
