"""Whether SageMaker accepts a property path for a step type, and why not.

A path walks the Describe* response shape of its step's SageMaker type
(botocore's model, :func:`simulator.shapes.root_shape_for_step_type`). The
rules are the SDK's (``sagemaker.workflow.properties``) and the service's:
``.Member`` must be a member of the structure; ``[n]`` applies only to a list;
``['key']`` to a list (look-up by the items' name field) or a map; nothing
follows a scalar. An error names the failing segment, the shape there and
the closest members; when a corrected path exists it is the check's
``suggestion`` (``properties.TrainingMetrics`` → ``properties.FinalMetricDataList``).
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.errors import PropertyPathError
from simulator.properties.parsing import (
    Segment,
    format_segments,
    parse_property_path,
    parse_segments,
    path_head,
)
from simulator.shapes import root_shape_for_step_type

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


@dataclass(frozen=True)
class PathCheck:
    """Whether SageMaker accepts a path. ``errors`` make it invalid; ``warnings`` do not."""

    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shape_name: str | None = None  # the shape the path ends on, when valid
    suggestion: str | None = None  # a valid path close to an invalid one, when found

    def to_dict(self) -> dict[str, Any]:
        """``{"valid", "errors", "warnings"}``, as the CLI prints it."""
        return {"valid": self.valid, "errors": list(self.errors), "warnings": list(self.warnings)}


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
    result = _check(step_type, path, output_names, metric_names)
    if result.valid or not result.alternatives:
        return result.check
    suggestion = _first_valid(step_type, result.alternatives, output_names, metric_names)
    if suggestion is None:
        return result.check
    return PathCheck(
        valid=False,
        errors=result.check.errors,
        warnings=result.check.warnings,
        suggestion=suggestion,
    )


# How many segments a suggestion may correct, and how many alternatives each step tries.
_MAX_CORRECTIONS = 3
_ALTERNATIVES_PER_STEP = 4


def _first_valid(
    step_type: str,
    alternatives: list[str],
    output_names: list[str] | None,
    metric_names: list[str] | None,
) -> str | None:
    """The first valid path among ``alternatives``, correcting further segments when one
    fails later on (``ModelArtifact.S3ModelArtifact`` → ``ModelArtifacts.S3ModelArtifacts``)."""
    frontier, seen = alternatives, set()
    for _ in range(_MAX_CORRECTIONS):
        following: list[str] = []
        for candidate in frontier:
            if candidate in seen:
                continue
            seen.add(candidate)
            walk = _check(step_type, candidate, output_names, metric_names)
            if walk.valid:
                return candidate
            following += walk.alternatives[:_ALTERNATIVES_PER_STEP]
        frontier = following
    return None


@dataclass
class _Walk:
    check: PathCheck
    alternatives: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.check.valid


def _check(
    step_type: str, path: str, output_names: list[str] | None, metric_names: list[str] | None
) -> _Walk:
    try:
        root = root_shape_for_step_type(step_type)
    except ValueError as exc:
        return _Walk(PathCheck(valid=False, errors=[str(exc)]))
    try:
        parsed = parse_property_path(path)
    except PropertyPathError as exc:
        return _Walk(PathCheck(valid=False, errors=[str(exc)]))
    # Item shapes whose names the caller declared (ProcessingOutputConfig.Outputs,
    # FinalMetricDataList, AlgorithmSpecification.MetricDefinitions).
    declared_names = {
        "ProcessingOutput": output_names,
        "MetricData": metric_names,
        "MetricDefinition": metric_names,
    }
    head = path_head(parsed)
    segments = parsed.segments
    warnings: list[str] = []
    current: Shape = root
    for i, seg in enumerate(segments):
        where = head + format_segments(segments[:i])
        failing = head + format_segments(segments[: i + 1])
        rest = segments[i + 1 :]
        what = _describe_shape(current)
        error: str | None = None
        alternatives: list[str] = []
        if seg.kind == "member":
            if not isinstance(current, StructureShape):
                error = f"'{seg}' cannot follow {where}, which is the {what}"
                error += _after_non_structure_hint(current)
            elif seg.value not in current.members:
                hint, alternatives = _member_suggestions(current, str(seg.value), where, rest)
                error = f"{seg.value!r} is not a member of {where} ({what}){hint}"
            else:
                current = current.members[str(seg.value)]
        elif seg.kind == "index":
            if not isinstance(current, ListShape):
                error = f"'[{seg.value}]' applies only to a list; {where} is the {what}"
                error += _after_non_structure_hint(current)
            else:
                current = current.member
        elif isinstance(current, MapShape):
            current = current.value
        elif not isinstance(current, ListShape):
            error = (
                f"'[{seg.value!r}]' applies only to a list (look-up by name) or a map; "
                f"{where} is the {what}" + _after_non_structure_hint(current)
            )
        else:
            item = current.member
            key_field = key_field_for(item)
            known = declared_names.get(item.name)
            if key_field is None:
                warnings.append(
                    f"{failing}: look-up by name on {where} ({what}), whose items have no "
                    f"name field; SageMaker cannot match {seg.value!r} at run time — use an "
                    "index [n]"
                )
            elif known is not None and seg.value not in known:
                close = difflib.get_close_matches(str(seg.value), list(known), n=3, cutoff=0.6)
                error = (
                    f"no item of {where} has {key_field} {seg.value!r}; "
                    f"declared: {', '.join(map(repr, known)) or 'none'}"
                    + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
                )
                alternatives = [where + format_segments([Segment("key", c), *rest]) for c in close]
            current = item
        if error is not None:
            check = PathCheck(valid=False, errors=[f"{failing}: {error}"], warnings=warnings)
            return _Walk(check, alternatives)
    return _Walk(PathCheck(valid=True, warnings=warnings, shape_name=current.name))


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


def _member_suggestions(
    s: StructureShape, name: str, where: str, rest: list[Segment]
) -> tuple[str, list[str]]:
    """Did-you-mean for an unknown member, and the corrected paths it implies.

    Close names, a dropped prefix (``TrainingJobDefinition.OutputDataConfig…``:
    the rest of the path exists right here), the member deeper down.
    """
    members = list(s.members)
    tail = format_segments(rest)
    hints: list[str] = []
    alternatives: list[str] = []
    if rest and rest[0].kind == "member" and rest[0].value in s.members:
        hints.append(f"did you mean {where}{tail}?")
        alternatives.append(where + tail)
    close = _close_members(name, members)
    if close:
        hints.append(f"closest members: {', '.join(close)}")
    elsewhere = _find_member_elsewhere(s, name)
    if elsewhere:
        hints.append(f"{name!r} exists deeper, at {', '.join(where + e for e in elsewhere)}")
    # The exact name deeper down is a surer correction than a similar name here.
    alternatives += [where + format_segments(parse_segments(e)) + tail for e in elsewhere]
    alternatives += [f"{where}.{m}{tail}" for m in close]
    if not hints:
        more = ", …" if len(members) > 20 else ""
        hints.append(f"members: {', '.join(sorted(members)[:20])}{more}")
    return "; " + "; ".join(hints), alternatives


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
