"""simulator.jobs.training.code: the submit directory staged into /opt/ml/code as the
training toolkit stages it, from S3 (a sourcedir.tar.gz or a prefix) or this machine."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from simulator.jobs.training.code import stage_submit_directory
from simulator.s3 import S3Error
from tests.support import sourcedir_tar

FILES = {"train.py": "print('hi')\n", "bsm/__init__.py": ""}


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_an_s3_sourcedir_tarball_is_unpacked(tmp_path: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="code")
        s3.put_object(Bucket="code", Key="job/source/sourcedir.tar.gz", Body=sourcedir_tar(FILES))
        code = tmp_path / "code"
        stage_submit_directory(s3, "s3://code/job/source/sourcedir.tar.gz", code, tmp_path)
    assert tree(code) == FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["code"]  # the archive is gone


def test_an_s3_prefix_is_downloaded_as_is(tmp_path: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="code")
        for name, text in FILES.items():
            s3.put_object(Bucket="code", Key=f"src/{name}", Body=text.encode())
        stage_submit_directory(s3, "s3://code/src", tmp_path / "code", tmp_path)
    assert tree(tmp_path / "code") == FILES


def test_a_local_directory_is_copied_without_bytecode(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name, text in FILES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    stage_submit_directory(None, f"file://{src}", tmp_path / "code", tmp_path)
    assert tree(tmp_path / "code") == FILES


def test_a_local_tarball_is_unpacked(tmp_path: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(sourcedir_tar(FILES))
    stage_submit_directory(None, str(archive), tmp_path / "code", tmp_path)
    assert tree(tmp_path / "code") == FILES


def test_anything_else_names_the_hyperparameter(tmp_path: Path) -> None:
    with pytest.raises(S3Error, match="sagemaker_submit_directory '/no/such' is neither"):
        stage_submit_directory(None, "/no/such", tmp_path / "code", tmp_path)
