"""Multi-class (is_binary=false, num_classes=3): train.py, its ONNX graph, then evaluate.py."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from simulator.datasets import generate, write_frame

CLASSES = ["claim", "no_claim", "repeat_claim"]  # sorted: the model's class order
PROC = Path("processing")


def _outcome(frame: pd.DataFrame) -> pd.Series:
    """Three string classes: no claim, a first claim, a claim by a buyer who claimed before."""
    repeat = frame["buyer_prior_claims"] >= 1
    return pd.Series(
        np.where(frame["label"] == 0, "no_claim", np.where(repeat, "repeat_claim", "claim")),
        index=frame.index,
    )


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory, bsm):
    root = tmp_path_factory.mktemp("multiclass")
    frame = generate(400, seed=12)
    frame = frame.assign(outcome=_outcome(frame)).drop(columns="label")
    base = root / "train"
    data = base / "input" / "data"
    for name, rows in {"train": frame.iloc[:280], "val": frame.iloc[280:340]}.items():
        write_frame(rows, data / name / f"{name}.csv", "csv")
    test = frame.iloc[340:].reset_index(drop=True)
    write_frame(test, data / "test" / "test.csv", "csv")
    hps = {
        "label_name": "outcome",
        "is_binary": False,
        "num_classes": 3,
        "class_weights": [1.0, 1.0, 1.5],
        "max_epochs": 2,
        "lr": 0.01,
        "batch_size": 16,
    }
    bsm.train(base, hps)

    ev = root / "eval"
    (ev / PROC / "input" / "model").mkdir(parents=True)
    with tarfile.open(ev / PROC / "input" / "model" / "model.tar.gz", "w:gz") as archive:
        for item in sorted((base / "model").iterdir()):  # SageMaker tars model/'s contents
            archive.add(item, arcname=item.name)
    shutil.copytree(data / "test", ev / PROC / "input" / "eval_data")
    bsm.processing("evaluate.py", ev, LABEL_FIELD="outcome")
    return {"train": base, "eval": ev, "test": test}


def _results(run: dict) -> dict:
    return torch.load(run["train"] / "output/data/predict_results.pth", weights_only=True)


def test_training_learns_three_classes_on_held_out_data(multiclass):
    base = multiclass["train"]
    artifacts = torch.load(base / "model" / "model_artifacts.pth", weights_only=True)
    assert artifacts["labels"] == CLASSES
    test = _results(multiclass)["test"]
    truth = [CLASSES.index(v) for v in multiclass["test"]["outcome"]]
    assert test["labels"].tolist() == truth
    probs = test["probabilities"].numpy()
    assert probs.shape == (60, 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    macro = roc_auc_score(truth, probs, multi_class="ovr", average="macro")
    metrics = json.loads((base / "output/data/metrics.json").read_text())
    assert metrics["test"]["auroc"] == pytest.approx(macro, abs=1e-9)
    assert macro >= 0.65, macro  # chance is 0.5: it learnt all three classes apart
    for name in ("roc_curve.png", "pr_curve.png", "loss_curve.png"):
        assert (base / "output/data" / name).read_bytes()[:4] == b"\x89PNG"


def test_multiclass_onnx_matches_pytorch(multiclass, bsm_import_path):
    from bsm.data import encode_frame

    base = multiclass["train"]
    state = json.loads((base / "model" / "preprocessor.json").read_text())
    encoded = encode_frame(multiclass["test"], state, "test")
    session = ort.InferenceSession(str(base / "model" / "model.onnx"))
    expected = _results(multiclass)["test"]["probabilities"].numpy()
    feeds = {"input_ids": encoded.input_ids, "tab": encoded.tab, "cat": encoded.cat}
    for size in (1, len(expected)):
        got = session.run(None, {k: v[:size] for k, v in feeds.items()})[0]
        assert got.shape == (size, 3)
        assert np.abs(got - expected[:size]).max() <= 1e-4


def test_multiclass_pr_curves_are_one_vs_rest_in_tensorboard(multiclass):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(multiclass["train"] / "output/data/tensorboard_eval"))
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {f"{split}_{c}/pr_curve" for split in ("val", "test") for c in CLASSES} <= tags


def test_evaluate_reports_macro_metrics_of_the_three_classes(multiclass):
    out = multiclass["eval"] / PROC / "output"
    report = json.loads((out / "metrics" / "evaluation.json").read_text())
    trained = json.loads((multiclass["train"] / "output/data/metrics.json").read_text())
    assert report["classes"] == CLASSES and report["num_rows"] == 60
    assert report["metrics"]["auroc"]["value"] == pytest.approx(trained["test"]["auroc"], abs=1e-6)
    assert "binary_classification_metrics" not in report  # SageMaker's layout is binary-only

    predictions = pd.read_csv(out / "eval" / "predictions.csv")
    probs = predictions[[f"prob_{c}" for c in CLASSES]].to_numpy()
    expected = _results(multiclass)["test"]["probabilities"].numpy()
    assert np.abs(probs - expected).max() <= 1e-4
    assert predictions["predicted"].tolist() == [CLASSES[k] for k in expected.argmax(1)]
    truth = multiclass["test"]["outcome"]
    macro_f1 = f1_score(truth, predictions["predicted"], average="macro")
    assert report["metrics"]["f1"]["value"] == pytest.approx(macro_f1)
    for name in ("roc_curve.png", "pr_curve.png"):
        assert (out / "eval" / name).read_bytes()[:4] == b"\x89PNG"
