"""simulator.s3's sourcedir packer: one reproducible sourcedir.tar.gz, uploaded whole."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from simulator.errors import ValidationError
from simulator.s3 import S3Uri, sourcedir_tarball, upload_sourcedir


def test_sourcedir_tarball_is_reproducible_and_clean(tmp_path: Path, code_dir: Path) -> None:
    src = code_dir
    first = sourcedir_tarball(src)
    (src / "train.py").touch()  # a new mtime must not change the archive
    assert sourcedir_tarball(src) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert sorted(tar.getnames()) == ["bsm/__init__.py", "preprocess.py", "train.py"]


def test_upload_sourcedir_is_the_sdks_code_upload(tmp_path: Path, code_dir: Path) -> None:
    src = code_dir
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="code-bucket")
        target = S3Uri("code-bucket", "job-1/source/sourcedir.tar.gz")
        uri = upload_sourcedir(s3, src, target)
        assert uri == "s3://code-bucket/job-1/source/sourcedir.tar.gz"
        body = s3.get_object(Bucket="code-bucket", Key="job-1/source/sourcedir.tar.gz")
        assert body["Body"].read() == sourcedir_tarball(src)


def test_a_missing_source_dir_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="source_dir: not a directory"):
        sourcedir_tarball(tmp_path / "nope")


def test_upload_sourcedir_writes_the_exact_key(tmp_path: Path, code_dir: Path) -> None:
    src = code_dir
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="code-b")
        assert (
            upload_sourcedir(s3, src, S3Uri("code-b", "code/v1.tar.gz"))
            == "s3://code-b/code/v1.tar.gz"
        )
        body = s3.get_object(Bucket="code-b", Key="code/v1.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "train.py" in tar.getnames()
