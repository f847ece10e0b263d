"""The BSM DAG with the XGBoost trainer (``bsm-xgboost``) end to end on tiny data: the same
preprocessing and evaluation steps, xgboost_train.py as the training step, wired by the
resolver from the specs alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import MODEL_CONSUMERS, planned_wiring

pytest.importorskip("xgboost")


def test_plan_wires_the_xgboost_trainer_between_the_bsm_steps() -> None:
    wired = planned_wiring("bsm-xgboost")
    for consumer, dependency in MODEL_CONSUMERS:
        assert wired[(consumer, dependency)] == "XGBoostTraining", wired


def test_demo_runs_the_xgboost_dag_end_to_end(tmp_path) -> None:
    from simulator.demo import run_demo

    result = run_demo(tmp_path / "ws", rows=400, seed=2, dag_name="bsm-xgboost", timeout=400)
    assert result["pipeline_execution_status"] == "Succeeded", result["failure_reason"]
    statuses = {s["name"]: s["status"] for s in result["steps"]}
    assert statuses == {
        "TabularPreprocessing": "Succeeded",
        "XGBoostTraining": "Succeeded",
        "ModelEvaluation": "Succeeded",
        "CheckAUROC": "Succeeded",
        "CreateBSMModel": "Succeeded",
        "RegisterBSMModel": "Succeeded",
    }
    # evaluate.py scored the XGBoost model on the held-out test split.
    assert result["evaluation"]["model_class"] == "xgboost"
    assert result["evaluation"]["metrics"]["auroc"]["value"] > 0.75
    definition = json.loads(Path(result["definition_path"]).read_text())
    [training] = [s for s in definition["Steps"] if s["Name"] == "XGBoostTraining"]
    args = training["Arguments"]
    assert args["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
    assert json.loads(args["HyperParameters"]["sagemaker_program"]) == "xgboost_train.py"
    assert {m["Name"] for m in args["AlgorithmSpecification"]["MetricDefinitions"]} == {
        "train:logloss",
        "train:auc",
        "validation:logloss",
        "validation:auc",
    }
    final = result["outputs"]["XGBoostTraining"]["metrics_output"]["value"]
    metrics = {m["MetricName"] for m in final}
    assert "validation:auc" in metrics
