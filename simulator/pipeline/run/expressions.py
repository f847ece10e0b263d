"""Pipeline expressions: ``Get``, ``Std:Join`` and ``Std:JsonGet``, found and evaluated.

These are the three functions the SageMaker SDK writes into a definition
(``sagemaker.workflow.functions``, ``parameters``, ``execution_variables``,
``properties``). Anywhere a request value may stand, an expression may stand instead:

- ``{"Get": "Parameters.<name>"}``, ``{"Get": "Execution.<variable>"}``,
  ``{"Get": "Steps.<step>.<property path>"}``;
- ``{"Std:Join": {"On": sep, "Values": [...]}}`` — values turned into strings and joined;
- ``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.<step>.PropertyFiles.<name>"} | "S3Uri":
  <value>, "Path": <JSONPath>}}`` — a value read from a JSON file in S3. The path is real
  JSONPath (jsonpath-ng), where the SDK's local mode only splits dotted keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any, Protocol

from jsonpath_ng.ext import parse as parse_jsonpath

from simulator.errors import SmsimError

EXPRESSION_KEYS: tuple[str, ...] = ("Get", "Std:Join", "Std:JsonGet")
# SageMaker's execution variables (SDK ExecutionVariables). TrainingJobName and
# ProcessingJobName are the job of the step whose arguments are being evaluated.
EXECUTION_VARIABLES: tuple[str, ...] = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
    "TrainingJobName",
    "ProcessingJobName",
)


class ExpressionError(SmsimError):
    """An expression that is malformed or cannot be evaluated; the message says where."""


class EvaluationContext(Protocol):
    """What evaluating an expression needs from a running execution."""

    def parameter(self, name: str) -> Any: ...

    def execution_variable(self, name: str) -> Any: ...

    def step_property(self, step: str, path: str) -> Any:
        """Value of ``Steps.<step>.<path>`` (``path`` without the ``Steps.<step>.`` prefix)."""
        ...

    def property_file(self, step: str, name: str) -> Any:
        """The decoded JSON document of ``step``'s property file ``name``."""
        ...

    def read_json(self, s3_uri: str) -> Any: ...


def expression_kind(value: Any) -> str | None:
    """``"Get"``, ``"Std:Join"`` or ``"Std:JsonGet"`` when ``value`` is an expression."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        if key in EXPRESSION_KEYS:
            return key
    return None


def iter_expressions(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Outermost expressions inside ``value`` with their location (``A.B[0].C`` style,
    the notation of botocore's validator)."""
    if expression_kind(value):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_expressions(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from iter_expressions(item, f"{path}[{i}]")


def iter_gets(value: Any) -> Iterator[str]:
    """Every ``Get`` reference string anywhere in ``value``, nested ones included."""
    if isinstance(value, dict):
        if expression_kind(value) == "Get" and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from iter_gets(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_gets(item)


def split_reference(ref: str) -> tuple[str, str, str]:
    """``"Steps.A.ModelArtifacts.X"`` → ``("Steps", "A", "ModelArtifacts.X")``;
    ``"Parameters.P"`` → ``("Parameters", "P", "")``; ``"Execution.V"`` likewise.
    A step name ends at the first ``.`` or ``[`` (SageMaker step names hold neither)."""
    root, _, rest = ref.partition(".")
    if root != "Steps":
        return root, rest, ""
    cut = len(rest)
    for sep in (".", "["):
        idx = rest.find(sep)
        if idx != -1:
            cut = min(cut, idx)
    name, tail = rest[:cut], rest[cut:]
    return root, name, tail[1:] if tail.startswith(".") else tail


def step_references(value: Any) -> set[str]:
    """Names of the steps whose properties or property files ``value`` reads."""
    out = set()
    for ref in iter_gets(value):
        root, name, _ = split_reference(ref)
        if root == "Steps" and name:
            out.add(name)
    return out


def evaluate(value: Any, ctx: EvaluationContext) -> Any:
    """``value`` with every expression replaced by its value (recursively)."""
    kind = expression_kind(value)
    if kind == "Get":
        return _get(value["Get"], ctx)
    if kind == "Std:Join":
        return _join(value["Std:Join"], ctx)
    if kind == "Std:JsonGet":
        return _json_get(value["Std:JsonGet"], ctx)
    if isinstance(value, dict):
        return {k: evaluate(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, ctx) for v in value]
    return value


def to_string(value: Any) -> str:
    """How ``Std:Join`` renders a value: strings as is, booleans lower-case, numbers plainly,
    timestamps ISO 8601, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return json.dumps(value, default=str)


def json_path_find(document: Any, path: str, where: str) -> Any:
    """The value at JSONPath ``path`` in ``document``; ExpressionError naming ``where``
    (the file it came from) and the keys that exist when nothing matches."""
    try:
        matches = parse_jsonpath(path).find(document)
    except Exception as exc:  # jsonpath-ng's lexer raises bare Exceptions, not only its own
        raise ExpressionError(f"JsonGet Path {path!r} is not valid JSONPath: {exc}") from None
    if not matches:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise ExpressionError(
            f"JsonGet Path {path!r} matched nothing in {where}; its top level holds {keys}"
        )
    return matches[0].value if len(matches) == 1 else [m.value for m in matches]


def _get(ref: Any, ctx: EvaluationContext) -> Any:
    if not isinstance(ref, str):
        raise ExpressionError(f"Get needs a string reference; got {ref!r}")
    root, name, rest = split_reference(ref)
    if root == "Parameters":
        return ctx.parameter(name)
    if root == "Execution":
        return ctx.execution_variable(name)
    if root == "Steps":
        if not name or not rest:
            raise ExpressionError(f"Get {ref!r}: expected Steps.<step name>.<property path>")
        if rest.startswith("PropertyFiles."):
            raise ExpressionError(
                f"Get {ref!r}: a property file is read only through Std:JsonGet's PropertyFile"
            )
        return ctx.step_property(name, rest)
    raise ExpressionError(f"Get {ref!r}: a reference starts with Parameters., Execution. or Steps.")


def _join(body: Any, ctx: EvaluationContext) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
        raise ExpressionError(f"Std:Join needs {{'On': str, 'Values': [...]}}; got {body!r}")
    on = body.get("On", "")
    if not isinstance(on, str):
        raise ExpressionError(f"Std:Join 'On' must be a string; got {on!r}")
    return on.join(to_string(evaluate(v, ctx)) for v in body["Values"])


def _json_get(body: Any, ctx: EvaluationContext) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("Path"), str):
        raise ExpressionError(f"Std:JsonGet needs a string 'Path'; got {body!r}")
    path = body["Path"]
    if "PropertyFile" in body:
        step, name = property_file_reference(body["PropertyFile"])
        document = ctx.property_file(step, name)
        return json_path_find(document, path, f"property file {name!r} of step {step!r}")
    if "S3Uri" in body:
        uri = evaluate(body["S3Uri"], ctx)
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise ExpressionError(f"Std:JsonGet S3Uri must evaluate to an s3:// URI; got {uri!r}")
        return json_path_find(ctx.read_json(uri), path, uri)
    raise ExpressionError("Std:JsonGet needs a 'PropertyFile' or an 'S3Uri'")


def property_file_reference(value: Any) -> tuple[str, str]:
    """``{"Get": "Steps.S.PropertyFiles.N"}`` → ``("S", "N")``; ExpressionError otherwise."""
    ref = value.get("Get") if isinstance(value, dict) else None
    if isinstance(ref, str):
        root, step, rest = split_reference(ref)
        head, _, name = rest.partition(".")
        if root == "Steps" and step and head == "PropertyFiles" and name:
            return step, name
    raise ExpressionError(
        "Std:JsonGet PropertyFile must be {'Get': 'Steps.<step>.PropertyFiles.<name>'}; "
        f"got {value!r}"
    )
