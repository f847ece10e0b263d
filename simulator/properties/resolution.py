"""Resolving a property path against a Describe* response, as SageMaker does at run time.

A later pipeline step reads an earlier one's output through a path such as
``Steps.Train.FinalMetricDataList['val:loss'].Value``; the service evaluates
it against the earlier job's description. ``['key']`` on a list matches the
item whose name field equals the key (:data:`~simulator.properties.KEY_FIELDS`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.errors import PropertyPathError
from simulator.properties.checking import KEY_FIELDS, key_field_for
from simulator.properties.parsing import format_segments, parse_property_path, path_head
from simulator.shapes import root_shape_for_step_type

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
    head = path_head(parsed)
    fail = partial(_failure, label, path)
    value: Any = description
    for i, seg in enumerate(parsed.segments):
        where = head + format_segments(parsed.segments[:i])
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


def _failure(label: str, path: str, problem: str) -> PropertyPathError:
    return PropertyPathError(f"step {label!r}: cannot resolve {path!r}: {problem}")
