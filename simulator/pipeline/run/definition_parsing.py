"""Parsing a pipeline definition into a :class:`~.definition.PipelineDefinition`.

SageMaker refuses a definition whose structure is wrong when CreatePipeline is called; so
does smsim, listing every structural problem at once: bad JSON, an unsupported Version,
steps or parameters without names, duplicate step names, DependsOn naming no step, malformed
PropertyFiles. Condition branches (``Arguments.IfSteps`` / ``ElseSteps``) are flattened
into the one ordered map of steps, each remembering its condition and branch.
"""

from __future__ import annotations

import json
from typing import Any

from simulator.errors import Problem, ValidationError
from simulator.pipeline.run.definition import (
    BRANCHES,
    PARAMETER_TYPES,
    SUPPORTED_VERSION,
    Parameter,
    PipelineDefinition,
    PropertyFile,
    Step,
    did_you_mean,
)
from simulator.shapes import describe_rule, value_problems


def parse_definition(source: str | bytes | dict[str, Any]) -> PipelineDefinition:
    problems: list[Problem] = []
    if isinstance(source, str | bytes):
        try:
            doc = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                "pipeline definition",
                [Problem("", f"not valid JSON: {exc}", fix="pass Pipeline.definition() output")],
            ) from None
    else:
        doc = source
    if not isinstance(doc, dict):
        raise ValidationError(
            "pipeline definition",
            [Problem("", "must be a JSON object", type(doc).__name__)],
        )
    version = doc.get("Version")
    if version != SUPPORTED_VERSION:
        problems.append(
            Problem(
                "Version", "unsupported definition version", version, f"use {SUPPORTED_VERSION!r}"
            )
        )
    parameters = _parse_parameters(doc.get("Parameters", []), problems)
    steps: dict[str, Step] = {}
    raw_steps = doc.get("Steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(Problem("Steps", "must be a non-empty list of steps", raw_steps))
        raw_steps = []
    _parse_steps(raw_steps, "Steps", None, None, steps, problems)
    for step in steps.values():
        for i, dep in enumerate(step.depends_on):
            if dep not in steps:
                problems.append(
                    Problem(
                        f"{step.location}.DependsOn[{i}]",
                        f"step {step.name!r} depends on {dep!r}, which is not a step",
                        fix=did_you_mean(dep, list(steps)),
                    )
                )
    if problems:
        raise ValidationError("pipeline definition", problems)
    return PipelineDefinition(str(version), parameters, steps, doc)


def _parse_parameters(raw: Any, problems: list[Problem]) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    if not isinstance(raw, list):
        problems.append(Problem("Parameters", "must be a list", raw))
        return out
    for i, item in enumerate(raw):
        where = f"Parameters[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            problems.append(Problem(where, "a parameter needs a string 'Name'", item))
            continue
        name, ptype = item["Name"], item.get("Type", "String")
        if ptype not in PARAMETER_TYPES:
            problems.append(
                Problem(
                    f"{where}.Type",
                    f"unknown parameter type of {name!r}",
                    ptype,
                    f"use one of {', '.join(PARAMETER_TYPES)}",
                )
            )
            continue
        if name in out:
            problems.append(Problem(f"{where}.Name", "duplicate parameter name", name))
            continue
        param = Parameter(name, ptype, None, tuple(item.get("EnumValues") or ()))
        default = item.get("DefaultValue")
        if default is not None:
            try:
                default = param.coerce(default)
            except ValueError as exc:
                problems.append(Problem(f"{where}.DefaultValue", str(exc), default))
                default = None
        out[name] = Parameter(name, ptype, default, param.enum_values)
    return out


def _step_name_problems(name: str, where: str) -> list[Problem]:
    """A step's Name is botocore's StepName (at most 64 of letters, digits, '-', '_'), the
    name ListPipelineExecutionSteps reports; the service refuses a definition breaking it."""
    return [
        Problem(
            p.path,
            p.message,
            name if len(name) <= 80 else name[:77] + "...",
            f"name steps with {describe_rule('StepName')}",
        )
        for p in value_problems("StepName", name, where)
    ]


def _parse_steps(
    raw: list[Any],
    where: str,
    parent: str | None,
    branch: str | None,
    steps: dict[str, Step],
    problems: list[Problem],
) -> list[str]:
    names: list[str] = []
    for i, item in enumerate(raw):
        loc = f"{where}[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(loc, "a step must be an object", item))
            continue
        name, stype = item.get("Name"), item.get("Type")
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{loc}.Name", "a step needs a non-empty string 'Name'", name))
            continue
        if not isinstance(stype, str) or not stype:
            problems.append(Problem(f"{loc}.Type", f"step {name!r} needs a 'Type'", stype))
            continue
        problems += _step_name_problems(name, f"{loc}.Name")
        if name in steps:
            problems.append(
                Problem(f"{loc}.Name", "duplicate step name; step names must be unique", name)
            )
            continue
        args = item.get("Arguments", {})
        if not isinstance(args, dict):
            problems.append(
                Problem(f"{loc}.Arguments", f"arguments of {name!r} must be an object", args)
            )
            args = {}
        depends_on = item.get("DependsOn") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            problems.append(Problem(f"{loc}.DependsOn", "must be a list of step names", depends_on))
            depends_on = []
        step = Step(
            name=name,
            type=stype,
            arguments=args,
            depends_on=list(depends_on),
            property_files=_parse_property_files(
                item.get("PropertyFiles"), f"{loc}.PropertyFiles", problems
            ),
            parent=parent,
            branch=branch,
            display_name=item.get("DisplayName"),
            description=item.get("Description"),
            location=loc,
            cache_config=item.get("CacheConfig")
            if isinstance(item.get("CacheConfig"), dict)
            else None,
            retry_policies=_retry_policies(
                item.get("RetryPolicies"), f"{loc}.RetryPolicies", problems
            ),
            raw=item,
        )
        steps[name] = step
        names.append(name)
        if stype == "Condition":
            for b in BRANCHES:
                branch_raw = args.get(b, [])
                if not isinstance(branch_raw, list):
                    problems.append(
                        Problem(f"{loc}.Arguments.{b}", "must be a list of steps", branch_raw)
                    )
                    continue
                child = _parse_steps(branch_raw, f"{loc}.Arguments.{b}", name, b, steps, problems)
                if b == "IfSteps":
                    step.if_steps = child
                else:
                    step.else_steps = child
    return names


def _retry_policies(raw: Any, where: str, problems: list[Problem]) -> list[dict[str, Any]]:
    """A step's RetryPolicies: a list of objects (the retry module checks each one)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem(where, "must be a list of retry policies", raw))
        return []
    return [r for r in raw if isinstance(r, dict)]


def _parse_property_files(raw: Any, where: str, problems: list[Problem]) -> list[PropertyFile]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem(where, "must be a list", raw))
        return []
    out = []
    for i, item in enumerate(raw):
        keys = ("PropertyFileName", "OutputName", "FilePath")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in keys):
            problems.append(
                Problem(
                    f"{where}[{i}]",
                    "a PropertyFile needs string PropertyFileName, OutputName and FilePath",
                    item,
                )
            )
            continue
        out.append(PropertyFile(item["PropertyFileName"], item["OutputName"], item["FilePath"]))
    return out
