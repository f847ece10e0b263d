"""Expressions inside a request, stood in for by values of the type they will yield.

A definition's step Arguments are a job request in which any value may be an
expression (``Get``, ``Std:Join``, ``Std:JsonGet``) evaluated only at run time. To
check the rest of the request against botocore's shape now, each expression is replaced
by a placeholder of the member's type and recorded with the shape it must fit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.pipeline.run.expressions import expression_kind

_NUMERIC = {"integer", "long", "float", "double"}


def substitute(
    value: Any, s: Shape | None, path: str, found: list[tuple[str, Any, Shape | None]]
) -> Any:
    """``value`` with each expression replaced by a placeholder of the shape's type;
    records (path, expression, target shape) in ``found``."""
    if expression_kind(value):
        found.append((path, value, s))
        return _placeholder(s)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            child = None
            if isinstance(s, StructureShape):
                child = s.members.get(k)
            elif isinstance(s, MapShape):
                child = s.value
            out[k] = substitute(v, child, join_path(path, str(k)), found)
        return out
    if isinstance(value, list):
        child = s.member if isinstance(s, ListShape) else None
        return [substitute(v, child, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def _placeholder(s: Shape | None) -> Any:
    kind = s.type_name if s is not None else "string"
    return {
        "string": "placeholder",
        "integer": 1,
        "long": 1,
        "float": 1.0,
        "double": 1.0,
        "boolean": True,
        "timestamp": dt.datetime(2020, 12, 1, tzinfo=dt.UTC),
        "structure": {},
        "list": [],
        "map": {},
        "blob": b"",
    }.get(kind, "placeholder")


def fits(produced: str, target: str) -> bool:
    if produced == target:
        return True
    if produced in ("integer", "long") and target in _NUMERIC:
        return True
    return produced in ("float", "double") and target in ("float", "double")


def join_path(path: str, key: str) -> str:
    if not key:
        return path
    if key.startswith("["):
        return path + key
    return f"{path}.{key}" if path else key
