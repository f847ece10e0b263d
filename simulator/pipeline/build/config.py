"""The small configuration a pipeline assembly needs: where, what, how big.

Everything here ends up in the exported definition (bucket and prefix in S3
URIs, hyperparameters in the CreateTrainingJob request, instance types and
image URIs in every job request), so every value is checked up front against
the rule SageMaker applies to it: botocore's model for SageMaker's names, enums
and instance types, :mod:`simulator.s3` for bucket names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError

from contracts.base import check_metric_definitions
from simulator import requests
from simulator.errors import Problem, ValidationError
from simulator.s3 import s3_uri_problems
from simulator.shapes import describe_rule, value_problems

# The shape of botocore's SageMaker model each checked field must fit.
_SHAPES = {
    "pipeline_name": "PipelineName",
    "model_package_group": "EntityName",  # CreateModelPackageGroup's ModelPackageGroupName
    "processing_instance_type": "ProcessingInstanceType",
    "training_instance_type": "TrainingInstanceType",
    "transform_instance_type": "TransformInstanceType",
    "model_approval_status": "ModelApprovalStatus",
    "tuning_objective_type": "HyperParameterTuningJobObjectiveType",
    "tuning_strategy": "HyperParameterTuningJobStrategyType",
}

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "max_epochs": 2,
    "model_class": "multimodal_cnn",
    "lr": 0.01,
}


class PipelineConfig(BaseModel):
    """Settings of one assembled pipeline. Defaults run the BSM demo as is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline_name: str = "BsmPipeline"
    bucket: str = "smsim-demo"
    prefix: str = "bsm"
    region: str = requests.DEFAULT_REGION
    role_arn: str = requests.role_arn()
    input_data_uri: str | None = Field(
        default=None, description="raw data prefix; default s3://<bucket>/<prefix>/raw/"
    )
    hyperparameters: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_HYPERPARAMETERS))
    metric_definitions: list[dict[str, str]] | None = Field(
        default=None, description="the training contract's metric definitions unless given"
    )
    processing_instance_type: str = "ml.m5.xlarge"
    processing_instance_count: int = Field(default=1, ge=1)
    training_instance_type: str = "ml.m5.xlarge"
    training_instance_count: int = Field(default=1, ge=1)
    volume_size_gb: int = Field(default=30, ge=1)
    max_runtime_seconds: int = Field(default=3600, ge=1, le=28 * 24 * 3600)
    processing_image_uri: str = requests.image_uri(
        requests.PROCESSING_IMAGE, requests.DEFAULT_REGION
    )
    training_image_uri: str = requests.image_uri(requests.TRAINING_IMAGE, requests.DEFAULT_REGION)
    inference_image_uri: str = requests.image_uri(requests.INFERENCE_IMAGE, requests.DEFAULT_REGION)
    # The CreateModel step's SAGEMAKER_PROGRAM, served from the training code's
    # sourcedir.tar.gz (SAGEMAKER_SUBMIT_DIRECTORY), as the SDK's framework models set it;
    # None: the inference image serves the model itself (the XGBoost image).
    inference_entry_point: str | None = "inference.py"
    transform_instance_type: str = "ml.m5.xlarge"
    # DataProcessing of the Transform step ("associate prediction results with input
    # records"): the model gets every CSV column but the last (the label); the stored
    # line keeps the label and the last prediction field (the positive class).
    transform_input_filter: str = "$[:-1]"
    transform_output_filter: str = "$[-3,-1]"
    # A Tuning step's HyperParameterTuningJobConfig (the bsm-tuning DAG): ranges by
    # hyperparameter name, {"min": …, "max": …, "scaling": Auto|Linear|Logarithmic|…} for
    # continuous ones (integers: "type": "integer"; categorical: {"values": […]}).
    tuning_ranges: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tuning_objective_metric: str = "val:auroc"
    tuning_objective_type: str = "Maximize"
    tuning_strategy: str = "Bayesian"
    tuning_max_jobs: int = Field(default=4, ge=1)
    tuning_max_parallel_jobs: int = Field(default=2, ge=1)
    processing_environment: dict[str, str] = Field(
        default_factory=dict,
        description="values for the processing contracts' env vars (unknown names refused)",
    )
    auroc_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    model_package_group: str = "BsmModels"
    model_approval_status: str = "PendingManualApproval"

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        problems = s3_uri_problems(f"s3://{value}/", "bucket")
        if problems:
            raise ValueError(f"{value!r} is not a valid S3 bucket name: {problems[0].fix}")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        stripped = value.strip("/")
        if not stripped or "//" in stripped:
            raise ValueError(
                f"prefix {value!r} must be a non-empty S3 key prefix without '//' (e.g. 'bsm')"
            )
        return stripped

    @field_validator(*_SHAPES)
    @classmethod
    def _sagemaker_value(cls, value: str, info: ValidationInfo) -> str:
        shape_name = _SHAPES[info.field_name]
        if value_problems(shape_name, value, info.field_name):
            rule = describe_rule(shape_name, value)
            raise ValueError(f"{value!r} is not a valid {shape_name}: use {rule}")
        return value

    @field_validator("input_data_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("s3://"):
            raise ValueError(f"{value!r} must be an s3:// URI (e.g. s3://my-bucket/raw/)")
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key.startswith("sagemaker_"):
                raise ValueError(
                    f"hyperparameter {key!r}: 'sagemaker_' keys are set by the assembly "
                    "(code location, program, region); remove it"
                )
        return value

    @field_validator("metric_definitions")
    @classmethod
    def _metrics(cls, value: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
        if value is not None:
            check_metric_definitions(value)
        return value

    @property
    def raw_data_uri(self) -> str:
        """Where the pipeline reads raw data (the ``InputData`` parameter's default)."""
        return self.input_data_uri or f"s3://{self.bucket}/{self.prefix}/raw/"

    @property
    def code_prefix_uri(self) -> str:
        """S3 prefix under which the step code is uploaded."""
        return f"s3://{self.bucket}/{self.prefix}/code"


def load_config(path: str | Path, **overrides: Any) -> PipelineConfig:
    """Read a JSON pipeline config; any problem is a ValidationError naming the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"pipeline config {path}",
            [Problem("--config", "not UTF-8 text", str(path), "write a JSON object")],
        ) from exc
    except OSError as exc:
        raise ValidationError(
            f"pipeline config {path}",
            [
                Problem(
                    "--config",
                    f"cannot read the file: {exc.strerror}",
                    str(path),
                    "pass a JSON file; `smsim pipeline plan --json` prints every field "
                    "under 'config' as a template",
                )
            ],
        ) from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"pipeline config {path}",
            [Problem(f"line {exc.lineno}", f"not JSON: {exc.msg}", fix="write a JSON object")],
        ) from exc
    if not isinstance(data, dict):
        raise ValidationError(
            f"pipeline config {path}",
            [Problem("", "must be a JSON object", type(data).__name__)],
        )
    return make_config({**data, **overrides}, what=f"pipeline config {path}")


def make_config(data: dict[str, Any], *, what: str = "pipeline config") -> PipelineConfig:
    """Build a config from a dict, turning pydantic's errors into smsim's ValidationError."""
    try:
        return PipelineConfig(**data)
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            fix = ""
            if err["type"] == "extra_forbidden":
                fix = "known fields: " + ", ".join(PipelineConfig.model_fields)
            problems.append(
                Problem(loc, err["msg"].removeprefix("Value error, "), err.get("input"), fix)
            )
        raise ValidationError(what, problems) from exc
