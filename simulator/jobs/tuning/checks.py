"""CreateHyperParameterTuningJob request checks: everything refused before anything runs.

botocore's input shape first (with enums, patterns and limits botocore skips), then
the service's documented rules (developer guide, "Automatic model tuning"):

* exactly one of TrainingJobDefinition / TrainingJobDefinitions;
* an objective (HyperParameterTuningJobObjective, or each definition's TuningObjective)
  naming one of the definition's MetricDefinitions — the service reads it from there;
* Grid accepts only categorical ranges and needs no MaxNumberOfTrainingJobs; every
  other strategy needs MaxNumberOfTrainingJobs;
* Hyperband has its own early stopping, so TrainingJobEarlyStoppingType must be Off;
  HyperbandStrategyConfig only with Hyperband, MinResource <= MaxResource;
* at most 30 tunable hyperparameters in all; a tuned hyperparameter is not static too;
* each training job the definition yields passes CreateTrainingJob's own checks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from simulator.errors import Problem, UnsupportedFeature, ValidationError
from simulator.jobs.training import checks as training_checks
from simulator.jobs.tuning.requests import training_request
from simulator.jobs.tuning.space import SearchSpace, parse_ranges
from simulator.jobs.tuning.strategies import Definition
from simulator.shapes import validate_request

MAX_TUNED = 30  # ParameterRanges: at most 30 hyperparameters over all its range lists


@dataclass(frozen=True)
class TuningPlan:
    """What a valid request tunes: the definitions, their spaces, objective and limits."""

    definitions: list[Definition]
    documents: dict[str | None, dict[str, Any]]  # definition name → its request document
    objective: dict[str, str]
    minimize: bool
    max_jobs: int | None
    max_parallel: int
    max_runtime: int | None
    hyperband: tuple[int, int]


def check_request(request: dict[str, Any]) -> TuningPlan:
    """Validate a CreateHyperParameterTuningJob request; the plan it describes."""
    validate_request("CreateHyperParameterTuningJob", validation_view(request))
    config = request["HyperParameterTuningJobConfig"]
    strategy = config["Strategy"]
    problems: list[Problem] = []
    _check_unsupported(request, config)
    single = request.get("TrainingJobDefinition")
    several = request.get("TrainingJobDefinitions")
    if (single is None) == (several is None):
        raise ValidationError(
            "CreateHyperParameterTuningJob request",
            [
                Problem(
                    "TrainingJobDefinition",
                    "give exactly one of TrainingJobDefinition and TrainingJobDefinitions",
                )
            ],
        )
    docs: list[tuple[str, dict[str, Any]]] = (
        [("TrainingJobDefinition", single)]
        if single is not None
        else [(f"TrainingJobDefinitions[{i}]", d) for i, d in enumerate(several)]
    )
    definitions: list[Definition] = []
    documents: dict[str | None, dict[str, Any]] = {}
    objective = config.get("HyperParameterTuningJobObjective")
    for where, doc in docs:
        name = doc.get("DefinitionName") if several is not None else None
        if several is not None and not name:
            problems.append(Problem(f"{where}.DefinitionName", "required with several definitions"))
        ranges_where, ranges = f"{where}.HyperParameterRanges", doc.get("HyperParameterRanges")
        if ranges is None:
            ranges_where, ranges = (
                "HyperParameterTuningJobConfig.ParameterRanges",
                config.get("ParameterRanges", {}),
            )
        space, found = parse_ranges(ranges, ranges_where)
        problems += found
        own = doc.get("TuningObjective") or objective
        if own is None:
            problems.append(
                Problem(
                    "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective",
                    "missing: the tuning job needs an objective metric to rank its jobs",
                    None,
                    "set {'Type': 'Minimize'|'Maximize', 'MetricName': <a MetricDefinitions name>}",
                )
            )
        else:
            objective = objective or own
            problems += _objective_problems(own, doc, where)
        if not found:  # a range that failed its own checks is not "no ranges"
            problems += _space_problems(space, doc, where, strategy)
        definitions.append(Definition(name, space))
        documents[name] = doc
    names = [d.name for d in definitions if d.name]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem("TrainingJobDefinitions", "duplicate DefinitionName", dup))
    problems += _limit_problems(config, strategy, definitions)
    if problems:
        raise ValidationError("CreateHyperParameterTuningJob request", problems)
    assert objective is not None
    _check_training_requests(request["HyperParameterTuningJobName"], definitions, documents)
    limits = config["ResourceLimits"]
    hb = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig", {})
    max_resource = hb.get("MaxResource") or _epochs(docs[0][1])
    return TuningPlan(
        definitions=definitions,
        documents=documents,
        objective={"Type": objective["Type"], "MetricName": objective["MetricName"]},
        minimize=objective["Type"] == "Minimize",
        max_jobs=limits.get("MaxNumberOfTrainingJobs"),
        max_parallel=int(limits["MaxParallelTrainingJobs"]),
        max_runtime=limits.get("MaxRuntimeInSeconds"),
        hyperband=(int(hb.get("MinResource", 1)), int(max_resource or 1)),
    )


def validation_view(request: dict[str, Any]) -> dict[str, Any]:
    """The request as botocore sees it: local FileDataSource channels taken out."""
    view = copy.deepcopy(request)
    defs = [view.get("TrainingJobDefinition"), *view.get("TrainingJobDefinitions", [])]
    for doc in defs:
        if doc is not None:
            doc.update(training_checks.validation_view(doc))
    return view


def _check_unsupported(request: dict[str, Any], config: dict[str, Any]) -> None:
    if request.get("Autotune"):
        raise UnsupportedFeature(
            "Autotune is not supported by smsim: give the Strategy, ranges and limits explicitly"
        )
    criteria = config.get("TuningJobCompletionCriteria", {})
    if criteria.get("ConvergenceDetected", {}).get("CompleteOnConvergence") == "Enabled":
        raise UnsupportedFeature(
            "TuningJobCompletionCriteria.ConvergenceDetected is not supported by smsim; use "
            "TargetObjectiveMetricValue or BestObjectiveNotImproving"
        )
    for doc in [request.get("TrainingJobDefinition"), *request.get("TrainingJobDefinitions", [])]:
        if doc and doc.get("HyperParameterTuningResourceConfig", {}).get("InstanceConfigs"):
            raise UnsupportedFeature(
                "HyperParameterTuningResourceConfig.InstanceConfigs (several instance types) "
                "is not supported: give ResourceConfig with one InstanceType"
            )


def _objective_problems(
    objective: dict[str, Any], doc: dict[str, Any], where: str
) -> list[Problem]:
    metrics = [m["Name"] for m in doc["AlgorithmSpecification"].get("MetricDefinitions", [])]
    if objective["MetricName"] in metrics:
        return []
    return [
        Problem(
            "HyperParameterTuningJobObjective.MetricName",
            f"not a metric of {where}.AlgorithmSpecification.MetricDefinitions "
            f"(the tuning job reads the objective from there; defined: {metrics})",
            objective["MetricName"],
            "add a MetricDefinitions entry {'Name', 'Regex'} for it or name a defined metric",
        )
    ]


def _space_problems(
    space: SearchSpace, doc: dict[str, Any], where: str, strategy: str
) -> list[Problem]:
    problems = []
    static = set(doc.get("StaticHyperParameters", {}))
    for name in space.names:
        if name in static:
            problems.append(
                Problem(
                    f"{where}.StaticHyperParameters",
                    "a tuned hyperparameter is also static",
                    name,
                    "remove it from StaticHyperParameters",
                )
            )
    if len(space.parameters) > MAX_TUNED:
        problems.append(
            Problem(where, f"{len(space.parameters)} tuned hyperparameters; at most {MAX_TUNED}")
        )
    if not space.parameters:
        problems.append(
            Problem(
                where,
                "no hyperparameter ranges: a tuning job needs at least one range to search",
                None,
                "give ParameterRanges (IntegerParameterRanges, ContinuousParameterRanges or "
                "CategoricalParameterRanges)",
            )
        )
    if strategy == "Grid" and not space.categorical_only():
        numeric = [p.name for p in space.parameters if p.kind != "Categorical"]
        problems.append(
            Problem(
                where,
                "the Grid strategy accepts only categorical ranges",
                numeric,
                "list the values to try as CategoricalParameterRanges, or use Random/Bayesian",
            )
        )
    return problems


def _limit_problems(
    config: dict[str, Any], strategy: str, definitions: list[Definition]
) -> list[Problem]:
    problems = []
    limits = config["ResourceLimits"]
    if strategy != "Grid" and "MaxNumberOfTrainingJobs" not in limits:
        problems.append(
            Problem(
                "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
                f"required with the {strategy} strategy (only Grid computes its own)",
                None,
                "set how many training jobs the tuning job may launch",
            )
        )
    hb = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig")
    if hb is not None and strategy != "Hyperband":
        problems.append(
            Problem(
                "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig",
                f"applies to the Hyperband strategy only, not {strategy}",
            )
        )
    if strategy == "Hyperband":
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            problems.append(
                Problem(
                    "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
                    "must be Off with Hyperband (it has its own early stopping)",
                    config["TrainingJobEarlyStoppingType"],
                    "set 'Off'",
                )
            )
        hb = hb or {}
        low, high = hb.get("MinResource", 1), hb.get("MaxResource")
        if high is not None and low > high:
            problems.append(
                Problem(
                    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig",
                    "MinResource exceeds MaxResource",
                    [low, high],
                )
            )
    return problems


def _epochs(doc: dict[str, Any]) -> int | None:
    """Hyperband's MaxResource default: the definition's static epoch count, if it has one."""
    for key in ("epochs", "num_epochs", "n_epochs", "max_epochs"):
        value = doc.get("StaticHyperParameters", {}).get(key)
        try:
            return int(str(value).strip('"'))
        except (TypeError, ValueError):
            continue
    return None


def _check_training_requests(
    tuning_name: str, definitions: list[Definition], documents: dict[str | None, dict[str, Any]]
) -> None:
    """The training jobs a definition yields must pass CreateTrainingJob's checks: try one
    per definition, with each parameter at its lower bound (values never change shapes)."""
    for d in definitions:
        sample = {
            p.name: p.render(p.values[0] if p.kind == "Categorical" else p.low)
            for p in d.space.parameters
        }
        request = training_request(documents[d.name], f"{tuning_name}-000-00000000", sample)
        label = f"TrainingJobDefinition{'s ' + repr(d.name) if d.name else ''}"
        try:
            training_checks.check_request(request)
        except ValidationError as exc:
            raise ValidationError(
                f"CreateHyperParameterTuningJob request: the training jobs of {label}",
                exc.problems,
            ) from None
        except UnsupportedFeature as exc:
            raise UnsupportedFeature(f"{label}: {exc}") from None
