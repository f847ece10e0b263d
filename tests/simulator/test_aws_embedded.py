"""simulator.aws / session lifecycle: embedded moto, env restored, state isolated."""

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
        # A second simulator in the same process (a LocalSageMaker in a test session that
        # has the pytest plugin's endpoint): moto's S3 is shared, the jobs are its own, the
        # environment points at it while it runs and at the first one again after.
        with LocalSageMaker(workspace=tmp_path / "b") as inner:
            assert os.environ["AWS_ENDPOINT_URL"] == inner.endpoint_url != sm.endpoint_url
            assert [b["Name"] for b in inner.s3.list_buckets()["Buckets"]] == ["made-elsewhere"]
            assert inner.list_training_jobs()["TrainingJobSummaries"] == []
        assert os.environ["AWS_ENDPOINT_URL"] == sm.endpoint_url
        assert sm.s3.list_buckets()["Buckets"]  # the inner one's stop kept the shared state
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
