"""Static validation of a pipeline definition: every problem at once, before anything runs.

What SageMaker checks when a definition is created (and what would fail a step at run
time), all from botocore's model:

- each job step's Arguments against its request shape (Training → CreateTrainingJob,
  Processing → CreateProcessingJob, Model → CreateModel, RegisterModel →
  CreateModelPackage), with every expression standing for a value of the type it yields;
- each ``Get``: ``Parameters.<name>`` declared, ``Execution.<variable>`` known,
  ``Steps.<name>`` existing, and its property path valid for that step's type (the
  Describe* shape) with the type it reaches fitting where it is used;
- each ``Std:JsonGet`` PropertyFile declared by the step it names, its Path valid JSONPath;
- conditions well-formed, PropertyFiles naming real outputs, no dependency cycle;
- step types smsim does not run, listed (they refuse an execution before it starts).

Every problem names the step and the path inside it, with a did-you-mean when a close
name exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape
from jsonpath_ng.ext import parse as parse_jsonpath

from simulator.errors import ValidationError
from simulator.pipeline.run.conditions import condition_problems, operands
from simulator.pipeline.run.definition import (
    KNOWN_UNSUPPORTED_STEP_TYPES,
    SUPPORTED_STEP_TYPES,
    PipelineDefinition,
    Step,
    did_you_mean,
)
from simulator.pipeline.run.expressions import (
    EXECUTION_VARIABLES,
    expression_kind,
    property_file_reference,
    split_reference,
)
from simulator.pipeline.run.typed_values import fits, join_path, substitute
from simulator.properties import (
    check_property_path,
)
from simulator.shapes import (
    STEP_OPERATIONS,
    check,
    input_shape,
    shape,
)

_PARAMETER_TYPES = {
    "String": "string",
    "Integer": "integer",
    "Float": "float",
    "Boolean": "boolean",
}


@dataclass(frozen=True)
class DefinitionProblem:
    """One problem: the step (None for pipeline-level), the path inside it, what and the fix."""

    step: str | None
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"step {self.step!r}" if self.step else "pipeline"
        text = f"{where}: {self.path or '<root>'}: {self.message}"
        return f"{text}; {self.fix}" if self.fix else text

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "path": self.path, "message": self.message, "fix": self.fix}


@dataclass
class DefinitionReport:
    """The outcome of :func:`validate_definition`."""

    problems: list[DefinitionProblem] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # name, type, depends_on, branch
    parameters: list[dict[str, Any]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # "Name (Type)"
    definition: PipelineDefinition | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "problems": [p.to_dict() for p in self.problems],
            "unsupported_steps": self.unsupported,
            "parameters": self.parameters,
            "steps": self.steps,
        }

    def raise_for_problems(self) -> None:
        """ValidationError listing every problem (SageMaker's ValidationException)."""
        from simulator.errors import Problem

        if self.problems:
            raise ValidationError(
                "pipeline definition",
                [
                    Problem(f"{p.step or 'pipeline'}: {p.path}", p.message, fix=p.fix)
                    for p in self.problems
                ],
            )


def validate_definition(
    source: str | bytes | dict[str, Any] | PipelineDefinition,
) -> DefinitionReport:
    """Every problem of a definition, and its steps with their dependencies."""
    report = DefinitionReport()
    if isinstance(source, PipelineDefinition):
        defn = source
    else:
        try:
            defn = PipelineDefinition.parse(source)
        except ValidationError as exc:
            report.problems = [
                DefinitionProblem(None, p.path, p.message + _got(p.value), p.fix)
                for p in exc.problems
            ]
            return report
    report.definition = defn
    report.parameters = [
        {"name": p.name, "type": p.type, "default": p.default} for p in defn.parameters.values()
    ]
    _Checker(defn, report).run()
    return report


class _Checker:
    def __init__(self, defn: PipelineDefinition, report: DefinitionReport) -> None:
        self.defn = defn
        self.report = report

    def problem(self, step: str | None, path: str, message: str, fix: str = "") -> None:
        self.report.problems.append(DefinitionProblem(step, path, message, fix))

    def run(self) -> None:
        defn = self.defn
        try:
            defn.topological_order()
        except ValidationError as exc:
            for p in exc.problems:
                self.problem(None, p.path, p.message, p.fix)
        for step in defn.steps.values():
            deps = sorted(defn.dependencies(step.name)) if not self._cyclic() else []
            self.report.steps.append(
                {
                    "name": step.name,
                    "type": step.type,
                    "depends_on": deps,
                    "condition": step.parent,
                    "branch": step.branch,
                }
            )
            self._check_step(step)
        config = defn.document.get("PipelineExperimentConfig")
        if config is not None:
            self._check_values(
                None, "PipelineExperimentConfig", config, shape("PipelineExperimentConfig")
            )

    def _cyclic(self) -> bool:
        return any("cycle" in p.message for p in self.report.problems if p.step is None)

    # ------------------------------------------------------------------ steps

    def _check_step(self, step: Step) -> None:
        if step.type not in SUPPORTED_STEP_TYPES:
            self.report.unsupported.append(f"{step.name} ({step.type})")
            known = (*SUPPORTED_STEP_TYPES, *KNOWN_UNSUPPORTED_STEP_TYPES)
            if step.type in KNOWN_UNSUPPORTED_STEP_TYPES:
                message = f"step type {step.type!r} is not run by smsim"
                fix = f"smsim runs {', '.join(SUPPORTED_STEP_TYPES)}"
            else:
                message = f"unknown step type {step.type!r}"
                fix = did_you_mean(step.type, list(known))
            self.problem(step.name, "Type", message, fix)
            return
        if step.property_files and step.type != "Processing":
            self.problem(step.name, "PropertyFiles", "only Processing steps have PropertyFiles")
        if step.type in STEP_OPERATIONS:
            self._check_request(step)
            self._check_property_files(step)
        elif step.type == "Condition":
            self._check_condition(step)
        elif step.type == "Fail":
            message = step.arguments.get("ErrorMessage")
            if message is not None:
                self._check_values(step, "Arguments.ErrorMessage", message, shape("String3072"))
            extra = sorted(set(step.arguments) - {"ErrorMessage"})
            if extra:
                self.problem(
                    step.name,
                    "Arguments",
                    f"unknown Fail step arguments {extra}",
                    "a Fail step takes only ErrorMessage",
                )

    def _check_request(self, step: Step) -> None:
        ops = STEP_OPERATIONS[step.type]
        name_member = ops.name_member
        root = input_shape(ops.create)
        found: list[tuple[str, Any, Shape | None]] = []
        request = substitute(step.job_arguments, root, "", found)
        if name_member and name_member not in request:
            request[name_member] = "generated-by-pipeline"  # the service names the job
        expr_paths = [_norm(p) for p, _, _ in found]
        for p in check(request, root):
            path = _norm(p.path)
            if any(_under(path, e) for e in expr_paths):
                continue  # the expression's own checks below cover it
            message = p.message + _got(p.value)
            self.problem(step.name, f"Arguments.{path}" if path else "Arguments", message, p.fix)
        for path, expr, target in found:
            self._check_expression(step, f"Arguments.{path}", expr, target)

    def _check_property_files(self, step: Step) -> None:
        names = _output_names(step) or []
        for i, pf in enumerate(step.property_files):
            if pf.output_name not in names:
                self.problem(
                    step.name,
                    f"PropertyFiles[{i}].OutputName",
                    f"property file {pf.name!r} reads output {pf.output_name!r}, which the step "
                    f"does not declare (outputs: {names})",
                    did_you_mean(pf.output_name, names),
                )

    def _check_condition(self, step: Step) -> None:
        conditions = step.arguments.get("Conditions")
        if not isinstance(conditions, list):
            self.problem(
                step.name, "Arguments.Conditions", "a Condition step needs a list of Conditions"
            )
            return
        for i, cond in enumerate(conditions):
            where = f"Arguments.Conditions[{i}]"
            for p in condition_problems(cond, where):
                self.problem(step.name, p.path, p.message + _got(p.value), p.fix)
            for sub, value in operands(cond, where):
                self._check_values(step, sub, value, None)

    # ------------------------------------------------------------------ expressions

    def _check_values(self, step: Step | None, path: str, value: Any, target: Shape | None) -> None:
        found: list[tuple[str, Any, Shape | None]] = []
        substitute(value, target, "", found)
        for sub, expr, tshape in found:
            self._check_expression(step, join_path(path, sub), expr, tshape)

    def _check_expression(
        self, step: Step | None, path: str, expr: dict[str, Any], target: Shape | None
    ) -> None:
        kind = expression_kind(expr)
        produced: str | None = None
        if kind == "Get":
            produced = self._check_get(step, path, expr["Get"])
        elif kind == "Std:Join":
            produced = "string"
            body = expr["Std:Join"]
            if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
                self.problem(_name(step), path, "Std:Join needs {'On': str, 'Values': [...]}")
                return
            if not isinstance(body.get("On", ""), str):
                self.problem(
                    _name(step),
                    f"{path}.Std:Join.On",
                    "must be a string",
                )
            for i, value in enumerate(body["Values"]):
                if expression_kind(value):
                    self._check_expression(step, f"{path}.Std:Join.Values[{i}]", value, None)
                elif isinstance(value, dict | list):
                    self.problem(
                        _name(step),
                        f"{path}.Std:Join.Values[{i}]",
                        "Std:Join values must be primitives or expressions",
                    )
        elif kind == "Std:JsonGet":
            self._check_json_get(step, path, expr["Std:JsonGet"])
        if produced and target is not None and not fits(produced, target.type_name):
            fix = (
                "wrap it in Std:Join (On '') to make a string"
                if target.type_name == "string"
                else ""
            )
            self.problem(
                _name(step),
                path,
                f"{_describe(expr)} gives {_a(produced)}, but this member is "
                f"{_a(target.type_name)} ({target.name})",
                fix,
            )

    def _check_get(self, step: Step | None, path: str, ref: Any) -> str | None:
        sname = _name(step)
        if not isinstance(ref, str):
            self.problem(sname, path, f"Get needs a string reference; got {ref!r}")
            return None
        root, name, rest = split_reference(ref)
        if root == "Parameters":
            param = self.defn.parameters.get(name)
            if param is None:
                self.problem(
                    sname,
                    path,
                    f"Get {ref!r}: no parameter {name!r} is declared",
                    did_you_mean(name, list(self.defn.parameters)),
                )
                return None
            return _PARAMETER_TYPES[param.type]
        if root == "Execution":
            if name not in EXECUTION_VARIABLES:
                self.problem(
                    sname,
                    path,
                    f"Get {ref!r}: {name!r} is not an execution variable",
                    did_you_mean(name, list(EXECUTION_VARIABLES)),
                )
                return None
            job_var = {"TrainingJobName": "Training", "ProcessingJobName": "Processing"}
            if name in job_var and (step is None or step.type != job_var[name]):
                self.problem(
                    sname,
                    path,
                    f"Get {ref!r} is defined only in a {job_var[name]} step's Arguments",
                )
            return "string"
        if root != "Steps":
            self.problem(
                sname,
                path,
                f"Get {ref!r}: a reference starts with Parameters., Execution. or Steps.",
                did_you_mean(root, ["Parameters", "Execution", "Steps"]),
            )
            return None
        target = self.defn.steps.get(name)
        if target is None:
            self.problem(
                sname,
                path,
                f"Get {ref!r}: no step {name!r} in this pipeline",
                did_you_mean(name, list(self.defn.steps)),
            )
            return None
        if step is not None and name == step.name:
            self.problem(
                sname,
                path,
                f"Get {ref!r}: a step cannot read its own properties",
                "reference an upstream step",
            )
            return None
        if rest.startswith("PropertyFiles"):
            self.problem(
                sname,
                path,
                f"Get {ref!r}: a property file is read through "
                "Std:JsonGet's PropertyFile, not a plain Get",
            )
            return None
        if target.type not in STEP_OPERATIONS:
            self.problem(
                sname,
                path,
                f"Get {ref!r}: {target.type} step {name!r} has no properties",
                "reference a Training, Processing, Transform, Model or RegisterModel step",
            )
            return None
        if not rest:
            self.problem(sname, path, f"Get {ref!r}: expected Steps.{name}.<property path>")
            return None
        result = check_property_path(
            target.type, ref, output_names=_output_names(target), metric_names=_metric_names(target)
        )
        if result.errors:
            fix = f"did you mean {result.suggestion!r}?" if result.suggestion else ""
            for err in result.errors:
                # The checker's message repeats the path it was given; say it once.
                err = err.removeprefix(f"{ref!r}: ")
                self.problem(sname, path, f"Get {ref!r}: {err}", fix)
        if not result.valid or not result.shape_name:
            return None
        return shape(result.shape_name).type_name

    def _check_json_get(self, step: Step | None, path: str, body: Any) -> None:
        sname = _name(step)
        if not isinstance(body, dict) or not isinstance(body.get("Path"), str):
            self.problem(sname, path, "Std:JsonGet needs a string 'Path'")
            return
        try:
            parse_jsonpath(body["Path"])
        except Exception as exc:  # jsonpath-ng's lexer raises bare Exceptions
            self.problem(
                sname,
                f"{path}.Std:JsonGet.Path",
                f"not valid JSONPath: {exc}",
                "e.g. 'metrics.auroc.value'",
            )
        if "PropertyFile" in body:
            try:
                owner, pf_name = property_file_reference(body["PropertyFile"])
            except Exception as exc:
                self.problem(sname, f"{path}.Std:JsonGet.PropertyFile", str(exc))
                return
            owner_step = self.defn.steps.get(owner)
            if owner_step is None:
                self.problem(
                    sname,
                    f"{path}.Std:JsonGet.PropertyFile",
                    f"no step {owner!r} in this pipeline",
                    did_you_mean(owner, list(self.defn.steps)),
                )
                return
            declared = [p.name for p in owner_step.property_files]
            if pf_name not in declared:
                self.problem(
                    sname,
                    f"{path}.Std:JsonGet.PropertyFile",
                    f"step {owner!r} declares no property file {pf_name!r} "
                    f"(declared: {declared or 'none'})",
                    did_you_mean(pf_name, declared),
                )
        elif "S3Uri" in body:
            uri = body["S3Uri"]
            if expression_kind(uri):
                self._check_expression(step, f"{path}.Std:JsonGet.S3Uri", uri, shape("S3Uri"))
            elif not (isinstance(uri, str) and uri.startswith("s3://")):
                self.problem(sname, f"{path}.Std:JsonGet.S3Uri", f"not an s3:// URI: {uri!r}")
        else:
            self.problem(sname, path, "Std:JsonGet needs a 'PropertyFile' or an 'S3Uri'")


# ---------------------------------------------------------------------- helpers


def _norm(path: str) -> str:
    """botocore's ``.A.m.k`` and shapes.check's ``A.m['k'] (key)`` to one form: ``A.m.k``."""
    path = path.replace(" (key)", "")
    path = re.sub(
        r"\[(?:'([^']*)'|\"([^\"]*)\")\]", lambda m: "." + (m.group(1) or m.group(2) or ""), path
    )
    return path.lstrip(".")


def _under(path: str, prefix: str) -> bool:
    if not prefix:
        return True
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def _output_names(step: Step) -> list[str] | None:
    if step.type != "Processing":
        return None
    config = step.arguments.get("ProcessingOutputConfig")
    # A malformed config is reported by the request check; here it just has no names.
    outputs = config.get("Outputs") if isinstance(config, dict) else None
    return _names(outputs, "OutputName")


def _metric_names(step: Step) -> list[str] | None:
    if step.type != "Training":
        return None
    spec = step.arguments.get("AlgorithmSpecification") or {}
    if not isinstance(spec, dict) or "MetricDefinitions" not in spec:
        return None  # built-in algorithms emit metrics of their own
    return _names(spec["MetricDefinitions"], "Name")


def _names(items: Any, key: str) -> list[str]:
    """The string ``key`` of each object in ``items`` (anything else is skipped)."""
    if not isinstance(items, list):
        return []
    return [i[key] for i in items if isinstance(i, dict) and isinstance(i.get(key), str)]


def _describe(expr: dict[str, Any]) -> str:
    kind = expression_kind(expr)
    return f"Get {expr['Get']!r}" if kind == "Get" else str(kind)


def _name(step: Step | None) -> str | None:
    return step.name if step is not None else None


def _got(value: Any) -> str:
    return f" (got {value!r})" if value is not None else ""


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
