"""dockers/xgboost_bsm/xgboost_train.py run as a SageMaker XGBoost framework job would run
it: a subprocess with a fake /opt/ml (SAGEMAKER_BASE_DIR), SDK-encoded hyperparameters."""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.support import run_script

xgb = pytest.importorskip("xgboost")

CODE_DIR = Path(__file__).resolve().parents[3] / "dockers" / "xgboost_bsm"
# The built-in XGBoost metric regex SageMaker publishes (algorithm_mode/metrics.py).
VALIDATION_AUC = r".*\[[0-9]+\].*#011validation-auc:(\S+)"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulator.datasets import write_dataset

    out = tmp_path_factory.mktemp("bsm") / "data"
    write_dataset(out, rows=800, seed=3)
    return out


def make_base(tmp_path: Path, data_dir: Path, hps: dict[str, Any], name: str = "ml") -> Path:
    base = tmp_path / name
    shutil.copytree(data_dir, base / "input" / "data", ignore=shutil.ignore_patterns("*.json"))
    (base / "input" / "config").mkdir(parents=True)
    encoded = {k: json.dumps(v) for k, v in hps.items()}  # as the SageMaker SDK sends them
    encoded["sagemaker_program"] = json.dumps("xgboost_train.py")
    (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(encoded))
    return base


def run_in_process(base: Path, capsys: pytest.CaptureFixture, monkeypatch) -> str:
    """The script's main() in this process (its module re-read with base as /opt/ml): the
    same code path as the subprocess without paying the imports again; returns stdout."""
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(base))
    monkeypatch.delenv("SM_CHECKPOINT_DIR", raising=False)
    monkeypatch.syspath_prepend(str(CODE_DIR))
    script = runpy.run_path(str(CODE_DIR / "xgboost_train.py"), run_name="xgboost_train")
    capsys.readouterr()
    script["main"]([])
    return capsys.readouterr().out


def run(base: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_script(
        "xgboost_train.py", CODE_DIR, base, ("--num_round", "ignored"), check=check, timeout=120
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    """One real job (a subprocess, as SageMaker runs it); its /opt/ml tree and its output."""
    base = make_base(tmp_path_factory.mktemp("job"), data_dir, {"num_round": 120, "eta": 0.15})
    return base, run(base)


def test_trains_a_model_that_ranks_held_out_orders(trained, data_dir) -> None:
    base, proc = trained

    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert metrics["test"]["auroc"] > 0.85, metrics["test"]
    # The SageMaker model file, loadable by xgboost, scores the test split as reported.
    booster = xgb.Booster()
    booster.load_model(bytearray((base / "model" / "xgboost-model").read_bytes()))
    json_model = xgb.Booster()
    json_model.load_model(str(base / "model" / "xgboost-model.json"))
    predictions = pd.read_csv(base / "output" / "data" / "predictions.csv")
    test = predictions[predictions["split"] == "test"]
    sys.path.insert(0, str(CODE_DIR))
    try:
        from xgb_bsm.features import encode
    finally:
        sys.path.remove(str(CODE_DIR))
    state = json.loads((base / "model" / "preprocessor.json").read_text())
    frame = pd.read_csv(data_dir / "test" / "test.csv")
    matrix = xgb.DMatrix(encode(frame, state), feature_names=state["feature_names"])
    np.testing.assert_allclose(booster.predict(matrix), test["prob_1"], rtol=1e-5)
    np.testing.assert_allclose(json_model.predict(matrix), test["prob_1"], rtol=1e-5)
    # Text features carry signal of their own: the words of complaints are used.
    assert any(name.startswith("word=") for name in metrics["feature_importance"])
    # One metric line per round, in the form the built-in's regexes read.
    lines = [line for line in proc.stdout.splitlines() if re.match(VALIDATION_AUC, line)]
    kept = lines.pop()  # the kept (best) round's line comes last: FinalMetricDataList's values
    assert kept.startswith(f"kept [{metrics['best_round']}]#011")
    assert len(lines) == metrics["rounds_run"]
    assert lines[0].startswith("[0]#011train-logloss:")
    last = float(re.match(VALIDATION_AUC, lines[-1]).group(1))
    assert last == pytest.approx(metrics["history"][-1]["validation-auc"], abs=1e-5)


def test_early_stopping_keeps_the_best_validation_round(
    tmp_path, data_dir, capsys, monkeypatch
) -> None:
    base = make_base(tmp_path, data_dir, {"num_round": 400, "eta": 0.5, "early_stopping_rounds": 5})
    run_in_process(base, capsys, monkeypatch)
    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["rounds_run"] < 400
    aucs = [h["validation-auc"] for h in metrics["history"]]
    assert metrics["best_round"] == int(np.argmax(aucs))
    assert metrics["rounds_run"] == metrics["best_round"] + 1 + 5
    booster = xgb.Booster()
    booster.load_model(bytearray((base / "model" / "xgboost-model").read_bytes()))
    assert booster.num_boosted_rounds() == metrics["best_round"] + 1
    assert metrics["val"]["auroc"] == pytest.approx(max(aucs), abs=1e-6)


def test_a_restarted_job_resumes_from_its_checkpoint_round(
    tmp_path, data_dir, capsys, monkeypatch
) -> None:
    hps = {"num_round": 20, "early_stopping_rounds": 0}
    whole = make_base(tmp_path, data_dir, hps, "whole")
    run_in_process(whole, capsys, monkeypatch)
    # First attempt stops after 8 rounds (round 7 checkpointed); the restart asks for 20.
    restarted = make_base(tmp_path, data_dir, {**hps, "num_round": 8}, "restarted")
    run_in_process(restarted, capsys, monkeypatch)
    assert (restarted / "checkpoints" / "xgboost-checkpoint.7").is_file()
    (restarted / "input" / "config" / "hyperparameters.json").write_text(
        (whole / "input" / "config" / "hyperparameters.json").read_text()
    )
    out = run_in_process(restarted, capsys, monkeypatch)
    assert "resumed from checkpoint of round 7" in out
    rounds = [int(m.group(1)) for m in re.finditer(r"^\[([0-9]+)\]#011", out, re.M)]
    assert rounds == list(range(8, 20))
    # The resumed model is the uninterrupted one, tree for tree.
    assert (restarted / "model" / "xgboost-model.json").read_text() == (
        whole / "model" / "xgboost-model.json"
    ).read_text()
    history = json.loads((restarted / "output" / "data" / "metrics.json").read_text())["history"]
    assert [h["round"] for h in history] == list(range(20))


def test_a_checkpoint_of_other_hyperparameters_is_set_aside(
    tmp_path, data_dir, capsys, monkeypatch
) -> None:
    base = make_base(tmp_path, data_dir, {"num_round": 5, "max_depth": 3})
    run_in_process(base, capsys, monkeypatch)
    (base / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"num_round": "5", "max_depth": "2"})
    )
    out = run_in_process(base, capsys, monkeypatch)
    assert "not resuming the checkpoint" in out and "other hyperparameters" in out
    assert "[0]#011" in out


def test_a_bad_hyperparameter_fails_the_job_naming_it(tmp_path, data_dir) -> None:
    base = make_base(tmp_path, data_dir, {"num_round": "many"})
    proc = run(base, check=False)
    assert proc.returncode == 1
    failure = (base / "output" / "failure").read_text()
    assert "'num_round'" in failure and "'many'" in failure and "an integer" in failure


def test_evaluate_py_scores_the_xgboost_model_as_training_did(trained, data_dir, tmp_path):
    base, _ = trained
    job = tmp_path / "eval"
    model_in = job / "processing" / "input" / "model"
    model_in.mkdir(parents=True)
    with tarfile.open(model_in / "model.tar.gz", "w:gz") as tar:  # as training uploaded it
        for path in (base / "model").iterdir():
            tar.add(path, arcname=path.name)
    shutil.copytree(data_dir / "test", job / "processing" / "input" / "eval_data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    proc = subprocess.run(
        [sys.executable, str(CODE_DIR.parent / "pytorch_bsm" / "evaluate.py")],
        cwd=job,
        env={**env, "SAGEMAKER_BASE_DIR": str(job)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((job / "processing/output/metrics/evaluation.json").read_text())
    trained_metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert report["model_class"] == "xgboost"
    auroc = report["metrics"]["auroc"]["value"]
    assert auroc == pytest.approx(trained_metrics["test"]["auroc"], abs=1e-6)
    scored = pd.read_csv(job / "processing/output/eval/predictions.csv")
    training = pd.read_csv(base / "output" / "data" / "predictions.csv")
    training = training[training["split"] == "test"]
    np.testing.assert_allclose(scored["prob_1"], training["prob_1"], rtol=1e-5)
