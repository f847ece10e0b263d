"""Local-mode input channels (``FileDataSource``, ``file://`` URIs) across the wire.

The SDK's local mode lets a training channel be a local directory
(``DataSource.FileDataSource.FileUri``); smsim runs such jobs. That member is not in
SageMaker's service model, so botocore can neither send nor parse it: ``LocalSageMaker``'s
client moves those channels into one request header, the router puts them back at
their places before the request reaches the training handler, and the description's
local channels travel back the same way (a plain boto3 client sees them without it).
"""

from __future__ import annotations

import json
from typing import Any

HEADER = "x-smsim-file-channels"
_OPERATION = "CreateTrainingJob"


def register(client: Any) -> None:
    """Teach a botocore SageMaker client to send FileDataSource channels."""
    events = client.meta.events
    events.register(f"before-parameter-build.sagemaker.{_OPERATION}", _stash)
    events.register(f"before-call.sagemaker.{_OPERATION}", _send)
    events.register("after-call.sagemaker.DescribeTrainingJob", _receive)


def _receive(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    header = http_response.headers.get(HEADER, "")
    if header and "InputDataConfig" in parsed:
        local = {int(i): c for i, c in json.loads(header).items()}
        channels = parsed["InputDataConfig"]
        for index, channel in local.items():
            if index < len(channels):
                channels[index] = channel


def response_header(operation: str, response: dict[str, Any]) -> str:
    """The header carrying a description's local channels (empty when it has none)."""
    if operation != "DescribeTrainingJob":
        return ""
    channels = response.get("InputDataConfig") or []
    local = {
        str(i): c for i, c in enumerate(channels) if "FileDataSource" in (c.get("DataSource") or {})
    }
    return json.dumps(local) if local else ""


def _stash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    channels = params.get("InputDataConfig")
    if not isinstance(channels, list):
        return
    local = {
        i: c for i, c in enumerate(channels) if "FileDataSource" in (c.get("DataSource") or {})
    }
    if local:
        context["smsim_file_channels"] = local
        params["InputDataConfig"] = [c for i, c in enumerate(channels) if i not in local]
        if not params["InputDataConfig"]:
            del params["InputDataConfig"]


def _send(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    local = context.get("smsim_file_channels")
    if local:
        params["headers"][HEADER] = json.dumps({str(i): c for i, c in local.items()})


def restore(operation: str, params: dict[str, Any], header: str) -> dict[str, Any]:
    """The request as the client was given it: local channels back at their indexes."""
    if operation != _OPERATION or not header:
        return params
    local = {int(i): c for i, c in json.loads(header).items()}
    channels = list(params.get("InputDataConfig", []))
    for index in sorted(local):
        channels.insert(index, local[index])
    params["InputDataConfig"] = channels
    return params
