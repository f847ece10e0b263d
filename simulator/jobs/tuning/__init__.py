"""Hyperparameter tuning jobs: many real training jobs chosen by a search strategy.

``checks`` (CreateHyperParameterTuningJob's rules), ``description`` (the Describe
response and the record), ``run`` (the scheduler), ``strategies/`` (Random, Grid,
Bayesian, Hyperband), ``early_stopping`` (the Auto median rule), ``service`` (the
operations, boto3-shaped), ``backend`` (training jobs through the facade).
"""

from simulator.jobs.tuning.run import TrainingBackend
from simulator.jobs.tuning.service import TuningService

__all__ = ["TrainingBackend", "TuningService"]
