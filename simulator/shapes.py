"""The SageMaker API model, from botocore: the one source of every AWS shape.

Requests and responses are validated with botocore's own ``ParamValidator``
(required members, unknown keys, types, minimum lengths) and then with the
constraints botocore's validator skips but the service enforces: enums,
patterns, maximum lengths and numeric ranges. Nothing here hand-copies a
schema: change botocore's version and the checks follow.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from simulator.errors import Problem, ValidationError


@dataclass(frozen=True)
class StepOperations:
    """The operations behind one pipeline step type.

    ``create`` is the request a step's ``Arguments`` are (without ``name_member``, which
    the pipeline fills in); ``describe`` the response its ``properties.…`` paths walk
    (the SDK's workflow/properties roots).
    """

    create: str
    describe: str
    name_member: str | None


# Every pipeline step type that has properties, with its operations: the one table.
STEP_OPERATIONS: dict[str, StepOperations] = {
    "Training": StepOperations("CreateTrainingJob", "DescribeTrainingJob", "TrainingJobName"),
    "Processing": StepOperations(
        "CreateProcessingJob", "DescribeProcessingJob", "ProcessingJobName"
    ),
    "Transform": StepOperations("CreateTransformJob", "DescribeTransformJob", "TransformJobName"),
    "Model": StepOperations("CreateModel", "DescribeModel", "ModelName"),
    # The service names a package by group and version: no name member to fill in.
    "RegisterModel": StepOperations("CreateModelPackage", "DescribeModelPackage", None),
    "Tuning": StepOperations(
        "CreateHyperParameterTuningJob",
        "DescribeHyperParameterTuningJob",
        "HyperParameterTuningJobName",
    ),
}
# Other spellings users and the SDK use for the same step types.
STEP_TYPE_ALIASES: dict[str, str] = {"CreateModel": "Model"}


@cache
def service_model() -> ServiceModel:
    """botocore's SageMaker service model, loaded once per process."""
    # Imported here: botocore.session costs a CLI start-up that only lists commands.
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def shape(name: str) -> Shape:
    """A named shape of the SageMaker model (e.g. ``"DescribeTrainingJobResponse"``)."""
    return service_model().shape_for(name)


def input_shape(operation: str) -> StructureShape:
    """Request shape of an operation (e.g. ``"CreateTrainingJob"``)."""
    return service_model().operation_model(operation).input_shape


def output_shape(operation: str) -> StructureShape:
    """Response shape of an operation (e.g. ``"DescribeTrainingJob"``)."""
    return service_model().operation_model(operation).output_shape


def canonical_step_type(step_type: str) -> str:
    """``CreateModel`` → ``Model``; raises ValueError on an unknown step type."""
    canonical = STEP_TYPE_ALIASES.get(step_type, step_type)
    if canonical not in STEP_OPERATIONS:
        known = ", ".join(sorted(STEP_OPERATIONS))
        raise ValueError(f"unknown SageMaker step type {step_type!r}; expected one of {known}")
    return canonical


def root_shape_for_step_type(step_type: str) -> StructureShape:
    """The Describe* response shape whose members a step's properties are."""
    return output_shape(STEP_OPERATIONS[canonical_step_type(step_type)].describe)


def enum_values(shape_name: str) -> list[str]:
    """Allowed values of an enum shape, e.g. ``enum_values("TrainingJobStatus")``."""
    return list(shape(shape_name).enum)


def limit(shape_name: str, bound: str = "max") -> int:
    """A shape's ``max`` (or ``min``): a list's items, a string's length, a number's range."""
    return int(shape(shape_name).metadata[bound])


def value_problems(shape_name: str, value: Any, path: str) -> list[Problem]:
    """Every problem of one value against a named shape, reported at ``path``.

    E.g. ``value_problems("TrainingJobName", "a_b", "--job-name")``: the pattern, the
    lengths and the enum are botocore's, so a value checked here is one the service takes.
    """
    return [
        Problem(path + p.path if p.path else path, p.message, p.value, p.fix)
        for p in check(value, shape(shape_name))
    ]


def describe_rule(shape_name: str, value: str = "") -> str:
    """A string shape's rule in words, for a fix: its values, or its pattern and lengths.

    A long enum (the instance types) is named by the values closest to ``value``.
    """
    s = shape(shape_name)
    if s.enum and len(s.enum) > 12:
        close = difflib.get_close_matches(value, s.enum, n=3, cutoff=0.5)
        return f"one of the {len(s.enum)} {shape_name} values" + (
            f", e.g. {', '.join(close)}" if close else ""
        )
    if s.enum:
        return f"one of the {shape_name} values: " + ", ".join(s.enum)
    meta = s.metadata
    lengths = f"{meta.get('min', 0)}-{meta['max']} characters" if "max" in meta else ""
    rule = f"SageMaker's name pattern {meta['pattern']}" if "pattern" in meta else ""
    return ", ".join(part for part in (rule, lengths) if part)


def check(value: Any, root: Shape) -> list[Problem]:
    """Every problem of ``value`` against ``root``: botocore's checks, then the service's."""
    problems = _botocore_problems(value, root)
    problems += _constraint_problems(value, root, "")
    return problems


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationError listing every problem of a request to ``operation``."""
    problems = check(params, input_shape(operation))
    if problems:
        raise ValidationError(f"{operation} request", problems)


def validate_response(operation: str, response: dict[str, Any]) -> None:
    """Raise ValidationError when our response would not be one SageMaker can send."""
    problems = check(response, output_shape(operation))
    if problems:
        raise ValidationError(f"{operation} response", problems)


def _botocore_problems(value: Any, root: Shape) -> list[Problem]:
    from botocore.validate import ParamValidator  # with service_model(): on first use

    report = ParamValidator().validate(value, root)
    if not report.has_errors():
        return []
    problems = []
    for err_type, name, extra in report._errors:  # botocore keeps them structured here
        path = name if isinstance(name, str) else str(name)
        problems.append(Problem(path=path, message=_botocore_message(err_type, extra)))
    return problems


def _botocore_message(err_type: str, extra: dict[str, Any]) -> str:
    if err_type == "missing required field":
        return f"missing required member {extra['required_name']!r}"
    if err_type == "unknown field":
        valid = ", ".join(extra["valid_names"])
        return f"unknown member {extra['unknown_param']!r}; valid members: {valid}"
    if err_type == "invalid type":
        types = ", ".join(str(t) for t in extra["valid_types"])
        got = type(extra["param"]).__name__
        return f"invalid type {got} (value {extra['param']!r}); expected {types}"
    if err_type == "invalid length":
        return f"length below the minimum {extra['min_allowed']} (value {extra['param']!r})"
    if err_type == "invalid range":
        return f"value {extra['param']!r} below the minimum {extra['min_allowed']}"
    return f"{err_type}: {extra}"


def _constraint_problems(value: Any, s: Shape, path: str) -> list[Problem]:
    """Enums, patterns, max lengths and ranges: what ParamValidator leaves out."""
    if value is None:
        return []
    if isinstance(s, StructureShape):
        if not isinstance(value, dict):
            return []
        out: list[Problem] = []
        for key, member in s.members.items():
            if key in value:
                out += _constraint_problems(value[key], member, _join(path, key))
        return out
    if isinstance(s, ListShape):
        if not isinstance(value, list):
            return []
        out = _size_problems(len(value), s, path, "items")
        for i, item in enumerate(value):
            out += _constraint_problems(item, s.member, f"{path}[{i}]")
        return out
    if isinstance(s, MapShape):
        if not isinstance(value, dict):
            return []
        out = _size_problems(len(value), s, path, "entries")
        for k, v in value.items():
            out += _constraint_problems(k, s.key, f"{path}[{k!r}] (key)")
            out += _constraint_problems(v, s.value, f"{path}[{k!r}]")
        return out
    return _scalar_problems(value, s, path)


def _scalar_problems(value: Any, s: Shape, path: str) -> list[Problem]:
    meta = s.metadata
    if s.type_name == "string" and isinstance(value, str):
        if s.enum and value not in s.enum:
            return [
                Problem(path, f"not a valid {s.name}", value, f"use one of: {', '.join(s.enum)}")
            ]
        out = []
        if "max" in meta and len(value) > meta["max"]:
            out.append(Problem(path, f"longer than {meta['max']} characters ({len(value)})", None))
        pattern = _compiled(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            out.append(Problem(path, f"does not match the pattern {meta['pattern']!r}", value))
        return out
    numeric = s.type_name in ("integer", "long", "float", "double")
    if numeric and isinstance(value, int | float) and "max" in meta and value > meta["max"]:
        return [Problem(path, f"above the maximum {meta['max']}", value)]
    if s.type_name == "timestamp" and not isinstance(value, dt.datetime | str | int | float):
        return [Problem(path, "not a timestamp", value)]
    return []


def _size_problems(size: int, s: Shape, path: str, noun: str) -> list[Problem]:
    limit = s.metadata.get("max")
    if limit is not None and size > limit:
        return [Problem(path, f"{size} {noun}, more than the maximum {limit}")]
    return []


@cache
def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern or pattern == ".*":
        return None
    try:
        # SageMaker matches a whole value; DOTALL so free-text fields may hold newlines.
        return re.compile(pattern, re.DOTALL)
    except re.error:  # a Java-only construct (\p{…}): skip rather than reject wrongly
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
