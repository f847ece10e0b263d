"""Endpoints through plain boto3 clients: Creating → InService, InvokeEndpoint, ModelError,
UpdateEndpoint, DeleteEndpoint, and no server left once the simulator closes."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap

import boto3
import pytest
from botocore.exceptions import ClientError

from simulator.shapes import validate_response

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
HANDLER = """
    import json
    def model_fn(model_dir):
        with open(model_dir + "/factor.txt") as f:
            return float(f.read())
    def transform_fn(model, body, content_type, accept, context):
        values = json.loads(body)
        if values == "fail":
            raise ValueError("cannot score 'fail'")
        answer = {"scaled": [v * model for v in values], "attrs": context.custom_attributes}
        return json.dumps(answer), "application/json"
"""


def _model(sm, bucket: str, name: str, factor: float, handler: str = HANDLER) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, text in {"factor.txt": str(factor), "code/inference.py": handler}.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    sm.s3.put_object(Bucket=bucket, Key=f"models/{name}.tar.gz", Body=buf.getvalue())
    sm.client.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/{name}.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    sm.client.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )


def test_endpoint_lifecycle_and_invocations(sm, bucket):
    _model(sm, bucket, "double", 2.0)
    _model(sm, bucket, "triple", 3.0)
    client = boto3.client("sagemaker", region_name="us-east-1")
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    arn = client.create_endpoint(EndpointName="ep", EndpointConfigName="double-config")[
        "EndpointArn"
    ]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep"
    assert client.describe_endpoint(EndpointName="ep")["EndpointStatus"] in (
        "Creating",
        "InService",
    )
    desc = sm.wait_for_endpoint("ep", timeout=60)
    validate_response("DescribeEndpoint", desc)
    assert desc["EndpointStatus"] == "InService"
    assert desc["ProductionVariants"][0]["VariantName"] == "AllTraffic"

    answer = runtime.invoke_endpoint(
        EndpointName="ep",
        Body=b"[1, 2]",
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace-id=9",
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [2.0, 4.0], "attrs": "trace-id=9"}
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"

    with pytest.raises(runtime.exceptions.ModelError) as err:
        runtime.invoke_endpoint(EndpointName="ep", Body=b'"fail"', ContentType="application/json")
    error = err.value.response
    assert error["OriginalStatusCode"] == 500
    assert error["OriginalMessage"].startswith("ValueError: cannot score 'fail'")
    assert "Received server error (500) from primary" in error["Error"]["Message"]

    # UpdateEndpoint: another model behind the same name, once its server answers.
    client.update_endpoint(EndpointName="ep", EndpointConfigName="triple-config")
    sm.wait_for_endpoint("ep", timeout=60)
    desc = client.describe_endpoint(EndpointName="ep")
    assert (desc["EndpointStatus"], desc["EndpointConfigName"]) == ("InService", "triple-config")
    answer = runtime.invoke_endpoint(EndpointName="ep", Body=b"[1]", ContentType="application/json")
    assert json.loads(answer["Body"].read())["scaled"] == [3.0]

    servers = [v.server for v in sm.endpoint.backend.endpoints._endpoints["ep"].variants]
    client.delete_endpoint(EndpointName="ep")
    assert all(s.process.poll() is not None for s in servers)  # stopped
    with pytest.raises(ClientError, match="Could not find endpoint"):
        client.describe_endpoint(EndpointName="ep")
    with pytest.raises(ClientError, match="Could not find endpoint"):
        runtime.invoke_endpoint(EndpointName="ep", Body=b"[1]", ContentType="application/json")


def test_a_model_that_cannot_load_fails_the_endpoint(sm, bucket):
    _model(sm, bucket, "broken", 1.0, handler="def model_fn(d):\n    raise OSError('no weights')\n")
    sm.create_endpoint(EndpointName="bad", EndpointConfigName="broken-config")
    desc = sm.wait_for_endpoint("bad", timeout=60)
    assert desc["EndpointStatus"] == "Failed"
    assert "OSError: no weights" in desc["FailureReason"]


def test_endpoints_die_with_the_simulator(tmp_path, log_lines):
    from simulator import LocalSageMaker

    with LocalSageMaker(workspace=tmp_path / "ws", log_sink=log_lines) as local:
        local.s3.create_bucket(Bucket="ep-bucket")
        _model(local, "ep-bucket", "double", 2.0)
        local.create_endpoint(EndpointName="left-open", EndpointConfigName="double-config")
        assert local.wait_for_endpoint("left-open", timeout=60)["EndpointStatus"] == "InService"
        endpoints = local.endpoint.backend.endpoints
        process = endpoints._endpoints["left-open"].variants[0].server.process
    assert process.poll() is not None
