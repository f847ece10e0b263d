"""Failed training jobs in a tuning job, and several TrainingJobDefinitions."""

from __future__ import annotations

import copy
import json
from typing import Any

KINDS = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}


def test_failed_jobs_are_counted_and_a_tuning_without_objective_fails(
    sm: Any, tuning_request: Any, upload_code: Any
) -> None:
    broken = upload_code(
        {"objective.py": "raise SystemExit('bad data: no rows')\n"}, key="broken/sourcedir.tar.gz"
    )
    request = tuning_request("all-fail", "Grid", KINDS, max_jobs=None, parallel=2)
    statics = request["TrainingJobDefinition"]["StaticHyperParameters"]
    statics["sagemaker_submit_directory"] = json.dumps(broken)
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("all-fail", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Failed"
    assert desc["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert desc["ObjectiveStatusCounters"]["Failed"] == 2
    assert "BestTrainingJob" not in desc
    # The reason names a failed job and what its script said.
    assert "No training job succeeded" in desc["FailureReason"]
    assert "bad data: no rows" in desc["FailureReason"]
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="all-fail"
    )["TrainingJobSummaries"]
    assert all("bad data: no rows" in j["FailureReason"] for j in jobs)
    # Sorting by the objective leaves out jobs without one (API reference).
    assert (
        sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="all-fail", SortBy="FinalObjectiveMetricValue"
        )["TrainingJobSummaries"]
        == []
    )


def test_a_job_that_never_emits_the_objective_has_a_failed_objective(
    sm: Any, tuning_request: Any
) -> None:
    request = tuning_request("no-metric", "Grid", KINDS, max_jobs=None, parallel=2)
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {
        "Type": "Minimize",
        "MetricName": "test_loss",
    }
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"].append(
        {"Name": "test_loss", "Regex": r"test_loss=([0-9\.]+)"}  # objective.py prints none
    )
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("no-metric", timeout=120)
    assert desc["TrainingJobStatusCounters"]["Completed"] == 2
    assert desc["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert desc["HyperParameterTuningJobStatus"] == "Failed"


def test_several_training_job_definitions(sm: Any, tuning_request: Any) -> None:
    base = tuning_request("multi", "Random", {}, max_jobs=6, parallel=2, RandomSeed=4)
    ranges = base["HyperParameterTuningJobConfig"].pop("ParameterRanges")
    assert ranges == {}
    definition = base.pop("TrainingJobDefinition")
    slow_lane = copy.deepcopy(definition)
    definition.update(DefinitionName="kinds", HyperParameterRanges=KINDS)
    slow_lane.update(
        DefinitionName="alphas",
        HyperParameterRanges={
            "ContinuousParameterRanges": [
                {"Name": "alpha", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
            ]
        },
    )
    base["TrainingJobDefinitions"] = [definition, slow_lane]
    sm.create_hyper_parameter_tuning_job(**base)
    desc = sm.wait_for_hyper_parameter_tuning_job("multi", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert [d["DefinitionName"] for d in desc["TrainingJobDefinitions"]] == ["kinds", "alphas"]
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="multi"
    )["TrainingJobSummaries"]
    assert len(jobs) == 6
    for job in jobs:
        tuned = set(job["TunedHyperParameters"])
        assert tuned == ({"kind"} if job["TrainingJobDefinitionName"] == "kinds" else {"alpha"})
