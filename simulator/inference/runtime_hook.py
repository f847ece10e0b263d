"""sagemaker-runtime InvokeEndpoint arriving at the embedded moto, answered by smsim.

Any boto3 ``sagemaker-runtime`` client in the process (the SDK's ``Predictor``) reaches
moto over HTTP; moto would answer canned results. This routes the call to the
session's endpoints instead and shapes the answer as the service does: the model's
body, ``Content-Type`` and ``x-Amzn-Invoked-Production-Variant``; a model error as
``ModelError`` (HTTP 424, the container's status in ``OriginalStatusCode`` and its body
in ``OriginalMessage``, botocore's ModelError shape); an unknown endpoint as
``ValidationError``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from simulator.errors import SmsimError

_saved: dict[str, Any] = {}


def install(sim: Any) -> None:
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    _saved["invoke_endpoint"] = SageMakerRuntimeResponse.__dict__["invoke_endpoint"]

    def invoke_endpoint(response: Any) -> Any:
        from simulator.inference.endpoints import ModelError

        headers = {k.lower(): v for k, v in response.headers.items()}
        body = response.body
        if isinstance(body, str):
            body = body.encode("utf-8", errors="surrogateescape")
        request = {
            "EndpointName": unquote(response.path.split("/")[2]),
            "Body": body or b"",
            "ContentType": headers.get("content-type"),
            "Accept": headers.get("accept"),
            "CustomAttributes": headers.get("x-amzn-sagemaker-custom-attributes"),
            "TargetVariant": headers.get("x-amzn-sagemaker-target-variant"),
        }
        try:
            answer = sim.invoke_endpoint(**request)
        except ModelError as exc:
            payload = {
                "message": str(exc),
                "OriginalStatusCode": exc.status,
                "OriginalMessage": exc.original_message,
                "LogStreamArn": exc.log_stream_arn,
            }
            return 424, {"x-amzn-ErrorType": "ModelError", "status": 424}, json.dumps(payload)
        except SmsimError as exc:
            error = {"x-amzn-ErrorType": "ValidationError", "status": 400}
            return 400, error, json.dumps({"message": str(exc)})
        out = {
            "Content-Type": answer["ContentType"],
            "x-Amzn-Invoked-Production-Variant": answer["InvokedProductionVariant"],
        }
        return 200, out, answer["Body"]

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]


def remove() -> None:
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if "invoke_endpoint" in _saved:
        SageMakerRuntimeResponse.invoke_endpoint = _saved.pop("invoke_endpoint")  # type: ignore[method-assign]
