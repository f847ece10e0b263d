"""train.py end to end as a SageMaker training job runs it: artifacts, ONNX, resume, failures."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch

from simulator.datasets import generate, write_dataset, write_frame

# The MetricDefinitions of tests/fixtures/sdk_pipeline_definition.json.
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sdk_pipeline_definition.json"
TINY = {"max_epochs": 2, "model_class": "multimodal_cnn", "lr": 0.01, "batch_size": 16}


def _layout(base: Path, rows: int, seed: int = 3, fmt: str = "csv") -> dict:
    return write_dataset(base / "input" / "data", rows, seed, fmt)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, bsm):
    base = tmp_path_factory.mktemp("tiny")
    _layout(base, 300)
    hps = {**TINY, "sagemaker_program": "train.py", "sagemaker_region": "us-east-1"}
    proc = bsm.train(base, hps, "--max_epochs", "2", "--lr", "0.01")
    return base, proc


def test_every_artifact_is_written(tiny_run):
    base, proc = tiny_run
    model_dir, data_dir = base / "model", base / "output" / "data"
    for name in ("model.pth", "model_artifacts.pth", "model.onnx", "preprocessor.json"):
        assert (model_dir / name).stat().st_size > 0, name
    for name in (
        "predict_results.pth",
        "metrics.json",
        "roc_curve.png",
        "pr_curve.png",
        "loss_curve.png",
    ):
        assert (data_dir / name).stat().st_size > 0, name
    assert list((data_dir / "tensorboard_eval").glob("events.out.tfevents.*"))
    assert not (base / "output" / "failure").exists()
    assert sorted(p.name for p in (base / "checkpoints").iterdir()) == [
        "checkpoint-epoch-0001.pt",
        "checkpoint-epoch-0002.pt",
    ]

    artifacts = torch.load(model_dir / "model_artifacts.pth", weights_only=True)
    assert artifacts["model_class"] == "multimodal_cnn"
    assert artifacts["labels"] == ["0", "1"]
    assert artifacts["preprocessor"]["tokenizer"]  # the tokenizer travels with the model
    assert artifacts["versions"]["torch"] == torch.__version__

    results = torch.load(data_dir / "predict_results.pth", weights_only=True)
    assert set(results) == {"val", "test"}
    assert len(results["test"]["ids"]) == len(results["test"]["labels"]) == 45
    assert torch.allclose(results["test"]["probabilities"].sum(1), torch.ones(45))

    metrics = json.loads((data_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["auroc"] <= 1.0
    assert metrics["epochs_run"] == 2 and len(metrics["history"]) == 2
    assert metrics["onnx"]["max_abs_diff"] <= 1e-4


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
    test = encode_frame(pd.read_csv(base / "input/data/test/test.csv"), state, "test")
    session = ort.InferenceSession(str(base / "model" / "model.onnx"))
    assert session.get_inputs()[0].shape[0] == "batch"
    feeds = {"input_ids": test.input_ids, "tab": test.tab, "cat": test.cat}
    wanted = {i.name for i in session.get_inputs()}
    expected = torch.load(base / "output/data/predict_results.pth", weights_only=True)["test"]
    for size in (1, 7, len(test)):
        got = session.run(None, {k: v[:size] for k, v in feeds.items() if k in wanted})[0]
        assert np.abs(got - expected["probabilities"][:size].numpy()).max() <= 1e-4


def _model_state(base: Path) -> dict[str, torch.Tensor]:
    return torch.load(base / "model" / "model.pth", weights_only=True)


def test_a_run_killed_mid_training_resumes_to_the_uninterrupted_weights(tmp_path, bsm):
    hps = {**TINY, "max_epochs": 4, "batch_size": 8, "export_onnx": False, "early_stop_patience": 0}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    for base in (straight, killed):
        _layout(base, 400, seed=11)
    bsm.train(straight, hps)

    (killed / "input" / "config").mkdir(parents=True)
    (killed / "input/config/hyperparameters.json").write_text(
        json.dumps(bsm.sdk_hyperparameters(hps))
    )
    proc = subprocess.Popen(
        [sys.executable, "train.py"],
        cwd=bsm.code_dir,
        env=bsm.env(killed),
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("epoch=2 "):
            proc.send_signal(signal.SIGKILL)  # like a spot interruption: no clean-up at all
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    saved = sorted(p.name for p in (killed / "checkpoints").glob("*.pt"))
    assert saved[-1] in ("checkpoint-epoch-0002.pt", "checkpoint-epoch-0003.pt")
    assert not (killed / "model" / "model.pth").exists()

    resumed = bsm.train(killed, hps)
    assert "resumed from checkpoint of epoch" in resumed.stdout
    done = [line.split()[0] for line in resumed.stdout.splitlines() if line.startswith("epoch=")]
    assert "epoch=1" not in done and "epoch=4" in done
    a, b = _model_state(straight), _model_state(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ma = json.loads((straight / "output/data/metrics.json").read_text())
    mb = json.loads((killed / "output/data/metrics.json").read_text())
    assert ma["test"] == mb["test"] and ma["history"] == mb["history"]


def test_each_data_format_and_part_files(tmp_path, bsm):
    frame = generate(240, seed=5)
    data = tmp_path / "input" / "data"
    # train as tsv and parquet part files in nested folders (an S3 prefix copied as is),
    # val as parquet, test as csv: one run reads all three formats.
    write_frame(frame.iloc[:90], data / "train" / "part-0" / "a.tsv", "tsv")
    write_frame(frame.iloc[90:180], data / "train" / "part-1" / "b.parquet", "parquet")
    write_frame(frame.iloc[180:210], data / "val" / "val.parquet", "parquet")
    write_frame(frame.iloc[210:], data / "test" / "test.csv", "csv")
    (data / "train" / "_SUCCESS").write_text("")  # non-data files are skipped
    proc = bsm.train(tmp_path, {**TINY, "max_epochs": 1, "export_onnx": False})
    assert "rows train=180 val=30 test=30" in proc.stdout
    results = torch.load(tmp_path / "output/data/predict_results.pth", weights_only=True)
    assert results["test"]["ids"] == frame.iloc[210:]["order_id"].tolist()


@pytest.mark.parametrize(
    ("hps", "named"),
    [
        ({"lr": "-0.5"}, ["lr", "-0.5"]),
        ({"model_class": "resnet50"}, ["model_class", "resnet50"]),
        ({"max_epochs": "three"}, ["max_epochs", "three"]),
        ({"text_name": "conversation"}, ["conversation", "text_name"]),
    ],
)
def test_bad_input_fails_with_a_reason_naming_the_field(tmp_path, bsm, hps, named):
    _layout(tmp_path, 60)
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    # Written raw (not SDK-encoded) so that the bad value reaches the script unchanged.
    raw = {
        "max_epochs": "1",
        **{k: json.dumps(v) if k != "lr" and k != "max_epochs" else v for k, v in hps.items()},
    }
    (config / "hyperparameters.json").write_text(json.dumps(raw))
    proc = subprocess.run(
        [sys.executable, "train.py"],
        cwd=bsm.code_dir,
        env=bsm.env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    reason = (tmp_path / "output" / "failure").read_text()
    for word in named:
        assert word in reason
    assert not (tmp_path / "model" / "model.pth").exists()


def test_missing_channel_is_named(tmp_path, bsm):
    paths = _layout(tmp_path, 60)
    for file in Path(paths["files"]["val"]).parent.iterdir():
        file.unlink()
    proc = bsm.train(tmp_path, {"max_epochs": 1}, check=False)
    assert proc.returncode == 1
    assert "'val'" in (tmp_path / "output" / "failure").read_text()


def test_two_processes_with_torch_distributed(tmp_path, bsm):
    """WORLD_SIZE/RANK/LOCAL_RANK from torchrun: gloo DDP, rank 0 writes the artifacts."""
    _layout(tmp_path, 161, seed=2)  # 113 train rows: shards of unequal size get padded
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input/config/hyperparameters.json").write_text(
        json.dumps(bsm.sdk_hyperparameters({"max_epochs": 1, "export_onnx": False}))
    )
    torchrun = Path(sys.executable).with_name("torchrun")
    with socket.socket() as probe:  # a free port for the static rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        "train.py",
    ]
    with subprocess.Popen(
        command,
        cwd=bsm.code_dir,
        env=bsm.env(tmp_path),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers
            raise
    proc.stdout, proc.stderr = stdout, stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "world_size=2" in proc.stdout
    assert proc.stdout.count("epoch=1 ") == 1  # only rank 0 reports
    assert (tmp_path / "model" / "model.pth").exists()


def test_early_stopping_keeps_the_best_epoch(tmp_path, bsm):
    _layout(tmp_path, 200, seed=4)
    # A learning rate too small to move float32 weights: val AUROC never improves after epoch 1.
    hps = {"max_epochs": 10, "lr": 1e-9, "early_stop_patience": 2, "export_onnx": False}
    proc = bsm.train(tmp_path, hps)
    metrics = json.loads((tmp_path / "output/data/metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["epochs_run"] == 3 and metrics["best_epoch"] == 1
    assert "early stopping" in proc.stdout
    assert metrics["val"]["auroc"] == pytest.approx(metrics["history"][0]["val_auroc"])


def test_checkpoints_of_another_run_are_not_resumed(tmp_path, bsm):
    _layout(tmp_path, 200, seed=6)
    hps = {"max_epochs": 2, "export_onnx": False, "batch_size": 16}
    bsm.train(tmp_path, hps)
    first = _model_state(tmp_path)

    # Same job restarted after it finished (e.g. killed while uploading): nothing to retrain.
    again = bsm.train(tmp_path, hps)
    assert "resumed from checkpoint of epoch 2" in again.stdout
    assert "epoch=1 " not in again.stdout
    assert all(torch.equal(first[k], v) for k, v in _model_state(tmp_path).items())

    # A shared CheckpointConfig.S3Uri brings in another configuration's checkpoint.
    other = bsm.train(tmp_path, {**hps, "lr": 0.02})
    assert "not resuming the checkpoint" in other.stdout and "lr: 0.005 -> 0.02" in other.stdout
    assert "epoch=1 " in other.stdout and "epoch=2 " in other.stdout

    # Same hyperparameters, other data (a pipeline re-executed on new raw data).
    _layout(tmp_path, 200, seed=7)
    changed = bsm.train(tmp_path, {**hps, "lr": 0.02})
    assert "other train/val data" in changed.stdout and "epoch=1 " in changed.stdout
