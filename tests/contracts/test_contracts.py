"""Script contracts: construction rules and the PyTorch training contract."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.base import ProcessingScriptContract, TrainingScriptContract
from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT
from specs.registry import default_contracts


def test_pytorch_train_contract_declares_the_training_layout() -> None:
    c = PYTORCH_TRAIN_CONTRACT
    assert isinstance(c, TrainingScriptContract)
    assert c.entry_point == "train.py"
    assert c.expected_input_paths == {
        "input_path": "/opt/ml/input/data",
        "config": "/opt/ml/input/config/hyperparameters.json",
    }
    assert c.expected_output_paths == {
        "model_output": "/opt/ml/model",
        "data_output": "/opt/ml/output/data",
        "checkpoints": "/opt/ml/checkpoints",
    }
    for channel in ("train", "val", "test"):
        assert channel in c.description


def test_pytorch_train_contract_env_vars_are_the_ones_train_py_reads() -> None:
    c = PYTORCH_TRAIN_CONTRACT
    assert c.required_env_vars == []
    assert c.optional_env_vars == {
        "SM_CHECKPOINT_DIR": "/opt/ml/checkpoints",
        "WORLD_SIZE": "1",
        "RANK": "0",
        "LOCAL_RANK": "0",
    }
    # Hyperparameters come from hyperparameters.json, not the command line.
    assert c.expected_arguments == {}
    assert "hyperparameters.json" in c.description


def test_contracts_are_frozen() -> None:
    with pytest.raises(ValidationError):
        PYTORCH_TRAIN_CONTRACT.entry_point = "other.py"  # type: ignore[misc]


def test_default_contracts_hold_the_training_contract() -> None:
    assert default_contracts()["train.py"] is PYTORCH_TRAIN_CONTRACT


def _training(**overrides: object) -> TrainingScriptContract:
    fields: dict[str, object] = {
        "entry_point": "train.py",
        "expected_input_paths": {"data": "/opt/ml/input/data/train"},
        "expected_output_paths": {"model": "/opt/ml/model"},
    }
    fields.update(overrides)
    return TrainingScriptContract(**fields)


def test_valid_training_contract_is_accepted() -> None:
    assert _training().all_env_vars == set()


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"entry_point": "train.sh"}, "entry_point must be a .py file"),
        ({"entry_point": "src/train.py"}, "entry_point must be a .py file"),
        ({"expected_input_paths": {"data": "/tmp/data"}}, "outside the training container"),
        ({"expected_input_paths": {"data": "opt/ml/input/data"}}, "must be absolute"),
        ({"expected_input_paths": {"data": "/opt/ml/input/data/../x"}}, "normalised"),
        ({"expected_input_paths": {"1data": "/opt/ml/input/data"}}, "logical name '1data'"),
        ({"expected_output_paths": {"model": "/opt/ml/processing/output"}}, "allowed roots"),
        ({"expected_output_paths": {"model": "/opt/ml/output/failure"}}, "allowed roots"),
        ({"required_env_vars": ["BAD-NAME"]}, "not a valid environment variable name"),
        ({"optional_env_vars": {"1X": "a"}}, "not a valid environment variable name"),
        (
            {"required_env_vars": ["LR"], "optional_env_vars": {"LR": "0.1"}},
            "both required and optional",
        ),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_invalid_training_contract_is_refused_naming_the_rule(
    overrides: dict, fragment: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        _training(**overrides)
    assert fragment in str(exc.value)


def test_processing_contract_roots() -> None:
    ok = ProcessingScriptContract(
        entry_point="preprocess.py",
        expected_input_paths={"data": "/opt/ml/processing/input/data"},
        expected_output_paths={"processed": "/opt/ml/processing/output"},
    )
    assert ok.job_type == "processing"
    with pytest.raises(ValidationError, match="outside the processing container"):
        ProcessingScriptContract(
            entry_point="preprocess.py", expected_input_paths={"data": "/opt/ml/input/data"}
        )
