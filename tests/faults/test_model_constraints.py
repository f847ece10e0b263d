"""Every constraint botocore's model carries, checked by a test generated from the model (#17).

The test walks the input shapes of CreateTrainingJob, CreateProcessingJob and CreatePipeline;
for each member with a ``min``, ``max``, ``pattern`` or ``enum`` it builds a value breaking
that constraint, puts it into a valid request (its parents made as needed) and sends the
request as a boto3 user would: the answer must be a ValidationException naming that
member's path. Nothing is written case by case: a newer botocore adds its cases.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.shapes import input_shape

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
MAX_DEPTH = 7
# A value likely outside any pattern of the model: each candidate is tried in turn.
_PATTERN_BREAKERS = ("", " ", "!", "a b", "#?%", "\x00", "-" * 3, "Ä")


@dataclass(frozen=True)
class Violation:
    path: tuple[str | int, ...]  # member names and map keys; 0 for a list's first item
    value: Any
    rule: str

    @property
    def where(self) -> str:
        """The path as the error names it: ``A.B[0].C``, a map's entry ``M.k``."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


def _breakers(s: Shape) -> Iterator[tuple[Any, str]]:
    """(value, rule) pairs, each breaking one constraint of a scalar or collection shape."""
    meta = s.metadata
    if s.type_name == "string":
        if s.enum:
            yield "NotAValue", "enum"
        if "max" in meta:
            yield "a" * (int(meta["max"]) + 1), "max"
        if meta.get("min", 0) > 0:
            yield "", "min"
        pattern = meta.get("pattern")
        if pattern and pattern != ".*" and not s.enum:
            try:
                compiled = re.compile(pattern, re.DOTALL)
            except re.error:
                return  # a Java-only pattern (\p{…}): the simulator skips it too
            for candidate in _PATTERN_BREAKERS:
                if compiled.fullmatch(candidate) is None:
                    yield candidate, "pattern"
                    break
    elif s.type_name in ("integer", "long"):
        if "min" in meta:
            yield int(meta["min"]) - 1, "min"
        if "max" in meta:
            yield int(meta["max"]) + 1, "max"
    elif s.type_name in ("float", "double"):
        if "min" in meta:
            yield float(meta["min"]) - 1.0, "min"
        if "max" in meta:
            yield float(meta["max"]) + 1.0, "max"
    elif isinstance(s, ListShape):
        if "max" in meta:
            yield [_filler(s.member)] * (int(meta["max"]) + 1), "max"
        if meta.get("min", 0) > 0:
            yield [], "min"
    elif isinstance(s, MapShape) and "max" in meta:
        yield {f"k{i}": _filler(s.value) for i in range(int(meta["max"]) + 1)}, "max"


def _filler(s: Shape) -> Any:
    """Some value of the shape's type (for the items of an over-long list)."""
    if s.type_name == "string":
        return s.enum[0] if s.enum else "x"
    if s.type_name in ("integer", "long"):
        return int(s.metadata.get("min", 1))
    if s.type_name in ("float", "double"):
        return float(s.metadata.get("min", 1))
    if s.type_name == "boolean":
        return True
    if isinstance(s, ListShape):
        return []
    return {}


def violations(
    s: Shape, path: tuple[Any, ...] = (), seen: tuple[str, ...] = ()
) -> Iterator[Violation]:
    """Every constraint under ``s``, as a violation at its path."""
    for value, rule in _breakers(s):
        yield Violation(path, value, rule)
    if len(path) > MAX_DEPTH or s.name in seen:
        return  # recursive shapes: one level of each is enough
    seen = (*seen, s.name)
    if isinstance(s, StructureShape):
        for name, member in s.members.items():
            yield from violations(member, (*path, name), seen)
    elif isinstance(s, ListShape):
        yield from violations(s.member, (*path, 0), seen)
    elif isinstance(s, MapShape):
        yield from violations(s.value, (*path, "k"), seen)


def with_value(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """``base`` with ``value`` at ``path``, its parents created (a dict, a one-item list)."""
    doc = copy.deepcopy(base)
    node: Any = doc
    for i, part in enumerate(path):
        if i == len(path) - 1:
            if isinstance(part, int):
                node[:] = [value]
            else:
                node[part] = value
            break
        kind = list if isinstance(path[i + 1], int) else dict
        if isinstance(part, int):
            if not node or not isinstance(node[0], kind):
                node[:] = [kind()]
            node = node[0]
        else:
            if not isinstance(node.get(part), kind):
                node[part] = kind()
            node = node[part]
    return doc


def _normalized(text: str) -> str:
    """``A['k']`` (the simulator's map paths) and ``A.k`` (botocore's), with or without
    botocore's leading dot, as one form."""
    text = re.sub(r"\['([^']*)'\]", r".\1", text.replace(" (key)", ""))
    return text.replace("- .", "- ")


def _base_requests(bucket: str) -> dict[str, dict[str, Any]]:
    return {
        "CreateTrainingJob": {
            "TrainingJobName": "constraints",
            "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
        "CreateProcessingJob": {
            "ProcessingJobName": "constraints",
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 1,
                }
            },
            "AppSpecification": {"ImageUri": "img:1", "ContainerEntrypoint": ["python3"]},
            "RoleArn": ROLE,
        },
        "CreatePipeline": {
            "PipelineName": "constraints",
            "PipelineDefinition": json.dumps({"Version": "2020-12-01", "Steps": []}),
            "ClientRequestToken": "token-of-the-constraints-test-0001",
            "RoleArn": ROLE,
        },
    }


_CALLS = {
    "CreateTrainingJob": "create_training_job",
    "CreateProcessingJob": "create_processing_job",
    "CreatePipeline": "create_pipeline",
}


@pytest.mark.parametrize("operation", sorted(_CALLS))
def test_every_model_constraint_is_enforced(sm, bucket, operation):
    base = _base_requests(bucket)[operation]
    cases = list(violations(input_shape(operation)))
    rules = {c.rule for c in cases}
    # The walk found the model's constraints (not an empty loop that cannot fail).
    assert len(cases) >= 20 and {"max", "pattern", "min"} <= rules, (len(cases), rules)
    call = getattr(sm.client, _CALLS[operation])
    missed = []
    for case in cases:
        request = with_value(base, case.path, case.value)
        try:
            call(**request)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            named = f"- {_normalized(case.where)}:" in _normalized(str(exc))
            if code != "ValidationException" or not named:
                missed.append((case.where, case.rule, code, str(exc)[:300]))
            continue
        missed.append((case.where, case.rule, "accepted", ""))
    assert not missed, f"{len(missed)} of {len(cases)} constraints not enforced: {missed[:10]}"
