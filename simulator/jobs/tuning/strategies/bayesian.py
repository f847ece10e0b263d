"""Bayesian optimisation: optuna's TPE (tree-structured Parzen estimator).

Why optuna's TPE (over scikit-optimize's Gaussian processes): optuna is actively
maintained, has a thread-safe ask-and-tell study that takes results of parallel
jobs in any order (``constant_liar`` keeps parallel proposals apart), samples
integer, log-scaled and categorical ranges natively, and its pruners give
Hyperband the same study. scikit-optimize's last release is from 2024 and would
pull scikit-learn into the simulator.

As on the service, the first jobs explore at random; the rest are guided by
every result so far.
"""

from __future__ import annotations

from typing import Any

from simulator.jobs.tuning.strategies.base import Definition, OptunaStrategy


class BayesianStrategy(OptunaStrategy):
    def __init__(
        self,
        definitions: list[Definition],
        minimize: bool,
        seed: int | None,
        budget: int,
        study_name: str | None = None,
    ) -> None:
        # A quarter of the budget at random (at least 2, at most optuna's default 10):
        # enough to seed the model, leaving most jobs to be guided by it.
        self.startup = max(2, min(10, budget // 4))
        self.multivariate = len(definitions) == 1
        super().__init__(definitions, minimize, seed, study_name)

    def sampler(self, seed: int | None) -> Any:
        import optuna

        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=self.startup,
            multivariate=self.multivariate,
            constant_liar=True,
        )
