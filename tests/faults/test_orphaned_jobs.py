"""Nothing stuck InProgress (#17, requirement 2): a simulator opening a workspace ends the
jobs and pipeline executions of a simulator that died, leaves those of a live one alone,
and lists every job recorded there."""

from __future__ import annotations

import json
import signal

import psutil
import pytest

from simulator import LocalSageMaker
from simulator.owner import RUNNER_GONE

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def container_mode() -> str:
    return "fallback"  # the runner record does not depend on the mode (see test_process_lifetime)


def session(workspace) -> LocalSageMaker:
    return LocalSageMaker(workspace=workspace, log_sink=lambda _: None, stop_grace_seconds=1)


def kill(proc, processes) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(processes, timeout=15)
    assert alive == []


def test_the_job_of_a_killed_simulator_is_failed_by_the_next_one(tmp_path, simulator_process):
    ws = tmp_path / "ws"
    proc, processes = simulator_process(ws, "train-loud")
    kill(proc, processes)
    stored = json.loads((ws / "jobs" / "doomed" / "describe.json").read_text())
    assert stored["TrainingJobStatus"] == "InProgress"  # what the dead simulator left

    with session(ws) as sm:
        job = sm.describe_training_job(TrainingJobName="doomed")
        assert job["TrainingJobStatus"] == "Failed"
        assert job["SecondaryStatus"] == "Failed"
        assert job["FailureReason"] == RUNNER_GONE
        assert job["TrainingEndTime"] >= job["TrainingStartTime"]
        names = [s["TrainingJobName"] for s in sm.list_training_jobs()["TrainingJobSummaries"]]
        assert names == ["doomed"]
        failed = sm.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"]
        assert [s["TrainingJobName"] for s in failed] == ["doomed"]
    # Nothing was packed or uploaded for it after the fact, and the end is on disk.
    assert not (ws / "jobs" / "doomed" / "artifacts" / "model.tar.gz").exists()
    stored = json.loads((ws / "jobs" / "doomed" / "describe.json").read_text())
    assert stored["TrainingJobStatus"] == "Failed" and stored["FailureReason"] == RUNNER_GONE


def test_the_jobs_of_a_live_simulator_on_the_workspace_are_left_alone(tmp_path, simulator_process):
    ws = tmp_path / "ws"
    proc, processes = simulator_process(ws, "train-quiet")
    with session(ws) as other:
        job = other.describe_training_job(TrainingJobName="doomed")
        assert job["TrainingJobStatus"] == "InProgress"
        listed = other.list_training_jobs()["TrainingJobSummaries"]
        assert [(s["TrainingJobName"], s["TrainingJobStatus"]) for s in listed] == [
            ("doomed", "InProgress")
        ]
        with pytest.raises(Exception, match="another simulator"):
            other.stop_training_job(TrainingJobName="doomed")
    # Closing the second simulator stopped nothing of the first's.
    assert all(p.is_running() for p in processes)
    assert proc.poll() is None
    stored = json.loads((ws / "jobs" / "doomed" / "describe.json").read_text())
    assert stored["TrainingJobStatus"] == "InProgress"

    with session(ws) as watcher:
        assert watcher.describe_training_job(TrainingJobName="doomed")["TrainingJobStatus"] == (
            "InProgress"
        )
        kill(proc, processes)
        # The watcher follows the job's record: its runner gone, the job ends Failed.
        job = watcher.wait_for_training_job("doomed", timeout=60)
        assert job["TrainingJobStatus"] == "Failed" and job["FailureReason"] == RUNNER_GONE


def test_the_execution_of_a_killed_simulator_is_failed_with_its_steps(tmp_path, simulator_process):
    ws = tmp_path / "ws"
    proc, processes = simulator_process(ws, "pipeline")
    kill(proc, processes)
    for _ in range(2):  # the second session reads the end the first recorded
        with session(ws) as sm:
            summaries = sm.list_pipeline_executions(PipelineName="Doomed")[
                "PipelineExecutionSummaries"
            ]
            assert [s["PipelineExecutionStatus"] for s in summaries] == ["Failed"]
            arn = summaries[0]["PipelineExecutionArn"]
            execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            assert execution["FailureReason"] == RUNNER_GONE
            steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
                "PipelineExecutionSteps"
            ]
            assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Train", "Failed")]
            assert steps[0]["FailureReason"] == RUNNER_GONE
            job_arn = steps[0]["Metadata"]["TrainingJob"]["Arn"]
            job = sm.describe_training_job(TrainingJobName=job_arn.rsplit("/", 1)[-1])
            assert job["TrainingJobStatus"] == "Failed" and job["FailureReason"] == RUNNER_GONE


def test_the_tuning_job_of_a_killed_simulator_is_failed_with_its_training_job(
    tmp_path, simulator_process
):
    ws = tmp_path / "ws"
    proc, processes = simulator_process(ws, "tuning")
    kill(proc, processes)
    with session(ws) as sm:
        tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="doomed-tuning")
        assert tuning["HyperParameterTuningJobStatus"] == "Failed"
        assert tuning["FailureReason"] == RUNNER_GONE
        listed = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
        assert [
            (j["HyperParameterTuningJobName"], j["HyperParameterTuningJobStatus"]) for j in listed
        ] == [("doomed-tuning", "Failed")]
        jobs = sm.list_training_jobs()["TrainingJobSummaries"]
        assert [j["TrainingJobStatus"] for j in jobs] == ["Failed"]


def test_a_later_session_lists_every_job_of_its_workspace(tmp_path, stage_code, training_request):
    ws = tmp_path / "ws"
    with session(ws) as sm:
        code = stage_code(sm, {"train.py": "print('trained')\n"})
        for name in ("first", "second"):
            sm.create_training_job(**training_request(name, code))
            assert sm.wait_for_training_job(name, timeout=120)["TrainingJobStatus"] == "Completed"
        sm.create_processing_job(
            ProcessingJobName="prep",
            RoleArn=ROLE,
            ProcessingResources={
                "ClusterConfig": {
                    "InstanceType": "ml.m5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 1,
                }
            },
            AppSpecification={
                "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/prep:latest",
                "ContainerEntrypoint": ["python3", "-c", "print('prepared')"],
            },
        )
        assert sm.wait_for_processing_job("prep", timeout=120)["ProcessingJobStatus"] == (
            "Completed"
        )
    with session(ws) as sm:
        training = sm.list_training_jobs(SortBy="Name", SortOrder="Ascending")
        assert [s["TrainingJobName"] for s in training["TrainingJobSummaries"]] == [
            "first",
            "second",
        ]
        processing = sm.list_processing_jobs()["ProcessingJobSummaries"]
        assert [(s["ProcessingJobName"], s["ProcessingJobStatus"]) for s in processing] == [
            ("prep", "Completed")
        ]
