"""Grid: the Cartesian product of the categorical values, each once; finds the exact optimum."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from simulator.errors import ValidationError

KINDS = ["a", "b", "c"]
ALPHAS = ["0.0", "0.3", "0.6"]


def _loss(x: float, kind: str) -> float:
    # objective.py's formula at beta = 0 and one epoch (see conftest)
    return round((x - 0.3) ** 2 + 0.2**2 + {"a": 0.5, "b": 0.0, "c": 1.0}[kind] + 1.0, 6)


def test_grid_runs_every_combination_once_and_finds_the_optimum(
    sm: Any, tuning_request: Any
) -> None:
    request = tuning_request(
        "grid-tune",
        "Grid",
        {
            "CategoricalParameterRanges": [
                {"Name": "kind", "Values": KINDS},
                {"Name": "alpha", "Values": ALPHAS},
            ]
        },
        max_jobs=None,
        parallel=3,
    )
    arn = sm.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
    assert arn.endswith(":hyper-parameter-tuning-job/grid-tune")
    desc = sm.wait_for_hyper_parameter_tuning_job("grid-tune", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    # Grid computes its own job count: 3 kinds × 3 xs.
    assert desc["TrainingJobStatusCounters"]["Completed"] == 9
    assert desc["ObjectiveStatusCounters"] == {"Succeeded": 9, "Pending": 0, "Failed": 0}
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="grid-tune", MaxResults=100
    )["TrainingJobSummaries"]
    tried = sorted(
        (j["TunedHyperParameters"]["kind"], j["TunedHyperParameters"]["alpha"]) for j in jobs
    )
    assert tried == sorted(itertools.product(KINDS, ALPHAS))
    for job in jobs:
        hps = job["TunedHyperParameters"]
        metric = job["FinalHyperParameterTuningJobObjectiveMetric"]
        assert metric["Value"] == pytest.approx(_loss(float(hps["alpha"]), hps["kind"]))
    best = desc["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"kind": "b", "alpha": "0.3"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "val_loss",
        "Value": pytest.approx(_loss(0.3, "b")),
    }


def test_grid_refuses_numeric_ranges(sm: Any, tuning_request: Any) -> None:
    request = tuning_request(
        "grid-bad",
        "Grid",
        {"ContinuousParameterRanges": [{"Name": "alpha", "MinValue": "0", "MaxValue": "1"}]},
        max_jobs=None,
    )
    with pytest.raises(ValidationError, match="Grid strategy accepts only categorical"):
        sm.create_hyper_parameter_tuning_job(**request)
