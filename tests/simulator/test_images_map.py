"""simulator.images: image URI → interpreter."""

from __future__ import annotations

import json
import sys

import pytest

from simulator.errors import ValidationError
from simulator.images import ImageMap

URI = "123.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"


def test_default_is_the_current_python(tmp_path):
    assert ImageMap.load(None, tmp_path).interpreter("any/image:1") == sys.executable


def test_workspace_file_exact_and_patterns(tmp_path):
    (tmp_path / "images.json").write_text(
        json.dumps(
            {
                URI: sys.executable,
                "*pytorch-training*": "/bin/sh",
                "*sklearn*": "/no/such/python",
            }
        )
    )
    images = ImageMap.load(None, tmp_path)
    assert (
        images.interpreter("123.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310")
        == sys.executable
    )
    assert images.interpreter("x/pytorch-training:2.0") == "/bin/sh"
    assert images.interpreter("other") == sys.executable
    with pytest.raises(ValidationError, match="not an executable"):
        images.interpreter("x/sklearn:1")


def test_explicit_mapping_and_env(tmp_path, monkeypatch):
    assert ImageMap.load({"img": "/bin/sh"}, tmp_path).interpreter("img") == "/bin/sh"
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"img": "/bin/sh"}))
    monkeypatch.setenv("SMSIM_IMAGES", str(other))
    assert ImageMap.load(None, tmp_path).interpreter("img") == "/bin/sh"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValidationError, match="JSON object"):
        ImageMap.load(bad, tmp_path)
    with pytest.raises(ValidationError, match="no such file"):
        ImageMap.load(tmp_path / "missing.json", tmp_path)
