"""Specification of the PyTorch BSM training step (a SageMaker Training step)."""

from __future__ import annotations

from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT
from specs.training import bsm_training_spec

PYTORCH_TRAINING_SPEC = bsm_training_spec("PyTorchTraining", "PyTorch", PYTORCH_TRAIN_CONTRACT)
