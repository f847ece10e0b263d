"""Hyperband: multi-fidelity search that stops under-performing jobs early.

SageMaker: "Hyperband uses both intermediate and final results of training jobs to
dynamically allocate epochs to well-utilized hyperparameter configurations and
automatically stops those that underperform"; ``HyperbandStrategyConfig``
MinResource/MaxResource bound the epochs a job may use, and the training script
must emit the objective metric once per epoch. Here the resource is the number of
objective values a job has emitted; optuna's HyperbandPruner (successive-halving
brackets, reduction factor 3) decides at each value whether the job goes on, and
TPE proposes the configurations.
"""

from __future__ import annotations

from typing import Any

from simulator.jobs.tuning.strategies.base import Definition, OptunaStrategy, Proposal


class HyperbandStrategy(OptunaStrategy):
    def __init__(
        self,
        definitions: list[Definition],
        minimize: bool,
        seed: int | None,
        min_resource: int,
        max_resource: int,
        study_name: str | None = None,
    ) -> None:
        self.min_resource = min_resource
        self.max_resource = max_resource
        super().__init__(definitions, minimize, seed, study_name)

    def sampler(self, seed: int | None) -> Any:
        import optuna

        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3, constant_liar=True)

    def pruner(self) -> Any:
        import optuna

        return optuna.pruners.HyperbandPruner(
            min_resource=self.min_resource, max_resource=self.max_resource, reduction_factor=3
        )

    def report(self, proposal: Proposal, value: float) -> bool:
        proposal.steps.append(value)
        step = len(proposal.steps)
        with self.lock:
            proposal.trial.report(value, step)
            return bool(proposal.trial.should_prune())
