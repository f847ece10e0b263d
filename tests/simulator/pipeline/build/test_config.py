"""Pipeline config: defaults run the demo; bad values are refused naming field and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.errors import ValidationError
from simulator.pipeline.build.config import PipelineConfig, load_config, make_config


def test_defaults_are_usable() -> None:
    config = PipelineConfig()
    assert config.raw_data_uri == f"s3://{config.bucket}/{config.prefix}/raw/"
    assert {"max_epochs", "model_class", "lr"} <= set(config.hyperparameters)
    assert 0 < config.auroc_threshold < 1


def test_load_config_from_json(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.json"
    path.write_text(
        json.dumps({"bucket": "my-bucket", "prefix": "/team/bsm/", "auroc_threshold": 0.9})
    )
    config = load_config(path)
    assert config.bucket == "my-bucket"
    assert config.prefix == "team/bsm"  # slashes trimmed so URIs never hold '//'
    assert config.auroc_threshold == 0.9
    assert config.raw_data_uri == "s3://my-bucket/team/bsm/raw/"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("bucket", "My_Bucket", "not a valid S3 bucket name"),
        ("pipeline_name", "bsm pipeline", "SageMaker's name pattern"),
        ("training_instance_type", "m5.xlarge", "ml.m5.xlarge"),
        ("auroc_threshold", 1.5, "less than or equal to 1"),
        ("model_approval_status", "Maybe", "PendingManualApproval"),
        ("input_data_uri", "/local/raw", "s3://"),
        ("hyperparameters", {"sagemaker_program": "x.py"}, "set by the assembly"),
        ("metric_definitions", [{"Name": "a"}], "exactly the keys Name and Regex"),
    ],
)
def test_bad_values_name_the_field(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_config({field: value})
    message = str(info.value)
    assert field in message and needle in message


def test_unknown_field_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"bukket": "x"}))
    with pytest.raises(ValidationError, match="bukket.*known fields: .*bucket"):
        load_config(path)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValidationError, match="not JSON"):
        load_config(bad)
    arr = tmp_path / "arr.json"
    arr.write_text("[]")
    with pytest.raises(ValidationError, match="JSON object"):
        load_config(arr)
    binary = tmp_path / "config.json.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(ValidationError, match="not UTF-8"):
        load_config(binary)
