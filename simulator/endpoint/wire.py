"""SageMaker's JSON protocol (``awsJson1_1``) on the wire, both directions.

A request is ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>`` and a JSON body;
botocore sends timestamps as epoch seconds, so members the input shape types
``timestamp`` are turned back into datetimes here. A response is the output dict as
JSON (datetimes as epoch seconds, which botocore's parser reads back); an error is
HTTP 400 with ``{"__type": <code>, "message": <text>}``, from which boto3 builds its
``ClientError`` (``Error.Code``, ``Error.Message``) and modeled exceptions.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from simulator.shapes import input_shape

CONTENT_TYPE = "application/x-amz-json-1.1"


def decode_request(operation: str, body: bytes) -> dict[str, Any]:
    """The request dict of ``operation`` from its JSON body (timestamps as datetimes)."""
    params = json.loads(body or b"{}")
    if not isinstance(params, dict):
        raise ValueError("the request body is not a JSON object")
    return _timestamps(params, input_shape(operation))


def _timestamps(value: Any, shape: Shape) -> Any:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            k: _timestamps(v, shape.members[k]) if k in shape.members else v
            for k, v in value.items()
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_timestamps(v, shape.member) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _timestamps(v, shape.value) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return _datetime(value)
    return value


def _datetime(value: Any) -> Any:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # left for validation to report
    return value


def encode_response(response: dict[str, Any]) -> bytes:
    return json.dumps(response, default=_encode).encode()


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def encode_error(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def headers(body: bytes, error_code: str | None = None) -> list[tuple[str, str]]:
    out = [
        ("Content-Type", CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if error_code:
        out.append(("x-amzn-ErrorType", error_code))
    return out
