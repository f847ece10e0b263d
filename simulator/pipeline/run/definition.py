"""A SageMaker pipeline definition (the JSON ``Pipeline.definition()`` writes), as a model.

The document is what the SDK sends to ``CreatePipeline``: ``{"Version": "2020-12-01",
"Parameters": [...], "Steps": [...]}``. Condition steps hold their branches inline
(``Arguments.IfSteps`` / ``Arguments.ElseSteps``); here every step, nested or not, is in
one flat, ordered map, and the DAG comes from three sources as in SageMaker Pipelines:
``{"Get": "Steps.<name>…"}`` references (data dependencies), ``DependsOn`` (explicit
ones), and membership of a condition branch (a branch step runs after its condition).
Parsing (and its structural checks) is in
:mod:`simulator.pipeline.run.definition_parsing`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import Problem, ValidationError
from simulator.pipeline.run.expressions import step_references

SUPPORTED_VERSION = "2020-12-01"
# Step types smsim executes; any other type is refused before anything runs.
SUPPORTED_STEP_TYPES: tuple[str, ...] = (
    "Training",
    "Processing",
    "Transform",  # batch transform (#15)
    "Model",
    "RegisterModel",
    "Condition",
    "Fail",
    "Lambda",
    "Callback",
    "Tuning",
)
# Step types of SageMaker Pipelines smsim recognises but does not run.
KNOWN_UNSUPPORTED_STEP_TYPES: tuple[str, ...] = (
    "EMR",
    "EMRServerless",
    "ClarifyCheck",
    "QualityCheck",
    "AutoML",
    "Endpoint",
    "EndpointConfig",
    "Notebook",
    "Lineage",
)
PARAMETER_TYPES: tuple[str, ...] = ("String", "Integer", "Float", "Boolean")
BRANCHES: tuple[str, ...] = ("IfSteps", "ElseSteps")


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: ``{"Name", "Type", "DefaultValue"?, "EnumValues"?}``."""

    name: str
    type: str
    default: Any = None
    enum_values: tuple[str, ...] = ()

    @property
    def has_default(self) -> bool:
        return self.default is not None

    def coerce(self, value: Any) -> Any:
        """A value of this parameter's type from ``value`` (StartPipelineExecution sends
        strings); raises ValueError naming the parameter, the value and the type."""
        try:
            if self.type == "Integer":
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, int):
                    return value
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                return int(str(value).strip())
            if self.type == "Float":
                if isinstance(value, bool):
                    raise ValueError
                return float(value)
            if self.type == "Boolean":
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in ("true", "false"):
                    return text == "true"
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(
                f"parameter {self.name!r} is {self.type}; {value!r} is not a valid {self.type}"
            ) from None
        text = value if isinstance(value, str) else str(value)
        if self.enum_values and text not in self.enum_values:
            raise ValueError(
                f"parameter {self.name!r} must be one of {list(self.enum_values)}; got {text!r}"
            )
        return text


@dataclass(frozen=True)
class PropertyFile:
    """A step's JSON output file that ``Std:JsonGet`` reads (SDK ``PropertyFile``)."""

    name: str
    output_name: str
    file_path: str


@dataclass
class Step:
    """One step of the definition, wherever it sits (top level or in a condition branch)."""

    name: str
    type: str
    arguments: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    property_files: list[PropertyFile] = field(default_factory=list)
    # The condition step (and branch) this step belongs to; None at top level.
    parent: str | None = None
    branch: str | None = None
    # For Condition steps: names of the steps of each branch, in document order.
    if_steps: list[str] = field(default_factory=list)
    else_steps: list[str] = field(default_factory=list)
    display_name: str | None = None
    description: str | None = None
    location: str = ""  # where the step sits in the document, e.g. "Steps[3].Arguments.IfSteps[0]"
    # The step's CacheConfig ({"Enabled", "ExpireAfter"}) and RetryPolicies, as written.
    cache_config: dict[str, Any] | None = None
    retry_policies: list[dict[str, Any]] = field(default_factory=list)
    # The step object as written (FunctionArn, OutputParameters, SqsQueueUrl, … live there).
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def job_arguments(self) -> dict[str, Any]:
        """Arguments without a condition's branches (they are steps, not arguments)."""
        return {k: v for k, v in self.arguments.items() if k not in BRANCHES}

    def property_file(self, name: str) -> PropertyFile | None:
        return next((p for p in self.property_files if p.name == name), None)


@dataclass
class PipelineDefinition:
    """A parsed definition: parameters, every step by name, and the DAG between them."""

    version: str
    parameters: dict[str, Parameter]
    steps: dict[str, Step]
    document: dict[str, Any]

    @classmethod
    def parse(cls, source: str | bytes | dict[str, Any]) -> PipelineDefinition:
        """Parse a definition (JSON text or the decoded dict). Raises ValidationError listing
        every structural problem (bad JSON, missing names, duplicates, unknown DependsOn)."""
        # The parser builds this class: imported here, not at the top, to avoid a cycle.
        from simulator.pipeline.run.definition_parsing import parse_definition

        return parse_definition(source)

    @property
    def top_level(self) -> list[str]:
        return [s.name for s in self.steps.values() if s.parent is None]

    @property
    def step_types(self) -> dict[str, str]:
        return {name: step.type for name, step in self.steps.items()}

    def parameter_values(self, given: list[dict[str, str]]) -> dict[str, Any]:
        """Every declared parameter's value for an execution: each given one (a
        StartPipelineExecution ``PipelineParameters`` item) coerced to its type, the
        others their default. ValidationError naming every unknown name, bad value and
        parameter left without a value."""
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        for i, item in enumerate(given):
            name, value = item["Name"], item["Value"]
            param = self.parameters.get(name)
            if param is None:
                problems.append(
                    Problem(
                        f"PipelineParameters[{i}].Name",
                        "not a parameter of this pipeline",
                        name,
                        did_you_mean(name, list(self.parameters)),
                    )
                )
                continue
            try:
                values[name] = param.coerce(value)
            except ValueError as exc:
                problems.append(Problem(f"PipelineParameters[{i}].Value", str(exc)))
        for name, param in self.parameters.items():
            if name in values:
                continue
            if param.has_default:
                values[name] = param.default
            else:
                problems.append(
                    Problem(
                        "PipelineParameters",
                        f"parameter {name!r} has no default value",
                        fix=f"pass {{'Name': {name!r}, 'Value': ...}}",
                    )
                )
        if problems:
            raise ValidationError("StartPipelineExecution request", problems)
        return values

    def unsupported_steps(self) -> list[Step]:
        """Steps whose type smsim cannot run (refused before an execution starts)."""
        return [s for s in self.steps.values() if s.type not in SUPPORTED_STEP_TYPES]

    def data_dependencies(self, name: str) -> set[str]:
        """Steps whose properties or property files ``name``'s arguments read."""
        return step_references(self.steps[name].job_arguments)

    def dependencies(self, name: str) -> set[str]:
        """Every step that must finish before ``name`` starts."""
        step = self.steps[name]
        deps = self.data_dependencies(name) | set(step.depends_on)
        if step.parent is not None:
            deps.add(step.parent)
        deps.discard(name)
        return {d for d in deps if d in self.steps}

    def topological_order(self) -> list[str]:
        """Step names so that every step follows its dependencies; ValidationError on a cycle."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = trail[trail.index(name) :] + [name]
                raise ValidationError(
                    "pipeline definition",
                    [
                        Problem(
                            f"Steps.{name}",
                            "dependency cycle: " + " -> ".join(cycle),
                            fix="remove one of these references or DependsOn entries",
                        )
                    ],
                )
            state[name] = 1
            for dep in sorted(self.dependencies(name)):
                visit(dep, trail + [name])
            state[name] = 2
            order.append(name)

        for name in self.steps:
            visit(name, [])
        return order

    def branch_descendants(self, condition: str, branch: str) -> list[str]:
        """Every step inside ``condition``'s ``branch``, nested conditions included."""
        step = self.steps[condition]
        direct = step.if_steps if branch == "IfSteps" else step.else_steps
        out: list[str] = []
        for name in direct:
            out.append(name)
            if self.steps[name].type == "Condition":
                for b in BRANCHES:
                    out += self.branch_descendants(name, b)
        return out


def did_you_mean(word: str, candidates: list[str]) -> str:
    """A hint naming the closest candidate, or listing them all when none is close."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known: {', '.join(candidates)}" if candidates else ""
