"""simulator.aws / session lifecycle: one embedded moto, env restored, state isolated."""

from __future__ import annotations

import os

import boto3
import pytest

from simulator import LocalSageMaker
from simulator.errors import SmsimError


def test_context_points_boto3_at_moto_and_restores_env(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with LocalSageMaker(workspace=tmp_path / "a") as sm:
        assert os.environ["AWS_ENDPOINT_URL"] == sm.endpoint_url.rstrip("/")
        boto3.client("s3").create_bucket(Bucket="made-elsewhere")
        assert [b["Name"] for b in sm.s3.list_buckets()["Buckets"]] == ["made-elsewhere"]
        env = sm.aws_env()
        assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_DEFAULT_REGION"] == "us-east-1"
        # A second simulator in the same process is refused: moto's state is global.
        with (
            pytest.raises(SmsimError, match="already running"),
            LocalSageMaker(workspace=tmp_path / "b"),
        ):
            pass
        # Operations smsim does not implement fall through to moto's SageMaker.
        sm.create_model(
            ModelName="m1",
            PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://made-elsewhere/model.tar.gz"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/R",
        )
        assert sm.describe_model(ModelName="m1")["ModelName"] == "m1"
    assert "AWS_ENDPOINT_URL" not in os.environ
    with LocalSageMaker(workspace=tmp_path / "c") as sm:  # a fresh account each time
        assert sm.s3.list_buckets()["Buckets"] == []


def test_not_started_is_a_clear_error(tmp_path):
    sm = LocalSageMaker(workspace=tmp_path)
    with pytest.raises(SmsimError, match="not started"):
        sm.create_training_job(TrainingJobName="x")
