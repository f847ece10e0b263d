"""The BSM training spec builder: one Training-step interface for every framework."""

from __future__ import annotations

from contracts.xgboost_train import XGBOOST_TRAIN_CONTRACT
from specs.base import SageMakerStepType
from specs.pytorch_training import PYTORCH_TRAINING_SPEC
from specs.training import bsm_training_spec


def test_a_new_framework_gets_the_same_interface_under_its_own_names() -> None:
    spec = bsm_training_spec("LightGBMTraining", "LightGBM", XGBOOST_TRAIN_CONTRACT)
    assert spec.step_type == "LightGBMTraining"
    assert spec.sagemaker_step_type is SageMakerStepType.TRAINING
    assert spec.script_contract is XGBOOST_TRAIN_CONTRACT
    assert "with LightGBM" in spec.description
    # Found by the framework's name too, as "pytorch" finds the PyTorch trainer's input.
    assert "lightgbm" in spec.dependencies["input_path"].semantic_keywords
    assert "pytorch" in PYTORCH_TRAINING_SPEC.dependencies["input_path"].semantic_keywords
    paths = {name: out.property_path for name, out in spec.outputs.items()}
    assert paths == {n: o.property_path for n, o in PYTORCH_TRAINING_SPEC.outputs.items()}
