"""Random search: each job's hyperparameters drawn independently from the ranges.

SageMaker: "random search chooses a random combination of values from within the
ranges that you specify for each training job it launches"; ``RandomSeed`` makes the
draws reproducible (optuna's RandomSampler, seeded).
"""

from __future__ import annotations

from typing import Any

from simulator.jobs.tuning.strategies.base import OptunaStrategy


class RandomStrategy(OptunaStrategy):
    def sampler(self, seed: int | None) -> Any:
        import optuna

        return optuna.samplers.RandomSampler(seed=seed)
