"""Step specifications: how a step is wired into a SageMaker pipeline.

A specification names what a step needs (dependencies, each matched to an
upstream step's output by the dependency resolver) and what it produces
(outputs, each reached through a SageMaker property path such as
``properties.ModelArtifacts.S3ModelArtifacts``). A property path must exist in
the Describe* response of the step's SageMaker type, or SageMaker rejects the
pipeline at deploy time; we reject it at construction instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contracts.base import (
    ProcessingScriptContract,
    ScriptContract,
    ServingScriptContract,
    TrainingScriptContract,
)


class DependencyType(StrEnum):
    """What kind of thing a dependency consumes (a hard gate for the resolver)."""

    MODEL_ARTIFACTS = "model_artifacts"
    PROCESSING_OUTPUT = "processing_output"
    TRAINING_DATA = "training_data"
    HYPERPARAMETERS = "hyperparameters"
    PAYLOAD_SAMPLES = "payload_samples"
    CUSTOM_PROPERTY = "custom_property"


class NodeType(StrEnum):
    """A step's place in the DAG: source (no deps), internal, sink (no outputs), singular."""

    SOURCE = "source"
    INTERNAL = "internal"
    SINK = "sink"
    SINGULAR = "singular"


class SageMakerStepType(StrEnum):
    """The SageMaker pipeline step type a spec compiles to (decides its property shapes)."""

    TRAINING = "Training"
    TUNING = "Tuning"
    PROCESSING = "Processing"
    TRANSFORM = "Transform"
    MODEL = "Model"
    REGISTER_MODEL = "RegisterModel"


# Step types whose jobs run a training script: a Tuning step's training jobs run it too.
TRAINING_STEP_TYPES = frozenset({SageMakerStepType.TRAINING, SageMakerStepType.TUNING})


class DependencySpec(BaseModel):
    """One input a step needs from upstream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    logical_name: str
    dependency_type: DependencyType
    required: bool = True
    compatible_sources: list[str] = Field(default_factory=list)
    semantic_keywords: list[str] = Field(default_factory=list)
    data_type: str = "S3Uri"
    description: str = ""

    @field_validator("logical_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("logical_name must not be empty")
        return value


class OutputSpec(BaseModel):
    """One thing a step produces, and the property path that reaches it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    logical_name: str
    aliases: list[str] = Field(default_factory=list)
    output_type: DependencyType
    property_path: str
    data_type: str = "S3Uri"
    description: str = ""

    @field_validator("property_path")
    @classmethod
    def _starts_with_properties(cls, value: str) -> str:
        if not value.startswith("properties."):
            raise ValueError(
                f"property_path {value!r} must start with 'properties.' "
                "(e.g. 'properties.ModelArtifacts.S3ModelArtifacts')"
            )
        return value

    @property
    def names(self) -> list[str]:
        """The logical name followed by the aliases."""
        return [self.logical_name, *self.aliases]

    @classmethod
    def job_property(
        cls, logical_name: str, member: str, data_type: str, description: str
    ) -> OutputSpec:
        """A member of the step's Describe* response, not a file: ``properties.<member>``,
        also found by the member's own name (``training_job_name`` / ``TrainingJobName``)."""
        return cls(
            logical_name=logical_name,
            aliases=[member],
            output_type=DependencyType.CUSTOM_PROPERTY,
            property_path=f"properties.{member}",
            data_type=data_type,
            description=description,
        )


def _logical_name(item: object) -> object:
    """The logical_name of a DependencySpec/OutputSpec or of its dict form (None if absent)."""
    if isinstance(item, dict):
        return item.get("logical_name")
    return getattr(item, "logical_name", None)


# Output types that are properties of the job (its name, its final metrics)
# rather than files the script writes: they need no contract output.
JOB_PROPERTY_OUTPUT_TYPES: frozenset[DependencyType] = frozenset({DependencyType.CUSTOM_PROPERTY})

# (has dependencies, has outputs) of each node type: its place in the DAG.
_NODE_SHAPES: dict[NodeType, tuple[bool, bool]] = {
    NodeType.SOURCE: (False, True),
    NodeType.INTERNAL: (True, True),
    NodeType.SINK: (True, False),
    NodeType.SINGULAR: (False, False),
}

# The contract flavour each SageMaker step type runs (Model/RegisterModel run none; a
# Transform step's model server imports an inference script).
_CONTRACT_FOR_STEP_TYPE: dict[str, type[ScriptContract]] = {
    "Training": TrainingScriptContract,
    "Tuning": TrainingScriptContract,
    "Processing": ProcessingScriptContract,
    "Transform": ServingScriptContract,
}


@dataclass(frozen=True)
class AlignmentIssue:
    """One contract↔spec disagreement: an error or a warning, what is wrong, what to change."""

    is_error: bool
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}"


@dataclass(frozen=True)
class AlignmentResult:
    """Outcome of a spec↔contract check: errors make it invalid, warnings do not."""

    is_valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class StepSpecification(BaseModel):
    """A step: its type, its SageMaker type, dependencies, outputs and script contract."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    step_type: str
    sagemaker_step_type: SageMakerStepType
    node_type: NodeType
    dependencies: dict[str, DependencySpec] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)
    script_contract: ScriptContract | None = None
    description: str = ""

    @field_validator("dependencies", "outputs", mode="before")
    @classmethod
    def _list_to_dict(cls, value: object, info: ValidationInfo) -> object:
        # Accept a list of specs and key it by logical name. Either way, a name used
        # twice (case-insensitively: the resolver matches names so) is refused, and a
        # dict's keys must be the logical names the look-ups use.
        if isinstance(value, list):
            items = [(_logical_name(item), item) for item in value]
        elif isinstance(value, dict):
            items = list(value.items())
            for key, item in items:
                name = _logical_name(item)
                if name is not None and key != name:
                    raise ValueError(
                        f"{info.field_name}[{key!r}] holds logical_name {name!r}; key each "
                        "entry by its logical_name (or pass a list)"
                    )
        else:
            return value
        seen: dict[str, str] = {}
        for name, _ in items:
            if not isinstance(name, str):
                continue
            if name.lower() in seen:
                raise ValueError(
                    f"{info.field_name}: logical name {name!r} appears twice"
                    + (f" (as {seen[name.lower()]!r})" if seen[name.lower()] != name else "")
                    + "; names are unique case-insensitively"
                )
            seen[name.lower()] = name
        return dict(items)

    @model_validator(mode="after")
    def _rules(self) -> StepSpecification:
        self._check_node_type()
        self._check_unique_output_names()
        self._check_property_paths()
        return self

    def _check_node_type(self) -> None:
        has = (bool(self.dependencies), bool(self.outputs))
        if has == _NODE_SHAPES[self.node_type]:
            return
        fitting = next(t for t, shape in _NODE_SHAPES.items() if shape == has)
        deps, outs = _NODE_SHAPES[self.node_type]
        raise ValueError(
            f"{self.step_type}: a {self.node_type.value} node must have "
            f"{'at least one dependency' if deps else 'no dependencies'} and "
            f"{'at least one output' if outs else 'no outputs'}; it has "
            f"{len(self.dependencies)} dependencies and {len(self.outputs)} outputs, the "
            f"shape of node type {fitting.value!r}: set node_type=NodeType.{fitting.name}, or "
            "change its dependencies/outputs"
        )

    def _check_unique_output_names(self) -> None:
        seen: dict[str, str] = {}
        for out in self.outputs.values():
            for name in out.names:
                key = name.lower()
                if key in seen:
                    raise ValueError(
                        f"{self.step_type}: output name or alias {name!r} is also used by "
                        f"output {seen[key]!r} (names are unique case-insensitively)"
                    )
                seen[key] = out.logical_name

    def _check_property_paths(self) -> None:
        from simulator.properties import check_property_path

        for out in self.outputs.values():
            result = check_property_path(self.sagemaker_step_type.value, out.property_path)
            if not result.valid:
                raise ValueError(
                    f"{self.step_type}: output {out.logical_name!r} has property_path "
                    f"{out.property_path!r}, which SageMaker rejects for a "
                    f"{self.sagemaker_step_type.value} step: {'; '.join(result.errors)}"
                )

    def validate_contract_alignment(self) -> AlignmentResult:
        """Check that the script contract and this spec describe the same step.

        Errors: a contract input with no dependency of that logical name; a
        contract output with no output of that name or alias; a contract of the
        wrong flavour for the SageMaker step type. Warnings: a dependency or an
        output with no contract counterpart (outputs that are properties of the
        job — its name, its metrics — are exempt: no file backs them). Each
        message starts with the step type and ends with what to change.
        """
        issues = self.contract_alignment_issues()
        errors = [f"{self.step_type}: {i}" for i in issues if i.is_error]
        warnings = [f"{self.step_type}: {i}" for i in issues if not i.is_error]
        return AlignmentResult(is_valid=not errors, errors=errors, warnings=warnings)

    def contract_alignment_issues(self) -> list[AlignmentIssue]:
        """The findings of :meth:`validate_contract_alignment`, with message and fix apart."""
        contract = self.script_contract
        expected = _CONTRACT_FOR_STEP_TYPE.get(self.sagemaker_step_type.value)
        step = self.sagemaker_step_type.value
        if contract is None:
            # Model, RegisterModel and Transform steps run no script of ours.
            if expected is None:
                return []
            return [
                AlignmentIssue(
                    False,
                    f"a {step} step runs a script, but the spec has no script contract to "
                    "align with",
                    f"set script_contract to the {expected.__name__} of its entry point",
                )
            ]
        issues: list[AlignmentIssue] = []
        if expected is not None and not isinstance(contract, expected):
            issues.append(
                AlignmentIssue(
                    True,
                    f"a {step} step runs a {expected.__name__}, but its contract "
                    f"({contract.entry_point}) is a {type(contract).__name__}",
                    f"declare the contract as a {expected.__name__}",
                )
            )
        for name, path in contract.expected_input_paths.items():
            if name not in self.dependencies:
                issues.append(
                    AlignmentIssue(
                        True,
                        f"contract input {name!r} ({path}) has no dependency of that name "
                        f"(dependencies: {', '.join(self.dependencies) or 'none'})",
                        f"add DependencySpec(logical_name={name!r}, …) to the spec, or remove "
                        f"{name!r} from the contract's expected_input_paths",
                    )
                )
        for name, path in contract.expected_output_paths.items():
            if self.get_output_by_name_or_alias(name) is None:
                issues.append(
                    AlignmentIssue(
                        True,
                        f"contract output {name!r} ({path}) has no output of that name or "
                        f"alias (outputs: {', '.join(self.outputs) or 'none'})",
                        f"add OutputSpec(logical_name={name!r}, …) to the spec, give an "
                        f"output the alias {name!r}, or remove {name!r} from the contract's "
                        "expected_output_paths",
                    )
                )
        if contract.data_over_http:  # records in requests, outputs in responses
            return issues
        for name in self.dependencies:
            if name not in contract.expected_input_paths:
                issues.append(
                    AlignmentIssue(
                        False,
                        f"dependency {name!r} has no contract input; the script will not "
                        "find it at a declared path",
                        f"add {name!r} to the contract's expected_input_paths, or remove "
                        "the dependency",
                    )
                )
        contract_outputs = {n.lower() for n in contract.expected_output_paths}
        for out in self.outputs.values():
            if out.output_type in JOB_PROPERTY_OUTPUT_TYPES:
                continue
            if not contract_outputs & {n.lower() for n in out.names}:
                issues.append(
                    AlignmentIssue(
                        False,
                        f"output {out.logical_name!r} ({out.property_path}) has no contract "
                        "output; nothing in the script writes it",
                        f"add {out.logical_name!r} to the contract's expected_output_paths, "
                        f"or make it a {DependencyType.CUSTOM_PROPERTY.value} output if it "
                        "is a property of the job rather than a file",
                    )
                )
        return issues

    def get_output_by_name_or_alias(self, name: str) -> OutputSpec | None:
        """The output whose logical name or alias is ``name`` (case-insensitive)."""
        key = name.lower()
        for out in self.outputs.values():
            if key in (n.lower() for n in out.names):
                return out
        return None

    def get_dependency(self, name: str) -> DependencySpec | None:
        """The dependency with logical name ``name``."""
        return self.dependencies.get(name)

    @property
    def required_dependencies(self) -> list[DependencySpec]:
        """Dependencies the step cannot run without."""
        return [d for d in self.dependencies.values() if d.required]

    @property
    def optional_dependencies(self) -> list[DependencySpec]:
        """Dependencies the step can run without."""
        return [d for d in self.dependencies.values() if not d.required]
