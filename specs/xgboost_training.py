"""Specification of the XGBoost BSM training step (a SageMaker Training step)."""

from __future__ import annotations

from contracts.xgboost_train import XGBOOST_TRAIN_CONTRACT
from specs.training import bsm_training_spec

XGBOOST_TRAINING_SPEC = bsm_training_spec("XGBoostTraining", "XGBoost", XGBOOST_TRAIN_CONTRACT)
