"""Completion criteria (TargetObjectiveMetricValue) and warm start from parent tuning jobs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulator.errors import ResourceInUse, ValidationError

KINDS = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}]}
ALPHA = {
    "ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": "-1", "MaxValue": "1", "ScalingType": "Linear"}
    ]
}


def test_target_objective_value_ends_the_tuning_job(sm: Any, tuning_request: Any) -> None:
    # kind "a" → 1.63, "b" → 1.13 (≤ the target), "c" → 2.13: "c" is never launched.
    request = tuning_request(
        "target",
        "Grid",
        KINDS,
        max_jobs=None,
        parallel=1,
        TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 1.2},
    )
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("target", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"]["Completed"] == 2
    assert desc["BestTrainingJob"]["TunedHyperParameters"] == {"kind": "b"}


def test_warm_start_from_a_parent(sm: Any, tuning_request: Any) -> None:
    parent = tuning_request("parent", "Random", ALPHA, max_jobs=3, parallel=3, RandomSeed=1)
    sm.create_hyper_parameter_tuning_job(**parent)
    parent_desc = sm.wait_for_hyper_parameter_tuning_job("parent", timeout=120)

    child = copy.deepcopy(parent)
    child["HyperParameterTuningJobName"] = "child"
    child["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    child["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    sm.create_hyper_parameter_tuning_job(**child)
    desc = sm.wait_for_hyper_parameter_tuning_job("child", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["WarmStartConfig"] == child["WarmStartConfig"]
    assert desc["TrainingJobStatusCounters"]["Completed"] == 2  # the child's own jobs
    own = desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    theirs = parent_desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    overall = desc["OverallBestTrainingJob"]
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(own, theirs)
    assert overall["TuningJobName"] == ("child" if own <= theirs else "parent")

    # IdenticalDataAndAlgorithm keeps the parent's static hyperparameters.
    changed = copy.deepcopy(child)
    changed["HyperParameterTuningJobName"] = "changed"
    changed["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = "3"
    with pytest.raises(ValidationError, match="StaticHyperParameters.*TransferLearning"):
        sm.create_hyper_parameter_tuning_job(**changed)
    changed["WarmStartConfig"]["WarmStartType"] = "TransferLearning"
    sm.create_hyper_parameter_tuning_job(**changed)
    assert (
        sm.wait_for_hyper_parameter_tuning_job("changed", timeout=120)[
            "HyperParameterTuningJobStatus"
        ]
        == "Completed"
    )

    orphan = copy.deepcopy(child)
    orphan["HyperParameterTuningJobName"] = "orphan"
    orphan["WarmStartConfig"]["ParentHyperParameterTuningJobs"] = [
        {"HyperParameterTuningJobName": "nobody"}
    ]
    with pytest.raises(ValidationError, match="no such tuning job"):
        sm.create_hyper_parameter_tuning_job(**orphan)


def test_a_tuning_job_of_an_earlier_session_stays_listed_and_describable(
    tmp_path: Any, sm: Any, tuning_request: Any
) -> None:
    from simulator.jobs.tuning import TuningService

    request = tuning_request("kept", "Grid", KINDS, max_jobs=None, parallel=3)
    sm.create_hyper_parameter_tuning_job(**request)
    final = sm.wait_for_hyper_parameter_tuning_job("kept", timeout=120)
    # A new service on the same workspace (a restarted server) knows the job from disk.
    later = TuningService(sm.workspace, "us-east-1", "123456789012", backend=None)  # type: ignore[arg-type]
    assert later.describe_hyper_parameter_tuning_job("kept") == final
    listed = later.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in listed] == ["kept"]
    jobs = later.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="kept", SortBy="FinalObjectiveMetricValue"
    )["TrainingJobSummaries"]
    assert [j["TunedHyperParameters"]["kind"] for j in jobs] == ["c", "a", "b"]  # Ascending
    with pytest.raises(ResourceInUse):
        later.create_hyper_parameter_tuning_job(**request)
