"""CreateHyperParameterTuningJob is refused before anything runs, naming field and fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulator.errors import UnsupportedFeature, ValidationError
from simulator.jobs.tuning.checks import check_request

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"


def request(**config: Any) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "checks",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}
                ]
            },
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": '"s3://my-bucket/code/sourcedir.tar.gz"',
            },
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "val_loss", "Regex": "val_loss=([0-9.]+)"}],
            },
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    }


def problems(req: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as err:
        check_request(req)
    return [str(p) for p in err.value.problems]


def test_a_valid_request_gives_its_plan() -> None:
    plan = check_request(request())
    assert plan.objective == {"Type": "Minimize", "MetricName": "val_loss"}
    assert (plan.max_jobs, plan.max_parallel, plan.minimize) == (4, 2, True)
    [definition] = plan.definitions
    assert definition.space.names == ["lr"]


def test_botocore_shape_and_enums() -> None:
    req = request(Strategy="Annealing")
    [found] = problems(req)
    assert "HyperParameterTuningJobConfig.Strategy" in found and "Bayesian" in found
    req = request()
    req["HyperParameterTuningJobName"] = "x" * 33  # tuning job names: at most 32
    assert any("longer than 32" in p for p in problems(req))


def test_objective_must_be_a_metric_definition() -> None:
    req = request(HyperParameterTuningJobObjective={"Type": "Maximize", "MetricName": "auc"})
    [found] = problems(req)
    assert "'auc'" in found and "MetricDefinitions" in found and "val_loss" in found


@pytest.mark.parametrize(
    ("scaling", "low", "high", "message"),
    [
        ("Logarithmic", "0", "1", "greater than 0"),
        ("ReverseLogarithmic", "0.5", "1.0", "MaxValue < 1"),
        ("Linear", "2", "1", "must not exceed MaxValue"),
    ],
)
def test_scaling_rules(scaling: str, low: str, high: str, message: str) -> None:
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": low, "MaxValue": high, "ScalingType": scaling}
        ]
    }
    [found] = problems(request(ParameterRanges=ranges))
    assert message in found


def test_reverse_logarithmic_is_for_continuous_ranges_only() -> None:
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "n", "MinValue": "1", "MaxValue": "9", "ScalingType": "ReverseLogarithmic"}
        ]
    }
    [found] = problems(request(ParameterRanges=ranges))
    assert "continuous ranges only" in found


def test_strategy_rules() -> None:
    grid = request(Strategy="Grid")
    grid["HyperParameterTuningJobConfig"]["ResourceLimits"] = {"MaxParallelTrainingJobs": 1}
    assert any("only categorical" in p for p in problems(grid))
    random = request()
    del random["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    assert any("MaxNumberOfTrainingJobs" in p for p in problems(random))
    hyperband = request(Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto")
    assert any("must be Off with Hyperband" in p for p in problems(hyperband))
    config = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}}
    assert any("Hyperband strategy only" in p for p in problems(request(StrategyConfig=config)))


def test_tuned_hyperparameter_cannot_be_static() -> None:
    req = request()
    req["TrainingJobDefinition"]["StaticHyperParameters"]["lr"] = "0.01"
    [found] = problems(req)
    assert "also static" in found and "'lr'" in found


def test_exactly_one_definition_kind() -> None:
    req = request()
    req["TrainingJobDefinitions"] = [
        {**copy.deepcopy(req["TrainingJobDefinition"]), "DefinitionName": "a"}
    ]
    [found] = problems(req)
    assert "exactly one of TrainingJobDefinition and TrainingJobDefinitions" in found


def test_training_jobs_pass_create_training_job_checks() -> None:
    req = request()
    req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = (
        "s3://My_Bucket/out"  # no such bucket name
    )
    with pytest.raises(ValidationError, match="training jobs of TrainingJobDefinition"):
        check_request(req)
    req = request()
    # More hosts than this machine is set to hold: the training checks' host limit.
    req["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 1000
    with pytest.raises(ValidationError, match="SMSIM_MAX_HOSTS"):
        check_request(req)


def test_unsupported_features_are_named() -> None:
    with pytest.raises(UnsupportedFeature, match="Autotune"):
        check_request({**request(), "Autotune": {"Mode": "Enabled"}})
    criteria = {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    with pytest.raises(UnsupportedFeature, match="ConvergenceDetected"):
        check_request(request(TuningJobCompletionCriteria=criteria))
