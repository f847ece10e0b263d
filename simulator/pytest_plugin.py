"""smsim's pytest plugin: a running SageMaker simulator for the tests that ask for one.

Installed with smsim (the ``pytest11`` entry point ``smsim``); registering it starts
nothing: only a test that requests the ``smsim`` fixture starts the simulator, once
per test session::

    def test_training_runs(smsim):
        estimator = PyTorch(..., role=smsim.role)   # the SDK's default session works
        estimator.fit()
        assert smsim.s3.get_object(...)

* ``smsim_endpoint`` (session): an :class:`~simulator.endpoint.Endpoint` on a fresh
  workspace under ``tmp_path_factory``, with ``AWS_ENDPOINT_URL``, dummy credentials and
  the region exported for this process and its children; stopped (its running jobs
  Stopped) when the session ends. The SDK's telemetry is opted out (offline).
* ``smsim`` (per test): the endpoint plus a fresh bucket of the test's own, clients,
  and ``unique_name(base)`` for job and pipeline names no other test uses.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
# The SageMaker SDK's config file (SAGEMAKER_USER_CONFIG_OVERRIDE): telemetry off (no
# network), and the test's bucket as the default bucket: without one the SDK asks STS
# for the account at its public endpoint, which AWS_ENDPOINT_URL does not redirect.
_SDK_CONFIG = (
    "SchemaVersion: '1.0'\n"
    "SageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    "      Session:\n        DefaultS3Bucket: {bucket}\n"
)
_CONFIG_FILE = "sagemaker-config.yaml"
_counter = itertools.count(1)


@dataclass
class SmsimTest:
    """What one test gets: the running endpoint, its own bucket, name helpers."""

    endpoint: Any
    bucket: str
    test_id: str
    role: str = ROLE
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def endpoint_url(self) -> str:
        return str(self.endpoint.url)

    @property
    def workspace(self) -> Path:
        return Path(self.endpoint.workspace)

    @property
    def s3(self) -> Any:
        return self.endpoint.backend.s3

    @property
    def sagemaker(self) -> Any:
        """A boto3 SageMaker client on the endpoint."""
        return self.endpoint.aws.client("sagemaker")

    def client(self, service: str) -> Any:
        return self.endpoint.aws.client(service)

    def unique_name(self, base: str = "job") -> str:
        """``<base>-<test>-<n>``: a job/pipeline name no other test of the session takes
        (names stay taken for ever, as on the service), within the 63-character pattern."""
        suffix = f"-{self.test_id}-{next(self._names)}"
        return re.sub(r"[^a-zA-Z0-9-]", "-", base)[: 63 - len(suffix)].strip("-") + suffix

    def sagemaker_session(self, **kwargs: Any) -> Any:
        """A ``sagemaker.Session`` whose default bucket is this test's bucket."""
        import boto3
        import sagemaker

        boto = boto3.Session(region_name=self.endpoint.aws.region)
        return sagemaker.Session(boto, default_bucket=self.bucket, **kwargs)


@pytest.fixture(scope="session")
def smsim_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One running smsim endpoint for the whole test session."""
    from simulator.endpoint import Endpoint

    workspace = tmp_path_factory.mktemp("smsim")
    config = workspace / _CONFIG_FILE
    config.write_text(_SDK_CONFIG.format(bucket="smsim-default"))
    saved = os.environ.get("SAGEMAKER_USER_CONFIG_OVERRIDE")
    os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config)
    endpoint = Endpoint(workspace / "ws", stop_grace_seconds=10.0, checkpoint_sync_seconds=1.0)
    endpoint.start()  # exports AWS_ENDPOINT_URL and dummy credentials
    endpoint.backend.s3.create_bucket(Bucket="smsim-default")  # before any test's own
    try:
        yield endpoint
    finally:
        endpoint.close()
        if saved is None:
            os.environ.pop("SAGEMAKER_USER_CONFIG_OVERRIDE", None)
        else:
            os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = saved


@pytest.fixture
def smsim(smsim_endpoint: Any, request: pytest.FixtureRequest) -> SmsimTest:
    """The session's endpoint, a fresh bucket for this test, unique names."""
    test_id = f"t{next(_counter)}"
    bucket = f"smsim-{test_id}-{_slug(request.node.name)}"[:63].strip("-")
    smsim_endpoint.backend.s3.create_bucket(Bucket=bucket)
    # A sagemaker.Session() made in this test uploads code and writes output there too.
    config = Path(smsim_endpoint.workspace).parent / _CONFIG_FILE
    config.write_text(_SDK_CONFIG.format(bucket=bucket))
    return SmsimTest(smsim_endpoint, bucket, test_id)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
