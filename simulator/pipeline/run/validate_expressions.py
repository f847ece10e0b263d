"""Static validation of a pipeline definition's expressions: Get, Std:JsonGet, Join...

SageMaker resolves a step's expressions when the step runs and fails it when one does not
resolve; smsim checks them when the definition is created, against botocore's model:
``Parameters.<name>`` declared, ``Execution.<variable>`` known, ``Steps.<name>`` existing
and its property path valid for that step's type (the Describe* shape), the type it reaches
fitting where it is used; each ``Std:JsonGet`` PropertyFile declared by the step it names,
its Path valid JSONPath. The structure of the definition is checked in
:mod:`simulator.pipeline.run.validate`.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import Shape
from jsonpath_ng.ext import parse as parse_jsonpath

from simulator.pipeline.run.definition import (
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
    shape,
)

_PARAMETER_TYPES = {
    "String": "string",
    "Integer": "integer",
    "Float": "float",
    "Boolean": "boolean",
}


class ExpressionChecks:
    """The expression checks of the definition checker (``problem``/``unknown`` are its)."""

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
                msg = f"Get {ref!r}: no parameter {name!r} is declared"
                return self.unknown(sname, path, msg, name, self.defn.parameters)
            return _PARAMETER_TYPES[param.type]
        if root == "Execution":
            if name not in EXECUTION_VARIABLES:
                msg = f"Get {ref!r}: {name!r} is not an execution variable"
                return self.unknown(sname, path, msg, name, EXECUTION_VARIABLES)
            job_var = {"TrainingJobName": "Training", "ProcessingJobName": "Processing"}
            if name in job_var and (step is None or step.type != job_var[name]):
                self.problem(
                    sname,
                    path,
                    f"Get {ref!r} is defined only in a {job_var[name]} step's Arguments",
                )
            return "string"
        if root != "Steps":
            msg = f"Get {ref!r}: a reference starts with Parameters., Execution. or Steps."
            return self.unknown(sname, path, msg, root, ["Parameters", "Execution", "Steps"])
        target = self.defn.steps.get(name)
        if target is None:
            msg = f"Get {ref!r}: no step {name!r} in this pipeline"
            return self.unknown(sname, path, msg, name, self.defn.steps)
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
        if target.type in ("Lambda", "Callback"):
            # Their properties are the OutputParameters they declare.
            declared = [o.get("OutputName") for o in target.raw.get("OutputParameters") or []]
            match = re.fullmatch(r"""\.?OutputParameters\[['"]([^'"]+)['"]\]""", rest)
            if match is None or match.group(1) not in declared:
                self.problem(
                    sname,
                    path,
                    f"Get {ref!r}: {target.type} step {name!r} has OutputParameters {declared}",
                    f"use Steps.{name}.OutputParameters['<name>'] with a declared name",
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


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
