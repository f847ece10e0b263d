"""Early stopping on a validation metric, keeping the weights of the best epoch."""

from __future__ import annotations

import math
from typing import Any

import torch

HIGHER_IS_BETTER = {"val_auroc": True, "val_f1": True, "val_loss": False}


class EarlyStopping:
    """Stop after ``patience`` epochs without improvement of ``metric`` (0: never stop).

    Its state is plain tensors and numbers (``state_dict``), so it travels in the
    checkpoint and a resumed run stops at the same epoch with the same best weights.
    """

    def __init__(self, metric: str, patience: int) -> None:
        self.metric = metric
        self.patience = patience
        self.best_value: float | None = None
        self.best_epoch = 0
        self.best_model: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped = False

    def update(self, epoch: int, metrics: dict[str, float], model: torch.nn.Module) -> None:
        """Record ``epoch``'s validation ``metrics``; snapshot ``model`` when it is the best."""
        value = metrics[self.metric]
        if self._improved(value):
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return
        self.bad_epochs += 1
        if self.patience and self.bad_epochs >= self.patience:
            self.stopped = True

    def _improved(self, value: float) -> bool:
        if math.isnan(value):  # undefined (a single class in val): never an improvement
            return False
        if self.best_value is None:
            return True
        if HIGHER_IS_BETTER[self.metric]:
            return value > self.best_value
        return value < self.best_value

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "best_model": self.best_model,
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
