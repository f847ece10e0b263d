"""train.py under torchrun (1 host x 2 processes): DDP over gloo learns as one process does.

The launch and the checks live in this folder's conftest (``ddp``), so a multi-host
launch (2 hosts x 1 through smsim) runs the same checks with another launcher.
"""

from __future__ import annotations

import pytest


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
