"""Step code of an assembled pipeline: reproducible archives, content-addressed keys, upload."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
from moto import mock_aws

from simulator.pipeline.build.config import PipelineConfig
from simulator.pipeline.build.step_code import code_locations, upload_code, write_code
from simulator.s3 import sourcedir_tarball


def test_code_locations_change_with_the_code(tmp_path: Path, code_dir: Path) -> None:
    src = code_dir
    before = code_locations(PipelineConfig(), src)
    assert before.sourcedir.startswith("s3://smsim-demo/bsm/code/")
    (src / "train.py").write_text("print('changed')\n")
    assert code_locations(PipelineConfig(), src) != before


def test_upload_code_puts_every_object_where_the_definition_says(
    tmp_path: Path, code_dir: Path
) -> None:
    src = code_dir
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


def test_write_code_mirrors_the_s3_layout_for_aws_s3_sync(tmp_path: Path, code_dir: Path) -> None:
    src = code_dir
    locations = code_locations(PipelineConfig(), src)
    written = write_code(locations, tmp_path / "out", src)
    prefix = locations.processing_prefix.removeprefix("s3://")
    assert (tmp_path / "out" / prefix / "bsm" / "__init__.py") in written
    archive = tmp_path / "out" / locations.sourcedir.removeprefix("s3://")
    assert archive.read_bytes() == sourcedir_tarball(src)
