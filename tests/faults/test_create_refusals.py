"""The service's create-time refusals (#17): each a ValidationException naming the field,
the value and the fix, before anything runs; the calls a boto3 user makes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulator.errors import ValidationError
from tests.support import processing_input, processing_request

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def _code(response: Any) -> str:
    return response.value.response["Error"]["Code"]


def test_a_request_without_an_image_is_refused(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('ran')\n"})
    no_image = training_request("no-image", code)
    del no_image["AlgorithmSpecification"]["TrainingImage"]
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**no_image)
    assert _code(refused) == "ValidationException"
    message = str(refused.value)
    assert "AlgorithmSpecification.TrainingImage" in message
    assert "AlgorithmName or TrainingImage" in message and "image URI" in message

    no_spec = training_request("no-spec", code)
    del no_spec["AlgorithmSpecification"]
    with pytest.raises(ValidationError, match=r"AlgorithmSpecification: missing.*TrainingImage"):
        sm.create_training_job(**no_spec)
    # Refused means never created: neither name is taken, nothing runs.
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_an_empty_channel_prefix_is_refused_at_create(
    sm, bucket, put_s3, upload_code, training_request
):
    code = upload_code({"train.py": "print('ran')\n"})
    put_s3("data/train/a.csv", "1\n")
    request = training_request(
        "empty-channel",
        code,
        channels={"train": f"s3://{bucket}/data/train", "val": f"s3://{bucket}/data/val"},
    )
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**request)
    assert _code(refused) == "ValidationException"
    message = str(refused.value)
    # The service's words, at the channel that has no object; the one with data is fine.
    assert f'No S3 objects found under S3 URL "s3://{bucket}/data/val"' in message
    assert "InputDataConfig[1].DataSource.S3DataSource.S3Uri" in message
    assert "InputDataConfig[0]" not in message
    assert "'val' channel" in message  # the fix names the channel
    with pytest.raises(ClientError, match="Requested resource not found"):
        sm.describe_training_job(TrainingJobName="empty-channel")  # never created


def test_a_local_file_channel_is_not_listed_in_s3(sm, tmp_path, upload_code, training_request):
    data = tmp_path / "local-data"
    data.mkdir()
    (data / "a.csv").write_text("1\n")
    code = upload_code(
        {"train.py": "import os; print(sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN'])))\n"}
    )
    request = training_request("file-channel", code)
    request["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"FileDataSource": {"FileUri": f"file://{data}"}}}
    ]
    sm.create_training_job(**request)
    desc = sm.wait_for_training_job("file-channel", timeout=120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")


def test_instance_count_zero_is_a_validation_error(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('ran')\n"})
    request = training_request("zero-instances", code)
    request["ResourceConfig"]["InstanceCount"] = 0
    with pytest.raises(ValidationError) as refused:
        sm.create_training_job(**request)
    assert type(refused.value).__name__ != "UnsupportedFeature"
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "ResourceConfig.InstanceCount: must be at least 1" in str(refused.value)
    assert "(got 0)" in str(refused.value)


def _processing_request(name: str, bucket: str, code_uri: str) -> dict[str, Any]:
    return processing_request(
        name,
        ["python3", "/opt/ml/processing/input/code/p.py"],
        inputs=[
            processing_input("code", code_uri, "/opt/ml/processing/input/code"),
            processing_input("code", code_uri, "/opt/ml/processing/input/other"),
        ],
        max_runtime=60,
        volume_gb=5,
    )


def test_duplicate_processing_input_names(sm, bucket, put_s3):
    code = put_s3("p/p.py", "print('ran')\n")
    request = _processing_request("dup-inputs", bucket, code)
    with pytest.raises(ValidationError) as refused:
        sm.create_processing_job(**request)
    message = str(refused.value)
    assert "ProcessingInputs[1].InputName: duplicate InputName (got 'code')" in message
    assert "unique name" in message
    assert "LocalPath already used" not in message  # the paths differ: not the problem


def test_pipeline_step_names_are_at_most_64_characters(sm):
    def definition(step_name: str) -> str:
        return json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [],
                "Steps": [{"Name": step_name, "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}],
            }
        )

    for length in (65, 256, 10_000):
        with pytest.raises(ValidationError) as refused:
            sm.create_pipeline(
                PipelineName=f"long-{length}",
                PipelineDefinition=definition("s" * length),
                RoleArn=ROLE,
            )
        message = str(refused.value)
        assert f"longer than 64 characters ({length})" in message
        assert "Steps[0].Name" in message and "0-64 characters" in message
    sm.create_pipeline(PipelineName="ok-64", PipelineDefinition=definition("s" * 64), RoleArn=ROLE)
    with pytest.raises(ValidationError, match=r"does not match the pattern"):
        sm.create_pipeline(
            PipelineName="spaced", PipelineDefinition=definition("has space"), RoleArn=ROLE
        )


def test_stopping_an_ended_job_is_refused_as_the_service_does(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('done')\n"})
    sm.create_training_job(**training_request("ends-fast", code))
    desc = sm.wait_for_training_job("ends-fast", timeout=120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    with pytest.raises(ClientError) as refused:
        sm.stop_training_job(TrainingJobName="ends-fast")
    assert _code(refused) == "ValidationException"
    assert "The request was rejected because the training job is in status Completed." in str(
        refused.value
    )
    # Nothing changed: the job is still Completed.
    assert sm.describe_training_job(TrainingJobName="ends-fast")["TrainingJobStatus"] == "Completed"


def test_stopping_an_ended_processing_job_is_refused(sm, bucket, put_s3):
    code = put_s3("p2/p.py", "raise SystemExit(3)\n")
    request = _processing_request("fails-fast", bucket, code)
    request["ProcessingInputs"] = request["ProcessingInputs"][:1]
    sm.create_processing_job(**request)
    desc = sm.wait_for_processing_job("fails-fast", timeout=120)
    assert desc["ProcessingJobStatus"] == "Failed"
    with pytest.raises(ClientError, match="processing job is in status Failed"):
        sm.stop_processing_job(ProcessingJobName="fails-fast")
