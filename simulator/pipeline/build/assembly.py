"""Specs + contracts + a pipeline config → a SageMaker pipeline definition.

The output is the JSON document the SageMaker Python SDK's
``Pipeline.definition()`` writes and ``CreatePipeline`` accepts (Version
"2020-12-01"): each step's ``Arguments`` is the request of its job
(CreateProcessingJob, CreateTrainingJob, CreateModel, CreateModelPackage)
without the name SageMaker generates at run time; an input wired from an
upstream step is ``{"Get": "Steps.<step>.<property path>"}``; S3 output URIs are
``Std:Join``-ed with ``Execution.PipelineExecutionId`` so executions never
overwrite each other; the quality gate is a Condition step reading
``evaluation.json`` through ``Std:JsonGet`` on a PropertyFile.

Where data flows is decided by the dependency resolver, from the specs alone;
where it lands in the container comes from the script contracts; where the code
itself is in S3 from :mod:`simulator.pipeline.build.step_code`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.errors import Problem, ValidationError
from simulator.pipeline.build.config import PipelineConfig
from simulator.pipeline.build.dags import PipelineDAG, QualityGate
from simulator.pipeline.build.model_steps import PARAM_APPROVAL
from simulator.pipeline.build.resolver import Resolution, resolve_dag, supplied_by_request
from simulator.pipeline.build.step_code import CodeLocations, code_locations
from simulator.pipeline.build.step_requests import (
    PARAM_INPUT_DATA,
    PARAM_MAX_EPOCHS,
    StepRequests,
    join,
)
from specs.base import SageMakerStepType, StepSpecification

DEFINITION_VERSION = "2020-12-01"


@dataclass
class AssembledPipeline:
    """A definition plus how it was wired (for `smsim pipeline plan` and the demo)."""

    dag: PipelineDAG
    config: PipelineConfig
    code: CodeLocations
    specs: dict[str, StepSpecification]  # by pipeline step name
    resolutions: dict[str, list[Resolution]]  # by step name, one per dependency
    inline_dependencies: dict[str, list[str]]  # dependencies the request itself supplies
    # step -> the dependency fed from the InputData pipeline parameter, not from a step.
    parameter_inputs: dict[str, str] = field(default_factory=dict)
    definition: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The definition as CreatePipeline's PipelineDefinition string."""
        return json.dumps(self.definition, indent=2)


def assemble(
    dag: PipelineDAG,
    config: PipelineConfig | None = None,
    *,
    code: CodeLocations | None = None,
    registry: Any = None,
    source_dir: Path | None = None,
) -> AssembledPipeline:
    """Build the SageMaker pipeline definition of ``dag``.

    ``code`` says where the step code is (or will be) in S3; by default the
    content-addressed locations of ``source_dir`` under the config's prefix.
    Raises ValidationError (unknown spec, contract mismatch, a request that
    botocore's model rejects) or the resolver's UnresolvedDependencyError.
    """
    config = dag_config(dag, config or PipelineConfig())
    code = code or code_locations(config, source_dir, dag.training_source_dir)
    specs = _specs_for(dag, registry)
    wiring_specs, inline = _inline_dependencies(specs)
    resolutions = resolve_dag(wiring_specs, list(dag.edges))
    # Positional, in the dataclass's field order: what is built, from what, wired how.
    assembled = AssembledPipeline(dag, config, code, specs, resolutions, inline)
    assembled.definition = _Builder(assembled).definition()
    check_definition(assembled.definition)
    return assembled


def dag_config(dag: PipelineDAG, config: PipelineConfig) -> PipelineConfig:
    """``config`` with the DAG's own defaults for every field the user did not set."""
    unset = {k: v for k, v in dag.config_defaults.items() if k not in config.model_fields_set}
    return config.model_copy(update=unset) if unset else config


def _specs_for(dag: PipelineDAG, registry: Any) -> dict[str, StepSpecification]:
    if registry is None:
        from specs.registry import default_registry

        registry = default_registry()
    specs, problems = {}, []
    for step_name, step_type in dag.steps.items():
        try:
            specs[step_name] = registry.get(step_type)
        except (KeyError, LookupError, ValueError) as exc:
            problems.append(Problem(f"steps.{step_name}", f"no registered spec: {exc}", step_type))
    if problems:
        raise ValidationError(f"pipeline DAG {dag.name!r}", problems)
    return specs


def _inline_dependencies(
    specs: dict[str, StepSpecification],
) -> tuple[dict[str, StepSpecification], dict[str, list[str]]]:
    """Make the dependencies a job request supplies itself optional for the resolver.

    Which those are is the resolver's rule (:func:`supplied_by_request`: a Training
    step's hyperparameters are its request's HyperParameters), so they need no upstream
    step; the specs returned are the ones to wire, with the names set aside per step.
    """
    wiring, inline = {}, {}
    for name, spec in specs.items():
        names = [
            d.logical_name
            for d in spec.dependencies.values()
            if supplied_by_request(spec, d) is not None
        ]
        if names:
            deps = {
                k: (d.model_copy(update={"required": False}) if k in names else d)
                for k, d in spec.dependencies.items()
            }
            wiring[name] = spec.model_copy(update={"dependencies": deps})
            inline[name] = names
        else:
            wiring[name] = spec
    return wiring, inline


class _Builder(StepRequests):
    """One assembly run: the steps' requests, then the definition around them."""

    # -- whole definition ------------------------------------------------------------

    def definition(self) -> dict[str, Any]:
        dag = self.a.dag
        steps = {name: self.step(name) for name in dag.topological_order()}
        self._check_environment_names()
        if self.problems:
            raise ValidationError(f"assembly of pipeline DAG {dag.name!r}", self.problems)
        gated = dag.gated_steps()
        top = [s for name, s in steps.items() if name not in gated]
        if dag.gate is not None:
            top.append(self.condition(dag.gate, [steps[n] for n in steps if n in gated]))
        return {
            "Version": DEFINITION_VERSION,
            "Metadata": {},
            "Parameters": self.parameters(),
            "PipelineExperimentConfig": {
                "ExperimentName": {"Get": "Execution.PipelineName"},
                "TrialName": {"Get": "Execution.PipelineExecutionId"},
            },
            "Steps": top,
        }

    def parameters(self) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = [
            {"Name": PARAM_INPUT_DATA, "Type": "String", "DefaultValue": self.cfg.raw_data_uri}
        ]
        if "max_epochs" in self.cfg.hyperparameters:
            params.append(
                {
                    "Name": PARAM_MAX_EPOCHS,
                    "Type": "Integer",
                    "DefaultValue": int(self.cfg.hyperparameters["max_epochs"]),
                }
            )
        if self.a.dag.gate is not None:
            params.append(
                {
                    "Name": self.a.dag.gate.threshold_parameter,
                    "Type": "Float",
                    "DefaultValue": self.cfg.auroc_threshold,
                }
            )
        if any(
            s.sagemaker_step_type is SageMakerStepType.REGISTER_MODEL for s in self.a.specs.values()
        ):
            params.append(
                {
                    "Name": PARAM_APPROVAL,
                    "Type": "String",
                    "DefaultValue": self.cfg.model_approval_status,
                }
            )
        return params

    def condition(self, gate: QualityGate, if_steps: list[dict[str, Any]]) -> dict[str, Any]:
        threshold = {"Get": f"Parameters.{gate.threshold_parameter}"}
        metric = {
            "Std:JsonGet": {
                "PropertyFile": {
                    "Get": f"Steps.{gate.source_step}.PropertyFiles.{gate.property_file}"
                },
                "Path": gate.json_path,
            }
        }
        fail = {
            "Name": gate.fail_step,
            "Type": "Fail",
            "Arguments": {
                # The message carries the value compared, as the SDK allows a JsonGet in a Join.
                "ErrorMessage": join(
                    " ", gate.metric_label, metric, "is below the threshold", threshold
                )
            },
        }
        return {
            "Name": gate.name,
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {"Type": "GreaterThanOrEqualTo", "LeftValue": metric, "RightValue": threshold}
                ],
                "IfSteps": if_steps,
                "ElseSteps": [fail],
            },
        }


# ---------------------------------------------------------------------------
# Checking and walking a definition
# ---------------------------------------------------------------------------


def check_definition(definition: dict[str, Any]) -> None:
    """Raise ValidationError listing every problem SageMaker would find in ``definition``.

    The pipeline validator (``smsim pipeline validate``) checks each step's
    Arguments against its botocore request shape and every Get against the
    property shapes of its step, so an assembly bug surfaces here, not at deploy.
    """
    from simulator.pipeline.run.validate import validate_definition

    validate_definition(definition).raise_for_problems()


def iter_steps(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step of a definition, condition branches included (depth first)."""
    for step in definition.get("Steps", []):
        yield step
        if step.get("Type") == "Condition":
            args = step.get("Arguments", {})
            yield from iter_steps({"Steps": args.get("IfSteps", []) + args.get("ElseSteps", [])})
