"""sagemaker-runtime InvokeEndpoint on the smsim endpoint, answered by its endpoints.

``POST /endpoints/<name>/invocations`` (botocore's sagemaker-runtime, REST-JSON) reaches
the same URL as every other AWS call; the router hands it here instead of to moto's
canned answers. The answer is shaped as the service's: the model's body with its
``Content-Type`` and ``x-Amzn-Invoked-Production-Variant``; a model error as
``ModelError`` (HTTP 424, the container's status in ``OriginalStatusCode`` and its body
in ``OriginalMessage``: botocore's ModelError shape); an unknown endpoint or one not
InService as ``ValidationError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from simulator.errors import SmsimError

_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")


def is_invocation(environ: dict[str, Any]) -> bool:
    return environ.get("REQUEST_METHOD") == "POST" and bool(
        _PATH.match(environ.get("PATH_INFO", ""))
    )


def answer(
    environ: dict[str, Any], start_response: Callable[..., Any], endpoints: Any
) -> list[bytes]:
    from simulator.inference.endpoints import ModelError

    match = _PATH.match(environ.get("PATH_INFO", ""))
    assert match is not None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    request = {
        "EndpointName": unquote(match["name"]),
        "Body": body,
        "ContentType": environ.get("CONTENT_TYPE") or None,
        "Accept": environ.get("HTTP_ACCEPT"),
        "CustomAttributes": environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"),
        "TargetVariant": environ.get("HTTP_X_AMZN_SAGEMAKER_TARGET_VARIANT"),
    }
    try:
        result = endpoints.invoke_endpoint(**request)
    except ModelError as exc:
        payload = {
            "message": str(exc),
            "OriginalStatusCode": exc.status,
            "OriginalMessage": exc.original_message,
            "LogStreamArn": exc.log_stream_arn,
        }
        return _send(start_response, "424 Failed Dependency", "ModelError", payload)
    except SmsimError as exc:
        return _send(start_response, "400 Bad Request", "ValidationError", {"message": str(exc)})
    headers = [
        ("Content-Type", result["ContentType"]),
        ("x-Amzn-Invoked-Production-Variant", result["InvokedProductionVariant"]),
        ("Content-Length", str(len(result["Body"]))),
    ]
    start_response("200 OK", headers)
    return [result["Body"]]


def _send(
    start_response: Callable[..., Any], status: str, code: str, payload: dict[str, Any]
) -> list[bytes]:
    out = json.dumps(payload).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("Content-Length", str(len(out))),
        ],
    )
    return [out]
