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

The expressions' checks are in :mod:`simulator.pipeline.run.validate_expressions`.
Every problem names the step and the path inside it, with a did-you-mean when a close
name exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from simulator.errors import ValidationError
from simulator.pipeline.run.conditions import condition_problems, operands
from simulator.pipeline.run.definition import (
    KNOWN_UNSUPPORTED_STEP_TYPES,
    SUPPORTED_STEP_TYPES,
    PipelineDefinition,
    Step,
    did_you_mean,
)
from simulator.pipeline.run.typed_values import substitute
from simulator.pipeline.run.validate_expressions import (
    ExpressionChecks,
    _output_names,
)
from simulator.shapes import (
    STEP_OPERATIONS,
    check,
    input_shape,
    shape,
)

# The top-level keys smsim acts on; others (SDK v3's MlflowConfig, …) are reported ignored.
_TOP_LEVEL_KEYS = ("Version", "Metadata", "Parameters", "Steps", "PipelineExperimentConfig")


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
    # Top-level keys smsim accepts but does not act on (SDK v3's MlflowConfig, …).
    ignored: list[str] = field(default_factory=list)
    definition: PipelineDefinition | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "problems": [p.to_dict() for p in self.problems],
            "unsupported_steps": self.unsupported,
            "ignored": self.ignored,
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


class _Checker(ExpressionChecks):
    def __init__(self, defn: PipelineDefinition, report: DefinitionReport) -> None:
        self.defn = defn
        self.report = report

    def problem(self, step: str | None, path: str, message: str, fix: str = "") -> None:
        self.report.problems.append(DefinitionProblem(step, path, message, fix))

    def unknown(self, step: str | None, path: str, message: str, name: str, known: Any) -> None:
        """A name that is not one of ``known``: the problem, with the closest known name."""
        self.problem(step, path, message, did_you_mean(name, list(known)))

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
        self.report.ignored = [
            f"{key}: accepted, not acted on by smsim"
            for key in defn.document
            if key not in _TOP_LEVEL_KEYS
        ]
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


def _got(value: Any) -> str:
    return f" (got {value!r})" if value is not None else ""
