"""Level 4: every spec output's property path against the SageMaker API model.

- The path must exist in the Describe* response of the spec's SageMaker step
  type (:func:`simulator.properties.check_property_path`, botocore's shapes).
- A look-up by name must name something the step produces:
  ``ProcessingOutputConfig.Outputs['x']`` — ``x`` must be one of the processing
  step's ProcessingOutput names, which by our convention are its contract's
  output logical names (OutputName == logical name); and it must be the
  output's own name or alias (else the spec reaches another output's data).
  ``FinalMetricDataList['m']`` / ``MetricDefinitions['m']`` — ``m`` must be a
  metric of the training job's MetricDefinitions. Specs do not carry
  MetricDefinitions (their training contracts do), so such a look-up is a
  warning naming the metric definition to add, unless ``metric_names`` are
  passed in.
- Each MetricDefinition's regex must match a ``key=value`` line the training
  script builds (an f-string found by the static analysis, its unknown parts
  taken as a number): SageMaker scrapes the job's log with it, and a regex
  that never matches leaves the metric out of FinalMetricDataList. A warning,
  not an error: a line assembled at run time (``" ".join(...)``) is invisible
  to the analysis.
"""

from __future__ import annotations

import re

from simulator.alignment.report import Finding, error, warning
from simulator.alignment.script_facts import UNKNOWN, ScriptFacts
from simulator.errors import PropertyPathError
from simulator.properties import check_property_path, parse_property_path
from specs.base import OutputSpec, SageMakerStepType, StepSpecification

LEVEL = 4
_METRIC_LISTS = ("FinalMetricDataList", "MetricDefinitions")


def check_spec_sagemaker(
    spec: StepSpecification, *, metric_names: list[str] | None = None
) -> list[Finding]:
    """Level-4 findings of every output of ``spec``."""
    output_names = _processing_output_names(spec)
    findings: list[Finding] = []
    for out in spec.outputs.values():
        findings += _check_output(spec, out, output_names, metric_names)
    return findings


def _processing_output_names(spec: StepSpecification) -> list[str] | None:
    if spec.sagemaker_step_type is not SageMakerStepType.PROCESSING:
        return None
    if spec.script_contract is None:
        return None
    return list(spec.script_contract.expected_output_paths)


def _check_output(
    spec: StepSpecification,
    out: OutputSpec,
    output_names: list[str] | None,
    metric_names: list[str] | None,
) -> list[Finding]:
    step_type = spec.sagemaker_step_type.value
    where = f"spec {spec.step_type}.outputs[{out.logical_name!r}].property_path"
    check = check_property_path(
        step_type, out.property_path, output_names=output_names, metric_names=metric_names
    )
    if check.suggestion:
        fix = f"set property_path={check.suggestion!r}"
    else:
        fix = (
            f"use a path of the {step_type} step's Describe* response; try candidates with "
            f"`smsim paths check --step-type {step_type} PATH`"
        )
    findings = [
        error(
            LEVEL,
            spec.step_type,
            "property_path.invalid",
            f"output {out.logical_name!r}: property_path {out.property_path!r} is invalid for "
            # The failing prefix is worth repeating only when it is not the whole path.
            f"a {step_type} step: {msg.removeprefix(out.property_path + ': ')}",
            fix,
            location=where,
        )
        for msg in check.errors
    ]
    findings += [
        warning(
            LEVEL,
            spec.step_type,
            "property_path.warning",
            f"output {out.logical_name!r}: {msg}",
            location=where,
        )
        for msg in check.warnings
    ]
    if not check.valid:
        return findings
    try:
        segments = parse_property_path(out.property_path).segments
    except PropertyPathError:  # pragma: no cover - check_property_path parsed it already
        return findings
    for i, seg in enumerate(segments[:-1]):
        nxt = segments[i + 1]
        if seg.kind != "member" or nxt.kind != "key":
            continue
        key = str(nxt.value)
        if seg.value == "Outputs" and output_names is not None:
            if key.lower() not in (n.lower() for n in out.names):
                findings.append(
                    error(
                        LEVEL,
                        spec.step_type,
                        "property_path.other_output",
                        f"output {out.logical_name!r} reads Outputs[{key!r}], the "
                        f"ProcessingOutput of contract output {key!r}, not its own",
                        f"use Outputs[{out.logical_name!r}] (OutputName is the contract's "
                        "output logical name)",
                        location=where,
                    )
                )
        elif seg.value in _METRIC_LISTS and metric_names is None:
            findings.append(
                warning(
                    LEVEL,
                    spec.step_type,
                    "property_path.metric_unknown",
                    f"output {out.logical_name!r} looks up metric {key!r} in {seg.value}, "
                    "but the step's MetricDefinitions are not known here, so it cannot be "
                    "checked",
                    f"make sure the training job defines MetricDefinitions "
                    f"[{{'Name': {key!r}, 'Regex': ...}}] matching a line the script prints, "
                    "or reach the whole list (properties.FinalMetricDataList)",
                    location=where,
                )
            )
    return findings


def check_metric_definitions(
    spec: StepSpecification, definitions: list[dict[str, str]], facts: ScriptFacts
) -> list[Finding]:
    """Each metric definition's regex matches a ``key=value`` line the script builds."""
    samples = [text.replace(UNKNOWN, "0.5") for text, _ in facts.texts]
    findings = []
    for i, definition in enumerate(definitions):
        name, regex = definition.get("Name", ""), definition.get("Regex", "")
        where = f"MetricDefinitions[{i}] of {spec.step_type}"
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            findings.append(
                error(
                    LEVEL,
                    spec.step_type,
                    "metric_definition.regex",
                    f"metric {name!r}: regex {regex!r} does not compile: {exc}",
                    "fix the regex (SageMaker rejects the training job)",
                    location=where,
                )
            )
            continue
        if not any(pattern.search(sample) for sample in samples):
            key = regex.split("=")[0] if "=" in regex else name
            findings.append(
                warning(
                    LEVEL,
                    spec.step_type,
                    "metric_definition.unmatched",
                    f"metric {name!r}: regex {regex!r} matches no line {facts.entry.name} "
                    "builds, so FinalMetricDataList will not hold it",
                    f"print a line such as '{key}=<value>' in the script, or change the regex",
                    location=where,
                )
            )
    return findings
