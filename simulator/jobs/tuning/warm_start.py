"""Warm start: what a tuning job takes from its parent tuning jobs.

SageMaker (developer guide, "Run a warm start hyperparameter tuning job"): parents
must have ended and tune the same objective; ``IdenticalDataAndAlgorithm`` keeps the
parent's training image, input data and static hyperparameters (ranges may change);
``TransferLearning`` may change data, image and ranges. The parents' finished jobs
seed the strategy and count for OverallBestTrainingJob.
"""

from __future__ import annotations

from typing import Any

from simulator.errors import Problem, ResourceNotFound, ValidationError
from simulator.jobs.tuning.checks import TuningPlan
from simulator.jobs.tuning.description import TERMINAL
from simulator.jobs.tuning.strategies import PriorTrial


def _all_training_jobs(service: Any, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = service.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100, **token
        )
        items += page["TrainingJobSummaries"]
        if "NextToken" not in page:
            return items
        token = {"NextToken": page["NextToken"]}


def parent_trials(
    service: Any, request: dict[str, Any], plan: TuningPlan
) -> tuple[list[PriorTrial], list[dict[str, Any]]]:
    """Parents' finished jobs: trials for the strategy, summaries for the overall best.

    SageMaker: parents must have ended; their objective must be the child's;
    IdenticalDataAndAlgorithm also keeps the training image and input data (ranges
    may change); TransferLearning allows new data, image and ranges.
    """
    config = request.get("WarmStartConfig")
    if not config:
        return [], []
    trials: list[PriorTrial] = []
    summaries: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for i, parent in enumerate(config["ParentHyperParameterTuningJobs"]):
        where = f"WarmStartConfig.ParentHyperParameterTuningJobs[{i}]"
        pname = parent["HyperParameterTuningJobName"]
        try:
            describe = service.describe_hyper_parameter_tuning_job(pname)
            items = _all_training_jobs(service, pname)
        except ResourceNotFound:
            problems.append(Problem(where, "no such tuning job", pname))
            continue
        if describe["HyperParameterTuningJobStatus"] not in TERMINAL:
            problems.append(
                Problem(
                    where,
                    f"the parent is {describe['HyperParameterTuningJobStatus']}; "
                    "warm start needs an ended parent",
                    pname,
                    "wait for it or stop it",
                )
            )
            continue
        objective = describe["HyperParameterTuningJobConfig"].get(
            "HyperParameterTuningJobObjective", {}
        )
        if (objective.get("MetricName"), objective.get("Type")) != (
            plan.objective["MetricName"],
            plan.objective["Type"],
        ):
            problems.append(Problem(where, "the parent tunes a different objective", objective))
            continue
        if config["WarmStartType"] == "IdenticalDataAndAlgorithm":
            problems += _identical_problems(describe, request, where)
        for item in items:
            metric = item.get("FinalHyperParameterTuningJobObjectiveMetric")
            if metric is None:
                continue
            summaries.append(item)
            trials.append(
                PriorTrial(
                    item.get("TrainingJobDefinitionName"),
                    dict(item["TunedHyperParameters"]),
                    float(metric["Value"]),
                )
            )
    if problems:
        raise ValidationError("CreateHyperParameterTuningJob request", problems)
    return trials, summaries


def _identical_problems(
    parent: dict[str, Any], request: dict[str, Any], where: str
) -> list[Problem]:
    mine = request.get("TrainingJobDefinition") or {}
    theirs = parent.get("TrainingJobDefinition") or {}
    problems = []
    for key in ("InputDataConfig", "StaticHyperParameters"):
        if mine.get(key) != theirs.get(key):
            problems.append(
                Problem(
                    f"TrainingJobDefinition.{key}",
                    f"differs from the parent's ({where}); IdenticalDataAndAlgorithm keeps it",
                    None,
                    "keep the parent's, or use WarmStartType TransferLearning",
                )
            )
    image = mine.get("AlgorithmSpecification", {}).get("TrainingImage")
    if image != theirs.get("AlgorithmSpecification", {}).get("TrainingImage"):
        problems.append(
            Problem(
                "TrainingJobDefinition.AlgorithmSpecification.TrainingImage",
                f"differs from the parent's ({where}); IdenticalDataAndAlgorithm keeps it",
                image,
                "use WarmStartType TransferLearning",
            )
        )
    return problems
