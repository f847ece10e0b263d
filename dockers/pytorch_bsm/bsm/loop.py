"""The training loop: optimiser and schedule, epochs, validation, checkpoints, early stopping.

The same loop for one process or N (torchrun): each rank trains on its
DistributedSampler share of the train split through DDP, which averages the
gradients; validation is scored on shares too and gathered, so every rank sees
the same metrics and stops at the same epoch; rank 0 alone writes checkpoints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bsm import distributed
from bsm.checkpointing import save_checkpoint, set_rng_state
from bsm.data import Encoded, TrainingData, batches
from bsm.distributed import World
from bsm.early_stopping import EarlyStopping
from bsm.hyperparameters import Hyperparameters
from bsm.metrics import classification_metrics
from bsm.models import build_model

SINGLE = World()


def make_optimizer(hp: Hyperparameters, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if hp.optimizer == "sgd":
        return torch.optim.SGD(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=hp.lr, weight_decay=hp.weight_decay)


def make_scheduler(
    hp: Hyperparameters, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler:
    if hp.lr_scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=hp.max_epochs, eta_min=hp.lr * 0.1
        )
    if hp.lr_scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, hp.max_epochs // 3))
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


@dataclass
class Run:
    """Everything the loop changes; all of it goes into each epoch's checkpoint."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    stopping: EarlyStopping
    history: list[dict[str, float]] = field(default_factory=list)
    next_epoch: int = 1


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: torch.nn.Module,
    data: Encoded,
    hp: Hyperparameters,
    epoch: int,
    world: World = SINGLE,
) -> float:
    """One pass over this rank's share of the training data; the mean loss over all ranks."""
    model.train()
    # The batch order depends on seed and epoch only: a resumed run sees the same batches.
    share = distributed.sampler(len(data), world, shuffle=True, seed=hp.seed * 1000)
    share.set_epoch(epoch)
    total, seen = 0.0, 0
    for ids, tab, cat, labels in batches(data, hp.batch_size, order=list(share)):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(ids, tab, cat), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        seen += len(labels)
    total, seen = distributed.sum_across([total, float(seen)], world)
    return total / max(seen, 1)


@torch.no_grad()
def predict(
    model: torch.nn.Module, data: Encoded, batch_size: int, world: World = SINGLE
) -> np.ndarray:
    """Class probabilities (N, C) of a split, in its row order (every rank gets them all)."""
    model.eval()
    share = list(distributed.sampler(len(data), world, shuffle=False))
    out = [
        torch.softmax(model(ids, tab, cat), dim=-1)
        for ids, tab, cat, _ in batches(data, max(batch_size, 256), order=share)
    ]
    if not out:
        return np.zeros((0, 2), dtype=np.float32)
    return distributed.gather_rows(torch.cat(out), len(data), world).numpy()


def start_run(hp: Hyperparameters, data: TrainingData, world: World = SINGLE) -> Run:
    """A fresh model, or the model and loop state of the checkpoint being resumed."""
    model = build_model(hp, data.state)
    optimizer = make_optimizer(hp, model)
    run = Run(
        model=model,
        optimizer=optimizer,
        scheduler=make_scheduler(hp, optimizer),
        stopping=EarlyStopping(hp.early_stop_metric, hp.early_stop_patience),
    )
    checkpoint = data.checkpoint
    if checkpoint is not None:
        run.model.load_state_dict(checkpoint["model"])
        run.optimizer.load_state_dict(checkpoint["optimizer"])
        run.scheduler.load_state_dict(checkpoint["scheduler"])
        run.stopping.load_state_dict(checkpoint["progress"]["early_stopping"])
        run.history = checkpoint["progress"]["history"]
        run.next_epoch = checkpoint["epoch"] + 1
        set_rng_state(checkpoint["rng"])
        world.log(f"resumed from checkpoint of epoch {checkpoint['epoch']}")
    return run


def fit(
    hp: Hyperparameters,
    data: TrainingData,
    run: Run,
    checkpoint_dir: str,
    world: World = SINGLE,
) -> None:
    """Epochs from run.next_epoch to max_epochs, or until early stopping; best weights kept."""
    weights = torch.tensor(hp.class_weights, dtype=torch.float32) if hp.class_weights else None
    criterion = torch.nn.CrossEntropyLoss(weight=weights)
    net = distributed.wrap(run.model, world)  # DDP averages gradients across ranks
    for epoch in range(run.next_epoch, hp.max_epochs + 1):
        if run.stopping.stopped:
            break
        started = time.time()
        train_loss = train_one_epoch(net, run.optimizer, criterion, data.train, hp, epoch, world)
        run.scheduler.step()
        probs = predict(run.model, data.val, hp.batch_size, world)
        val = classification_metrics(data.val.labels, probs)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val["loss"],
            "val_auroc": val["auroc"],
            "val_f1": val["f1"],
        }
        run.history.append(row)
        run.stopping.update(epoch, row, run.model)
        if run.stopping.stopped:
            world.log(
                f"early stopping after this epoch: no {hp.early_stop_metric} improvement "
                f"for {run.stopping.bad_epochs} epochs"
            )
        if world.is_main:  # one writer: the ranks' states are identical
            save_checkpoint(checkpoint_dir, epoch, checkpoint_payload(hp, data, run))
        distributed.barrier(world)
        # One key=value line per epoch, once its checkpoint is durable: what
        # MetricDefinitions regexes such as `val_loss=([0-9\.]+)` scrape.
        world.log(
            f"epoch={epoch} train_loss={train_loss:.4f} val_loss={row['val_loss']:.4f} "
            f"val_auroc={row['val_auroc']:.4f} val_f1={row['val_f1']:.4f} "
            f"epoch_seconds={time.time() - started:.2f}"
        )
    if run.stopping.best_model is not None:
        run.model.load_state_dict(run.stopping.best_model)


def checkpoint_payload(hp: Hyperparameters, data: TrainingData, run: Run) -> dict[str, Any]:
    return {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "progress": {"history": run.history, "early_stopping": run.stopping.state_dict()},
        "preprocessor": data.state,
        "hyperparameters": hp.model_dump(),
        "data_fingerprint": data.fingerprint,
    }
