"""Every artifact of a tiny train.py run, checked for content: model dir, reports, metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from simulator.datasets import CATEGORICAL_FIELDS, NUMERIC_FIELDS, write_dataset

# The MetricDefinitions of tests/fixtures/sdk_pipeline_definition.json.
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sdk_pipeline_definition.json"
TINY = {"max_epochs": 2, "model_class": "multimodal_cnn", "lr": 0.01, "batch_size": 16}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, bsm):
    base = tmp_path_factory.mktemp("tiny")
    write_dataset(base / "input" / "data", 300, seed=3)
    hps = {**TINY, "sagemaker_program": "train.py", "sagemaker_region": "us-east-1"}
    proc = bsm.train(base, hps, "--max_epochs", "2", "--lr", "0.01")
    return base, proc


def _split(base: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(base / "input" / "data" / name / f"{name}.csv")


def test_the_run_leaves_checkpoints_and_no_failure(tiny_run):
    base, _ = tiny_run
    assert not (base / "output" / "failure").exists()
    assert sorted(p.name for p in (base / "checkpoints").iterdir()) == [
        "checkpoint-epoch-0001.pt",
        "checkpoint-epoch-0002.pt",
    ]


def test_model_artifacts_hold_what_inference_needs(tiny_run, bsm_import_path):
    import onnx
    import tokenizers
    from bsm.hyperparameters import parse_hyperparameters
    from bsm.models import build_model
    from bsm.text import load_tokenizer

    base, _ = tiny_run
    train = _split(base, "train")
    artifacts = torch.load(base / "model" / "model_artifacts.pth", weights_only=True)
    keys = {"model_class", "hyperparameters", "preprocessor", "labels", "versions"}
    assert set(artifacts) == keys
    assert artifacts["model_class"] == "multimodal_cnn"
    assert artifacts["hyperparameters"]["lr"] == 0.01
    assert artifacts["hyperparameters"]["max_epochs"] == 2
    assert artifacts["labels"] == ["0", "1"]  # class index -> label value
    state = artifacts["preprocessor"]
    assert state["labels"] == artifacts["labels"]

    # The tokenizer trained on the train split travels with the model and works alone.
    tokenizer = load_tokenizer(state["tokenizer"], state["max_sen_len"])
    ids = tokenizer.encode("[bom] buyer: The headphones arrived completely SMASHED [eom]").ids
    assert len(ids) == state["max_sen_len"] == 96
    vocab = tokenizer.get_vocab()
    assert ids[:3] == [vocab["[bom]"], vocab["buyer"], vocab[":"]]
    assert vocab["smashed"] in ids and vocab["[UNK]"] not in ids[:9]

    # Categorical vocabularies and numeric statistics are those of the train split.
    for column in CATEGORICAL_FIELDS:
        assert state["categorical"][column] == ["<unk>", *sorted(train[column].unique())]
    for column in NUMERIC_FIELDS:
        stats, values = state["numeric"][column], train[column]
        assert stats["fill"] == pytest.approx(values.median())
        assert stats["mean"] == pytest.approx(values.fillna(values.median()).mean())

    versions = artifacts["versions"]
    assert versions["torch"] == torch.__version__
    assert versions["tokenizers"] == tokenizers.__version__
    assert versions["onnx"] == onnx.__version__
    assert versions["onnxruntime"] == ort.__version__
    assert versions["numpy"] == np.__version__ and re.match(r"3\.\d+\.\d+", versions["python"])

    # model.pth loads strictly into the model the artifacts describe.
    hp = parse_hyperparameters(artifacts["hyperparameters"])
    model = build_model(hp, state)
    model.load_state_dict(torch.load(base / "model" / "model.pth", weights_only=True))
    preprocessor_json = json.loads((base / "model" / "preprocessor.json").read_text())
    assert preprocessor_json == {**state, "model_class": "multimodal_cnn"}


def test_predict_results_and_metrics_json_agree_with_the_data(tiny_run):
    base, _ = tiny_run
    results = torch.load(base / "output/data/predict_results.pth", weights_only=True)
    metrics = json.loads((base / "output/data/metrics.json").read_text())
    assert set(results) == {"val", "test"}
    for split in ("val", "test"):
        frame, got = _split(base, split), results[split]
        assert set(got) == {"ids", "labels", "probabilities"}
        assert got["ids"] == frame["order_id"].tolist()
        assert got["labels"].tolist() == frame["label"].tolist()
        probs = got["probabilities"]
        assert probs.shape == (len(frame), 2) and torch.all(probs >= 0)
        assert torch.allclose(probs.sum(1), torch.ones(len(frame)))
        auroc = roc_auc_score(got["labels"].numpy(), probs[:, 1].numpy())
        assert metrics[split]["auroc"] == pytest.approx(auroc, abs=1e-9)
    assert 0.5 < metrics["test"]["auroc"] <= 1.0  # it learnt something in two epochs
    assert metrics["epochs_run"] == 2 and [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert metrics["best_epoch"] in (1, 2) and metrics["onnx"]["max_abs_diff"] <= 1e-4


def test_tensorboard_events_hold_per_epoch_scalars_and_pr_curves(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    base, _ = tiny_run
    log_dir = base / "output/data/tensorboard_eval"
    assert list(log_dir.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    history = json.loads((base / "output/data/metrics.json").read_text())["history"]
    for tag, key in [
        ("train/loss", "train_loss"),
        ("val/loss", "val_loss"),
        ("val/auroc", "val_auroc"),
        ("val/f1", "val_f1"),
    ]:
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2], tag
        assert [s.value for s in scalars] == pytest.approx([h[key] for h in history], abs=1e-6)
    results = torch.load(base / "output/data/predict_results.pth", weights_only=True)
    for split in ("val", "test"):
        tag = f"{split}/pr_curve"
        assert events.SummaryMetadata(tag).plugin_data.plugin_name == "pr_curves"
        (event,) = events.Tensors(tag)
        curve = tensor_util.make_ndarray(event.tensor_proto)  # rows TP, FP, TN, FN, P, R
        assert event.step == 2 and curve.shape[0] == 6
        positives = int(results[split]["labels"].sum())
        assert curve[0, 0] + curve[3, 0] == positives  # TP + FN at the lowest threshold
        assert curve[0, 0] + curve[1, 0] == len(results[split]["labels"])


def test_plots_are_png_images(tiny_run):
    from matplotlib import image

    base, _ = tiny_run
    for name in ("roc_curve.png", "pr_curve.png", "loss_curve.png"):
        path = base / "output/data" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        pixels = image.imread(path)
        assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 200, (name, pixels.shape)
        assert pixels.std() > 0.01, name  # something is drawn


def test_metric_lines_are_scraped_by_the_pipelines_metric_definitions(tiny_run):
    _, proc = tiny_run
    definition = json.loads(FIXTURE.read_text())
    training = next(s for s in definition["Steps"] if s["Type"] == "Training")
    regexes = training["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("epoch=")]
    assert len(lines) == 2
    for metric in regexes:
        values = [float(m.group(1)) for m in map(re.compile(metric["Regex"]).search, lines) if m]
        assert len(values) == 2, metric
    assert re.match(
        r"^epoch=2 train_loss=[0-9.]+ val_loss=[0-9.]+ val_auroc=[0-9.]+ val_f1=[0-9.]+", lines[1]
    )
    # The SDK's own keys are the platform's: ignored without a warning.
    assert "sagemaker_program" not in proc.stderr


def test_onnx_matches_pytorch_predictions_with_any_batch_size(tiny_run, bsm_import_path):
    from bsm.data import encode_frame

    base, _ = tiny_run
    state = json.loads((base / "model" / "preprocessor.json").read_text())
    test = encode_frame(_split(base, "test"), state, "test")
    session = ort.InferenceSession(str(base / "model" / "model.onnx"))
    assert session.get_inputs()[0].shape[0] == "batch"
    feeds = {"input_ids": test.input_ids, "tab": test.tab, "cat": test.cat}
    wanted = {i.name for i in session.get_inputs()}
    expected = torch.load(base / "output/data/predict_results.pth", weights_only=True)["test"]
    for size in (1, 7, len(test)):
        got = session.run(None, {k: v[:size] for k, v in feeds.items() if k in wanted})[0]
        assert np.abs(got - expected["probabilities"][:size].numpy()).max() <= 1e-4
