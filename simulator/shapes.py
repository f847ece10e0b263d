"""The SageMaker API model, from botocore: the one source of every AWS shape.

Requests and responses are validated with botocore's own ``ParamValidator``
(required members, unknown keys, types, minimum lengths) and then with the
constraints botocore's validator skips but the service enforces: enums,
patterns, maximum lengths and numeric ranges. Nothing here hand-copies a
schema: change botocore's version and the checks follow.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from simulator.errors import Problem, ValidationError

# Root shape of each SageMaker pipeline step type's properties: the
# Describe* response that `properties.…` paths walk (SDK's workflow/properties).
STEP_TYPE_ROOT_SHAPES: dict[str, str] = {
    "Training": "DescribeTrainingJobResponse",
    "Processing": "DescribeProcessingJobResponse",
    "Transform": "DescribeTransformJobResponse",
    "Model": "DescribeModelOutput",
    "RegisterModel": "DescribeModelPackageOutput",
    "Tuning": "DescribeHyperParameterTuningJobResponse",
}
# Step types whose properties span more than one response: the SDK's TuningStep has
# both the DescribeHyperParameterTuningJob members and TrainingJobSummaries (its
# ``shape_names``), the latter being what ``get_top_model_s3_uri`` reads (#16).
STEP_TYPE_EXTRA_SHAPES: dict[str, tuple[str, ...]] = {
    "Tuning": ("ListTrainingJobsForHyperParameterTuningJobResponse",),
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
    if canonical not in STEP_TYPE_ROOT_SHAPES:
        known = ", ".join(sorted(STEP_TYPE_ROOT_SHAPES))
        raise ValueError(f"unknown SageMaker step type {step_type!r}; expected one of {known}")
    return canonical


def root_shape_for_step_type(step_type: str) -> StructureShape:
    """The Describe* response shape whose members a step's properties are."""
    canonical = canonical_step_type(step_type)
    if canonical in STEP_TYPE_EXTRA_SHAPES:
        return _merged_root(canonical)
    return shape(STEP_TYPE_ROOT_SHAPES[canonical])


@cache
def _merged_root(step_type: str) -> StructureShape:
    """One structure with the members of the step type's response shapes, built from
    botocore's own shape definitions (named after the first, the Describe* response)."""
    model = service_model()
    resolver = model._shape_resolver  # botocore's, so member shapes resolve as usual
    names = (STEP_TYPE_ROOT_SHAPES[step_type], *STEP_TYPE_EXTRA_SHAPES[step_type])
    members: dict[str, Any] = {}
    for name in names:
        members.update(resolver._shape_map[name]["members"])
    merged = {"type": "structure", "members": members}
    return StructureShape(names[0], merged, resolver)


def enum_values(shape_name: str) -> list[str]:
    """Allowed values of an enum shape, e.g. ``enum_values("TrainingJobStatus")``."""
    return list(shape(shape_name).enum)


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
