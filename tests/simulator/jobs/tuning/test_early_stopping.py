"""Early stopping from intermediate objective values: Auto's median rule and Hyperband.

objective.py emits val_loss = loss + 1/epoch once per epoch, so a job with a worse
``kind`` is worse at every epoch than a better one.
"""

from __future__ import annotations

from typing import Any

from simulator.jobs.tuning.early_stopping import MedianStopping

EPOCHS = 4


def _epochs_run(sm: Any, job: str) -> int:
    train = sm.describe_training_job(TrainingJobName=job)
    final = {m["MetricName"]: m["Value"] for m in train.get("FinalMetricDataList", [])}
    return int(final.get("epoch", 0))


def test_median_rule_follows_running_averages() -> None:
    rule = MedianStopping(minimize=True)
    rule.add_finished([4.0, 2.0, 0.0])  # running averages 4, 3, 2
    rule.add_finished([6.0, 4.0])  # 6, 5 (ended after two epochs)
    assert not rule.should_stop([4.9])  # median at epoch 1: 5
    assert rule.should_stop([5.1])
    assert rule.should_stop([1.0, 4.1])  # median at epoch 2: 4
    assert not rule.should_stop([1.0, 1.0, 2.0])  # only the first reached epoch 3: 2
    assert not MedianStopping(minimize=True).should_stop([9.0])  # no previous job: no stop
    maximizing = MedianStopping(minimize=False)
    maximizing.add_finished([2.0, 2.0])
    assert maximizing.should_stop([3.0, 1.0])  # lower is worse when maximizing
    assert not maximizing.should_stop([3.0, 2.5])


def test_auto_early_stopping_stops_a_job_worse_than_the_median(
    sm: Any, tuning_request: Any
) -> None:
    request = tuning_request(
        "auto-stop",
        "Grid",
        {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["b", "c", "a"]}]},
        max_jobs=None,
        parallel=1,
        static={"epochs": EPOCHS, "epoch-seconds": 0.2},
        TrainingJobEarlyStoppingType="Auto",
    )
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("auto-stop", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    jobs = {
        j["TunedHyperParameters"]["kind"]: j
        for j in sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="auto-stop"
        )["TrainingJobSummaries"]
    }
    # "b" ran first and to the end; "c" and "a" are worse than its running average at
    # their first epoch, so both are stopped long before their last epoch.
    assert jobs["b"]["TrainingJobStatus"] == "Completed"
    assert _epochs_run(sm, jobs["b"]["TrainingJobName"]) == EPOCHS
    for kind in ("c", "a"):
        assert jobs[kind]["TrainingJobStatus"] == "Stopped"
        assert _epochs_run(sm, jobs[kind]["TrainingJobName"]) < EPOCHS
        # An early-stopped job keeps its last objective value.
        assert jobs[kind]["ObjectiveStatus"] == "Succeeded"
    assert desc["TrainingJobStatusCounters"]["Stopped"] == 2
    assert desc["BestTrainingJob"]["TunedHyperParameters"] == {"kind": "b"}


def test_hyperband_stops_underperforming_jobs_early(sm: Any, tuning_request: Any) -> None:
    request = tuning_request(
        "hyperband",
        "Hyperband",
        {
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
            "ContinuousParameterRanges": [
                {"Name": "alpha", "MinValue": "-1", "MaxValue": "1", "ScalingType": "Linear"}
            ],
        },
        max_jobs=6,
        parallel=1,
        static={"epochs": EPOCHS, "epoch-seconds": 0.2},
        RandomSeed=7,
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": EPOCHS}},
    )
    sm.create_hyper_parameter_tuning_job(**request)
    desc = sm.wait_for_hyper_parameter_tuning_job("hyperband", timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="hyperband", MaxResults=100
    )["TrainingJobSummaries"]
    assert len(jobs) == 6
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    assert stopped, "Hyperband stopped no job"
    for job in stopped:
        assert _epochs_run(sm, job["TrainingJobName"]) < EPOCHS
    # The best job is one that ran all its epochs.
    best = desc["BestTrainingJob"]
    assert best["TrainingJobStatus"] == "Completed"
    assert _epochs_run(sm, best["TrainingJobName"]) == EPOCHS
