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
where it lands in the container comes from the script contracts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.base import ScriptContract
from simulator.errors import Problem, ValidationError
from simulator.pipeline.config import PipelineConfig
from simulator.pipeline.dags import PipelineDAG, QualityGate
from specs.base import DependencySpec, DependencyType, SageMakerStepType, StepSpecification

if TYPE_CHECKING:
    from simulator.pipeline.resolver import Resolution

DEFINITION_VERSION = "2020-12-01"
# The container source dir: train.py, preprocess.py, evaluate.py and the bsm/ package.
DEFAULT_SOURCE_DIR = Path(__file__).resolve().parents[2] / "dockers" / "pytorch_bsm"
# Where SageMaker processing jobs conventionally receive their code (the SDK's
# ScriptProcessor puts it in a ProcessingInput named "code" at this path).
PROCESSING_CODE_DIR = "/opt/ml/processing/input/code"
TRAINING_CHANNELS: tuple[str, ...] = ("train", "val", "test")
# Pipeline parameters the assembly declares (names as they appear in the definition).
PARAM_INPUT_DATA = "InputData"
PARAM_MAX_EPOCHS = "MaxEpochs"
PARAM_APPROVAL = "ModelApprovalStatus"
# Files of the source dir never shipped as code.
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
_OUTPUT_PATH = re.compile(
    r"^properties\.ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri$"
)


# ---------------------------------------------------------------------------
# Code: where it goes in S3 and how it gets there
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeLocations:
    """S3 URIs of the step code: a prefix for processing scripts, a sourcedir.tar.gz."""

    processing_prefix: str  # holds preprocess.py, evaluate.py and bsm/ (ends with "/")
    sourcedir: str  # sourcedir.tar.gz for the training job (sagemaker_submit_directory)


def code_files(source_dir: Path | None = None) -> list[Path]:
    """Files of the source dir to ship, sorted (caches and compiled files left out)."""
    source_dir = _source(source_dir)
    if not source_dir.is_dir():
        raise ValidationError(
            "step code",
            [
                Problem(
                    "source_dir", "not a directory", str(source_dir), "point at dockers/pytorch_bsm"
                )
            ],
        )
    return sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file()
        and not _SKIP_PARTS.intersection(p.relative_to(source_dir).parts)
        and p.suffix not in (".pyc", ".pyo")
    )


def sourcedir_tarball(source_dir: Path | None = None) -> bytes:
    """sourcedir.tar.gz of the source dir, byte-identical for identical files.

    Fixed mtimes, owners and order make the archive (and so its content hash and
    S3 key) depend on the code only, as the SDK's content-addressed code keys do.
    """
    source_dir = _source(source_dir)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in code_files(source_dir):
            info = tarfile.TarInfo(path.relative_to(source_dir).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def code_locations(config: PipelineConfig, source_dir: Path | None = None) -> CodeLocations:
    """Content-addressed code URIs under the config's code prefix (new code → new key)."""
    source_dir = _source(source_dir)
    digest = hashlib.sha256()
    for path in code_files(source_dir):
        digest.update(path.relative_to(source_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    base = f"{config.code_prefix_uri}/{digest.hexdigest()[:16]}"
    return CodeLocations(
        processing_prefix=f"{base}/processing/", sourcedir=f"{base}/sourcedir.tar.gz"
    )


def upload_code(
    s3_client: Any, locations: CodeLocations, source_dir: Path | None = None
) -> list[str]:
    """Upload the step code to ``locations`` with a boto3 S3 client; return the URIs written."""
    source_dir = _source(source_dir)
    written = []
    bucket, key = _split_s3(locations.sourcedir)
    s3_client.put_object(Bucket=bucket, Key=key, Body=sourcedir_tarball(source_dir))
    written.append(locations.sourcedir)
    bucket, prefix = _split_s3(locations.processing_prefix)
    for path in code_files(source_dir):
        rel = path.relative_to(source_dir).as_posix()
        s3_client.put_object(Bucket=bucket, Key=prefix + rel, Body=path.read_bytes())
        written.append(f"s3://{bucket}/{prefix}{rel}")
    return written


def write_code(
    locations: CodeLocations, out_dir: Path, source_dir: Path | None = None
) -> list[Path]:
    """Write the code objects under ``out_dir/<bucket>/<key>`` (for ``aws s3 sync``)."""
    source_dir = _source(source_dir)
    written = []
    bucket, key = _split_s3(locations.sourcedir)
    target = Path(out_dir) / bucket / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(sourcedir_tarball(source_dir))
    written.append(target)
    bucket, prefix = _split_s3(locations.processing_prefix)
    for path in code_files(source_dir):
        target = Path(out_dir) / bucket / prefix / path.relative_to(source_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        written.append(target)
    return written


def _source(source_dir: Path | None) -> Path:
    return Path(source_dir) if source_dir is not None else DEFAULT_SOURCE_DIR


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------


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
    from simulator.pipeline.resolver import resolve_dag

    config = config or PipelineConfig()
    code = code or code_locations(config, source_dir)
    specs = _specs_for(dag, registry)
    wiring_specs, inline = _inline_dependencies(specs)
    resolutions = resolve_dag(wiring_specs, list(dag.edges))
    assembled = AssembledPipeline(
        dag=dag,
        config=config,
        code=code,
        specs=specs,
        resolutions=resolutions,
        inline_dependencies=inline,
    )
    assembled.definition = _Builder(assembled).definition()
    check_definition(assembled.definition)
    return assembled


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
    """Mark dependencies the job request supplies itself as optional for the resolver.

    A Training step's hyperparameters dependency is met by the request's
    HyperParameters (SageMaker writes them to /opt/ml/input/config/
    hyperparameters.json), so it needs no upstream step unless the DAG has one.
    """
    wiring, inline = {}, {}
    for name, spec in specs.items():
        names = []
        if spec.sagemaker_step_type is SageMakerStepType.TRAINING:
            names = [
                d.logical_name
                for d in spec.dependencies.values()
                if d.dependency_type is DependencyType.HYPERPARAMETERS and d.required
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


def get_expression(step_name: str, property_path: str) -> dict[str, str]:
    """``properties.A.B`` of step ``S`` as the definition's ``{"Get": "Steps.S.A.B"}``."""
    return {"Get": f"Steps.{step_name}.{property_path.removeprefix('properties.')}"}


def _join(on: str, *values: Any) -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


_EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


class _Builder:
    """One assembly run: turns resolved specs into step dicts."""

    def __init__(self, assembled: AssembledPipeline) -> None:
        self.a = assembled
        self.cfg = assembled.config
        self.problems: list[Problem] = []
        self.input_param_used = False

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
                "ErrorMessage": _join(
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

    # -- one step --------------------------------------------------------------------

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
                expr = _join("/", expr, sub)
            out[res.dependency.logical_name] = expr
        return out

    def s3_uri(self, step: str, *parts: str) -> dict[str, Any]:
        """``s3://<bucket>/<prefix>/<execution id>/<step>/…``: one folder per execution."""
        return _join("/", "s3:/", self.cfg.bucket, self.cfg.prefix, _EXECUTION_ID, step, *parts)

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
            hps["max_epochs"] = _join("", {"Get": f"Parameters.{PARAM_MAX_EPOCHS}"})
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
            uris = [_join("/", uri, channel) for channel in names]
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
                        "S3Uri": _join("/", metrics[0], file_path),
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


# ---------------------------------------------------------------------------
# Checking and walking a definition
# ---------------------------------------------------------------------------


def check_definition(definition: dict[str, Any]) -> None:
    """Raise ValidationError listing every problem SageMaker would find in ``definition``.

    The pipeline validator (``smsim pipeline validate``) checks each step's
    Arguments against its botocore request shape and every Get against the
    property shapes of its step, so an assembly bug surfaces here, not at deploy.
    """
    from simulator.pipeline.validate import validate_definition

    validate_definition(definition).raise_for_problems()


def iter_steps(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step of a definition, condition branches included (depth first)."""
    for step in definition.get("Steps", []):
        yield step
        if step.get("Type") == "Condition":
            args = step.get("Arguments", {})
            yield from iter_steps({"Steps": args.get("IfSteps", []) + args.get("ElseSteps", [])})
