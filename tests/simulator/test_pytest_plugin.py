"""smsim's pytest plugin, used as a user's test suite uses it: ask for `smsim`, write
plain SageMaker SDK / boto3 code, nothing else (the module README.md shows)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import pytest

TRAIN = """
import os
print("loss=0.25", flush=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("fit")
"""


def test_estimator_fit_needs_nothing_but_the_fixture(smsim, tmp_path, pytorch_estimator):
    sagemaker = pytest.importorskip("sagemaker")

    (tmp_path / "train.py").write_text(TRAIN)
    estimator = pytorch_estimator(
        tmp_path,
        role=smsim.role,
        base_job_name=smsim.unique_name("plugin-fit"),
        sagemaker_session=sagemaker.Session(),  # the SDK's default: env and dummy creds
    )
    estimator.fit(logs=False)
    bucket, key = estimator.model_data[len("s3://") :].split("/", 1)
    assert bucket == smsim.bucket  # the SDK's default bucket is the test's own
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.extractfile("model.txt").read() == b"fit"


def test_each_test_has_its_own_bucket_and_names(smsim):
    s3 = boto3.client("s3")  # AWS_ENDPOINT_URL is set for the whole session
    assert s3.list_objects_v2(Bucket=smsim.bucket).get("KeyCount") == 0
    s3.put_object(Bucket=smsim.bucket, Key="mine.txt", Body=b"x")
    names = {smsim.unique_name("train") for _ in range(3)}
    assert len(names) == 3 and all(n.startswith("train-") for n in names)


def test_the_next_test_starts_clean(smsim):
    # A bucket of its own: what the test before put is not in it.
    assert boto3.client("s3").list_objects_v2(Bucket=smsim.bucket).get("KeyCount") == 0
    assert os.environ["AWS_ENDPOINT_URL"] == smsim.endpoint_url


def _pytest(suite: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    """pytest ``options`` on the suite in ``suite``, run there in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, str(suite)],
        capture_output=True,
        text=True,
        env=env,
        cwd=suite,
    )


def test_registering_the_plugin_starts_nothing(tmp_path):
    """A suite that never asks for `smsim` runs with the plugin loaded and no simulator."""
    (tmp_path / "test_plain.py").write_text(
        "import os, threading\n"
        "def test_plain():\n"
        "    assert 'AWS_ENDPOINT_URL' not in os.environ\n"
        "    assert not [t for t in threading.enumerate() if t.name == 'smsim-endpoint']\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = _pytest(tmp_path, env, "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    plugins = _pytest(tmp_path, env, "--trace-config", "--co", "-q")
    assert "simulator.pytest_plugin" in plugins.stdout  # loaded through its entry point
