"""Bayesian (optuna TPE) against Random on the same budget, over several seeds.

The comparison runs the strategies on objective.py's own formula (20 seeds × 2
strategies × 10 jobs would be 400 training jobs); the real-job test checks that a
Bayesian tuning job's proposals and objectives are those of real jobs.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from simulator.jobs.tuning.space import parse_ranges
from simulator.jobs.tuning.strategies import Definition, make_strategy

RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": "-2", "MaxValue": "2", "ScalingType": "Linear"},
        {"Name": "beta", "MinValue": "-2", "MaxValue": "2", "ScalingType": "Linear"},
    ],
}
BUDGET = 10


def _loss(hps: dict[str, str]) -> float:
    # objective.py at kind "a", one epoch (see conftest): optimum 1.5 at (0.3, -0.2)
    return (float(hps["alpha"]) - 0.3) ** 2 + (float(hps["beta"]) + 0.2) ** 2 + 1.5


def _best_of(strategy: str, seed: int) -> float:
    space, problems = parse_ranges(RANGES, "ParameterRanges")
    assert not problems
    s = make_strategy(strategy, [Definition(None, space)], minimize=True, seed=seed, budget=BUDGET)
    best = float("inf")
    for _ in range(BUDGET):
        proposal = s.propose()
        assert proposal is not None
        value = _loss(proposal.hyperparameters)
        best = min(best, value)
        s.finish(proposal, value)
    return best


def test_bayesian_beats_random_median_over_seeds() -> None:
    seeds = range(1, 21)
    bayesian = [_best_of("Bayesian", s) - 1.5 for s in seeds]
    random = [_best_of("Random", s) - 1.5 for s in seeds]
    # The median regret of TPE is below Random's, by a margin (0.13 vs 0.49 here).
    assert statistics.median(bayesian) < 0.6 * statistics.median(random)


def test_a_bayesian_tuning_job_ranks_its_real_jobs(sm: Any, tuning_request: Any) -> None:
    request = tuning_request("bayes-tune", "Bayesian", RANGES, max_jobs=8, parallel=2, RandomSeed=5)
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("bayes-tune", timeout=300)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["ObjectiveStatusCounters"]["Succeeded"] == 8
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="bayes-tune", SortBy="CreationTime", MaxResults=100
    )["TrainingJobSummaries"]
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs]
    for job, value in zip(jobs, values, strict=True):
        assert value == pytest.approx(_loss(job["TunedHyperParameters"]), abs=1e-5)
    best = desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert best == min(values)
