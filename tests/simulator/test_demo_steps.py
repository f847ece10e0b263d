"""simulator.demo_steps: one short line per step saying what it produced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from simulator.demo_steps import key_output, log_path, metric_values, step_summary


def test_a_failed_step_shows_the_reason_without_the_job_name() -> None:
    step = {"StepName": "Prep", "FailureReason": "pipelines-x-prep failed: KeyError 'a'\nmore"}
    assert key_output(step, None) == "KeyError 'a'"


def test_training_shows_validation_auroc_and_the_artifact() -> None:
    step = {"StepName": "Train", "Metadata": {"TrainingJob": {"Arn": "arn:…"}}}
    description = {
        "FinalMetricDataList": [{"MetricName": "val:auroc", "Value": 0.8766}],
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/run/Train/output/model.tar.gz"},
    }
    assert key_output(step, description) == "val AUROC 0.877, model.tar.gz"


def test_condition_fail_and_register_steps() -> None:
    assert key_output({"Metadata": {"Condition": {"Outcome": "True"}}}, None) == "outcome True"
    assert key_output({"Metadata": {"Fail": {"ErrorMessage": "too low"}}}, None) == "too low"
    package = {"ModelPackageGroupName": "G", "ModelPackageVersion": 3, "ModelApprovalStatus": "A"}
    assert key_output({"Metadata": {"RegisterModel": {"Arn": "a"}}}, package) == "G v3 (A)"


def test_metric_values_keep_numbers_only() -> None:
    evaluation = {"metrics": {"auroc": {"value": 0.9}, "note": {"value": "n/a"}, "f1": 3}}
    assert metric_values(evaluation) == {"auroc": 0.9}
    assert metric_values(None) == {}


def test_summary_and_log_of_a_processing_step(tmp_path: Path) -> None:
    logs = tmp_path / "processing-jobs" / "p-1" / "logs"
    logs.mkdir(parents=True)
    (logs / "algo-1.stderr.log").write_text("")
    (logs / "algo-1.log").write_text("done\n")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    step = {
        "StepName": "Prep",
        "StepStatus": "Succeeded",
        "StartTime": start,
        "EndTime": start + dt.timedelta(seconds=2.5),
        "Metadata": {"ProcessingJob": {"Arn": "arn"}},
    }
    description = {
        "ProcessingJobName": "p-1",
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "data"}]},
    }
    summary = step_summary(step, description, tmp_path, "Processing")
    assert summary["duration_seconds"] == 2.5
    assert summary["key_output"] == "data -> S3"
    assert summary["log"] == str(logs / "algo-1.log")  # the combined log, not stderr's
    assert log_path(tmp_path, None) is None
