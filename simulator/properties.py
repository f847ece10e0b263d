"""SageMaker property paths: parse, check against the API model, resolve.

A pipeline step's outputs are reached through property paths such as
``properties.ModelArtifacts.S3ModelArtifacts`` (a step spec) or
``Steps.Train.ModelArtifacts.S3ModelArtifacts`` (a ``Get`` in a pipeline
definition). Each walks the Describe* response of the step's SageMaker type
(``simulator.shapes.STEP_TYPE_ROOT_SHAPES``). The rules are the SDK's own
(``sagemaker.workflow.properties``) and the service's:

- ``.Member`` must be a member of the structure at that point;
- ``[n]`` applies only to a list;
- ``['key']`` applies to a list (look-up by the items' name field, e.g.
  ``FinalMetricDataList['val:loss']`` by ``MetricName``) or to a map;
- nothing may follow a scalar.

:func:`check_property_path` says whether SageMaker would accept a path, and
why not; :func:`resolve_property_path` evaluates one against a description
dict, the way the service does when a later step reads it.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.errors import PropertyPathError
from simulator.shapes import root_shape_for_step_type

__all__ = [
    "KEY_FIELDS",
    "ParsedPath",
    "PathCheck",
    "Segment",
    "check_property_path",
    "format_segments",
    "key_field_for",
    "parse_property_path",
    "resolve_property_path",
]

# Name field used by a `['key']` look-up on a list, by the list's item shape.
# These are the ones SageMaker pipelines resolve by name (the SDK's docs and
# the service's property resolution); `None` marks an item shape with no
# single name field even though some member ends in "Name".
KEY_FIELDS: dict[str, str | None] = {
    "MetricData": "MetricName",  # FinalMetricDataList['val:loss']
    "ProcessingOutput": "OutputName",  # ProcessingOutputConfig.Outputs['processed_data']
    "ProcessingInput": "InputName",  # ProcessingInputs['input']
    "Channel": "ChannelName",  # InputDataConfig['train']
    "MetricDefinition": "Name",  # AlgorithmSpecification.MetricDefinitions['val:loss']
    "AdditionalModelDataSource": "ChannelName",
    "ModelPackageStatusItem": "Name",
    "AdditionalInferenceSpecificationDefinition": "Name",
    "ContainerDefinition": None,  # ModelPackageName / InferenceSpecificationName: no key
    "ModelPackageContainerDefinition": None,  # NearestModelName is not an identity
}

_PREFIX_PROPERTIES = "properties"
_PREFIX_STEPS = "Steps"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STEP_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # SageMaker's step-name pattern, without dots
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Segment:
    """One step of a path: ``.Member``, ``[n]`` or ``['key']``."""

    kind: Literal["member", "index", "key"]
    value: str | int

    def __str__(self) -> str:
        if self.kind == "member":
            return f".{self.value}"
        if self.kind == "index":
            return f"[{self.value}]"
        return f"[{self.value!r}]"


@dataclass(frozen=True)
class ParsedPath:
    """A parsed path: the step it names (``Steps.<name>`` form, else None) and its segments."""

    step_name: str | None
    segments: list[Segment]

    def __str__(self) -> str:
        head = f"{_PREFIX_STEPS}.{self.step_name}" if self.step_name else _PREFIX_PROPERTIES
        return head + format_segments(self.segments)


@dataclass(frozen=True)
class PathCheck:
    """Whether SageMaker accepts a path. ``errors`` make it invalid; ``warnings`` do not."""

    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shape_name: str | None = None  # the shape the path ends on, when valid

    def to_dict(self) -> dict[str, Any]:
        """``{"valid", "errors", "warnings"}``, as the CLI prints it."""
        return {"valid": self.valid, "errors": list(self.errors), "warnings": list(self.warnings)}


def format_segments(segments: list[Segment]) -> str:
    """Segments back to text: ``.A.B['k'][0]``."""
    return "".join(str(s) for s in segments)


# --------------------------------------------------------------------------- parsing


def parse_property_path(path: str) -> ParsedPath:
    """Parse ``properties.A.B['k'].C[0]`` or ``Steps.<StepName>.A.B…``.

    Raises PropertyPathError (naming the position and what was expected) on
    text that is not a property path at all.
    """
    if not isinstance(path, str) or not path:
        raise PropertyPathError(f"property path must be a non-empty string, got {path!r}")
    step_name: str | None = None
    if (
        path == _PREFIX_PROPERTIES
        or path.startswith(_PREFIX_PROPERTIES + ".")
        or path.startswith(_PREFIX_PROPERTIES + "[")
    ):
        pos = len(_PREFIX_PROPERTIES)
    elif path.startswith(_PREFIX_STEPS + "."):
        match = _STEP_NAME.match(path, len(_PREFIX_STEPS) + 1)
        if not match:
            raise PropertyPathError(
                f"{path!r}: expected a step name after 'Steps.' (letters, digits, '-' and '_')"
            )
        step_name = match.group()
        pos = match.end()
        # The pipeline definition's form has no "properties." after the step name;
        # accept it anyway, since users copy it from the SDK's `.properties.` objects.
        if path.startswith("." + _PREFIX_PROPERTIES + ".", pos):
            pos += len(_PREFIX_PROPERTIES) + 1
    else:
        raise PropertyPathError(
            f"{path!r} must start with 'properties.' (a step spec) or 'Steps.<StepName>.' "
            "(a pipeline definition's Get), e.g. 'properties.ModelArtifacts.S3ModelArtifacts'"
        )
    return ParsedPath(step_name=step_name, segments=_parse_segments(path, pos))


def _parse_segments(path: str, pos: int) -> list[Segment]:
    segments: list[Segment] = []
    while pos < len(path):
        char = path[pos]
        if char == ".":
            match = _IDENT.match(path, pos + 1)
            if not match:
                raise PropertyPathError(
                    f"{path!r}: expected a member name after '.' at position {pos}"
                )
            segments.append(Segment("member", match.group()))
            pos = match.end()
        elif char == "[":
            index = _INDEX.match(path, pos)
            if index:
                segments.append(Segment("index", int(index.group(1))))
                pos = index.end()
            else:
                key, pos = _parse_key(path, pos)
                segments.append(Segment("key", key))
        else:
            raise PropertyPathError(
                f"{path!r}: unexpected {char!r} at position {pos}; "
                "expected '.Member', '[n]' or \"['key']\""
            )
    return segments


def _parse_key(path: str, pos: int) -> tuple[str, int]:
    """Parse ``['key']`` or ``["key"]`` starting at the ``[``; backslash escapes a quote."""
    quote = path[pos + 1] if pos + 1 < len(path) else ""
    if quote not in ("'", '"'):
        raise PropertyPathError(
            f"{path!r}: at position {pos} expected [n] (a non-negative integer) or a quoted "
            "key such as ['val:loss']"
        )
    chars: list[str] = []
    i = pos + 2
    while i < len(path):
        if path[i] == "\\" and i + 1 < len(path):
            chars.append(path[i + 1])
            i += 2
            continue
        if path[i] == quote:
            if path[i + 1 : i + 2] != "]":
                raise PropertyPathError(f"{path!r}: expected ']' after the key at position {i}")
            return "".join(chars), i + 2
        chars.append(path[i])
        i += 1
    raise PropertyPathError(f"{path!r}: unterminated key starting at position {pos}")


# --------------------------------------------------------------------------- checking


def key_field_for(item: Shape) -> str | None:
    """The member a ``['key']`` look-up matches on, for a list whose items are ``item``.

    :data:`KEY_FIELDS` first; otherwise the one member whose name ends in
    ``Name``, when there is exactly one; otherwise None (no name field).
    """
    if not isinstance(item, StructureShape):
        return None
    if item.name in KEY_FIELDS:
        return KEY_FIELDS[item.name]
    names = [m for m in item.members if m.endswith("Name")]
    return names[0] if len(names) == 1 else None


def check_property_path(
    step_type: str,
    path: str,
    *,
    output_names: list[str] | None = None,
    metric_names: list[str] | None = None,
) -> PathCheck:
    """Check ``path`` against the Describe* response of SageMaker step type ``step_type``.

    ``output_names`` (a processing step's ProcessingOutput names) and
    ``metric_names`` (a training step's metric definition names), when given,
    make a ``['key']`` look-up on ``ProcessingOutputConfig.Outputs`` /
    ``FinalMetricDataList`` / ``MetricDefinitions`` with a key not among them an
    **error**: SageMaker would fail that step at run time, and we know it now.
    A name look-up on a list whose items have no name field is a warning.
    """
    try:
        root = root_shape_for_step_type(step_type)
    except ValueError as exc:
        return PathCheck(valid=False, errors=[str(exc)])
    try:
        parsed = parse_property_path(path)
    except PropertyPathError as exc:
        return PathCheck(valid=False, errors=[str(exc)])
    # Item shapes whose names the caller declared (ProcessingOutputConfig.Outputs,
    # FinalMetricDataList, AlgorithmSpecification.MetricDefinitions).
    declared_names = {
        "ProcessingOutput": output_names,
        "MetricData": metric_names,
        "MetricDefinition": metric_names,
    }
    head = f"{_PREFIX_STEPS}.{parsed.step_name}" if parsed.step_name else _PREFIX_PROPERTIES
    errors: list[str] = []
    warnings: list[str] = []
    current: Shape = root
    for i, seg in enumerate(parsed.segments):
        where = head + format_segments(parsed.segments[:i])
        failing = head + format_segments(parsed.segments[: i + 1])
        what = _describe_shape(current)
        if seg.kind == "member":
            if not isinstance(current, StructureShape):
                errors.append(
                    f"{failing}: '{seg}' cannot follow {where}, which is the {what}"
                    + _after_non_structure_hint(current)
                )
                break
            if seg.value not in current.members:
                errors.append(
                    f"{failing}: {seg.value!r} is not a member of {where} ({what})"
                    + _member_suggestions(current, str(seg.value), where, parsed.segments[i + 1 :])
                )
                break
            current = current.members[str(seg.value)]
        elif seg.kind == "index":
            if not isinstance(current, ListShape):
                errors.append(
                    f"{failing}: '[{seg.value}]' applies only to a list; {where} is the {what}"
                    + _after_non_structure_hint(current)
                )
                break
            current = current.member
        else:  # key
            if isinstance(current, MapShape):
                current = current.value
                continue
            if not isinstance(current, ListShape):
                errors.append(
                    f"{failing}: '[{seg.value!r}]' applies only to a list (look-up by name) "
                    f"or a map; {where} is the {what}" + _after_non_structure_hint(current)
                )
                break
            item = current.member
            key_field = key_field_for(item)
            if key_field is None:
                warnings.append(
                    f"{failing}: look-up by name on {where} ({what}), whose items have no "
                    f"name field; SageMaker cannot match {seg.value!r} at run time — use an "
                    "index [n]"
                )
            else:
                known = declared_names.get(item.name)
                if known is not None and seg.value not in known:
                    errors.append(
                        f"{failing}: no item of {where} has {key_field} {seg.value!r}; "
                        f"declared: {', '.join(map(repr, known)) or 'none'}"
                        + _did_you_mean(str(seg.value), list(known))
                    )
                    break
            current = item
    if errors:
        return PathCheck(valid=False, errors=errors, warnings=warnings)
    return PathCheck(valid=True, warnings=warnings, shape_name=current.name)


def _describe_shape(s: Shape) -> str:
    if isinstance(s, StructureShape):
        return f"structure {s.name}"
    if isinstance(s, ListShape):
        return f"list {s.name} (items: {_describe_shape(s.member)})"
    if isinstance(s, MapShape):
        return f"map {s.name} ({s.key.type_name} → {s.value.type_name})"
    return f"scalar {s.name} ({s.type_name})"


def _after_non_structure_hint(s: Shape) -> str:
    if isinstance(s, StructureShape):
        members = sorted(s.members)
        return f"; its members: {', '.join(members[:12])}{', …' if len(members) > 12 else ''}"
    if isinstance(s, ListShape):
        key = key_field_for(s.member)
        by_name = f" or ['<{key}>']" if key else ""
        return f"; select an item first with [n]{by_name}"
    if isinstance(s, MapShape):
        return "; select an entry first with ['key']"
    return "; nothing can follow a scalar"


def _member_suggestions(s: StructureShape, name: str, where: str, rest: list[Segment]) -> str:
    """Did-you-mean for an unknown member: close names, a dropped prefix, the member elsewhere."""
    members = list(s.members)
    hints: list[str] = []
    # `TrainingJobDefinition.OutputDataConfig…`: the rest of the path exists right here.
    if rest and rest[0].kind == "member" and rest[0].value in s.members:
        hints.append(f"did you mean {where}{format_segments(rest)}?")
    close = _close_members(name, members)
    if close:
        hints.append(f"closest members: {', '.join(close)}")
    elsewhere = _find_member_elsewhere(s, name)
    if elsewhere:
        hints.append(f"{name!r} exists deeper, at {', '.join(where + e for e in elsewhere)}")
    if not hints:
        more = ", …" if len(members) > 20 else ""
        hints.append(f"members: {', '.join(sorted(members)[:20])}{more}")
    return "; " + "; ".join(hints)


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def _words(name: str) -> set[str]:
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return {p.lower().removesuffix("s") for p in parts if len(p) > 1}


def _close_members(name: str, members: list[str]) -> list[str]:
    """Members sharing a rare word (TrainingMetrics → FinalMetricDataList: "metric" is rare
    among the members, "training" is not), then members close in spelling (difflib)."""
    words = _words(name)
    frequency: dict[str, int] = {}
    for m in members:
        for w in _words(m):
            frequency[w] = frequency.get(w, 0) + 1
    scored = []
    for m in members:
        shared = [w for w in words & _words(m) if frequency[w] <= 2]
        if shared:
            scored.append((-len(shared), m))
    found = [m for m in members if m.lower() == name.lower()]
    found += [m for _, m in sorted(scored) if m not in found]
    close = difflib.get_close_matches(name, members, n=3, cutoff=0.6)
    found += [m for m in close if m not in found]
    return found[:4]


def _find_member_elsewhere(root: StructureShape, name: str, max_depth: int = 5) -> list[str]:
    """Paths (relative to ``root``) where a structure has member ``name``; shortest first."""
    hits: list[str] = []
    seen: set[str] = set()
    queue: deque[tuple[Shape, str, int]] = deque([(root, "", 0)])
    while queue and len(hits) < 3:
        s, prefix, depth = queue.popleft()
        if s.name in seen or depth > max_depth:
            continue
        seen.add(s.name)
        if isinstance(s, StructureShape):
            for member_name, member in s.members.items():
                if member_name == name and prefix:
                    hits.append(f"{prefix}.{member_name}")
                queue.append((member, f"{prefix}.{member_name}", depth + 1))
        elif isinstance(s, ListShape):
            queue.append((s.member, f"{prefix}[0]", depth + 1))
        elif isinstance(s, MapShape):
            queue.append((s.value, f"{prefix}['key']", depth + 1))
    return hits


# --------------------------------------------------------------------------- resolution

# Members only one kind of Describe* response has: how a description says its step type.
_IDENTIFYING_MEMBERS: tuple[tuple[str, str], ...] = (
    ("TrainingJobArn", "Training"),
    ("ProcessingJobArn", "Processing"),
    ("TransformJobArn", "Transform"),
    ("ModelPackageArn", "RegisterModel"),
    ("ModelArn", "Model"),
)


def _infer_step_type(description: dict[str, Any]) -> str | None:
    for member, step_type in _IDENTIFYING_MEMBERS:
        if member in description:
            return step_type
    return None


def resolve_property_path(
    description: dict[str, Any],
    path: str,
    *,
    step_name: str = "",
    step_type: str | None = None,
) -> Any:
    """The value ``path`` reaches in ``description`` (a Describe* response dict).

    A ``['key']`` on a list matches the item whose name field (:data:`KEY_FIELDS`,
    e.g. ``MetricName`` for FinalMetricDataList) equals the key; on a map it is
    the entry. ``step_type`` picks the shape used to find that field; by default
    it is read off the description (``TrainingJobArn`` → Training, …). Raises
    PropertyPathError naming the step, the path and what exists at the failing point.
    """
    parsed = parse_property_path(path)
    label = step_name or parsed.step_name or "<step>"
    step_type = step_type or _infer_step_type(description)
    current_shape: Shape | None = None
    if step_type is not None:  # an unknown step type raises ValueError naming the known ones
        current_shape = root_shape_for_step_type(step_type)
    head = f"{_PREFIX_STEPS}.{parsed.step_name}" if parsed.step_name else _PREFIX_PROPERTIES
    value: Any = description
    for i, seg in enumerate(parsed.segments):
        where = head + format_segments(parsed.segments[:i])

        def fail(problem: str, _where: str = where) -> PropertyPathError:
            return PropertyPathError(f"step {label!r}: cannot resolve {path!r}: {problem}")

        if seg.kind == "member":
            if not isinstance(value, dict):
                raise fail(
                    f"{where} is {_describe_value(value)}, which has no member {seg.value!r}"
                )
            if seg.value not in value:
                present = ", ".join(sorted(map(str, value))) or "nothing"
                raise fail(f"{where} has no {seg.value!r}; present there: {present}")
            value = value[seg.value]
            current_shape = _child_shape(current_shape, "member", seg.value)
        elif seg.kind == "index":
            if not isinstance(value, list):
                raise fail(f"'[{seg.value}]' needs a list; {where} is {_describe_value(value)}")
            if not isinstance(seg.value, int) or seg.value >= len(value):
                raise fail(f"{where} has {len(value)} item(s); index {seg.value} is out of range")
            value = value[seg.value]
            current_shape = _child_shape(current_shape, "index", seg.value)
        else:
            if isinstance(value, dict) and not (
                current_shape is not None and not isinstance(current_shape, MapShape)
            ):
                if seg.value not in value:
                    present = ", ".join(map(repr, sorted(map(str, value)))) or "nothing"
                    raise fail(f"{where} has no key {seg.value!r}; keys there: {present}")
                value = value[seg.value]
                current_shape = _child_shape(current_shape, "key", seg.value)
                continue
            if not isinstance(value, list):
                raise fail(
                    f"\"['{seg.value}']\" needs a list or a map; {where} is "
                    f"{_describe_value(value)}"
                )
            key_field = _resolution_key_field(current_shape, value)
            if key_field is None:
                raise fail(
                    f"the items of {where} have no name field to match {seg.value!r}; "
                    f"use an index [0]..[{len(value) - 1}]"
                )
            matches = [
                it for it in value if isinstance(it, dict) and it.get(key_field) == seg.value
            ]
            if not matches:
                names = [it.get(key_field) for it in value if isinstance(it, dict)]
                listed = ", ".join(repr(n) for n in names if n is not None) or "none"
                raise fail(f"no item of {where} has {key_field} {seg.value!r}; present: {listed}")
            value = matches[0]
            current_shape = _child_shape(current_shape, "key", seg.value)
    return value


def _child_shape(s: Shape | None, kind: str, value: str | int) -> Shape | None:
    if isinstance(s, StructureShape) and kind == "member":
        return s.members.get(str(value))
    if isinstance(s, ListShape) and kind in ("index", "key"):
        return s.member
    if isinstance(s, MapShape) and kind == "key":
        return s.value
    return None


def _resolution_key_field(s: Shape | None, items: list[Any]) -> str | None:
    if isinstance(s, ListShape):
        return key_field_for(s.member)
    # No shape known: a KEY_FIELDS field the items carry, else their one "…Name" member.
    keys = {k for it in items if isinstance(it, dict) for k in it}
    for candidate in dict.fromkeys(v for v in KEY_FIELDS.values() if v):
        if candidate in keys:
            return candidate
    names = sorted(k for k in keys if k.endswith("Name"))
    return names[0] if len(names) == 1 else None


def _describe_value(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with members {', '.join(sorted(map(str, value))) or '(none)'}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return f"the scalar {value!r}"
