"""Helpers to run the BSM scripts the way a SageMaker job does: a subprocess in a fake /opt/ml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import run_script, script_env

CODE_DIR = Path(__file__).resolve().parents[2] / "dockers" / "pytorch_bsm"


def sdk_hyperparameters(values: dict[str, Any]) -> dict[str, str]:
    """Hyperparameters as the SageMaker Python SDK sends them: every value JSON-encoded."""
    return {key: json.dumps(value) for key, value in values.items()}


def run_train(
    base: Path,
    hyperparameters: dict[str, Any],
    *args: str,
    check: bool = True,
    raw_hyperparameters: bool = False,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run train.py with ``base`` as /opt/ml and ``hyperparameters`` (SDK-encoded).

    With ``raw_hyperparameters`` the hyperparameters.json already in place is used.
    """
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    if not raw_hyperparameters:
        encoded = sdk_hyperparameters(hyperparameters)
        (config / "hyperparameters.json").write_text(json.dumps(encoded))
    return run_script("train.py", CODE_DIR, base, args, check=check, env=env)


def run_processing(
    script: str, base: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run preprocess.py / evaluate.py as a processing job would: another cwd, absolute path."""
    return run_script(str(CODE_DIR / script), base, base, args, check=check, env=env)


@pytest.fixture(scope="session")
def bsm_import_path():
    """Make the container's ``bsm`` package importable from tests (read its state files)."""
    sys.path.insert(0, str(CODE_DIR))
    yield CODE_DIR
    sys.path.remove(str(CODE_DIR))


class BsmScripts:
    """The helpers above as one fixture object (importlib mode: tests cannot import conftest)."""

    code_dir = CODE_DIR
    sdk_hyperparameters = staticmethod(sdk_hyperparameters)
    env = staticmethod(script_env)
    train = staticmethod(run_train)
    processing = staticmethod(run_processing)


@pytest.fixture(scope="session")
def bsm() -> BsmScripts:
    return BsmScripts()
