"""train.py end to end as a SageMaker training job runs it: resume, data formats, failures, DDP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simulator.datasets import generate, write_dataset, write_frame

TINY = {"max_epochs": 2, "model_class": "multimodal_cnn", "lr": 0.01, "batch_size": 16}


def _layout(base: Path, rows: int, seed: int = 3, fmt: str = "csv") -> dict:
    return write_dataset(base / "input" / "data", rows, seed, fmt)


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


MODEL_CLASSES = ["multimodal_cnn", "multimodal_transformer", "text_cnn", "lstm", "tabular_mlp"]
COLUMNS = ["order_id", "dialogue", "order_amount", "product_category", "label"]


def _run_with_raw_config(base: Path, bsm, text: str) -> tuple[subprocess.CompletedProcess, str]:
    """train.py with hyperparameters.json holding exactly ``text``; returns (process, failure)."""
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(text)
    proc = bsm.train(base, {}, check=False, raw_hyperparameters=True)
    failure = base / "output" / "failure"
    return proc, failure.read_text() if failure.exists() else ""


@pytest.mark.parametrize(
    ("hps", "named"),
    [
        ({"lr": "-0.5"}, ["lr", "-0.5"]),
        ({"model_class": '"resnet50"'}, ["model_class", "resnet50", *MODEL_CLASSES]),
        ({"max_epochs": "three"}, ["max_epochs", "three"]),
        ({"text_name": '"conversation"'}, ["conversation", "text_name", *COLUMNS]),
        ({"label_name": '"is_claim"'}, ["is_claim", "label_name", "columns present", *COLUMNS]),
    ],
)
def test_bad_input_fails_with_a_reason_naming_the_field(tmp_path, bsm, hps, named):
    _layout(tmp_path, 60)
    # Written raw (as SageMaker stores them) so that the bad value reaches the script unchanged.
    proc, reason = _run_with_raw_config(tmp_path, bsm, json.dumps({"max_epochs": "1", **hps}))
    assert proc.returncode == 1
    for word in named:  # within the 1024 characters SageMaker keeps as FailureReason
        assert word in reason[:1024], (word, reason)
    assert reason.splitlines()[-1] in proc.stderr and "Traceback" not in reason
    assert not (tmp_path / "model" / "model.pth").exists()


def test_hyperparameters_json_that_is_not_json_fails_naming_the_file(tmp_path, bsm):
    _layout(tmp_path, 60)
    proc, reason = _run_with_raw_config(tmp_path, bsm, "max_epochs: 3\nlr: 0.01\n")
    assert proc.returncode == 1
    assert "hyperparameters.json is not valid JSON" in reason
    assert "line 1 column 1" in reason and '{"lr": "0.01"' in reason  # where, and the fix


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
    elsewhere = tmp_path / "spot-checkpoints"  # CheckpointConfig.LocalPath, via SM_CHECKPOINT_DIR
    proc = bsm.train(tmp_path, hps, SM_CHECKPOINT_DIR=str(elsewhere))
    assert len(list(elsewhere.glob("checkpoint-epoch-*.pt"))) == 2  # the newest two are kept
    assert not (tmp_path / "checkpoints").exists()
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


def test_a_single_class_val_channel_warns_instead_of_crashing(tmp_path, bsm):
    written = _layout(tmp_path, 120, seed=8)
    val = generate(120, seed=8)
    write_frame(val[val["label"] == 0].head(12), Path(written["files"]["val"]), "csv")
    proc = bsm.train(tmp_path, {"max_epochs": 1, "export_onnx": False, "batch_size": 16})
    assert "the val channel holds a single class ('0'): val_auroc is undefined" in proc.stdout
    assert "set early_stop_metric to val_loss" in proc.stdout
    metrics = json.loads((tmp_path / "output/data/metrics.json").read_text())
    assert metrics["val"]["auroc"] is None and 0.0 <= metrics["val"]["accuracy"] <= 1.0
