"""The request of each step of an assembled pipeline, as the SageMaker SDK writes it.

A step's ``Arguments`` is its job's request without the name the service generates:
CreateProcessingJob (inputs at the script contract's paths, the code as a ``code``
input, outputs under a per-execution S3 prefix), CreateTrainingJob (one channel per
split, JSON-encoded hyperparameters, the ``sagemaker_*`` entries of the SDK's framework
estimators), CreateModel and CreateModelPackage. Wired inputs are ``Get`` expressions
on the upstream step's property path, from the dependency resolver's choices.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

from contracts.base import ProcessingScriptContract, ScriptContract, TrainingScriptContract
from simulator.errors import Problem
from simulator.pipeline.build.model_steps import ModelStepRequests
from simulator.requests import (
    TRAINING_CHANNELS,
    JobSettings,
    TuningSettings,
    join,
    processing_request,
    training_request,
    tuning_request,
)
from specs.base import DependencySpec, DependencyType, SageMakerStepType, StepSpecification

if TYPE_CHECKING:
    from simulator.pipeline.build.assembly import AssembledPipeline

# Pipeline parameters the requests read (names as they appear in the definition).
PARAM_INPUT_DATA = "InputData"
PARAM_MAX_EPOCHS = "MaxEpochs"
C = TypeVar("C", bound=ScriptContract)
_OUTPUT_PATH = re.compile(
    r"^properties\.ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri$"
)


def get_expression(step_name: str, property_path: str) -> dict[str, str]:
    """``properties.A.B`` of step ``S`` as the definition's ``{"Get": "Steps.S.A.B"}``."""
    return {"Get": f"Steps.{step_name}.{property_path.removeprefix('properties.')}"}


_EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


class StepRequests(ModelStepRequests):
    """Builds each step's dict for one assembly run, collecting problems as it goes."""

    def __init__(self, assembled: AssembledPipeline) -> None:
        self.a = assembled
        self.cfg = assembled.config
        self.problems: list[Problem] = []
        self.input_param_used = False

    def step(self, name: str) -> dict[str, Any]:
        spec = self.a.specs[name]
        kind = spec.sagemaker_step_type
        builder = {
            SageMakerStepType.PROCESSING: self.processing,
            SageMakerStepType.TRAINING: self.training,
            SageMakerStepType.MODEL: self.model,
            SageMakerStepType.REGISTER_MODEL: self.register_model,
            SageMakerStepType.TRANSFORM: self.transform,
            SageMakerStepType.TUNING: self.tuning,
        }.get(kind)
        if builder is None:
            self.problems.append(
                Problem(f"steps.{name}", "the assembly cannot build this step type", kind.value)
            )
            return {"Name": name, "Type": kind.value, "Arguments": {}}
        out = {"Name": name, "Type": kind.value, "Arguments": builder(name, spec)}
        if self.a.dag.gate is not None and self.a.dag.gate.source_step == name:
            gate = self.a.dag.gate
            out["PropertyFiles"] = [
                {
                    "PropertyFileName": gate.property_file,
                    "OutputName": gate.output_name,
                    "FilePath": gate.file_path,
                }
            ]
        return out

    def inputs(self, name: str) -> dict[str, Any]:
        """Dependency logical name → expression for each resolved dependency of ``name``."""
        out: dict[str, Any] = {}
        for res in self.a.resolutions.get(name, []):
            chosen = res.chosen
            if chosen is None:
                continue
            expr: Any = get_expression(chosen.step_name, chosen.output.property_path)
            if self._is_top_model(chosen.step_name, chosen.output):
                expr = self.top_model_uri(chosen.step_name, expr)
            sub = self.a.dag.input_subpaths.get((name, res.dependency.logical_name))
            if sub:
                expr = join("/", expr, sub)
            out[res.dependency.logical_name] = expr
        return out

    def s3_uri(self, step: str, *parts: str) -> dict[str, Any]:
        """``s3://<bucket>/<prefix>/<execution id>/<step>/…``: one folder per execution."""
        return join("/", "s3:/", self.cfg.bucket, self.cfg.prefix, _EXECUTION_ID, step, *parts)

    def settings(self, kind: str) -> JobSettings:
        """The config's image, role, instances and limits for ``processing``/``training``."""
        cfg = self.cfg
        return JobSettings(
            image=getattr(cfg, f"{kind}_image_uri"),
            role_arn=cfg.role_arn,
            region=cfg.region,
            instance_type=getattr(cfg, f"{kind}_instance_type"),
            instance_count=getattr(cfg, f"{kind}_instance_count"),
            volume_size_gb=cfg.volume_size_gb,
            max_runtime_seconds=cfg.max_runtime_seconds,
        )

    def processing(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        contract = self._contract(name, spec, ProcessingScriptContract)
        if contract is None:
            return {}
        wired = self.inputs(name)
        inputs: dict[str, Any] = {}
        for logical in contract.expected_input_paths:
            uri = wired.get(logical)
            dep = spec.dependencies.get(logical)
            if uri is None and dep is not None and not dep.required and not self.input_param_used:
                # Raw data no upstream step produces comes from the InputData parameter
                # (one such input per DAG: the first step's).
                uri = {"Get": f"Parameters.{PARAM_INPUT_DATA}"}
                self.input_param_used = True
                self.a.parameter_inputs[name] = logical
            if uri is None:
                if dep is not None and not dep.required:
                    continue
                self.problems.append(
                    Problem(
                        f"steps.{name}.inputs.{logical}",
                        "no upstream output feeds this input",
                        fix="add an edge from a step producing it",
                    )
                )
                continue
            inputs[logical] = uri
        outputs: dict[str, Any] = {}
        for out in spec.outputs.values():
            match = _OUTPUT_PATH.match(out.property_path)
            if match is None:
                continue
            output_name = match.group(1)
            if output_name not in contract.expected_output_paths:
                self.problems.append(
                    Problem(
                        f"steps.{name}.outputs.{out.logical_name}",
                        f"the contract of {contract.entry_point} has no output {output_name!r}",
                        fix="declare it in expected_output_paths or fix the property path",
                    )
                )
                continue
            outputs[output_name] = self.s3_uri(name, "output", output_name)
        return processing_request(
            contract,
            inputs=inputs,
            outputs=outputs,
            code_uri=self.a.code.processing_prefix,
            settings=self.settings("processing"),
            environment=self._environment(name, contract),
        )

    def training(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        contract = self._contract(name, spec, TrainingScriptContract)
        if contract is None:
            return {}
        channels = self._training_channels(name, spec)
        hps: dict[str, Any] = dict(self.cfg.hyperparameters)
        if "max_epochs" in hps:
            # The SDK renders a pipeline parameter in HyperParameters as a one-value Join.
            hps["max_epochs"] = join("", {"Get": f"Parameters.{PARAM_MAX_EPOCHS}"})
        return training_request(
            contract,
            channels=channels,
            hyperparameters=hps,
            code_uri=self.a.code.sourcedir,
            output_path=self.s3_uri(name, "output"),
            settings=self.settings("training"),
            checkpoint_uri=self.s3_uri(name, "checkpoints"),
            metric_definitions=self.cfg.metric_definitions,
        )

    def _training_channels(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        """Channel name → URI expression of each wired dependency the request does not
        supply itself (a training-data prefix gives one channel per split folder)."""
        wired = self.inputs(name)
        channels: dict[str, Any] = {}
        for dep in spec.dependencies.values():
            if dep.logical_name in self.a.inline_dependencies.get(name, []):
                if dep.logical_name in wired:
                    self.problems.append(
                        Problem(
                            f"steps.{name}.{dep.logical_name}",
                            "hyperparameters from an upstream step are not supported; the "
                            "assembly passes the config's hyperparameters in the request",
                            fix="remove the edge that feeds them",
                        )
                    )
                continue
            if dep.logical_name in wired:
                channels.update(_channels(dep, wired[dep.logical_name]))
        return channels

    def tuning(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        """CreateHyperParameterTuningJob over the training request of the same script."""
        cfg = self.cfg
        if not cfg.tuning_ranges:
            self.problems.append(
                Problem(
                    f"steps.{name}",
                    "a Tuning step needs hyperparameter ranges",
                    fix="set tuning_ranges in the pipeline config (e.g. lr and dropout)",
                )
            )
        training = self.training(name, spec)
        if not training:
            return {}
        settings = TuningSettings(
            cfg.tuning_objective_metric,
            cfg.tuning_objective_type,
            cfg.tuning_strategy,
            cfg.tuning_max_jobs,
            cfg.tuning_max_parallel_jobs,
            cfg.tuning_ranges,
        )
        return tuning_request(training, settings)

    def _is_top_model(self, step: str, output: Any) -> bool:
        return (
            self.a.specs[step].sagemaker_step_type is SageMakerStepType.TUNING
            and output.output_type is DependencyType.MODEL_ARTIFACTS
            and output.property_path.startswith("properties.TrainingJobSummaries[0]")
        )

    def top_model_uri(self, step: str, best_job_name: Any) -> dict[str, Any]:
        """The best job's model.tar.gz, as the SDK's ``TuningStep.get_top_model_s3_uri(0,
        …)`` joins it: the training jobs' S3OutputPath, the job name, output/model.tar.gz."""
        return join(
            "/",
            "s3:/",
            self.cfg.bucket,
            self.cfg.prefix,
            _EXECUTION_ID,
            step,
            "output",
            best_job_name,
            "output/model.tar.gz",
        )

    def _contract(self, name: str, spec: StepSpecification, kind: type[C]) -> C | None:
        contract = spec.script_contract
        if contract is None:
            self.problems.append(
                Problem(
                    f"steps.{name}",
                    f"spec {spec.step_type!r} has no script contract",
                    fix="a processing or training spec needs one to place its inputs",
                )
            )
            return None
        if not isinstance(contract, kind):
            self.problems.append(
                Problem(
                    f"steps.{name}",
                    f"the contract of {contract.entry_point} is a {contract.job_type} contract",
                    type(contract).__name__,
                    f"give a {kind.__name__} to a {spec.sagemaker_step_type.value} step",
                )
            )
            return None
        return contract

    def _check_environment_names(self) -> None:
        declared = set()
        for spec in self.a.specs.values():
            if spec.sagemaker_step_type is SageMakerStepType.PROCESSING and spec.script_contract:
                declared |= spec.script_contract.all_env_vars
        for key in self.cfg.processing_environment:
            if key not in declared:
                self.problems.append(
                    Problem(
                        f"processing_environment.{key}",
                        "no processing script of this DAG reads this variable",
                        fix=f"use one of: {', '.join(sorted(declared)) or 'none'}",
                    )
                )

    def _environment(self, name: str, contract: ScriptContract) -> dict[str, str]:
        env = {
            key: value
            for key, value in self.cfg.processing_environment.items()
            if key in contract.all_env_vars
        }
        for key in contract.required_env_vars:
            if key not in env:
                self.problems.append(
                    Problem(
                        f"steps.{name}.Environment.{key}",
                        f"{contract.entry_point} requires this environment variable",
                        fix=f"set processing_environment.{key} in the pipeline config",
                    )
                )
        return env


def _channels(dep: DependencySpec, uri: Any) -> dict[str, Any]:
    """Channel name → URI: a training-data prefix gives one channel per split folder."""
    if dep.dependency_type is DependencyType.TRAINING_DATA:
        return {channel: join("/", uri, channel) for channel in TRAINING_CHANNELS}
    return {dep.logical_name: uri}
