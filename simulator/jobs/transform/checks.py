"""CreateTransformJob request checks: everything is refused before anything runs.

botocore's input shape first (with what botocore skips: enums, the name pattern, max
lengths), then the service's rules beyond the model: S3 URI forms, MaxPayloadInMB
0–100 and, for MultiRecord, above 0; DataProcessing only on CSV/JSON records split
by Line (developer guide, "Associate prediction results with input records"); the
JSONPath filters compile. Features smsim does not simulate are refused by name.
"""

from __future__ import annotations

from typing import Any

from simulator.errors import Problem, UnsupportedFeature, ValidationError
from simulator.inference.dataprocessing import (
    CSV_TYPES,
    JSON_TYPES,
    DataProcessingError,
    JsonFilter,
)
from simulator.s3 import s3_uri_problems
from simulator.shapes import validate_request


def check_request(request: dict[str, Any]) -> None:
    """Validate a CreateTransformJob request; raise ValidationError / UnsupportedFeature."""
    validate_request("CreateTransformJob", request)
    problems: list[Problem] = []
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    problems += s3_uri_problems(source.get("S3Uri"), "TransformInput.DataSource.S3DataSource.S3Uri")
    problems += s3_uri_problems(
        request["TransformOutput"].get("S3OutputPath"), "TransformOutput.S3OutputPath"
    )
    if source.get("S3DataType") not in ("S3Prefix", "ManifestFile"):
        raise UnsupportedFeature(
            f"TransformInput.DataSource.S3DataSource.S3DataType {source.get('S3DataType')!r} "
            "is not supported; use 'S3Prefix' or 'ManifestFile'"
        )
    split = request["TransformInput"].get("SplitType", "None")
    if split == "TFRecord":
        raise UnsupportedFeature(
            "TransformInput.SplitType 'TFRecord' is not supported; use None, Line or RecordIO"
        )
    payload = request.get("MaxPayloadInMB", 6)
    strategy = request.get("BatchStrategy", "SingleRecord")
    if strategy == "MultiRecord" and payload == 0:
        problems.append(
            Problem(
                "MaxPayloadInMB",
                "0 (no limit) is allowed only with BatchStrategy SingleRecord",
                payload,
                "give a limit, e.g. 6",
            )
        )
    if int(request["TransformResources"].get("InstanceCount", 1)) != 1:
        raise UnsupportedFeature(
            f"TransformResources.InstanceCount is {request['TransformResources']['InstanceCount']}"
            ": smsim runs one instance per job; set it to 1"
        )
    if "DataCaptureConfig" in request:
        raise UnsupportedFeature("DataCaptureConfig is not supported by smsim's transform jobs")
    block = request.get("DataProcessing")
    if block:
        for key in ("InputFilter", "OutputFilter"):
            if key in block:
                try:
                    JsonFilter(block[key])
                except DataProcessingError as exc:
                    problems.append(Problem(f"DataProcessing.{key}", str(exc), None, ""))
        content_type = (request["TransformInput"].get("ContentType") or "").split(";")[0].strip()
        wants = block.get("JoinSource", "None") == "Input" or any(
            block.get(k, "$").strip() not in ("", "$") for k in ("InputFilter", "OutputFilter")
        )
        if wants and content_type not in CSV_TYPES + JSON_TYPES:
            problems.append(
                Problem(
                    "TransformInput.ContentType",
                    "DataProcessing filters and joins need CSV or JSON records",
                    content_type or None,
                    "set ContentType to text/csv or application/json (or jsonlines)",
                )
            )
        if wants and split != "Line":
            problems.append(
                Problem(
                    "TransformInput.SplitType",
                    "DataProcessing filters and joins work record by record",
                    split,
                    "set SplitType to Line",
                )
            )
    if problems:
        raise ValidationError("CreateTransformJob request", problems)
