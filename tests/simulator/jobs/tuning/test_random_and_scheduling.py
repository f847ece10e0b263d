"""Random search over real training jobs: seeded draws, the service's job names and
TuningJobArn, MaxParallelTrainingJobs, the List/Describe/Stop operations."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from simulator.errors import ResourceInUse
from simulator.shapes import validate_response
from tests.support import wait_until

RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": "-1", "MaxValue": "1", "ScalingType": "Linear"},
    ],
    "IntegerParameterRanges": [
        {"Name": "epochs", "MinValue": "1", "MaxValue": "3", "ScalingType": "Linear"},
    ],
    "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
}


def _tried(sm: Any, name: str) -> list[dict[str, str]]:
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="CreationTime", MaxResults=100
    )["TrainingJobSummaries"]
    return [j["TunedHyperParameters"] for j in jobs]


def test_random_jobs_are_real_training_jobs_within_the_parallel_limit(
    sm: Any, tuning_request: Any
) -> None:
    request = tuning_request(
        "rand-tune",
        "Random",
        RANGES,
        max_jobs=5,
        parallel=2,
        static={"epoch-seconds": 0.2},
        RandomSeed=11,
    )
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("rand-tune", timeout=120)
    validate_response("DescribeHyperParameterTuningJob", desc)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"] == {
        "Completed": 5,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert desc["CreationTime"] <= desc["HyperParameterTuningEndTime"]

    listed = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="rand-tune", MaxResults=100
    )["TrainingJobSummaries"]
    assert len(listed) == 5
    names = sorted(j["TrainingJobName"] for j in listed)
    # The service's names: <tuning job>-NNN-<8 hex>, NNN counting from 001.
    for i, name in enumerate(names, start=1):
        assert re.fullmatch(rf"rand-tune-{i:03d}-[0-9a-f]{{8}}", name), name
    intervals = []
    for summary in listed:
        train = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert train["TuningJobArn"] == desc["HyperParameterTuningJobArn"]
        hps = summary["TunedHyperParameters"]
        assert set(hps) == {"alpha", "epochs", "kind"}
        assert -1 <= float(hps["alpha"]) <= 1 and hps["epochs"] in {"1", "2", "3"}
        # Static hyperparameters merged with the tuned ones, as the job received them.
        assert train["HyperParameters"]["epoch-seconds"] == "0.2"
        assert train["HyperParameters"]["alpha"] == hps["alpha"]
        final = {m["MetricName"]: m["Value"] for m in train["FinalMetricDataList"]}
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == final["val_loss"]
        intervals.append((train["CreationTime"], train["TrainingEndTime"]))
    # MaxParallelTrainingJobs from the jobs' own times: never more than 2 alive at once,
    # and the tuning job did use its 2 slots.
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    alive, peak = 0, 0
    for _, delta in events:
        alive += delta
        peak = max(peak, alive)
    assert peak == 2

    # The same RandomSeed draws the same hyperparameters.
    sm.create_hyper_parameter_tuning_job(**{**request, "HyperParameterTuningJobName": "rand-again"})
    sm.wait_for_hyper_parameter_tuning_job("rand-again", timeout=120)
    assert sorted(map(str, _tried(sm, "rand-again"))) == sorted(map(str, _tried(sm, "rand-tune")))

    # A boto3 client of the process (the SDK's way in) sees the same tuning jobs.
    client = boto3.client("sagemaker", region_name="us-east-1")
    seen = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="rand-tune")
    assert seen["BestTrainingJob"]["TrainingJobName"] == desc["BestTrainingJob"]["TrainingJobName"]
    listed_tuning = client.list_hyper_parameter_tuning_jobs(SortBy="Name")
    assert [
        s["HyperParameterTuningJobName"] for s in listed_tuning["HyperParameterTuningJobSummaries"]
    ] == ["rand-again", "rand-tune"]


def test_sorting_by_objective_lists_the_best_first_and_pages(sm: Any, tuning_request: Any) -> None:
    request = tuning_request(
        "sort-tune",
        "Grid",
        {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}]},
        max_jobs=None,
        parallel=3,
    )
    sm.create_hyper_parameter_tuning_job(**request)
    sm.wait_for_hyper_parameter_tuning_job("sort-tune", timeout=120)
    first = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sort-tune",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
        MaxResults=2,
    )
    rest = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sort-tune",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
        MaxResults=2,
        NextToken=first["NextToken"],
    )
    assert "NextToken" not in rest
    kinds = [
        j["TunedHyperParameters"]["kind"]
        for j in first["TrainingJobSummaries"] + rest["TrainingJobSummaries"]
    ]
    assert kinds == ["b", "a", "c"]  # KIND costs 0.0, 0.5, 1.0: lowest loss first


def test_stop_stops_the_running_training_jobs(sm: Any, tuning_request: Any) -> None:
    request = tuning_request(
        "stop-tune",
        "Random",
        RANGES,
        max_jobs=6,
        parallel=2,
        static={"epochs": 50, "epoch-seconds": 0.5},
        RandomSeed=3,
    )
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]
    }
    sm.create_hyper_parameter_tuning_job(**request)

    def running() -> bool:
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-tune")
        return d["TrainingJobStatusCounters"]["InProgress"] == 2

    assert wait_until(running, timeout=60)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-tune")
    desc = sm.wait_for_hyper_parameter_tuning_job("stop-tune", timeout=60)
    assert desc["HyperParameterTuningJobStatus"] == "Stopped"
    assert desc["TrainingJobStatusCounters"]["Stopped"] == 2
    assert desc["TrainingJobStatusCounters"]["InProgress"] == 0
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="stop-tune"
    )["TrainingJobSummaries"]
    assert len(jobs) == 2  # nothing new launched after the stop
    for job in jobs:
        train = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
        assert train["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ResourceInUse):
        sm.create_hyper_parameter_tuning_job(**request)
