"""train.py under torchrun (1 host x 2 processes): DDP over gloo learns as one process does.

The launch and the checks live in this folder's conftest (``ddp``), so a multi-host
launch (2 hosts x 1 through smsim) runs the same checks with another launcher.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def test_torchrun_two_processes_learn_and_rank_0_alone_writes(tmp_path, ddp):
    # Held-out test AUROC in the single-host band, model files / reports / checkpoints
    # written by rank 0 only, ONNX Runtime agreeing with PyTorch: checked by ddp.check.
    metrics = ddp.check(ddp.torchrun(2), tmp_path)

    # Each epoch's validation is scored on the ranks' shares and gathered: the metrics of
    # the best epoch must be those of the whole val split, which rank 0 scores alone at
    # export with the same (best) weights.
    best = metrics["history"][metrics["best_epoch"] - 1]
    assert metrics["val"]["auroc"] == pytest.approx(best["val_auroc"], abs=1e-9)
    assert metrics["val"]["loss"] == pytest.approx(best["val_loss"], abs=1e-6)


def _model_state(tree: Path) -> dict[str, torch.Tensor]:
    return torch.load(tree / "model" / "model.pth", weights_only=True)


def test_a_restart_resumes_every_rank_from_rank_0s_checkpoint(tmp_path, ddp):
    """Only rank 0 writes checkpoints, so only its host holds them: the other ranks must
    take its checkpoint (and preprocessing) or they would train while rank 0 does not."""
    data = ddp.stage_data(tmp_path / "data", rows=300, seed=4)
    hps = {"max_epochs": 2, "batch_size": 16, "export_onnx": False}
    launch = ddp.torchrun(2, timeout=300)  # a rank left alone in a collective would hang
    first = launch(data, hps, tmp_path / "run")
    assert first.returncode == 0, first.stderr[-3000:]
    assert not (tmp_path / "run" / "rank-1" / "checkpoints").exists()
    weights = _model_state(tmp_path / "run" / "rank-0")

    again = launch(data, hps, tmp_path / "run")  # the job restarted on the same hosts
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed from checkpoint of epoch 2" in again.stdout
    assert not [line for line in again.stdout.splitlines() if line.startswith("epoch=")]
    resumed = _model_state(tmp_path / "run" / "rank-0")
    assert all(torch.equal(weights[k], v) for k, v in resumed.items())


def test_ranks_reading_different_rows_fail_naming_the_distribution_type(tmp_path, ddp):
    """ShardedByS3Key on the train channel gives each host other rows: train.py shards
    the data itself, so it refuses instead of hanging on unequal step counts."""
    data = ddp.stage_data(tmp_path / "data", rows=200, seed=4)
    other = ddp.stage_data(tmp_path / "other", rows=160, seed=5)
    launch = ddp.torchrun(2, timeout=300, data_of_rank={1: other})
    run = launch(data, {"max_epochs": 1, "export_onnx": False}, tmp_path / "run")
    assert run.returncode != 0
    for rank in (0, 1):
        reason = (tmp_path / "run" / f"rank-{rank}" / "output" / "failure").read_text()
        assert "rank(s) [1] hold other rows than rank 0's" in reason
        assert "S3DataDistributionType to FullyReplicated" in reason
    assert not (tmp_path / "run" / "rank-0" / "model").exists()


def test_two_hosts_one_process_each_through_smsim(tmp_path, ddp):
    """InstanceCount 2 with torch_distributed: a torchrun per host (--nnodes 2), the same
    checks on model.tar.gz / output.tar.gz, and algo-2's tree left without model files."""
    metrics = ddp.check(ddp.smsim(2), tmp_path)
    best = metrics["history"][metrics["best_epoch"] - 1]
    assert metrics["val"]["auroc"] == pytest.approx(best["val_auroc"], abs=1e-9)
