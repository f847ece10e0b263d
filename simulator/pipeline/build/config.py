"""The small configuration a pipeline assembly needs: where, what, how big.

Everything here ends up in the exported definition (bucket and prefix in S3
URIs, hyperparameters in the CreateTrainingJob request, instance types and
image URIs in every job request), so every value is checked up front against
the rule SageMaker applies to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from simulator.errors import Problem, ValidationError

# S3 bucket naming rules (lower case, digits, dots, hyphens; 3–63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# SageMaker's PipelineName and model package group name pattern.
_SM_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
# ml.<family>.<size>, as in the ProcessingInstanceType / TrainingInstanceType enums.
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "max_epochs": 2,
    "model_class": "multimodal_cnn",
    "lr": 0.01,
}

# The metric lines train.py prints after each epoch (`epoch=N train_loss=… val_auroc=…`);
# SageMaker keeps the last match of each regex in FinalMetricDataList.
DEFAULT_METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
    {"Name": "val:loss", "Regex": r"val_loss=([0-9\.]+)"},
    {"Name": "val:auroc", "Regex": r"val_auroc=([0-9\.]+)"},
    {"Name": "val:f1", "Regex": r"val_f1=([0-9\.]+)"},
]


class PipelineConfig(BaseModel):
    """Settings of one assembled pipeline. Defaults run the BSM demo as is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline_name: str = "BsmPipeline"
    bucket: str = "smsim-demo"
    prefix: str = "bsm"
    region: str = "us-east-1"
    role_arn: str = "arn:aws:iam::123456789012:role/SageMakerRole"
    input_data_uri: str | None = Field(
        default=None, description="raw data prefix; default s3://<bucket>/<prefix>/raw/"
    )
    hyperparameters: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_HYPERPARAMETERS))
    metric_definitions: list[dict[str, str]] = Field(
        default_factory=lambda: [dict(m) for m in DEFAULT_METRIC_DEFINITIONS]
    )
    processing_instance_type: str = "ml.m5.xlarge"
    processing_instance_count: int = Field(default=1, ge=1)
    training_instance_type: str = "ml.m5.xlarge"
    training_instance_count: int = Field(default=1, ge=1)
    volume_size_gb: int = Field(default=30, ge=1)
    max_runtime_seconds: int = Field(default=3600, ge=1, le=28 * 24 * 3600)
    # preprocess.py and evaluate.py need pandas, scikit-learn and onnxruntime, not torch:
    # a small image of the user's own (the one the SDK-built fixture pipeline names).
    processing_image_uri: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bsm-processing:latest"
    training_image_uri: str = (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
    )
    inference_image_uri: str = (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
    )
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
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError(
                f"{value!r} is not a valid S3 bucket name: use 3-63 lower-case letters, "
                "digits, dots or hyphens, starting and ending with a letter or digit"
            )
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

    @field_validator("pipeline_name", "model_package_group")
    @classmethod
    def _sagemaker_name(cls, value: str) -> str:
        if not _SM_NAME.match(value):
            raise ValueError(
                f"{value!r} does not match SageMaker's name pattern "
                "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$ (letters, digits, single hyphens)"
            )
        return value

    @field_validator("processing_instance_type", "training_instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not _INSTANCE.match(value):
            raise ValueError(f"{value!r} is not a SageMaker instance type like 'ml.m5.xlarge'")
        return value

    @field_validator("input_data_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("s3://"):
            raise ValueError(f"{value!r} must be an s3:// URI (e.g. s3://my-bucket/raw/)")
        return value

    @field_validator("model_approval_status")
    @classmethod
    def _approval(cls, value: str) -> str:
        allowed = ("Approved", "Rejected", "PendingManualApproval")
        if value not in allowed:
            raise ValueError(f"{value!r} is not a ModelApprovalStatus; use one of {allowed}")
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
    def _metrics(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        for i, item in enumerate(value):
            if set(item) != {"Name", "Regex"}:
                raise ValueError(
                    f"metric_definitions[{i}] = {item!r} must have exactly the keys Name and Regex"
                )
            try:
                re.compile(item["Regex"])
            except re.error as exc:
                raise ValueError(f"metric_definitions[{i}].Regex is not a regex: {exc}") from exc
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
