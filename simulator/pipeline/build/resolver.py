"""Spec-driven dependency resolution: which upstream output feeds each dependency.

For every dependency of a step, every output of each *direct* upstream step
(an edge of the DAG) is scored; the best one scoring at least
:data:`THRESHOLD` is chosen. The score, from 0 to 1, is a weighted sum:

==================  ======  =====================================================
component           weight  1.0 when …
==================  ======  =====================================================
type                 0.25   the output type equals the dependency type (0.6 of
                            it for a compatible other type). A **hard gate**: an
                            incompatible type scores 0 overall, whatever the rest.
data_type            0.10   the data types are equal (``S3Uri``, ``String`` …)
name                 0.30   the dependency's logical name equals the output's
                            logical name or an alias (normalised: case, ``_``,
                            ``-`` and camelCase ignored); otherwise half the best
                            string / word-overlap similarity
source               0.25   the producer's step type is in the dependency's
                            ``compatible_sources`` (0.5 when it lists none)
keywords             0.10   two or more ``semantic_keywords`` appear in the
                            output's names or description (0.5 when none given)
==================  ======  =====================================================

Type and data type alone (0.35) do not pass the threshold: a match also needs
its name (an alias equal to the dependency's name: +0.30) or its producer (a
listed compatible source: +0.25). A same-typed output of a listed source is
accepted whatever its name (0.60); a name that is merely similar earns at
most 0.15, so an output of an unlisted step type with a look-alike name
stays below 0.5 unless its keywords match too. A dependency that states no
preference at all (no compatible sources, no keywords) takes any same-typed
output (0.35 + 0.125 + 0.05 = 0.525).

Compatible types (dependency ← output): training data and processing output
feed each other (a preprocessing step's output *is* training data); payload
samples may come from a processing output; model artifacts, hyperparameters
and custom properties only from their own type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from simulator.errors import Problem, SmsimError, ValidationError
from specs.base import (
    TRAINING_STEP_TYPES,
    DependencySpec,
    DependencyType,
    OutputSpec,
    StepSpecification,
)

__all__ = [
    "THRESHOLD",
    "WEIGHTS",
    "Candidate",
    "MatchScore",
    "Resolution",
    "UnresolvedDependencyError",
    "resolve_dag",
    "resolve_step",
    "score_match",
    "supplied_by_request",
]

THRESHOLD = 0.5

WEIGHTS: dict[str, float] = {
    "type": 0.25,
    "data_type": 0.10,
    "name": 0.30,
    "source": 0.25,
    "keywords": 0.10,
}
# Share of the type weight a compatible-but-different type earns.
_COMPATIBLE_TYPE_SHARE = 0.6
# Share of the name weight a similar (not equal) name earns at most.
_PARTIAL_NAME = 0.5
# Share of a component earned when the dependency expresses no preference.
_NEUTRAL = 0.5

_DT = DependencyType
_COMPATIBLE: dict[DependencyType, frozenset[DependencyType]] = {
    _DT.MODEL_ARTIFACTS: frozenset({_DT.MODEL_ARTIFACTS}),
    _DT.TRAINING_DATA: frozenset({_DT.TRAINING_DATA, _DT.PROCESSING_OUTPUT}),
    _DT.PROCESSING_OUTPUT: frozenset({_DT.PROCESSING_OUTPUT, _DT.TRAINING_DATA}),
    _DT.HYPERPARAMETERS: frozenset({_DT.HYPERPARAMETERS}),
    _DT.PAYLOAD_SAMPLES: frozenset({_DT.PAYLOAD_SAMPLES, _DT.PROCESSING_OUTPUT}),
    _DT.CUSTOM_PROPERTY: frozenset({_DT.CUSTOM_PROPERTY}),
}


@dataclass
class MatchScore:
    """A score in [0, 1] and its weighted components (they sum to ``total``)."""

    total: float
    breakdown: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in self.breakdown.items())
        return f"{self.total:.2f} ({parts})"


@dataclass
class Candidate:
    """One upstream output considered for a dependency."""

    step_name: str
    output: OutputSpec
    score: MatchScore

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step_name,
            "output": self.output.logical_name,
            "property_path": self.output.property_path,
            "score": round(self.score.total, 3),
            "breakdown": {k: round(v, 3) for k, v in self.score.breakdown.items()},
        }


@dataclass
class Resolution:
    """How one dependency of one step was resolved (``chosen`` None: unresolved)."""

    step_name: str
    dependency: DependencySpec
    chosen: Candidate | None
    candidates: list[Candidate] = field(default_factory=list)

    def describe_candidates(self, limit: int = 5) -> str:
        if not self.candidates:
            return "no upstream outputs"
        return "; ".join(
            f"{c.step_name}.{c.output.logical_name} {c.score.describe()}"
            for c in self.candidates[:limit]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step_name,
            "dependency": self.dependency.logical_name,
            "required": self.dependency.required,
            "chosen": self.chosen.to_dict() if self.chosen else None,
            "candidates": [c.to_dict() for c in self.candidates],
        }


class UnresolvedDependencyError(SmsimError):
    """A required dependency with no upstream output scoring at least :data:`THRESHOLD`."""

    def __init__(self, unresolved: list[Resolution]) -> None:
        self.unresolved = unresolved
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{len(self.unresolved)} required dependenc(ies) cannot be wired:"]
        for res in self.unresolved:
            dep = res.dependency
            lines.append(
                f"  - {res.step_name}.{dep.logical_name} ({dep.dependency_type.value}, "
                f"{dep.data_type}) has no upstream output scoring >= {THRESHOLD}; "
                f"candidates: {res.describe_candidates()}"
            )
        lines.append(
            "  Fix: add a DAG edge from a step producing it, name that step type in "
            "compatible_sources, or give the output an alias equal to the dependency's "
            "logical name."
        )
        return "\n".join(lines)


# ---------------------------------------------------------------- scoring


def score_match(
    dep: DependencySpec, producer_spec: StepSpecification, output: OutputSpec
) -> MatchScore:
    """Score ``output`` of ``producer_spec`` as the source of ``dep`` (see module doc)."""
    if output.output_type not in _COMPATIBLE[dep.dependency_type]:
        return MatchScore(0.0, {"type": 0.0})
    parts = {
        "type": 1.0 if output.output_type == dep.dependency_type else _COMPATIBLE_TYPE_SHARE,
        "data_type": 1.0 if output.data_type == dep.data_type else 0.0,
        "name": _name_similarity(dep.logical_name, output.names),
        "source": _source_score(dep, producer_spec),
        "keywords": _keyword_score(dep, output),
    }
    breakdown = {k: WEIGHTS[k] * v for k, v in parts.items()}
    return MatchScore(round(sum(breakdown.values()), 6), breakdown)


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _name_similarity(dep_name: str, names: list[str]) -> float:
    dep_tokens = _tokens(dep_name)
    dep_joined = "".join(dep_tokens)
    best = 0.0
    for name in names:
        tokens = _tokens(name)
        if "".join(tokens) == dep_joined:
            return 1.0
        ratio = SequenceMatcher(None, dep_joined, "".join(tokens)).ratio()
        union = set(dep_tokens) | set(tokens)
        overlap = len(set(dep_tokens) & set(tokens)) / len(union) if union else 0.0
        best = max(best, _PARTIAL_NAME * max(ratio, overlap))
    return best


def _source_score(dep: DependencySpec, producer: StepSpecification) -> float:
    if not dep.compatible_sources:
        return _NEUTRAL
    return 1.0 if producer.step_type in dep.compatible_sources else 0.0


def _keyword_score(dep: DependencySpec, output: OutputSpec) -> float:
    if not dep.semantic_keywords:
        return _NEUTRAL
    words = set(_tokens(output.description))
    joined_names = set()
    for name in output.names:
        tokens = _tokens(name)
        words.update(tokens)
        joined_names.add("".join(tokens))
    hits = sum(
        1
        for kw in dep.semantic_keywords
        if "".join(_tokens(kw)) in joined_names or set(_tokens(kw)) <= words
    )
    return min(1.0, hits / 2)


# ---------------------------------------------------------------- resolution


def supplied_by_request(spec: StepSpecification, dep: DependencySpec) -> str | None:
    """Why the job request itself supplies ``dep`` (no upstream step needed), or None."""
    if (
        spec.sagemaker_step_type in TRAINING_STEP_TYPES
        and dep.dependency_type is DependencyType.HYPERPARAMETERS
    ):
        return (
            "the CreateTrainingJob request's HyperParameters (SageMaker writes them to "
            "/opt/ml/input/config/hyperparameters.json)"
        )
    return None


def resolve_step(
    step_name: str, spec: StepSpecification, upstream: dict[str, StepSpecification]
) -> list[Resolution]:
    """Resolve every dependency of ``spec`` against the outputs of ``upstream`` steps.

    ``upstream`` is keyed by pipeline step name; ``compatible_sources`` name the
    producers' ``step_type``. Candidates are sorted best first (ties keep the
    upstream and output order); an incompatible type scores 0 and stays last.
    """
    resolutions = []
    for dep in spec.dependencies.values():
        candidates = [
            Candidate(up_name, out, score_match(dep, up_spec, out))
            for up_name, up_spec in upstream.items()
            for out in up_spec.outputs.values()
        ]
        candidates.sort(key=lambda c: -c.score.total)
        best = candidates[0] if candidates else None
        chosen = best if best is not None and best.score.total >= THRESHOLD else None
        resolutions.append(Resolution(step_name, dep, chosen, candidates))
    return resolutions


def resolve_dag(
    steps: dict[str, StepSpecification], edges: list[tuple[str, str]]
) -> dict[str, list[Resolution]]:
    """Resolve every step of a DAG (step name → spec; edges upstream → downstream).

    Raises :class:`UnresolvedDependencyError` listing every required dependency
    left without a candidate scoring at least :data:`THRESHOLD` (optional ones
    are returned unresolved), and ``ValidationError`` for an edge naming an
    unknown step.
    """
    problems = [
        Problem(f"edges[{i}]", "names a step that is not in the DAG", name, _known(steps))
        for i, edge in enumerate(edges)
        for name in edge
        if name not in steps
    ]
    if problems:
        raise ValidationError("dependency resolution", problems)
    result: dict[str, list[Resolution]] = {}
    unresolved: list[Resolution] = []
    for name, spec in steps.items():
        upstream = {up: steps[up] for up, down in edges if down == name}
        result[name] = resolve_step(name, spec, upstream)
        unresolved += [r for r in result[name] if r.dependency.required and r.chosen is None]
    if unresolved:
        raise UnresolvedDependencyError(unresolved)
    return result


def _known(steps: dict[str, StepSpecification]) -> str:
    return f"use one of: {', '.join(sorted(steps))}"
