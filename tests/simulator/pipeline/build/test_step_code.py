"""Step code of an assembled pipeline: reproducible archives, content-addressed keys, upload."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
from moto import mock_aws

from simulator.pipeline.build.config import PipelineConfig
from simulator.pipeline.build.step_code import (
    code_locations,
    sourcedir_tarball,
    upload_code,
    upload_sourcedir,
    write_code,
)
from simulator.s3 import S3Uri


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "bsm" / "__pycache__").mkdir(parents=True)
    (src / "train.py").write_text("print('train')\n")
    (src / "preprocess.py").write_text("print('pre')\n")
    (src / "bsm" / "__init__.py").write_text("")
    (src / "bsm" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return src


def test_sourcedir_tarball_is_reproducible_and_clean(tmp_path: Path) -> None:
    src = _source(tmp_path)
    first = sourcedir_tarball(src)
    (src / "train.py").touch()  # a new mtime must not change the archive
    assert sourcedir_tarball(src) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert sorted(tar.getnames()) == ["bsm/__init__.py", "preprocess.py", "train.py"]


def test_code_locations_change_with_the_code(tmp_path: Path) -> None:
    src = _source(tmp_path)
    before = code_locations(PipelineConfig(), src)
    assert before.sourcedir.startswith("s3://smsim-demo/bsm/code/")
    (src / "train.py").write_text("print('changed')\n")
    assert code_locations(PipelineConfig(), src) != before


def test_upload_code_puts_every_object_where_the_definition_says(tmp_path: Path) -> None:
    src = _source(tmp_path)
    locations = code_locations(PipelineConfig(), src)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="smsim-demo")
        written = upload_code(s3, locations, src)
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="smsim-demo")["Contents"]}
        prefix = locations.processing_prefix.removeprefix("s3://smsim-demo/")
        assert prefix + "preprocess.py" in keys
        assert prefix + "bsm/__init__.py" in keys
        assert not any("__pycache__" in k for k in keys)
        body = s3.get_object(
            Bucket="smsim-demo", Key=locations.sourcedir.removeprefix("s3://smsim-demo/")
        )
        with tarfile.open(fileobj=io.BytesIO(body["Body"].read())) as tar:
            assert "train.py" in tar.getnames()
    assert locations.sourcedir in written


def test_write_code_mirrors_the_s3_layout_for_aws_s3_sync(tmp_path: Path) -> None:
    src = _source(tmp_path)
    locations = code_locations(PipelineConfig(), src)
    written = write_code(locations, tmp_path / "out", src)
    prefix = locations.processing_prefix.removeprefix("s3://")
    assert (tmp_path / "out" / prefix / "bsm" / "__init__.py") in written
    archive = tmp_path / "out" / locations.sourcedir.removeprefix("s3://")
    assert archive.read_bytes() == sourcedir_tarball(src)


def test_upload_sourcedir_is_the_sdks_code_upload(tmp_path: Path) -> None:
    src = _source(tmp_path)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="code-bucket")
        uri = upload_sourcedir(s3, src, S3Uri("code-bucket", "job-1/source"))
        assert uri == "s3://code-bucket/job-1/source/sourcedir.tar.gz"
        body = s3.get_object(Bucket="code-bucket", Key="job-1/source/sourcedir.tar.gz")
        assert body["Body"].read() == sourcedir_tarball(src)
