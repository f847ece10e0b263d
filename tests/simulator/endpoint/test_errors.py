"""The service's errors through LocalSageMaker: botocore ClientErrors with the service's
codes and wording, catchable as a boto3 client's are, and as smsim's own classes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from simulator import errors


def test_duplicate_bad_and_unknown_names(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('ok')\n"})
    sm.create_training_job(**training_request("Dup-1", code))
    with pytest.raises(sm.exceptions.ResourceInUse) as taken:
        sm.create_training_job(**training_request("dup-1", code))  # names ignore case
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    assert isinstance(taken.value, errors.ResourceInUse)

    with pytest.raises(ClientError) as bad:
        sm.create_training_job(**training_request("bad_name", code))
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    assert isinstance(bad.value, errors.ValidationError)
    # smsim's field-and-fix detail, as objects too.
    assert [p.path for p in bad.value.problems] == ["TrainingJobName"]
    assert "bad_name" in bad.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as unknown:
        sm.stop_training_job(TrainingJobName="no-such-job")
    error = unknown.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Requested resource not found.")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_pipeline_execution(
            PipelineExecutionArn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x"
        )
    sm.wait_for_training_job("Dup-1", timeout=60)
    # Describe by the lower-cased name of the ARN (a pipeline step's Metadata).
    assert sm.describe_training_job(TrainingJobName="dup-1")["TrainingJobName"] == "Dup-1"


def test_smsim_errors_map_to_the_services_codes():
    assert errors.service_code(errors.ResourceInUse("x")) == "ResourceInUse"
    assert errors.service_code(errors.ResourceNotFound("x")) == "ResourceNotFound"
    assert errors.service_code(errors.ResourceLimitExceeded("x")) == "ResourceLimitExceeded"
    assert errors.service_code(errors.UnsupportedFeature("x")) == "ValidationException"
    assert errors.service_code(errors.RequestedResourceNotFound("d")) == "ValidationException"
    assert str(errors.RequestedResourceNotFound("detail")) == "Requested resource not found. detail"
