"""The request of each step of an assembled pipeline, as the SageMaker SDK writes it.

A step's ``Arguments`` is its job's request without the name the service generates:
CreateProcessingJob (inputs at the script contract's paths, the code as a ``code``
input, outputs under a per-execution S3 prefix), CreateTrainingJob (one channel per
split, JSON-encoded hyperparameters, the ``sagemaker_*`` entries of the SDK's framework
estimators), CreateModel and CreateModelPackage. Wired inputs are ``Get`` expressions
on the upstream step's property path, from the dependency resolver's choices.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from contracts.base import ScriptContract
from simulator.errors import Problem
from specs.base import DependencySpec, DependencyType, SageMakerStepType, StepSpecification

if TYPE_CHECKING:
    from simulator.pipeline.build.assembly import AssembledPipeline

# Where SageMaker processing jobs conventionally receive their code (the SDK's
# ScriptProcessor puts it in a ProcessingInput named "code" at this path).
PROCESSING_CODE_DIR = "/opt/ml/processing/input/code"
TRAINING_CHANNELS: tuple[str, ...] = ("train", "val", "test")
# Pipeline parameters the requests read (names as they appear in the definition).
PARAM_INPUT_DATA = "InputData"
PARAM_MAX_EPOCHS = "MaxEpochs"
PARAM_APPROVAL = "ModelApprovalStatus"
_OUTPUT_PATH = re.compile(
    r"^properties\.ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri$"
)


def get_expression(step_name: str, property_path: str) -> dict[str, str]:
    """``properties.A.B`` of step ``S`` as the definition's ``{"Get": "Steps.S.A.B"}``."""
    return {"Get": f"Steps.{step_name}.{property_path.removeprefix('properties.')}"}


def join(on: str, *values: Any) -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


_EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


class StepRequests:
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
            sub = self.a.dag.input_subpaths.get((name, res.dependency.logical_name))
            if sub:
                expr = join("/", expr, sub)
            out[res.dependency.logical_name] = expr
        return out

    def s3_uri(self, step: str, *parts: str) -> dict[str, Any]:
        """``s3://<bucket>/<prefix>/<execution id>/<step>/…``: one folder per execution."""
        return join("/", "s3:/", self.cfg.bucket, self.cfg.prefix, _EXECUTION_ID, step, *parts)

    def processing(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        contract = self._contract(name, spec)
        if contract is None:
            return {}
        wired = self.inputs(name)
        inputs = []
        for logical, local_path in contract.expected_input_paths.items():
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
            inputs.append(_processing_input(logical, uri, local_path))
        inputs.append(_processing_input("code", self.a.code.processing_prefix, PROCESSING_CODE_DIR))
        outputs = []
        for out in spec.outputs.values():
            match = _OUTPUT_PATH.match(out.property_path)
            if match is None:
                continue
            output_name = match.group(1)
            local_path = contract.expected_output_paths.get(output_name)
            if local_path is None:
                self.problems.append(
                    Problem(
                        f"steps.{name}.outputs.{out.logical_name}",
                        f"the contract of {contract.entry_point} has no output {output_name!r}",
                        fix="declare it in expected_output_paths or fix the property path",
                    )
                )
                continue
            outputs.append(
                {
                    "OutputName": output_name,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": self.s3_uri(name, "output", output_name),
                        "LocalPath": local_path,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            )
        app: dict[str, Any] = {
            "ImageUri": self.cfg.processing_image_uri,
            "ContainerEntrypoint": ["python3", f"{PROCESSING_CODE_DIR}/{contract.entry_point}"],
        }
        arguments = [
            item
            for arg, value in contract.expected_arguments.items()
            for item in (f"--{arg}", value)
        ]
        if arguments:
            app["ContainerArguments"] = arguments
        args: dict[str, Any] = {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": self.cfg.processing_instance_type,
                    "InstanceCount": self.cfg.processing_instance_count,
                    "VolumeSizeInGB": self.cfg.volume_size_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.cfg.role_arn,
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {"Outputs": outputs},
            "StoppingCondition": {"MaxRuntimeInSeconds": self.cfg.max_runtime_seconds},
        }
        env = self._environment(name, contract)
        if env:
            args["Environment"] = env
        return args

    def training(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        contract = self._contract(name, spec)
        wired = self.inputs(name)
        channels = []
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
            if dep.logical_name not in wired:
                continue
            channels += self._channels(dep, wired[dep.logical_name])
        hps = {key: _hp(value) for key, value in self.cfg.hyperparameters.items()}
        if "max_epochs" in hps:
            # The SDK renders a pipeline parameter in HyperParameters as a one-value Join.
            hps["max_epochs"] = join("", {"Get": f"Parameters.{PARAM_MAX_EPOCHS}"})
        hps.update(
            {
                "sagemaker_submit_directory": json.dumps(self.a.code.sourcedir),
                "sagemaker_program": json.dumps(contract.entry_point if contract else "train.py"),
                "sagemaker_container_log_level": "20",
                "sagemaker_region": json.dumps(self.cfg.region),
            }
        )
        return {
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "TrainingImage": self.cfg.training_image_uri,
                "MetricDefinitions": [dict(m) for m in self.cfg.metric_definitions],
                "EnableSageMakerMetricsTimeSeries": True,
            },
            "OutputDataConfig": {"S3OutputPath": self.s3_uri(name, "output")},
            "StoppingCondition": {"MaxRuntimeInSeconds": self.cfg.max_runtime_seconds},
            "ResourceConfig": {
                "VolumeSizeInGB": self.cfg.volume_size_gb,
                "InstanceCount": self.cfg.training_instance_count,
                "InstanceType": self.cfg.training_instance_type,
            },
            "RoleArn": self.cfg.role_arn,
            "InputDataConfig": channels,
            "HyperParameters": hps,
            "CheckpointConfig": {"S3Uri": self.s3_uri(name, "checkpoints")},
        }

    def _channels(self, dep: DependencySpec, uri: Any) -> list[dict[str, Any]]:
        # A training-data prefix with train/val/test folders becomes one channel per
        # folder, as the SDK example pipelines do (TrainingInput per split).
        if dep.dependency_type is DependencyType.TRAINING_DATA:
            names = TRAINING_CHANNELS
            uris = [join("/", uri, channel) for channel in names]
        else:
            names, uris = (dep.logical_name,), [uri]
        return [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": channel_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, channel_uri in zip(names, uris, strict=True)
        ]

    def model(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        model_data = self._model_data(name, spec)
        return {
            "ExecutionRoleArn": self.cfg.role_arn,
            "PrimaryContainer": {
                "Image": self.cfg.inference_image_uri,
                "Environment": {
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "SAGEMAKER_REGION": self.cfg.region,
                },
                "ModelDataUrl": model_data,
            },
        }

    def register_model(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        model_data = self._model_data(name, spec)
        wired = self.inputs(name)
        args: dict[str, Any] = {
            "ModelPackageGroupName": self.cfg.model_package_group,
            "ModelPackageDescription": (
                f"{self.a.dag.name} model registered by pipeline {self.cfg.pipeline_name}"
            ),
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": self.cfg.inference_image_uri,
                        "Environment": {},
                        "ModelDataUrl": model_data,
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large", "ml.m5.xlarge"],
                "SupportedTransformInstanceTypes": ["ml.m5.xlarge"],
            },
            "ModelApprovalStatus": {"Get": f"Parameters.{PARAM_APPROVAL}"},
        }
        metrics = [
            wired[d.logical_name]
            for d in spec.dependencies.values()
            if d.dependency_type is DependencyType.PROCESSING_OUTPUT and d.logical_name in wired
        ]
        if metrics:
            file_path = self.a.dag.gate.file_path if self.a.dag.gate else "evaluation.json"
            args["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": join("/", metrics[0], file_path),
                    }
                }
            }
        return args

    def _model_data(self, name: str, spec: StepSpecification) -> Any:
        wired = self.inputs(name)
        for dep in spec.dependencies.values():
            if dep.dependency_type is DependencyType.MODEL_ARTIFACTS and dep.logical_name in wired:
                return wired[dep.logical_name]
        self.problems.append(
            Problem(
                f"steps.{name}",
                "no model artifacts are wired into this step",
                fix="add an edge from the training step",
            )
        )
        return ""

    def _contract(self, name: str, spec: StepSpecification) -> ScriptContract | None:
        if spec.script_contract is None:
            self.problems.append(
                Problem(
                    f"steps.{name}",
                    f"spec {spec.step_type!r} has no script contract",
                    fix="a processing or training spec needs one to place its inputs",
                )
            )
        return spec.script_contract

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


def _processing_input(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def _hp(value: Any) -> str:
    # The SDK JSON-encodes every hyperparameter value ("\"adam\"", "0.01", "true").
    return json.dumps(value)
