"""Level 3: every required dependency of every spec can be wired to a producer.

Each spec's dependencies are resolved (:mod:`simulator.pipeline.build.resolver`)
against the outputs of every *other* registered spec, as if any of them could
run upstream. A required dependency with no candidate scoring at least the
resolver's threshold is an error that lists the best candidates with their
score breakdown; two best candidates with the same score are a warning
(the resolver would pick one by order, not by meaning).

One dependency needs no producer: a Training step's hyperparameters. SageMaker
writes the CreateTrainingJob request's ``HyperParameters`` to
``/opt/ml/input/config/hyperparameters.json`` itself, so the job request
supplies it (:func:`simulator.pipeline.build.resolver.supplied_by_request`; pipeline
assembly applies the same rule).
"""

from __future__ import annotations

from typing import Any

from simulator.alignment.report import Finding, error, warning
from simulator.pipeline.build.resolver import (
    THRESHOLD,
    Resolution,
    resolve_step,
    supplied_by_request,
)
from specs.base import StepSpecification

LEVEL = 3
_SHOWN_CANDIDATES = 3


def check_dependencies(
    specs: list[StepSpecification],
) -> tuple[list[Finding], dict[str, dict[str, dict[str, Any]]]]:
    """Level-3 findings, and the wiring shown to the user (step → dependency → wiring).

    Each wiring entry holds ``required``, ``chosen`` (the chosen candidate or
    None), ``candidates`` (the best few, with score breakdowns) and, for a
    dependency the job request supplies, ``supplied_by``.
    """
    findings: list[Finding] = []
    wiring: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in specs:
        upstream = {s.step_type: s for s in specs if s.step_type != spec.step_type}
        wiring[spec.step_type] = {}
        for res in resolve_step(spec.step_type, spec, upstream):
            dep = res.dependency
            supplied = supplied_by_request(spec, dep)
            wiring[spec.step_type][dep.logical_name] = {
                "required": dep.required,
                "supplied_by": supplied,
                "chosen": res.chosen.to_dict() if res.chosen and not supplied else None,
                "candidates": []
                if supplied
                else [c.to_dict() for c in res.candidates[:_SHOWN_CANDIDATES] if c.score.total > 0],
            }
            if supplied:
                continue
            if res.chosen is None:
                if dep.required:
                    findings.append(_unresolved(spec, res))
                continue
            tie = [c for c in res.candidates[1:] if c.score.total == res.chosen.score.total]
            if tie:
                findings.append(_ambiguous(spec, res, tie[0].step_name, tie[0].output.logical_name))
    return findings, wiring


def _unresolved(spec: StepSpecification, res: Resolution) -> Finding:
    dep = res.dependency
    viable = [c for c in res.candidates if c.score.total > 0]
    if viable:
        best = "; ".join(
            f"{c.step_name}.{c.output.logical_name} {c.score.describe()}"
            for c in viable[:_SHOWN_CANDIDATES]
        )
        detail = f"best candidates: {best}"
    else:
        detail = (
            f"no registered step has an output of a type compatible with "
            f"{dep.dependency_type.value}"
        )
    sources = ", ".join(dep.compatible_sources) or "none listed"
    return error(
        LEVEL,
        spec.step_type,
        "dependency.unresolved",
        f"required dependency {dep.logical_name!r} ({dep.dependency_type.value}, "
        f"{dep.data_type}) has no producer among the registered specs scoring >= "
        f"{THRESHOLD}; {detail}",
        f"register a spec whose step type is in compatible_sources ({sources}) with an output "
        f"of type {dep.dependency_type.value}, give the intended output an alias "
        f"{dep.logical_name!r}, or make the dependency optional",
        location=f"spec {spec.step_type}.dependencies[{dep.logical_name!r}]",
    )


def _ambiguous(spec: StepSpecification, res: Resolution, step: str, output: str) -> Finding:
    assert res.chosen is not None
    dep = res.dependency
    return warning(
        LEVEL,
        spec.step_type,
        "dependency.ambiguous",
        f"dependency {dep.logical_name!r}: {res.chosen.step_name}.{res.chosen.output.logical_name}"
        f" and {step}.{output} score the same ({res.chosen.score.total:.2f}); the resolver "
        "picks by order",
        f"add the intended producer's step type to compatible_sources or give its output "
        f"the alias {dep.logical_name!r}",
        location=f"spec {spec.step_type}.dependencies[{dep.logical_name!r}]",
    )
