"""Did-you-mean for property paths: the closest valid path to a misspelt one.

``Steps.Train.ModelArtifact.S3ModelArtifacts`` → ``Steps.Train.ModelArtifacts.S3ModelArtifacts``:
each member (against the step type's Describe* shape) and each name look-up (output
names, metric names) that does not exist is replaced by its nearest match, until the
path is valid or nothing close is left.
"""

from __future__ import annotations

import difflib

from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.errors import PropertyPathError
from simulator.properties import (
    Segment,
    check_property_path,
    format_segments,
    key_field_for,
    parse_property_path,
)
from simulator.shapes import root_shape_for_step_type


def suggest_property_path(
    step_type: str,
    ref: str,
    *,
    output_names: list[str] | None = None,
    metric_names: list[str] | None = None,
) -> str:
    """The closest valid path to ``ref`` (each misspelt member or name replaced by its
    nearest match), or "" when there is none."""
    try:
        parsed = parse_property_path(ref)
    except PropertyPathError:
        return ""
    names = {"OutputName": output_names, "MetricName": metric_names}
    segments = list(parsed.segments)
    head = f"Steps.{parsed.step_name}" if parsed.step_name else "properties"
    for _ in range(len(segments)):
        current: Shape = root_shape_for_step_type(step_type)
        fixed = False
        for i, seg in enumerate(segments):
            if seg.kind == "member":
                if not isinstance(current, StructureShape):
                    return ""
                if seg.value not in current.members:
                    close = _closest(str(seg.value), list(current.members))
                    if close is None:
                        return ""
                    segments[i], fixed = Segment("member", close), True
                    break
                current = current.members[str(seg.value)]
            elif seg.kind == "index":
                if not isinstance(current, ListShape):
                    return ""
                current = current.member
            elif isinstance(current, MapShape):
                current = current.value
            elif isinstance(current, ListShape):
                known = names.get(key_field_for(current.member) or "")
                if known is not None and seg.value not in known:
                    close = _closest(str(seg.value), known)
                    if close is None:
                        return ""
                    segments[i], fixed = Segment("key", close), True
                    break
                current = current.member
            else:
                return ""
        if not fixed:
            break
    text = head + format_segments(segments)
    check = check_property_path(
        step_type, text, output_names=output_names, metric_names=metric_names
    )
    return text if check.valid and text != ref else ""


def _closest(word: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None
