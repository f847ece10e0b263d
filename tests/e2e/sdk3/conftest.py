"""The ``sm`` fixture of the SDK v3 tests (what it gives the SDK: see common.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.sdk3.common import BUCKET, SDK_CONFIG


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from simulator import LocalSageMaker

    config = tmp_path_factory.mktemp("sdk-config") / "config.yaml"
    config.write_text(SDK_CONFIG)
    with (
        pytest.MonkeyPatch.context() as env,
        LocalSageMaker(workspace=tmp_path_factory.mktemp("sdk3-ws")) as local,
    ):
        env.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
        local.s3.create_bucket(Bucket=BUCKET)
        yield local
