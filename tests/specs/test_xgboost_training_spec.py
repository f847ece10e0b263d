"""The XGBoost training step: the PyTorch trainer's shape, so either wires into the BSM DAG."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT
from contracts.xgboost_train import XGBOOST_TRAIN_CONTRACT
from simulator.pipeline.build.resolver import resolve_step
from specs.base import SageMakerStepType
from specs.pytorch_training import PYTORCH_TRAINING_SPEC
from specs.registry import default_contracts, default_registry
from specs.xgboost_training import XGBOOST_TRAINING_SPEC

SPEC = XGBOOST_TRAINING_SPEC
CODE_DIR = Path(__file__).resolve().parents[2] / "dockers" / "xgboost_bsm"


def test_registered_with_its_contract() -> None:
    assert default_registry().get("XGBoostTraining") == SPEC
    assert default_contracts()["xgboost_train.py"] is XGBOOST_TRAIN_CONTRACT
    assert SPEC.script_contract is XGBOOST_TRAIN_CONTRACT
    assert SPEC.sagemaker_step_type is SageMakerStepType.TRAINING


def test_same_inputs_outputs_and_aliases_as_the_pytorch_trainer() -> None:
    def shape(spec):
        deps = {
            n: (d.dependency_type, d.required, d.data_type) for n, d in spec.dependencies.items()
        }
        outs = {
            n: (o.output_type, o.property_path, tuple(o.aliases), o.data_type)
            for n, o in spec.outputs.items()
        }
        return deps, outs

    assert shape(SPEC) == shape(PYTORCH_TRAINING_SPEC)
    assert (
        XGBOOST_TRAIN_CONTRACT.expected_input_paths == PYTORCH_TRAIN_CONTRACT.expected_input_paths
    )
    assert (
        XGBOOST_TRAIN_CONTRACT.expected_output_paths == PYTORCH_TRAIN_CONTRACT.expected_output_paths
    )


def test_downstream_steps_wire_to_the_xgboost_trainer() -> None:
    registry = default_registry()
    for consumer, dependency in (
        ("ModelEvaluation", "model_input"),
        ("PyTorchModel", "model_data"),
        ("RegisterModel", "model_data"),
    ):
        [res] = [
            r
            for r in resolve_step(consumer, registry.get(consumer), {"XGBoostTraining": SPEC})
            if r.dependency.logical_name == dependency
        ]
        assert res.chosen is not None and res.chosen.output.logical_name == "model_output"


def test_metric_definitions_read_the_round_line_the_script_prints(monkeypatch) -> None:
    pytest.importorskip("xgboost")
    monkeypatch.syspath_prepend(str(CODE_DIR))
    script = runpy.run_path(str(CODE_DIR / "xgboost_train.py"), run_name="xgboost_train")
    row = {
        "round": 7,
        "train-logloss": 0.41234,
        "train-auc": 0.901,
        "validation-logloss": 0.451,
        "validation-auc": 0.888,
    }
    line = script["metric_line"](row)
    values = {
        d["Name"]: float(re.search(d["Regex"], line).group(1))
        for d in XGBOOST_TRAIN_CONTRACT.metric_definitions
    }
    assert values == {
        "train:logloss": 0.41234,
        "train:auc": 0.901,
        "validation:logloss": 0.451,
        "validation:auc": 0.888,
    }
