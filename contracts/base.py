"""Script contracts: what a script running in a SageMaker container expects.

A contract declares the container paths a script reads and writes (logical
name → path), the environment variables it needs, and its command-line
arguments. It is checked against the script (alignment, level 1) and against
the step specification that wires it into a pipeline (level 2).

Two flavours, with the roots SageMaker mounts for each job type:

- training: inputs under ``/opt/ml/input/data`` (channels) or
  ``/opt/ml/input/config`` (hyperparameters.json and friends); outputs
  ``/opt/ml/model`` (→ model.tar.gz), ``/opt/ml/output/data`` (→ output.tar.gz)
  and ``/opt/ml/checkpoints`` (CheckpointConfig.LocalPath's default).
- processing: inputs under ``/opt/ml/processing/input``, outputs under
  ``/opt/ml/processing/output`` (ProcessingInput/Output LocalPath; the SDK's
  conventions).
"""

from __future__ import annotations

import posixpath
import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOGICAL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ScriptContract(BaseModel):
    """Base contract; use :class:`TrainingScriptContract` or :class:`ProcessingScriptContract`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Subclasses set the container roots SageMaker gives their job type.
    job_type: ClassVar[str] = "generic"
    data_over_http: ClassVar[bool] = False
    input_roots: ClassVar[tuple[str, ...]] = ()
    output_roots: ClassVar[tuple[str, ...]] = ()

    entry_point: str
    expected_input_paths: dict[str, str] = Field(default_factory=dict)
    expected_output_paths: dict[str, str] = Field(default_factory=dict)
    required_env_vars: list[str] = Field(default_factory=list)
    optional_env_vars: dict[str, str] = Field(default_factory=dict)
    expected_arguments: dict[str, str] = Field(default_factory=dict)
    framework_requirements: dict[str, str] = Field(default_factory=dict)
    description: str = ""

    @field_validator("entry_point")
    @classmethod
    def _entry_point_is_python(cls, value: str) -> str:
        if not value.endswith(".py") or "/" in value:
            raise ValueError(
                f"entry_point must be a .py file name relative to the source dir, got {value!r}"
            )
        return value

    @field_validator("expected_input_paths", "expected_output_paths")
    @classmethod
    def _paths_are_absolute(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not _LOGICAL_NAME.match(name):
                raise ValueError(
                    f"logical name {name!r} must start with a letter and hold only "
                    "letters, digits and underscores"
                )
            if not path.startswith("/") or posixpath.normpath(path) != path.rstrip("/"):
                raise ValueError(
                    f"{name!r}: container path {path!r} must be absolute and normalised "
                    "(no '..', no double slashes)"
                )
        return value

    @field_validator("required_env_vars", "optional_env_vars")
    @classmethod
    def _env_names(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        for name in value:  # a list's items, a dict's keys
            if not _ENV_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a valid environment variable name (letters, digits and "
                    "underscores, not starting with a digit)"
                )
        return value

    @model_validator(mode="after")
    def _paths_under_roots(self) -> ScriptContract:
        for field_name, roots in (
            ("expected_input_paths", self.input_roots),
            ("expected_output_paths", self.output_roots),
        ):
            for name, path in getattr(self, field_name).items():
                if roots and not any(_under(path, root) for root in roots):
                    raise ValueError(
                        f"{field_name}[{name!r}] = {path!r} is outside the {self.job_type} "
                        f"container's allowed roots: {', '.join(roots)}"
                    )
        clash = set(self.required_env_vars) & set(self.optional_env_vars)
        if clash:
            raise ValueError(
                f"environment variables both required and optional: {sorted(clash)}; "
                "keep each in one list"
            )
        return self

    @property
    def all_env_vars(self) -> set[str]:
        """Every environment variable the contract declares."""
        return set(self.required_env_vars) | set(self.optional_env_vars)


class TrainingScriptContract(ScriptContract):
    """A script run by a SageMaker training job (the training toolkit's layout).

    ``metric_definitions`` are the regexes of the metric lines the script prints, as
    CreateTrainingJob's ``AlgorithmSpecification.MetricDefinitions`` carries them
    (``[{"Name": "val:auroc", "Regex": "val_auroc=([0-9\\.]+)"}]``): what the script
    prints is the script's contract, so every request for it takes them from here.
    """

    job_type: ClassVar[str] = "training"
    input_roots: ClassVar[tuple[str, ...]] = ("/opt/ml/input/data", "/opt/ml/input/config")
    output_roots: ClassVar[tuple[str, ...]] = (
        "/opt/ml/model",
        "/opt/ml/output/data",
        "/opt/ml/checkpoints",
    )

    metric_definitions: list[dict[str, str]] = Field(default_factory=list)

    @field_validator("metric_definitions")
    @classmethod
    def _metric_definitions(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        check_metric_definitions(value)
        return value


class ProcessingScriptContract(ScriptContract):
    """A script run by a SageMaker processing job."""

    job_type: ClassVar[str] = "processing"
    input_roots: ClassVar[tuple[str, ...]] = ("/opt/ml/processing/input",)
    output_roots: ClassVar[tuple[str, ...]] = ("/opt/ml/processing/output",)


class ServingScriptContract(ScriptContract):
    """An inference script a model server imports (``SAGEMAKER_PROGRAM``): batch transform
    and endpoints. The serving toolkits pass it ``/opt/ml/model`` (``model_fn(model_dir)``)
    and take its answers over HTTP, so it reads the model and writes nothing."""

    job_type: ClassVar[str] = "serving"
    input_roots: ClassVar[tuple[str, ...]] = ("/opt/ml/model",)
    output_roots: ClassVar[tuple[str, ...]] = ()
    # A step's records reach the script as requests and its outputs leave as responses
    # (the hosting contract: POST /invocations), not at container paths.
    data_over_http: ClassVar[bool] = True

    @field_validator("expected_output_paths")
    @classmethod
    def _no_outputs(cls, value: dict[str, str]) -> dict[str, str]:
        if value:
            raise ValueError(
                f"expected_output_paths {value} are outside what a model server uploads: "
                "a serving script answers over HTTP (output_fn); remove them"
            )
        return value


def check_metric_definitions(value: list[dict[str, str]]) -> None:
    """Raise ValueError unless every item is ``{"Name": …, "Regex": <a regex>}``.

    The lengths and the name pattern are botocore's to check (MetricDefinition in the
    CreateTrainingJob request); this is what its model cannot say: the keys and the regex.
    """
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"Name", "Regex"}:
            raise ValueError(
                f"metric_definitions[{i}] = {item!r} must have exactly the keys Name and Regex"
            )
        try:
            re.compile(item["Regex"])
        except re.error as exc:
            raise ValueError(f"metric_definitions[{i}].Regex is not a regex: {exc}") from exc


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
